// ResponseCache with a ManualClock: TTL countdown in whole seconds, expiry, serve_stale, capacity
// eviction, store precedence (denial before success), and prefetch popularity (CoreDNS rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseCache, FRESH, STALE } from '../../src/cache/response-cache.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from '../../src/cache/stats.js';
import type { CacheConfig, PrefetchConfig, ServeStaleConfig } from '../../src/config/types.js';
import type { ReplyTemplate } from '../../src/dns/reply.js';
import { ManualClock } from '../../src/util/clock.js';
import { LRUCache } from 'lru-cache';

function config(o: { capacity?: number; denialCapacity?: number; prefetch?: PrefetchConfig; serveStale?: ServeStaleConfig } = {}): CacheConfig {
  return {
    success: { capacity: o.capacity ?? 100, minTtlSeconds: 5, maxTtlSeconds: 3600 },
    denial: { capacity: o.denialCapacity ?? o.capacity ?? 100, minTtlSeconds: 5, maxTtlSeconds: 1800 },
    prefetch: o.prefetch ?? null,
    serveStale: o.serveStale ?? null,
    servfailTtlSeconds: 5,
  };
}

function make(o: Parameters<typeof config>[0] = {}): { cache: ResponseCache; clock: ManualClock } {
  const clock = new ManualClock();
  const cache = new ResponseCache(config(o), clock, ['dns://127.0.0.1:53'], 'cluster.local.');
  return { cache, clock };
}

let tplCounter = 0;
const tpl = (): ReplyTemplate => ({ packed: String.fromCharCode(tplCounter++ & 0xff), wireLength: 1, questionEnd: 12 });

test('TTL counts down by whole seconds and the entry expires at its TTL', () => {
  const { cache, clock } = make();
  const t = tpl();
  cache.insert('k', t, CACHE_SUCCESS, 30);
  const at = (_elapsedMs: number) => {
    const l = cache.lookup('k');
    return l ? [l.state, l.ttlSeconds] : undefined;
  };
  assert.deepEqual(at(0), [FRESH, 30]);
  clock.advance(999);
  assert.deepEqual(at(999), [FRESH, 30], 'not a whole second yet');
  clock.advance(1);
  assert.deepEqual(at(1000), [FRESH, 29]);
  clock.advance(27_500);
  assert.deepEqual(at(28_500), [FRESH, 2]);
  clock.advance(1_499);
  assert.deepEqual(at(29_999), [FRESH, 1]);
  assert.equal(cache.lookup('k')?.entry.packed, t.packed);
  clock.advance(1);
  assert.equal(cache.lookup('k'), undefined, 'expired at 30 s');
  assert.equal(cache.peek('k'), undefined, 'expired entries are removed on lookup');
  assert.equal(cache.size.success, 0);
  assert.equal(cache.stats.requests, 7);
  assert.equal(cache.stats.hits[CACHE_SUCCESS], 6);
  assert.equal(cache.stats.misses, 1);
});

test('denial entries count down and expire the same way', () => {
  const { cache, clock } = make();
  cache.insert('nx', tpl(), CACHE_DENIAL, 5);
  clock.advance(4_000);
  assert.deepEqual([cache.lookup('nx')?.state, cache.lookup('nx')?.ttlSeconds], [FRESH, 1]);
  clock.advance(1_000);
  assert.equal(cache.lookup('nx'), undefined);
  assert.equal(cache.stats.hits[CACHE_DENIAL], 2);
});

test('serve_stale: past expiry the entry is STALE with TTL 0 within the window, then gone', () => {
  const { cache, clock } = make({ serveStale: { durationMs: 10_000, mode: 'immediate' } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 30);
  clock.advance(29_999);
  assert.deepEqual([cache.lookup('k')?.state, cache.lookup('k')?.ttlSeconds], [FRESH, 1]);
  clock.advance(1);
  let l = cache.lookup('k');
  assert.deepEqual([l?.state, l?.ttlSeconds], [STALE, 0], 'at expiry');
  clock.advance(9_999);
  l = cache.lookup('k');
  assert.deepEqual([l?.state, l?.ttlSeconds], [STALE, 0], 'last ms of the window');
  assert.equal(cache.stats.hits[CACHE_SUCCESS], 4, 'stale hits count as hits (CoreDNS)');
  clock.advance(1);
  assert.equal(cache.lookup('k'), undefined, 'window over');
  assert.equal(cache.peek('k'), undefined);
});

test('serve_stale verify: an expired entry is a miss (the upstream is asked first) but stays for the fallback', () => {
  const { cache, clock } = make({ serveStale: { durationMs: 10_000, mode: 'verify' } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 30);
  clock.advance(30_000);
  assert.equal(cache.lookup('k'), undefined, 'verify: no stale hit');
  assert.equal(cache.stats.misses, 1);
  assert.ok(cache.staleFallback('k'), 'the entry is there for a failed refresh');
  clock.advance(10_000);
  assert.equal(cache.staleFallback('k'), undefined, 'window over');
});

test('serve_stale: a fresh insert replaces a stale entry', () => {
  const { cache, clock } = make({ serveStale: { durationMs: 60_000, mode: 'immediate' } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 10);
  clock.advance(20_000);
  assert.equal(cache.lookup('k')?.state, STALE);
  const fresh = tpl();
  cache.insert('k', fresh, CACHE_SUCCESS, 10);
  const l = cache.lookup('k');
  assert.deepEqual([l?.state, l?.ttlSeconds, l?.entry.packed], [FRESH, 10, fresh.packed]);
});

test('capacity: least recently used entries are evicted and counted per store', () => {
  const { cache } = make({ capacity: 3, denialCapacity: 2 });
  cache.insert('a', tpl(), CACHE_SUCCESS, 60);
  cache.insert('b', tpl(), CACHE_SUCCESS, 60);
  cache.insert('c', tpl(), CACHE_SUCCESS, 60);
  assert.ok(cache.lookup('a'), 'touch a: b is now the oldest');
  cache.insert('d', tpl(), CACHE_SUCCESS, 60);
  assert.equal(cache.stats.evictions[CACHE_SUCCESS], 1);
  assert.equal(cache.peek('b'), undefined, 'b evicted');
  assert.ok(cache.peek('a') && cache.peek('c') && cache.peek('d'));
  assert.equal(cache.size.success, 3);
  // Overwriting a key is not an eviction.
  cache.insert('d', tpl(), CACHE_SUCCESS, 60);
  assert.equal(cache.stats.evictions[CACHE_SUCCESS], 1);
  // The denial store has its own capacity and counter.
  cache.insert('x', tpl(), CACHE_DENIAL, 5);
  cache.insert('y', tpl(), CACHE_DENIAL, 5);
  cache.insert('z', tpl(), CACHE_DENIAL, 5);
  assert.deepEqual([cache.stats.evictions[CACHE_SUCCESS], cache.stats.evictions[CACHE_DENIAL]], [1, 1]);
  assert.deepEqual(cache.size, { success: 3, denial: 2 });
  assert.deepEqual(cache.stats.entries(), [3, 2]);
  // Expiry and clear() are not evictions.
  cache.clear();
  assert.deepEqual(cache.size, { success: 0, denial: 0 });
  assert.deepEqual([cache.stats.evictions[CACHE_SUCCESS], cache.stats.evictions[CACHE_DENIAL]], [1, 1]);
});

test('lookup checks the denial store before the success store', () => {
  const { cache } = make();
  const ok = tpl();
  const nx = tpl();
  cache.insert('k', ok, CACHE_SUCCESS, 60);
  cache.insert('k', nx, CACHE_DENIAL, 5); // a denial insert does not remove the success entry
  assert.deepEqual(cache.size, { success: 1, denial: 1 });
  const l = cache.lookup('k');
  assert.equal(l?.entry.packed, nx.packed);
  assert.equal(l?.entry.store, CACHE_DENIAL);
  assert.equal(cache.peek('k')?.packed, nx.packed);
  assert.deepEqual([cache.stats.hits[CACHE_SUCCESS], cache.stats.hits[CACHE_DENIAL]], [0, 1]);
});

test('an expired denial falls through to a live success entry', () => {
  const { cache, clock } = make();
  const ok = tpl();
  cache.insert('k', ok, CACHE_SUCCESS, 60);
  cache.insert('k', tpl(), CACHE_DENIAL, 5);
  clock.advance(5_000);
  const l = cache.lookup('k');
  assert.equal(l?.entry.packed, ok.packed);
  assert.equal(l?.ttlSeconds, 55);
});

test('a success insert removes the denial entry for the same key', () => {
  const { cache } = make();
  cache.insert('k', tpl(), CACHE_DENIAL, 5);
  const ok = tpl();
  const entry = cache.insert('k', ok, CACHE_SUCCESS, 60);
  assert.deepEqual(cache.size, { success: 1, denial: 0 });
  assert.equal(cache.lookup('k')?.entry, entry);
  assert.equal(entry.packed, ok.packed);
  assert.equal(entry.expiresAtMs - entry.storedAtMs, 60_000);
});

// ---------------------------------------------------------------------------
// Prefetch (CoreDNS plugin/cache: Freq.Update + threshold = ceil(percentage% of the original TTL))
// ---------------------------------------------------------------------------

test('prefetch: due after `amount` hits, each within `duration` of the previous, once TTL <= percentage%', () => {
  const { cache, clock } = make({ prefetch: { amount: 3, durationMs: 60_000, percentage: 10 } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 100);
  clock.advance(91_000); // 9 s left of 100: under the 10 s threshold
  const hit = () => cache.shouldPrefetch(cache.lookup('k')!);
  assert.equal(hit(), false, 'hit 1');
  clock.advance(500);
  assert.equal(hit(), false, 'hit 2');
  clock.advance(500);
  assert.equal(hit(), true, 'hit 3: popular and near expiry');
  assert.equal(cache.peek('k')?.hits, 3);
});

test('prefetch: popular entries with plenty of TTL left are not refreshed; threshold is ceil(TTL * pct / 100)', () => {
  const { cache, clock } = make({ prefetch: { amount: 1, durationMs: 60_000, percentage: 10 } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 15); // threshold ceil(1.5) = 2
  const hit = () => cache.shouldPrefetch(cache.lookup('k')!);
  assert.equal(hit(), false, '15 s left');
  clock.advance(12_000);
  assert.equal(hit(), false, '3 s left');
  clock.advance(1_000);
  assert.equal(hit(), true, '2 s left');
  clock.advance(1_000);
  assert.equal(hit(), true, '1 s left');
});

test('prefetch: a gap longer than duration resets the hit count; exactly duration still counts', () => {
  const { cache, clock } = make({ prefetch: { amount: 2, durationMs: 1_000, percentage: 90 } });
  cache.insert('k', tpl(), CACHE_SUCCESS, 10); // threshold 9 s
  clock.advance(1_000);
  const hit = () => cache.shouldPrefetch(cache.lookup('k')!);
  assert.equal(hit(), false, 'first hit');
  clock.advance(1_001);
  assert.equal(hit(), false, 'gap too long: count restarts at 1');
  assert.equal(cache.peek('k')?.hits, 1);
  clock.advance(1_000);
  assert.equal(hit(), true, 'exactly duration later: second hit in a row');
});

test('prefetch: not while a refresh is in flight, not for stale hits, not when disabled; carried hits count', () => {
  const { cache, clock } = make({ prefetch: { amount: 2, durationMs: 60_000, percentage: 50 }, serveStale: { durationMs: 60_000, mode: 'immediate' } });
  const entry = cache.insert('k', tpl(), CACHE_SUCCESS, 10, 1); // refreshed entry carrying one hit
  clock.advance(6_000);
  entry.refreshing = true;
  assert.equal(cache.shouldPrefetch(cache.lookup('k')!), false, 'refresh in flight');
  entry.refreshing = false;
  assert.equal(cache.shouldPrefetch(cache.lookup('k')!), true, 'carried + 2 hits');
  clock.advance(10_000);
  const stale = cache.lookup('k')!;
  assert.equal(stale.state, STALE);
  assert.equal(cache.shouldPrefetch(stale), false, 'stale hits are refreshed by the pipeline, not prefetch');

  const off = make();
  off.cache.insert('k', tpl(), CACHE_SUCCESS, 10);
  off.clock.advance(9_500);
  assert.equal(off.cache.shouldPrefetch(off.cache.lookup('k')!), false, 'prefetch off');
});

test('peek touches neither counters nor recency', () => {
  const { cache } = make({ capacity: 2 });
  cache.insert('a', tpl(), CACHE_SUCCESS, 60);
  cache.insert('b', tpl(), CACHE_SUCCESS, 60);
  assert.ok(cache.peek('a'));
  cache.insert('c', tpl(), CACHE_SUCCESS, 60);
  assert.equal(cache.peek('a'), undefined, 'a was still the least recently used');
  assert.equal(cache.stats.requests, 0);
  assert.equal(cache.stats.hits[CACHE_SUCCESS] + cache.stats.misses, 0);
});

// ---------------------------------------------------------------------------
// Flood resistance (segmented LRU + remembered keys)
// ---------------------------------------------------------------------------

/**
 * A working set of names pods use (each cached, then hit twice), then a random-subdomain flood of
 * `floodFactor` x capacity one-shot names (each a miss, then stored, as the pipeline does), with
 * one working-set lookup after every `every` flood names (a miss is stored again, as a forwarded
 * answer would be). Returns the working set's hit ratio during the flood and in one pass after it.
 */
function floodReplay(store: { lookup(key: string): boolean; insert(key: string): void }, workingSet: number, floodNames: number, every: number): { during: number; after: number } {
  for (let i = 0; i < workingSet; i++) store.insert(`w${i}`);
  for (let round = 0; round < 2; round++) for (let i = 0; i < workingSet; i++) store.lookup(`w${i}`);
  let hits = 0;
  let asked = 0;
  for (let i = 0; i < floodNames; i++) {
    if (!store.lookup(`flood${i}`)) store.insert(`flood${i}`);
    if (i % every === 0) {
      const key = `w${asked++ % workingSet}`;
      if (store.lookup(key)) hits++;
      else store.insert(key);
    }
  }
  let after = 0;
  for (let i = 0; i < workingSet; i++) if (store.lookup(`w${i}`)) after++;
  return { during: hits / asked, after: after / workingSet };
}

test('a flood of 10x capacity one-shot names leaves the working set cached (plain LRU loses it)', (t) => {
  const capacity = 1000;
  const workingSet = 400;
  const { cache } = make({ capacity });
  const segmented = floodReplay(
    { lookup: (k) => cache.lookup(k) !== undefined, insert: (k) => void cache.insert(k, tpl(), CACHE_SUCCESS, 3600) },
    workingSet,
    10 * capacity,
    20,
  );
  // The same sequence against one plain lru-cache of the same capacity (the previous store).
  const plain = new LRUCache<string, true>({ max: capacity });
  const lru = floodReplay({ lookup: (k) => plain.get(k) !== undefined, insert: (k) => void plain.set(k, true) }, workingSet, 10 * capacity, 20);
  t.diagnostic(`working-set hit ratio during/after the flood: segmented ${segmented.during}/${segmented.after}, plain LRU ${lru.during.toFixed(3)}/${lru.after}`);
  assert.equal(segmented.during, 1, 'every working-set lookup during the flood was a hit');
  assert.equal(segmented.after, 1);
  assert.ok(lru.during < 0.2 && lru.after < 0.2, 'the plain LRU lost the working set (the measurement is meaningful)');
  assert.equal(cache.size.success, capacity, 'capacity is the total of both segments');
  assert.equal(cache.stats.evictions[CACHE_SUCCESS], workingSet + 10 * capacity - capacity);
  assert.deepEqual(cache.segments.success, { probation: capacity - workingSet, protected: workingSet });
});

test('seenBefore: present entries and used entries that left; one-shot names are forgotten', () => {
  const { cache, clock } = make({ capacity: 4 });
  cache.insert('used', tpl(), CACHE_SUCCESS, 10);
  cache.insert('once', tpl(), CACHE_SUCCESS, 10);
  assert.ok(cache.seenBefore('used') && cache.seenBefore('once'), 'present');
  assert.ok(cache.lookup('used'));
  clock.advance(10_000);
  assert.equal(cache.lookup('used'), undefined, 'expired');
  assert.equal(cache.lookup('once'), undefined, 'expired');
  assert.equal(cache.seenBefore('used'), true, 'a used entry is remembered after it expired');
  assert.equal(cache.seenBefore('once'), false, 'an entry nobody hit is not');
  assert.equal(cache.seenBefore('never'), false);
  // Back from upstream: a remembered key enters the protected segment directly.
  cache.insert('used', tpl(), CACHE_SUCCESS, 10);
  assert.deepEqual(cache.segments.success, { probation: 0, protected: 1 });
  for (let i = 0; i < 10; i++) cache.insert(`flood${i}`, tpl(), CACHE_SUCCESS, 10);
  assert.ok(cache.peek('used'), 'survived a flood of more than the capacity');
  // Evicted while used (demoted, then pushed out): remembered too.
  const small = make({ capacity: 2 }).cache;
  small.insert('a', tpl(), CACHE_SUCCESS, 60);
  small.lookup('a');
  small.insert('b', tpl(), CACHE_SUCCESS, 60);
  small.lookup('b'); // protected holds 1: a is demoted to probation
  small.insert('c', tpl(), CACHE_SUCCESS, 60);
  assert.equal(small.peek('a'), undefined);
  assert.equal(small.seenBefore('a'), true);
  assert.equal(small.stats.evictions[CACHE_SUCCESS], 1);
  small.clear();
  assert.equal(small.seenBefore('a'), false, 'clear() forgets everything');
});

test('a refreshed entry keeps its segment and its used mark; entries() lists both stores', () => {
  const { cache } = make({ capacity: 3 });
  cache.insert('k', tpl(), CACHE_SUCCESS, 60);
  cache.lookup('k');
  const refreshed = cache.insert('k', tpl(), CACHE_SUCCESS, 60);
  assert.equal(refreshed.used, true);
  assert.deepEqual(cache.segments.success, { probation: 0, protected: 1 });
  cache.insert('nx', tpl(), CACHE_DENIAL, 5);
  assert.deepEqual(
    [...cache.entries()].map(([key, e]) => [key, e.store]),
    [
      ['k', CACHE_SUCCESS],
      ['nx', CACHE_DENIAL],
    ],
  );
});
