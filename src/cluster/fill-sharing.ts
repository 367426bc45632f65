// Workers share what they learn: every reply a worker stores in its cache (a miss, a prefetch or a
// stale refresh) is sent to every other worker, which stores the same wire bytes with the same
// absolute store time, so a name cached through one worker is a hit through all of them.
//
// Why fills broadcast to per-worker caches rather than one table in SharedArrayBuffers: measured
// on Node 24 with the image's flags (README "Workers"), the hit path stays exactly the
// single-worker path (a local lru-cache lookup; no hashing into shared memory, no seqlock retry,
// no copy out of the shared table before rendering), and the cost of a second copy of every
// answer is its bytes plus the entry's small fixed overhead in the other isolate's heap. A shared
// table would also need its own index, eviction and prefetch bookkeeping beside lru-cache (the
// owner's choice for the index), i.e. a second cache with its own semantics to keep in step.
//
// Fills of one event-loop turn go out as one message per peer: keys, a Float64Array of numbers
// and one Uint8Array of wire bytes (transferred, not copied, to the last peer).
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import type { CacheEntry, ResponseCache } from '../cache/response-cache.js';

/** Numbers per fill before its TTL offsets: label, store, ttlSeconds, storedAt, hits, questionEnd, wire length, offset count. */
const FIXED = 8;

export interface FillBatch {
  readonly labels: string[];
  readonly keys: string[];
  /** Per fill: FIXED numbers, then its TTL offsets. storedAt is epoch milliseconds. */
  readonly meta: Float64Array;
  /** Every fill's wire bytes, back to back. */
  readonly wire: Uint8Array;
}

/** Names a cache the same way in every worker: its listeners and zones. */
export const cacheLabel = (cache: ResponseCache): string => `${cache.stats.servers.join(',')}|${cache.stats.zones}`;

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
    let metaLength = 0;
    let wireLength = 0;
    for (const f of fills) {
      if (!labelIndex.has(f.cache)) labelIndex.set(f.cache, labels.push(cacheLabel(f.cache)) - 1);
      metaLength += FIXED + f.entry.ttlOffsets.length;
      wireLength += f.entry.wire.length;
    }
    const meta = new Float64Array(metaLength);
    const wire = new Uint8Array(wireLength);
    const keys: string[] = new Array(fills.length);
    let m = 0;
    let w = 0;
    fills.forEach((f, i) => {
      const e = f.entry;
      keys[i] = f.key;
      meta[m] = labelIndex.get(f.cache)!;
      meta[m + 1] = e.store;
      meta[m + 2] = e.ttlSeconds;
      meta[m + 3] = performance.timeOrigin + e.storedAtMs; // the cache clock is performance.now()
      meta[m + 4] = e.hits;
      meta[m + 5] = e.questionEnd;
      meta[m + 6] = e.wire.length;
      meta[m + 7] = e.ttlOffsets.length;
      for (let j = 0; j < e.ttlOffsets.length; j++) meta[m + FIXED + j] = e.ttlOffsets[j];
      m += FIXED + e.ttlOffsets.length;
      wire.set(e.wire, w);
      w += e.wire.length;
    });
    const batch: FillBatch = { labels, keys, meta, wire };
    ports.forEach((port, i) => port.postMessage(batch, i === ports.length - 1 ? [meta.buffer, wire.buffer] : []));
    this.sent += fills.length;
  }

  /** Stores another worker's fills in our caches of the same label. */
  private apply(batch: FillBatch): void {
    const byLabel = new Map<string, ResponseCache>();
    for (const cache of this.caches()) byLabel.set(cacheLabel(cache), cache);
    const { meta, wire } = batch;
    let m = 0;
    let w = 0;
    for (const key of batch.keys) {
      const cache = byLabel.get(batch.labels[meta[m]]);
      const store = meta[m + 1] as 0 | 1;
      const ttlSeconds = meta[m + 2];
      const storedAtMs = meta[m + 3] - performance.timeOrigin;
      const hits = meta[m + 4];
      const questionEnd = meta[m + 5];
      const length = meta[m + 6];
      const offsets = Array.from(meta.subarray(m + FIXED, m + FIXED + meta[m + 7]));
      m += FIXED + meta[m + 7];
      const bytes = wire.subarray(w, w + length);
      w += length;
      if (!cache) {
        this.unmatched++;
        continue;
      }
      // Both workers may have missed the same name at once: keep whichever reply is newer.
      const existing = cache.peek(key);
      if (existing && existing.storedAtMs >= storedAtMs) continue;
      // Buffer.from copies, as toTemplate() does for a local fill.
      cache.adopt(key, { wire: Buffer.from(bytes), ttlOffsets: offsets, questionEnd }, store, ttlSeconds, existing?.hits ?? hits, storedAtMs);
    }
  }
}
