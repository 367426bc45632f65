// prefetch (CoreDNS semantics) against a real BIND: a popular entry near expiry is refreshed in the
// background by the next hit, concurrent hits trigger one refresh, and the counters say so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';

let upstream: Upstream | undefined;
let nld: RunningDaemon | undefined;
after(async () => {
  await nld?.stop();
  await upstream?.stop();
});

test('a popular entry is refreshed before it expires, once for many concurrent hits', async () => {
  upstream = await startUpstream({ kind: 'bind' });
  nld = await startDaemon(
    clusterConfigYaml(upstream.address, {
      success: '{ capacity: 100, maxTTL: 4, minTTL: 4 }',
      cache: '      prefetch: { amount: 2, duration: 1m, percentage: 50 }',
    }),
  );
  const name = fixtures.services[60].name;
  const first = await queryUdp(nld.server, name, 'A');
  assert.equal(first.packet.answers[0].ttl, 4);
  // Not popular yet: one more hit early on.
  await queryUdp(nld.server, name, 'A');
  await new Promise((r) => setTimeout(r, 2100)); // remaining TTL 2 <= 50% of 4
  // 20 concurrent hits: all answered from the cache, one background refresh.
  const hits = await Promise.all(Array.from({ length: 20 }, () => queryUdp(nld!.server, name, 'A')));
  for (const h of hits) assert.ok(h.packet.answers[0].ttl! <= 2, `served from cache, ttl ${h.packet.answers[0].ttl}`);
  await upstream.waitForQueries(2, { name, type: 'A', timeoutMs: 2000 });
  assert.equal(await upstream.queryCount({ name, type: 'A', settleMs: 200 }), 2, 'one prefetch for 20 hits');
  const cache = nld.daemon.blockRuntimes()[0].cache!;
  assert.equal(cache.stats.prefetches, 1);
  // The refreshed entry carries a fresh TTL again.
  const after = await queryUdp(nld.server, name, 'A');
  assert.equal(after.packet.answers[0].ttl, 4);
});
