// A bug on the miss path (here: the first attempt to send the answer throws) is counted as a panic
// and the client still gets SERVFAIL; it never becomes an unhandled rejection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml } from '../harness/daemon.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

test('an exception while answering a miss: SERVFAIL to the client, counted in panics, no unhandled rejection', async () => {
  const upstream = await startUpstream({ kind: 'bind' });
  cleanups.push(() => upstream.stop());
  const nld = await startDaemon(clusterConfigYaml(upstream.address));
  cleanups.push(() => nld.stop());
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  cleanups.push(async () => void process.off('unhandledRejection', onRejection));

  const udp = nld.daemon.listeners()[0].udp;
  const send = udp.send.bind(udp);
  let failures = 1;
  udp.send = (reply, peer) => {
    if (failures-- > 0) throw new Error('injected send failure');
    send(reply, peer);
  };
  const panicsBefore = nld.daemon.dnsStats.panics;
  const { packet } = await queryUdp(nld.server, fixtures.services[70].name, 'A', { timeoutMs: 3000 });
  assert.equal(packet.rcode, 'SERVFAIL');
  assert.equal(nld.daemon.dnsStats.panics, panicsBefore + 1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(rejections, []);
  udp.send = send;
  assert.equal((await queryUdp(nld.server, fixtures.services[70].name, 'A')).packet.rcode, 'NOERROR', 'the answer was cached and is served next time');
});
