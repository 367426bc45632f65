// Workers share what they learn: every reply a worker stores in its cache (a miss, a prefetch or a
// stale refresh) is sent to every other worker, which stores the same wire bytes with the same
// absolute store time, so a name cached through one worker is a hit through all of them.
//
// Why fills broadcast to per-worker caches rather than one table in SharedArrayBuffers, measured
// on Node 24 with the image's flags (README "Workers"): the second copy of both full cluster.local
// caches (20k answers) costs about 10 MiB, which is all a shared table could save (a fixed-slot
// table for the same capacity, 2 x 9984 slots of 512 bytes, is 10 MiB even when empty), and `workers: 2` stays
// at about 1.25x the RSS of `workers: 1`. A hit stays the single-worker path (a local lru-cache
// lookup; no hashing into shared memory, no seqlock retry, no copy out of the shared table before
// rendering), and the hit ratio on the same traffic is the same. A shared table would also need
// its own index, eviction and prefetch bookkeeping beside the cache's, a second cache to keep in
// step with the first.
//
// Fills of one event-loop turn go out as one message per peer: keys, a Float64Array of numbers
// (transferred, not copied, to the last peer) and each reply's packed template string.
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import type { CacheEntry, ResponseCache } from '../cache/response-cache.js';

/** Numbers per fill: label, store, ttlSeconds, storedAt, hits, questionEnd, wire length. */
const FIXED = 7;

export interface FillBatch {
  readonly labels: string[];
  readonly keys: string[];
  /** Per fill: FIXED numbers. storedAt is epoch milliseconds. */
  readonly meta: Float64Array;
  /** Per fill: the packed template (wire bytes and TTL offsets, see dns/reply.ts ReplyTemplate). */
  readonly packed: string[];
}

/** Names a cache the same way in every worker: its listeners and zones. */
const cacheLabel = (cache: ResponseCache): string => `${cache.stats.servers.join(',')}|${cache.stats.zones}`;

interface PendingFill {
  readonly cache: ResponseCache;
  readonly key: string;
  readonly entry: CacheEntry;
}

export class FillSharing {
  private readonly peers = new Map<number, MessagePort>();
  private pending: PendingFill[] = [];
  private flushScheduled = false;
  /** Fills sent, and fills received for a cache this worker does not have (during a reload). */
  sent = 0;
  unmatched = 0;

  /** `caches` lists this worker's caches now (they change with reloads). */
  constructor(private readonly caches: () => readonly ResponseCache[]) {}

  /** Hooks every cache of the engine (call after start and after each reload; hooked caches are skipped). */
  attach(): void {
    for (const cache of this.caches()) {
      if (!cache.onInsert) cache.onInsert = (key, entry) => this.queue(cache, key, entry);
    }
  }

  addPeer(index: number, port: MessagePort): void {
    this.peers.get(index)?.close();
    this.peers.set(index, port);
    port.on('message', (batch: FillBatch) => this.apply(batch));
    port.on('close', () => {
      if (this.peers.get(index) === port) this.peers.delete(index);
    });
    port.unref(); // fills never keep a worker alive
  }

  close(): void {
    for (const port of this.peers.values()) port.close();
    this.peers.clear();
    this.pending = [];
  }

  private queue(cache: ResponseCache, key: string, entry: CacheEntry): void {
    if (this.peers.size === 0) return;
    this.pending.push({ cache, key, entry });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const fills = this.pending;
    this.pending = [];
    const ports = [...this.peers.values()];
    if (fills.length === 0 || ports.length === 0) return;
    const labels: string[] = [];
    const labelIndex = new Map<ResponseCache, number>();
    for (const f of fills) {
      if (!labelIndex.has(f.cache)) labelIndex.set(f.cache, labels.push(cacheLabel(f.cache)) - 1);
    }
    const meta = new Float64Array(FIXED * fills.length);
    const keys: string[] = new Array(fills.length);
    const packed: string[] = new Array(fills.length);
    fills.forEach((f, i) => {
      const e = f.entry;
      const m = FIXED * i;
      keys[i] = f.key;
      packed[i] = e.packed;
      meta[m] = labelIndex.get(f.cache)!;
      meta[m + 1] = e.store;
      meta[m + 2] = e.ttlSeconds;
      meta[m + 3] = performance.timeOrigin + e.storedAtMs; // the cache clock is performance.now()
      meta[m + 4] = e.hits;
      meta[m + 5] = e.questionEnd;
      meta[m + 6] = e.wireLength;
    });
    const batch: FillBatch = { labels, keys, meta, packed };
    ports.forEach((port, i) => port.postMessage(batch, i === ports.length - 1 ? [meta.buffer] : []));
    this.sent += fills.length;
  }

  /** Stores another worker's fills in our caches of the same label. */
  private apply(batch: FillBatch): void {
    const byLabel = new Map<string, ResponseCache>();
    for (const cache of this.caches()) byLabel.set(cacheLabel(cache), cache);
    const { meta } = batch;
    for (let i = 0; i < batch.keys.length; i++) {
      const key = batch.keys[i];
      const m = FIXED * i;
      const cache = byLabel.get(batch.labels[meta[m]]);
      const store = meta[m + 1] as 0 | 1;
      const ttlSeconds = meta[m + 2];
      const storedAtMs = meta[m + 3] - performance.timeOrigin;
      const hits = meta[m + 4];
      const template = { packed: batch.packed[i], wireLength: meta[m + 6], questionEnd: meta[m + 5] };
      if (!cache) {
        this.unmatched++;
        continue;
      }
      // Both workers may have missed the same name at once: keep whichever reply is newer.
      const existing = cache.peek(key);
      if (existing && existing.storedAtMs >= storedAtMs) continue;
      cache.adopt(key, template, store, ttlSeconds, existing?.hits ?? hits, storedAtMs);
    }
  }
}
