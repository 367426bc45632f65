// The cache of one server block: a success store and a denial store (lru-cache, each with its own
// capacity) of reply templates in wire format. Lookup checks denial first, then success (CoreDNS
// order). Entries past their TTL stay usable as stale within the serve_stale window.
import { LRUCache } from 'lru-cache';
import type { CacheConfig } from '../config/types.js';
import type { ReplyTemplate } from '../dns/reply.js';
import type { Clock } from '../util/clock.js';
import { CACHE_DENIAL, CACHE_SUCCESS, CacheStats } from './stats.js';

/**
 * One cached reply. It is its own ReplyTemplate (wire bytes and TTL offsets inline) so that an
 * entry is one object plus its bytes: at 20k entries every object per entry costs about 1 MiB.
 */
export class CacheEntry implements ReplyTemplate {
  readonly wire: Buffer;
  readonly ttlOffsets: readonly number[];
  readonly questionEnd: number;
  readonly expiresAtMs: number;
  /** Prefetch popularity: hits in a row, each within the prefetch duration of the previous one. */
  hits: number;
  lastHitMs: number;
  refreshing = false; // a prefetch/stale refresh is in flight

  constructor(
    template: ReplyTemplate,
    readonly store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL,
    readonly storedAtMs: number,
    readonly ttlSeconds: number, // clamped TTL at store time
    carriedHits: number,
  ) {
    this.wire = template.wire;
    this.ttlOffsets = template.ttlOffsets;
    this.questionEnd = template.questionEnd;
    this.expiresAtMs = storedAtMs + ttlSeconds * 1000;
    this.hits = carriedHits;
    this.lastHitMs = storedAtMs;
  }

  /** The reply template (the entry itself). */
  get template(): ReplyTemplate {
    return this;
  }
}

export const FRESH = 0;
export const STALE = 1;

export interface Lookup {
  readonly entry: CacheEntry;
  readonly state: typeof FRESH | typeof STALE;
  readonly ttlSeconds: number; // remaining TTL to write (0 when stale)
}

export class ResponseCache {
  private readonly stores: [LRUCache<string, CacheEntry>, LRUCache<string, CacheEntry>];
  readonly stats: CacheStats;

  constructor(
    readonly config: CacheConfig,
    private readonly clock: Clock,
    servers: readonly string[],
    zones: string,
  ) {
    const make = (store: number, capacity: number) =>
      new LRUCache<string, CacheEntry>({
        max: capacity,
        dispose: (_value, _key, reason) => {
          if (reason === 'evict') this.stats.evictions[store]++;
        },
      });
    this.stores = [make(CACHE_SUCCESS, config.success.capacity), make(CACHE_DENIAL, config.denial.capacity)];
    this.stats = new CacheStats(servers, zones, () => [this.stores[0].size, this.stores[1].size]);
  }

  /** Finds a usable entry, or undefined. Counts requests, hits and misses. */
  lookup(key: string): Lookup | undefined {
    this.stats.requests++;
    const now = this.clock.nowMs();
    const found = this.find(this.stores[CACHE_DENIAL], key, now) ?? this.find(this.stores[CACHE_SUCCESS], key, now);
    if (found) this.stats.hits[found.entry.store]++;
    else this.stats.misses++;
    return found;
  }

  /** Like lookup, without touching counters or recency (for refresh decisions and tests). */
  peek(key: string): CacheEntry | undefined {
    return this.stores[CACHE_DENIAL].peek(key) ?? this.stores[CACHE_SUCCESS].peek(key);
  }

  /**
   * serve_stale after a failed refresh: the entry for `key` if it is still within the stale window
   * (expired or not), without counting a lookup. Undefined when serve_stale is off.
   */
  staleFallback(key: string): CacheEntry | undefined {
    const stale = this.config.serveStale;
    if (!stale) return undefined;
    const entry = this.peek(key);
    return entry && this.clock.nowMs() - entry.expiresAtMs < stale.durationMs ? entry : undefined;
  }

  private find(store: LRUCache<string, CacheEntry>, key: string, now: number): Lookup | undefined {
    const entry = store.get(key);
    if (!entry) return undefined;
    const remaining = entry.ttlSeconds - Math.floor((now - entry.storedAtMs) / 1000);
    if (remaining > 0) return { entry, state: FRESH, ttlSeconds: remaining };
    const stale = this.config.serveStale;
    if (stale && now - entry.expiresAtMs < stale.durationMs) return { entry, state: STALE, ttlSeconds: 0 };
    store.delete(key);
    return undefined;
  }

  /** Told of every entry insert() stores; with workers > 1, that is how fills reach the other workers (cluster/fill-sharing). */
  onInsert: ((key: string, entry: CacheEntry) => void) | null = null;

  /** Stores a reply template. A fresh positive answer replaces a denial entry for the same key. */
  insert(key: string, template: ReplyTemplate, store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL, ttlSeconds: number, carriedHits = 0): CacheEntry {
    const entry = this.put(key, new CacheEntry(template, store, this.clock.nowMs(), ttlSeconds, carriedHits));
    this.onInsert?.(key, entry);
    return entry;
  }

  /** Stores an entry another worker filled (at `storedAtMs` on our clock), without telling onInsert. */
  adopt(key: string, template: ReplyTemplate, store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL, ttlSeconds: number, hits: number, storedAtMs: number): CacheEntry {
    return this.put(key, new CacheEntry(template, store, storedAtMs, ttlSeconds, hits));
  }

  private put(key: string, entry: CacheEntry): CacheEntry {
    this.stores[entry.store].set(key, entry);
    if (entry.store === CACHE_SUCCESS) this.stores[CACHE_DENIAL].delete(key);
    return entry;
  }

  /**
   * Prefetch (CoreDNS): counts a hit and says whether a background refresh is due: the entry is
   * popular (>= amount hits, each within duration of the last) and has <= percentage% of its TTL left.
   */
  shouldPrefetch(lookup: Lookup): boolean {
    const prefetch = this.config.prefetch;
    if (!prefetch || lookup.state !== FRESH) return false;
    const entry = lookup.entry;
    const now = this.clock.nowMs();
    entry.hits = now - entry.lastHitMs <= prefetch.durationMs ? entry.hits + 1 : 1;
    entry.lastHitMs = now;
    if (entry.refreshing || entry.hits < prefetch.amount) return false;
    const threshold = Math.ceil((entry.ttlSeconds * prefetch.percentage) / 100);
    return lookup.ttlSeconds <= threshold;
  }

  get size(): { success: number; denial: number } {
    return { success: this.stores[0].size, denial: this.stores[1].size };
  }

  clear(): void {
    this.stores[0].clear();
    this.stores[1].clear();
  }
}
