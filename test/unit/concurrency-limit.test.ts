// ConcurrencyLimit: names not seen before may take maxConcurrent minus the reserve; names seen
// before may take every slot; 0 means unlimited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimit, SEEN_BEFORE_RESERVE } from '../../src/forward/concurrency.js';

/** Acquires until refused; returns how many were granted (stops at 10,000). */
function fill(limit: ConcurrencyLimit, seenBefore: boolean): number {
  let n = 0;
  while (n < 10_000 && limit.tryAcquire(seenBefore)) n++;
  return n;
}

for (const c of [
  { max: 1000, unseen: 1000 - Math.floor(1000 * SEEN_BEFORE_RESERVE) },
  { max: 20, unseen: 15 },
  { max: 2, unseen: 2 }, // a reserve below one slot is none
  { max: 1, unseen: 1 },
]) {
  test(`maxConcurrent ${c.max}: new names get ${c.unseen} slots, names seen before the rest`, () => {
    const limit = new ConcurrencyLimit(c.max);
    assert.equal(fill(limit, false), c.unseen);
    assert.equal(limit.limitFor(false), c.unseen);
    assert.equal(fill(limit, true), c.max - c.unseen, 'the reserve is left for names seen before');
    assert.equal(limit.inFlight, c.max);
    limit.release();
    // With a reserve, the freed slot is one only names seen before may take.
    assert.equal(limit.tryAcquire(false), c.max === c.unseen);
    if (c.max > c.unseen) assert.equal(limit.tryAcquire(true), true);
  });
}

test('names seen before can use every slot when no new name is in flight', () => {
  const limit = new ConcurrencyLimit(8);
  assert.equal(fill(limit, true), 8);
  assert.equal(limit.tryAcquire(false), false);
});

test('maxConcurrent 0 is unlimited for both', () => {
  const limit = new ConcurrencyLimit(0);
  assert.equal(fill(limit, false), 10_000);
  assert.equal(limit.tryAcquire(true), true);
});
