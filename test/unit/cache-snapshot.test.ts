// Cache snapshots (src/cache/snapshot.ts): what a successor restores, on its own clock, with the
// predecessor's expiry times; what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseCache } from '../../src/cache/response-cache.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from '../../src/cache/stats.js';
import { blockCacheId, decodeSnapshot, encodeSnapshot, restoreSnapshot } from '../../src/cache/snapshot.js';
import type { CacheConfig } from '../../src/config/types.js';
import { ManualClock } from '../../src/util/clock.js';

const config: CacheConfig = {
  success: { capacity: 100, maxTtlSeconds: 300, minTtlSeconds: 5 },
  denial: { capacity: 100, maxTtlSeconds: 60, minTtlSeconds: 5 },
  prefetch: null,
  serveStale: null,
  servfailTtlSeconds: 5,
};
const ID = blockCacheId(['cluster.local.']);
/** A template whose bytes say which key it belongs to (20 wire bytes + one TTL offset). */
const template = (tag: string) => ({ packed: `${tag.padEnd(20, '.')}\x00\x06`, wireLength: 20, questionEnd: 12 });

function filledCache(clock: ManualClock): ResponseCache {
  const cache = new ResponseCache(config, clock, ['dns://127.0.0.1:53'], 'cluster.local.');
  cache.insert('a-key', template('a'), CACHE_SUCCESS, 30);
  cache.insert('b-key', template('b'), CACHE_DENIAL, 10);
  clock.advance(5000);
  cache.insert('c-key', template('c'), CACHE_SUCCESS, 60);
  return cache;
}

test('round trip: every live entry, on the successor\'s clock, expiring at the same wall time', () => {
  const clockA = new ManualClock(1_000_000);
  const a = filledCache(clockA);
  const wall = 1_700_000_000_000;
  const { data, entries } = encodeSnapshot([{ id: ID, cache: a }], clockA, wall);
  assert.equal(entries, 3);
  const decoded = decodeSnapshot(data);
  assert.ok(decoded.ok);
  // The successor starts 2 s later (wall), with a clock that has nothing to do with A's.
  const clockB = new ManualClock(42);
  const b = new ResponseCache(config, clockB, ['dns://127.0.0.1:53'], 'cluster.local.');
  const result = restoreSnapshot(decoded.blocks, [{ id: ID, cache: b }], clockB, wall + 2000);
  assert.deepEqual(result, { restored: 3, skipped: 0 });
  const hitA = b.lookup('a-key');
  assert.ok(hitA);
  assert.equal(hitA.entry.packed, template('a').packed);
  assert.equal(hitA.entry.store, CACHE_SUCCESS);
  // a: stored 5 s before the snapshot with TTL 30, restored 2 s after it: 23 s left.
  assert.equal(hitA.ttlSeconds, 23);
  assert.equal(b.lookup('b-key')?.entry.store, CACHE_DENIAL);
  assert.equal(b.lookup('c-key')?.ttlSeconds, 58);
  // b (TTL 10) expires 3 s later on B's clock, as it would have on A's.
  clockB.advance(3000);
  assert.equal(b.lookup('b-key'), undefined);
});

test('expired entries are neither written nor restored; keys the successor already has stay its own', () => {
  const clockA = new ManualClock(1_000_000);
  const a = filledCache(clockA);
  clockA.advance(6000); // b (stored 11 s ago, TTL 10) is gone
  const wall = 1_700_000_000_000;
  const decoded = decodeSnapshot(encodeSnapshot([{ id: ID, cache: a }], clockA, wall).data);
  assert.ok(decoded.ok);
  assert.deepEqual([...decoded.blocks.get(ID)!.map((e) => e.key)].sort(), ['a-key', 'c-key']);
  const clockB = new ManualClock(0);
  const b = new ResponseCache(config, clockB, ['dns://127.0.0.1:53'], 'cluster.local.');
  b.insert('c-key', template('fresh-c'), CACHE_SUCCESS, 60);
  // 20 s later a (11 s + 20 s > 30 s TTL) has expired too.
  const result = restoreSnapshot(decoded.blocks, [{ id: ID, cache: b }], clockB, wall + 20_000);
  assert.deepEqual(result, { restored: 0, skipped: 2 });
  assert.equal(b.peek('c-key')?.packed, template('fresh-c').packed);
  // Another block's id takes nothing.
  const other = new ResponseCache(config, clockB, ['dns://127.0.0.1:53'], 'example.');
  assert.deepEqual(restoreSnapshot(decoded.blocks, [{ id: blockCacheId(['example.']), cache: other }], clockB, wall), { restored: 0, skipped: 0 });
});

test('a damaged snapshot restores nothing and says why', () => {
  const clock = new ManualClock(1_000_000);
  const { data } = encodeSnapshot([{ id: ID, cache: filledCache(clock) }], clock);
  const bad = [
    ['bad magic', Buffer.concat([Buffer.from('XXXXXXXX'), data.subarray(8)]), /bad magic/],
    ['truncated', data.subarray(0, data.length - 5), /truncated/],
    ['trailing bytes', Buffer.concat([data, Buffer.from([0])]), /after the last block/],
    ['empty', Buffer.alloc(0), /bad magic/],
  ] as const;
  for (const [what, bytes, reason] of bad) {
    const r = decodeSnapshot(bytes);
    assert.ok(!r.ok, what);
    assert.match(r.error.message, reason, what);
  }
  // A store byte that is neither success nor denial.
  const storeAt = 8 + 4 + 2 + Buffer.byteLength(ID) + 4 + 2 + 'a-key'.length;
  const wrongStore = Buffer.from(data);
  wrongStore[storeAt] = 7;
  const r = decodeSnapshot(wrongStore);
  assert.ok(!r.ok && /unknown store 7/.test(r.error.message), r.ok ? 'accepted' : r.error.message);
});
