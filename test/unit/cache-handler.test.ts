// CacheHandler (src/cache/handler.ts) in front of a real Forwarder whose upstream is a UDP socket
// on loopback that never answers: the hit path answers at once and starts one background refresh,
// concurrent misses share one exchange, and a failed exchange falls back to the stale entry for
// every waiting client (serve_stale immediate and verify), with CoreDNS's counters.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { CacheHandler } from '../../src/cache/handler.js';
import { ResponseCache, STALE } from '../../src/cache/response-cache.js';
import { CACHE_SUCCESS } from '../../src/cache/stats.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { buildQuery, type ReplyTemplate } from '../../src/dns/reply.js';
import { parseQuery } from '../../src/dns/query.js';
import { TYPE } from '../../src/dns/constants.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import type { CacheConfig, ForwardConfig } from '../../src/config/types.js';
import { waitFor } from '../harness/wait.js';

const template: ReplyTemplate = { packed: 'stored reply', wireLength: 12, questionEnd: 12 };

async function setup(t: TestContext, mode: 'immediate' | 'verify') {
  // The black hole: reads every query, answers none, so each exchange fails at its deadline.
  const upstream = dgram.createSocket('udp4');
  let received = 0;
  upstream.on('message', () => received++);
  upstream.bind(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = upstream.address().port;
  const forward: ForwardConfig = {
    to: [{ host: '127.0.0.1', port, family: 4, label: `127.0.0.1:${port}` }],
    forceTcp: false,
    preferUdp: true, // refreshes ask as a TCP client would: keep them on the black hole's UDP
    policy: 'sequential',
    maxConcurrent: 0,
    maxFails: 0,
    healthCheckMs: 500,
    expireMs: 10_000,
    timeoutMs: 400,
    attemptTimeoutMs: 200,
    maxConnectionsPerUpstream: 1,
    except: [],
  };
  const forwarder = new Forwarder(forward, systemClock, 1 << 16);
  const config: CacheConfig = {
    success: { capacity: 100, minTtlSeconds: 5, maxTtlSeconds: 3600 },
    denial: { capacity: 100, minTtlSeconds: 5, maxTtlSeconds: 1800 },
    prefetch: null,
    serveStale: { durationMs: 3_600_000, mode },
    servfailTtlSeconds: 5,
  };
  const clock = new ManualClock();
  const cache = new ResponseCache(config, clock, ['dns://127.0.0.1:53'], 'example.');
  const handler = new CacheHandler(cache, forwarder.forward.bind(forwarder), true);
  const backgroundErrors: unknown[] = [];
  const onError = (_task: string, err: unknown) => backgroundErrors.push(err);
  t.after(async () => {
    await waitFor(() => !handler.fetching(key), 5000, 'exchanges to end before closing');
    forwarder.close();
    upstream.close();
  });
  const query = buildQuery('stale.example.', TYPE.A, 1);
  const parsed = parseQuery(query);
  assert.ok(parsed.ok);
  const key = parsed.query.key;
  return { handler, cache, clock, forwarder, key, query, questionEnd: parsed.query.questionEnd, onError, backgroundErrors, received: () => received };
}

test('serve_stale immediate: stale hits answer at once and start one background refresh; the entry is served while it fails', async (t) => {
  const { handler, cache, clock, key, onError, backgroundErrors, received } = await setup(t, 'immediate');
  const entry = cache.insert(key, template, CACHE_SUCCESS, 10);
  clock.advance(11_000);
  for (let i = 0; i < 3; i++) {
    const hit = handler.lookup(key, onError);
    assert.equal(hit?.entry, entry, 'a hit is the entry itself, returned synchronously');
    assert.equal(hit?.state, STALE);
    assert.equal(hit?.ttlSeconds, 0);
  }
  assert.equal(cache.stats.servedStale, 3);
  assert.equal(cache.stats.prefetches, 1, 'one refresh for three stale hits (CoreDNS counts it as a prefetch)');
  assert.equal(entry.refreshing, true);
  assert.equal(handler.fetching(key), true);
  await waitFor(() => !handler.fetching(key), 5000, 'the refresh to fail at its deadline');
  assert.ok(received() >= 1, 'the refresh was sent upstream');
  assert.equal(entry.refreshing, false);
  assert.equal(handler.lookup(key, onError)?.entry, entry, 'a failed refresh leaves the stale entry served');
  assert.equal(cache.stats.prefetches, 2, 'and the next stale hit refreshes again');
  assert.deepEqual(backgroundErrors, [], 'an upstream failure is no bug');
});

test('serve_stale verify: concurrent misses for an expired name share one exchange; when it fails each client gets the stale entry', async (t) => {
  const { handler, cache, clock, forwarder, key, query, questionEnd, onError } = await setup(t, 'verify');
  const entry = cache.insert(key, template, CACHE_SUCCESS, 10);
  clock.advance(11_000);
  assert.equal(handler.lookup(key, onError), undefined, 'verify: an expired entry is asked upstream first');
  const misses = [0, 1, 2].map(() => handler.miss(key, query, questionEnd, false));
  assert.equal(forwarder.inFlight, 1, 'three clients, one upstream exchange');
  for (const outcome of await Promise.all(misses)) assert.deepEqual(outcome, { ok: true, template: entry, ttlSeconds: 0, fromCache: true });
  assert.equal(cache.stats.servedStale, 3, 'counted once per client');
  assert.equal(cache.stats.misses, 1);
});
