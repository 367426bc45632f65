// Fill sharing between workers, over a real MessageChannel: what one worker's cache stores reaches
// the other's with the same wire bytes, TTL offsets, store and store time; adopted fills are not
// sent back; fills go to the cache of the same label only; a positive fill replaces a denial and
// an older fill never replaces a newer entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { ResponseCache, FRESH } from '../../src/cache/response-cache.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from '../../src/cache/stats.js';
import type { CacheConfig } from '../../src/config/types.js';
import { systemClock } from '../../src/util/clock.js';
import { FillSharing } from '../../src/cluster/fill-sharing.js';
import { packTemplate, templateTtlOffsets, templateWire } from '../../src/dns/reply.js';
import { waitFor } from '../harness/wait.js';

const config: CacheConfig = {
  success: { capacity: 100, minTtlSeconds: 5, maxTtlSeconds: 3600 },
  denial: { capacity: 100, minTtlSeconds: 5, maxTtlSeconds: 1800 },
  prefetch: null,
  serveStale: null,
  servfailTtlSeconds: 5,
};

/** Two workers' views: each has a cluster.local cache and an in-addr.arpa cache, joined by one channel. */
function twoWorkers(bZones = ['cluster.local.', '10.in-addr.arpa.']) {
  const cachesA = ['cluster.local.', '10.in-addr.arpa.'].map((z) => new ResponseCache(config, systemClock, ['dns://127.0.0.1:53'], z));
  const cachesB = bZones.map((z) => new ResponseCache(config, systemClock, ['dns://127.0.0.1:53'], z));
  const a = new FillSharing(() => cachesA);
  const b = new FillSharing(() => cachesB);
  const channel = new MessageChannel();
  a.addPeer(1, channel.port1);
  b.addPeer(0, channel.port2);
  a.attach();
  b.attach();
  return { a, b, cachesA, cachesB, close: () => (a.close(), b.close()) };
}

const wire = (...bytes: number[]) => Buffer.from([0x12, 0x34, 0x81, 0x80, ...bytes]);

test('a fill in one worker is stored by the other, bytes and store time included, and not sent back', async () => {
  const { a, b, cachesA, cachesB, close } = twoWorkers();
  try {
    const stored = cachesA[0].insert('key-1', packTemplate(wire(1, 2, 3), 7, [20, 40], 17), CACHE_SUCCESS, 30);
    cachesA[1].insert('key-2', packTemplate(wire(9), 5, [], 12), CACHE_DENIAL, 5);
    await waitFor(() => cachesB[0].peek('key-1') !== undefined && cachesB[1].peek('key-2') !== undefined, 2000, 'fills delivered');
    const got = cachesB[0].peek('key-1')!;
    assert.deepEqual([...templateWire(got)], [...templateWire(stored)]);
    assert.deepEqual(templateTtlOffsets(got), [20, 40]);
    assert.equal(got.questionEnd, 17);
    assert.equal(got.store, CACHE_SUCCESS);
    assert.equal(got.ttlSeconds, 30);
    assert.ok(Math.abs(got.storedAtMs - stored.storedAtMs) < 1, 'the same store time on both clocks');
    assert.equal(cachesB[1].peek('key-2')!.store, CACHE_DENIAL);
    assert.equal(cachesB[0].peek('key-2'), undefined, 'a fill goes to the cache of the same label only');
    const hit = cachesB[0].lookup('key-1');
    assert.equal(hit?.state, FRESH);
    assert.equal(cachesB[0].stats.hits[CACHE_SUCCESS], 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.sent, 2);
    assert.equal(b.sent, 0, 'adopted fills are not echoed back');
  } finally {
    close();
  }
});

test('fills for a cache the other worker does not have are counted and dropped', async () => {
  const { b, cachesA, close } = twoWorkers(['cluster.local.']);
  try {
    cachesA[1].insert('key-2', packTemplate(wire(9), 5, [], 12), CACHE_SUCCESS, 5);
    await waitFor(() => b.unmatched === 1, 2000, 'unmatched fill');
  } finally {
    close();
  }
});

test('a positive fill replaces a denial; an older fill does not replace a newer entry', async () => {
  const { cachesA, cachesB, close } = twoWorkers();
  try {
    cachesB[0].insert('nx', packTemplate(wire(3), 5, [], 12), CACHE_DENIAL, 5);
    await new Promise((r) => setTimeout(r, 5));
    cachesA[0].insert('nx', packTemplate(wire(4), 5, [], 12), CACHE_SUCCESS, 30);
    await waitFor(() => cachesB[0].peek('nx')?.store === CACHE_SUCCESS, 2000, 'positive replaces denial');
    const older = cachesA[0].insert('race', packTemplate(wire(5), 5, [], 12), CACHE_SUCCESS, 30);
    // B's own reply for the same name, stored after A's (both missed at once).
    const newer = cachesB[0].adopt('race', packTemplate(wire(6), 5, [], 12), CACHE_SUCCESS, 30, 0, older.storedAtMs + 10);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cachesB[0].peek('race'), newer, 'the newer entry stays');
  } finally {
    close();
  }
});
