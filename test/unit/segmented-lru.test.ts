// SegmentedLru: capacity is the total of both segments, a second use promotes, evictions take
// probation first, a full protected segment demotes (never evicts) its least recently used key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SegmentedLru, PROTECTED_SHARE } from '../../src/cache/segmented-lru.js';

function make(capacity: number): { lru: SegmentedLru<{ v: string }>; evicted: string[] } {
  const evicted: string[] = [];
  const lru = new SegmentedLru<{ v: string }>(capacity, (key) => evicted.push(key));
  return { lru, evicted };
}
const val = (v: string) => ({ v });

test('new keys enter probation; a get promotes to protected; the total never exceeds capacity', () => {
  const { lru, evicted } = make(10);
  for (let i = 0; i < 10; i++) lru.set(`k${i}`, val(`${i}`));
  assert.deepEqual(lru.segmentSizes, { probation: 10, protected: 0 }, 'probation may use the whole capacity');
  assert.equal(lru.get('k3')?.v, '3');
  assert.equal(lru.isProtected('k3'), true);
  lru.set('n', val('n'));
  assert.equal(lru.size, 10);
  assert.deepEqual(evicted, ['k0'], 'the least recently used probation key');
});

test('a flood of one-shot keys evicts only probation keys', () => {
  const { lru, evicted } = make(100);
  for (let i = 0; i < 50; i++) lru.set(`w${i}`, val('w'));
  for (let i = 0; i < 50; i++) assert.ok(lru.get(`w${i}`));
  for (let i = 0; i < 1000; i++) lru.set(`flood${i}`, val('f'));
  for (let i = 0; i < 50; i++) assert.ok(lru.peek(`w${i}`), `w${i} survived`);
  assert.equal(evicted.length, 950);
  assert.ok(evicted.every((k) => k.startsWith('flood')));
});

test(`protected holds at most ${PROTECTED_SHARE * 100}% of the capacity; its oldest key is demoted, not evicted`, () => {
  const { lru, evicted } = make(10);
  for (let i = 0; i < 10; i++) lru.set(`k${i}`, val(`${i}`));
  for (let i = 0; i < 10; i++) lru.get(`k${i}`);
  assert.deepEqual(lru.segmentSizes, { probation: 2, protected: 8 });
  assert.deepEqual(evicted, []);
  assert.equal(lru.isProtected('k0'), false, 'k0 and k1 were demoted');
  assert.equal(lru.isProtected('k1'), false);
  lru.set('new', val('n'));
  assert.deepEqual(evicted, ['k0'], 'a demoted key is the first to go');
  assert.ok(lru.get('k1'), 'a demoted key used again comes back');
  assert.equal(lru.isProtected('k1'), true);
});

test('set on a present key replaces in place and keeps its segment; admitProtected promotes', () => {
  const { lru, evicted } = make(4);
  lru.set('a', val('1'));
  lru.get('a');
  lru.set('a', val('2'));
  assert.equal(lru.isProtected('a'), true);
  assert.equal(lru.peek('a')?.v, '2');
  lru.set('b', val('1'));
  lru.set('b', val('2'));
  assert.equal(lru.isProtected('b'), false);
  lru.set('b', val('3'), true);
  assert.equal(lru.isProtected('b'), true);
  lru.set('c', val('1'), true);
  assert.equal(lru.isProtected('c'), true, 'a new key admitted straight into protected');
  assert.equal(lru.size, 3);
  assert.deepEqual(evicted, []);
});

test('peek and has touch neither recency nor segments; delete is not an eviction', () => {
  const { lru, evicted } = make(2);
  lru.set('a', val('a'));
  lru.set('b', val('b'));
  assert.ok(lru.peek('a') && lru.has('a'));
  assert.equal(lru.isProtected('a'), false);
  lru.set('c', val('c'));
  assert.deepEqual(evicted, ['a']);
  lru.delete('b');
  assert.deepEqual(evicted, ['a']);
  assert.equal(lru.size, 1);
  assert.deepEqual([...lru.entries()].map(([k]) => k), ['c']);
});

test('capacity 1 and 2 still hold exactly that many entries', () => {
  for (const capacity of [1, 2]) {
    const { lru, evicted } = make(capacity);
    for (let i = 0; i < 5; i++) {
      lru.set(`k${i}`, val(''));
      lru.get(`k${i}`);
    }
    assert.equal(lru.size, capacity);
    assert.equal(evicted.length, 5 - capacity);
    assert.ok(lru.peek('k4'), 'the newest key is always admitted');
  }
});
