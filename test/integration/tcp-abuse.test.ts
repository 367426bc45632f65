// TCP clients that try to take the daemon's memory or its connection slots, against the real
// process (the bundle, with the image's --max-semi-space-size=1) and a real BIND9 upstream, on
// loopback. Each attack runs next to well-behaved clients, which must all be answered:
// - a client that pipelines ~1 MB of queries for a ~4.3 KB TXT record and never reads: the
//   replies it does not take stay bounded (memory), and it is closed after the write timeout;
// - slowloris, 1,500 connections sending one byte every 2 s (reconnecting when closed): each is
//   closed by the read deadline of its first frame (3 s), not kept alive by the trickle;
// - 3,000 idle connections (reconnecting when closed) against a cap of 1,000: the idlest are closed
//   to make room, so new lookups get in.
// Plus: the listen backlog is the kernel's maximum (somaxconn), as Go's listener asks for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { answerData, buildQuery, queryTcp, queryUdp } from '../harness/dns-client.js';
import { waitFor } from '../harness/wait.js';
import { BUNDLE, startDaemonProcess, type DaemonProcess } from '../harness/daemon-process.js';
import { connectionFlood, legitimateTcpLookups, median, nonReadingPipeliner, raiseFdLimit } from '../harness/tcp-abuse.js';

const FDS = 16_384;
const isRoot = process.getuid?.() === 0;
const skip = (!existsSync(BUNDLE) && 'run npm run build first') || (!isRoot && 'needs root to raise descriptor limits (prlimit)');

const dir = mkdtempSync(join(tmpdir(), 'nld-tcp-abuse-'));
const daemons: DaemonProcess[] = [];
let upstream: Upstream | undefined;

before(async () => {
  if (skip) return;
  assert.ok(raiseFdLimit(FDS) >= FDS, 'descriptor limit for the attacking connections');
  upstream = await startUpstream({ kind: 'bind', queryLog: false });
});

after(async () => {
  for (const d of daemons) await d.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startDaemon(name: string): Promise<DaemonProcess> {
  const d = await startDaemonProcess({ dir, name, upstream: upstream!.address, nofile: FDS, nodeArgs: ['--max-semi-space-size=1'] });
  daemons.push(d);
  return d;
}

const legitNames = fixtures.services.slice(0, 50).map((s) => ({ name: s.name, ipv4: s.ipv4 }));

test('a pipelining client that never reads: memory stays bounded, it is closed, others are served', { skip, timeout: 60_000 }, async (t) => {
  const d = await startDaemon('nonreader');
  const server = { host: '127.0.0.1', port: d.port };
  const big = fixtures.bigTxt;
  const warm = await queryTcp(server, big.name, 'TXT');
  assert.equal(answerData(warm.packet, 'TXT').length, big.strings.length);
  for (const n of legitNames) await queryUdp(server, n.name, 'A');
  const rssBefore = d.memory().rssMiB;

  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, d.memory().rssMiB)), 50);
  const started = performance.now();
  const attacker = await nonReadingPipeliner(server, buildQuery(big.name, 'TXT').wire, 1_000_000);
  // Legitimate lookups during the attack; then wait for the server to close the attacker (the
  // attacker itself cannot tell: it reads nothing, so it never sees the FIN).
  const legit = await legitimateTcpLookups(server, legitNames, { count: 40, everyMs: 100, timeoutMs: 3000 });
  let closedAfter = Infinity;
  await waitFor(
    async () => {
      if ((await d.metric('nodelocaldns_tcp_connections_closed_total', 'reason="write_timeout"')) !== 1) return false;
      closedAfter = performance.now() - started;
      return true;
    },
    20_000,
    'the write timeout to close the non-reading client',
  ).catch(() => undefined);
  clearInterval(sampler);
  attacker.socket.destroy();
  const udp = await queryUdp(server, legitNames[0].name, 'A');

  t.diagnostic(`RSS ${rssBefore.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; attacker closed after ${(closedAfter / 1000).toFixed(1)} s; legit TCP ${legit.answered}/40, median ${median(legit.latenciesMs).toFixed(1)} ms`);
  assert.equal(d.exited(), false);
  assert.ok(closedAfter < 15_000, `closed by the write timeout (5 s) once the kernel buffers were full; after ${closedAfter} ms`);
  assert.ok(peak - rssBefore < 40, `RSS grew by ${(peak - rssBefore).toFixed(0)} MiB (unbounded queueing: hundreds)`);
  assert.equal(legit.answered, 40, legit.errors.join('; '));
  assert.deepEqual(answerData(udp.packet, 'A'), [legitNames[0].ipv4]);
});

test('slowloris: 1,500 connections trickling one byte every 2 s; every legitimate TCP lookup is answered', { skip, timeout: 60_000 }, async (t) => {
  const d = await startDaemon('slowloris');
  const server = { host: '127.0.0.1', port: d.port };
  for (const n of legitNames) await queryUdp(server, n.name, 'A');
  const until = performance.now() + 12_000;
  const flood = connectionFlood(server, { connections: 1500, everyMs: 2000, untilMs: until });
  await new Promise((r) => setTimeout(r, 1000)); // the flood holds every slot by now
  const legit = await legitimateTcpLookups(server, legitNames, { count: 88, everyMs: 100, timeoutMs: 3000 });
  const stats = await flood;
  const lifetime = median(stats.closedByServer);
  const closes = {
    readTimeout: await d.metric('nodelocaldns_tcp_connections_closed_total', 'reason="read_timeout"'),
    evicted: await d.metric('nodelocaldns_tcp_connections_closed_total', 'reason="evicted"'),
  };
  t.diagnostic(`flood: ${stats.opened} connections opened, ${stats.closedByServer.length} closed by the server after ${(lifetime / 1000).toFixed(1)} s (median; ${JSON.stringify(closes)}); legit ${legit.answered}/88, refused ${legit.refused}, lost ${legit.lost}, median ${median(legit.latenciesMs).toFixed(1)} ms`);
  assert.equal(d.exited(), false);
  assert.equal(legit.answered, 88, legit.errors.slice(0, 5).join('; '));
  assert.ok(closes.readTimeout + closes.evicted >= 1500, 'the trickling connections were closed');
});

test('a trickle of one byte every 500 ms does not extend the read deadline of a frame (3 s)', { skip, timeout: 60_000 }, async (t) => {
  const d = await startDaemon('trickle');
  const server = { host: '127.0.0.1', port: d.port };
  const stats = await connectionFlood(server, { connections: 20, everyMs: 500, untilMs: performance.now() + 5500 });
  const lifetime = median(stats.closedByServer);
  t.diagnostic(`${stats.closedByServer.length} closed after ${(lifetime / 1000).toFixed(2)} s (median)`);
  assert.ok(stats.closedByServer.length >= 20);
  assert.ok(lifetime >= 2000 && lifetime < 5000, `closed by the read deadline, not kept open by the trickle: ${lifetime} ms`);
  assert.ok((await d.metric('nodelocaldns_tcp_connections_closed_total', 'reason="read_timeout"')) >= 20);
});

test('3,000 idle connections against a cap of 1,000: the idlest are closed, new lookups get in', { skip, timeout: 60_000 }, async (t) => {
  const d = await startDaemon('idle');
  const server = { host: '127.0.0.1', port: d.port };
  for (const n of legitNames) await queryUdp(server, n.name, 'A');
  const until = performance.now() + 8000;
  const flood = connectionFlood(server, { connections: 3000, everyMs: 0, untilMs: until });
  await new Promise((r) => setTimeout(r, 1000));
  const legit = await legitimateTcpLookups(server, legitNames, { count: 60, everyMs: 100, timeoutMs: 3000 });
  const stats = await flood;
  const evicted = await d.metric('nodelocaldns_tcp_connections_closed_total', 'reason="evicted"');
  t.diagnostic(`flood: ${stats.opened} connections opened, ${evicted} evicted at the cap; legit ${legit.answered}/60, refused ${legit.refused}, lost ${legit.lost}, median ${median(legit.latenciesMs).toFixed(1)} ms`);
  assert.equal(d.exited(), false);
  assert.equal(legit.answered, 60, legit.errors.slice(0, 5).join('; '));
  assert.ok(evicted >= 2000, `idle connections were closed to make room (${evicted})`);
});

test('the listen backlog is the kernel maximum (net.core.somaxconn), as Go asks for, not Node default 511', { skip }, async () => {
  const d = await startDaemon('backlog');
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const line = spawnSync('ss', ['-Hltn', `sport = :${d.port}`], { encoding: 'utf8' }).stdout.trim();
  const sendQ = Number(line.split(/\s+/)[2]); // for a listening socket, Send-Q is the backlog
  assert.equal(sendQ, Math.min(somaxconn, 65_535), line);
});
