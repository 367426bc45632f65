// Upstream faults against a real BIND9: stopped -> SERVFAIL within the deadline; back -> recovery;
// black-holed with serve_stale -> stale answer with TTL 0; max_concurrent -> REFUSED.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp, queryTcp, answerData } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function setup(forward = '', cache = '', success?: string) {
  const upstream = await startUpstream({ kind: 'bind' });
  cleanups.push(() => upstream.stop());
  const nld: RunningDaemon = await startDaemon(clusterConfigYaml(upstream.address, { forward, cache, success }));
  cleanups.push(() => nld.stop());
  return { upstream, nld };
}

test('upstream stopped: SERVFAIL within the deadline; upstream back: answers again', async () => {
  const { upstream, nld } = await setup('      timeout: 1500ms\n      attemptTimeout: 500ms\n      healthCheck: 100ms');
  const svc = fixtures.services[20];
  assert.equal((await queryUdp(nld.server, svc.name, 'A')).packet.rcode, 'NOERROR');
  await upstream.stop().catch(() => {});
  const other = fixtures.services[21];
  const started = Date.now();
  const failed = await queryUdp(nld.server, other.name, 'A', { timeoutMs: 5000 });
  const elapsed = Date.now() - started;
  assert.equal(failed.packet.rcode, 'SERVFAIL');
  assert.ok(elapsed < 1500 + 300, `answered in ${elapsed} ms`);
  // The cached name is still answered from the cache while the upstream is gone.
  assert.equal((await queryUdp(nld.server, svc.name, 'A')).packet.rcode, 'NOERROR');
});

test('upstream restarted on the same port: service recovers within a health-check interval', async () => {
  const { upstream, nld } = await setup('      timeout: 1s\n      attemptTimeout: 400ms\n      healthCheck: 100ms');
  const a = fixtures.services[30];
  assert.equal((await queryTcp(nld.server, a.name, 'A')).packet.rcode, 'NOERROR');
  await upstream.restart({ downtimeMs: 1500 }).then(() => {});
  const b = fixtures.services[31];
  const deadline = Date.now() + 3000;
  let rcode = '';
  while (Date.now() < deadline) {
    rcode = (await queryUdp(nld.server, b.name, 'A', { timeoutMs: 3000 })).packet.rcode;
    if (rcode === 'NOERROR') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(rcode, 'NOERROR');
});

test('black-holed upstream with serve_stale: the expired answer is served with TTL 0', async () => {
  const { upstream, nld } = await setup(
    '      timeout: 800ms\n      attemptTimeout: 300ms',
    '      serveStale: { duration: 1h, mode: immediate }',
    '{ capacity: 100, maxTTL: 1, minTTL: 1 }',
  );
  const svc = fixtures.services[40];
  const fresh = await queryUdp(nld.server, svc.name, 'A');
  assert.equal(fresh.packet.answers[0].ttl, 1);
  upstream.pause();
  cleanups.push(async () => upstream.resume());
  await new Promise((r) => setTimeout(r, 1200));
  const stale = await queryUdp(nld.server, svc.name, 'A');
  assert.equal(stale.packet.rcode, 'NOERROR');
  assert.deepEqual(answerData(stale.packet, 'A'), [svc.ipv4]);
  assert.equal(stale.packet.answers[0].ttl, 0);
  const cache = nld.daemon.blockRuntimes()[0].cache!;
  assert.ok(cache.stats.servedStale >= 1);
  upstream.resume();
});

test('serve_stale verify: an expired name is asked upstream first (fresh TTL), and served stale only when that fails', async () => {
  const { upstream, nld } = await setup(
    '      timeout: 800ms\n      attemptTimeout: 300ms',
    '      serveStale: { duration: 1h, mode: verify }',
    '{ capacity: 100, maxTTL: 1, minTTL: 1 }',
  );
  const svc = fixtures.services[41];
  assert.equal((await queryUdp(nld.server, svc.name, 'A')).packet.answers[0].ttl, 1);
  await new Promise((r) => setTimeout(r, 1200));
  const before = await upstream.queryCount({ name: svc.name });
  const verified = await queryUdp(nld.server, svc.name, 'A');
  assert.equal(verified.packet.answers[0].ttl, 1, 'a fresh answer, not TTL 0');
  assert.equal(await upstream.queryCount({ name: svc.name }), before + 1, 'the upstream was asked before answering');
  await new Promise((r) => setTimeout(r, 1200));
  upstream.pause();
  cleanups.push(async () => upstream.resume());
  const started = Date.now();
  const stale = await queryUdp(nld.server, svc.name, 'A', { timeoutMs: 3000 });
  assert.equal(stale.packet.rcode, 'NOERROR');
  assert.deepEqual(answerData(stale.packet, 'A'), [svc.ipv4]);
  assert.equal(stale.packet.answers[0].ttl, 0);
  assert.ok(Date.now() - started >= 250, 'answered stale only after the upstream attempt failed');
  upstream.resume();
});

test('maxConcurrent exceeded: REFUSED, counted, not cached', async () => {
  const { upstream, nld } = await setup('      maxConcurrent: 2\n      timeout: 1s\n      attemptTimeout: 900ms');
  upstream.pause();
  cleanups.push(async () => upstream.resume());
  const names = fixtures.services.slice(50, 56).map((s) => s.name);
  const replies = await Promise.all(names.map((n) => queryUdp(nld.server, n, 'A', { timeoutMs: 3000 })));
  const rcodes = replies.map((r) => r.packet.rcode).sort();
  assert.equal(rcodes.filter((r) => r === 'REFUSED').length, 4, rcodes.join(','));
  assert.equal(rcodes.filter((r) => r === 'SERVFAIL').length, 2, rcodes.join(','));
  assert.equal(nld.daemon.forwarders()[0].maxConcurrentRejects, 4);
  upstream.resume();
});
