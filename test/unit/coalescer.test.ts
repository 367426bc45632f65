// Coalescer: concurrent identical misses share one exchange; different keys do not; rejections are
// shared and free the key; drain() waits for everything in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../src/cache/coalescer.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

test('concurrent calls with the same key share one call and one result', async () => {
  const c = new Coalescer<string>();
  const d = deferred<string>();
  let calls = 0;
  const work = () => {
    calls++;
    return d.promise;
  };
  const p1 = c.run('k', work);
  const p2 = c.run('k', work);
  const p3 = c.run('k', work);
  assert.equal(calls, 1);
  assert.equal(c.joined, 2);
  assert.equal(c.size, 1);
  assert.ok(c.has('k'));
  assert.equal(p1, p2, 'the same promise');
  d.resolve('answer');
  assert.deepEqual(await Promise.all([p1, p2, p3]), ['answer', 'answer', 'answer']);
  await tick();
  assert.equal(c.size, 0);
  assert.equal(c.has('k'), false);
});

test('after settling, the same key starts a new call', async () => {
  const c = new Coalescer<number>();
  let calls = 0;
  assert.equal(await c.run('k', async () => ++calls), 1);
  assert.equal(await c.run('k', async () => ++calls), 2);
  assert.equal(c.joined, 0);
});

test('different keys do not share', async () => {
  const c = new Coalescer<string>();
  const calls: string[] = [];
  const work = (k: string) => () => {
    calls.push(k);
    return Promise.resolve(k);
  };
  const results = await Promise.all([c.run('a', work('a')), c.run('b', work('b')), c.run('A', work('A'))]);
  assert.deepEqual(results, ['a', 'b', 'A']);
  assert.deepEqual(calls, ['a', 'b', 'A'], 'keys are compared exactly (callers lower-case them)');
  assert.equal(c.joined, 0);
});

test('a rejection is shared by every waiter and frees the key', async () => {
  const c = new Coalescer<string>();
  const d = deferred<string>();
  let calls = 0;
  const p1 = c.run('k', () => {
    calls++;
    return d.promise;
  });
  const p2 = c.run('k', () => {
    calls++;
    return d.promise;
  });
  const boom = new Error('upstream timeout');
  d.reject(boom);
  const settled = await Promise.allSettled([p1, p2]);
  assert.deepEqual(
    settled.map((s) => s.status === 'rejected' && s.reason),
    [boom, boom],
  );
  assert.equal(calls, 1);
  assert.equal(c.has('k'), false, 'key freed');
  assert.equal(await c.run('k', async () => 'retry'), 'retry');
});

test('drain() resolves at once when idle, waits for in-flight work (including rejections and work started meanwhile)', async () => {
  const c = new Coalescer<string>();
  await c.drain();
  const a = deferred<string>();
  const b = deferred<string>();
  const late = deferred<string>();
  const pa = c.run('a', () => a.promise);
  const pb = c.run('b', () => b.promise);
  pb.catch(() => undefined);
  let drained = false;
  const draining = c.drain().then(() => {
    drained = true;
  });
  a.resolve('A');
  await pa;
  await tick();
  assert.equal(drained, false, 'b still in flight');
  // Work that starts while draining is waited for too.
  const pl = c.run('late', () => late.promise);
  b.reject(new Error('failed'));
  await tick();
  await tick();
  assert.equal(drained, false, 'late still in flight');
  late.resolve('L');
  await pl;
  await draining;
  assert.equal(drained, true);
  assert.equal(c.size, 0);
});
