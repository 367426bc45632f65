// The cache of one server block: a success store and a denial store (each with its own capacity,
// CoreDNS semantics) of reply templates in wire format. Lookup checks denial first, then success
// (CoreDNS order). Entries past their TTL stay usable as stale within the serve_stale window.
//
// Flood resistance: each store is a segmented LRU (segmented-lru.ts), so a random-subdomain flood
// of one-shot names only churns the probation segment and the names pods use again stay cached.
// Keys of entries that were used (hit at least once) are remembered for a while after they leave
// (evicted or expired): such a key comes back straight into the protected segment, and
// seenBefore() lets the forwarder give it the upstream capacity reserved for known names.
import { LRUCache } from 'lru-cache';
import type { CacheConfig } from '../config/types.js';
import type { ReplyTemplate } from '../dns/reply.js';
import type { Clock } from '../util/clock.js';
import { CACHE_DENIAL, CACHE_SUCCESS, CacheStats } from './stats.js';
import { SegmentedLru } from './segmented-lru.js';

/**
 * One cached reply. It is its own ReplyTemplate (the packed wire bytes and TTL offsets inline) and
 * holds only small integers besides, so that an entry is one object plus one string: times are
 * whole milliseconds on the cache clock (small integers, not boxed doubles, for the first 12 days
 * of uptime), and the expiry is derived rather than stored.
 */
export class CacheEntry implements ReplyTemplate {
  readonly packed: string;
  readonly wireLength: number;
  readonly questionEnd: number;
  readonly storedAtMs: number;
  /** Prefetch popularity: hits in a row, each within the prefetch duration of the previous one. */
  hits: number;
  lastHitMs: number;
  refreshing = false; // a prefetch/stale refresh is in flight
  used = false; // hit at least once (or replaced an entry that was): its key is remembered after it leaves

  constructor(
    template: ReplyTemplate,
    readonly store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL,
    storedAtMs: number,
    readonly ttlSeconds: number, // clamped TTL at store time
    carriedHits: number,
  ) {
    this.packed = template.packed;
    this.wireLength = template.wireLength;
    this.questionEnd = template.questionEnd;
    this.storedAtMs = Math.floor(storedAtMs);
    this.hits = carriedHits;
    this.lastHitMs = this.storedAtMs;
  }

  get expiresAtMs(): number {
    return this.storedAtMs + this.ttlSeconds * 1000;
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
  private readonly stores: [SegmentedLru<CacheEntry>, SegmentedLru<CacheEntry>];
  /** Keys of used entries that left the cache, as many as the cache holds entries (keys only). */
  private readonly recentlyUsed: LRUCache<string, true>;
  readonly stats: CacheStats;

  constructor(
    readonly config: CacheConfig,
    private readonly clock: Clock,
    servers: readonly string[],
    zones: string,
  ) {
    const make = (store: number, capacity: number) =>
      new SegmentedLru<CacheEntry>(capacity, (key, entry) => {
        this.stats.evictions[store]++;
        if (entry.used) this.recentlyUsed.set(key, true);
      });
    this.stores = [make(CACHE_SUCCESS, config.success.capacity), make(CACHE_DENIAL, config.denial.capacity)];
    this.recentlyUsed = new LRUCache<string, true>({ max: config.success.capacity + config.denial.capacity });
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

  /**
   * True when `key` has an entry (fresh or stale) or had a used entry recently: a miss for it is a
   * name pods asked for before, not a one-shot name (the forwarder reserves capacity for these).
   */
  seenBefore(key: string): boolean {
    return this.stores[CACHE_DENIAL].has(key) || this.stores[CACHE_SUCCESS].has(key) || this.recentlyUsed.has(key);
  }

  private find(store: SegmentedLru<CacheEntry>, key: string, now: number): Lookup | undefined {
    const entry = store.get(key);
    if (!entry) return undefined;
    const remaining = entry.ttlSeconds - Math.floor((now - entry.storedAtMs) / 1000);
    if (remaining > 0) {
      entry.used = true;
      return { entry, state: FRESH, ttlSeconds: remaining };
    }
    const stale = this.config.serveStale;
    if (stale && now - entry.expiresAtMs < stale.durationMs) {
      entry.used = true;
      // serve_stale verify (CoreDNS): ask the upstream first, as for a miss; the entry stays so
      // that staleFallback() can still answer with it if the upstream fails.
      return stale.mode === 'verify' ? undefined : { entry, state: STALE, ttlSeconds: 0 };
    }
    store.delete(key);
    if (entry.used) this.recentlyUsed.set(key, true);
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

  /**
   * A replaced entry passes on whether it was used; a key remembered as used enters the protected
   * segment directly.
   */
  private put(key: string, entry: CacheEntry): CacheEntry {
    const previous = this.stores[CACHE_DENIAL].peek(key) ?? this.stores[CACHE_SUCCESS].peek(key);
    const remembered = this.recentlyUsed.delete(key);
    entry.used = remembered || (previous?.used ?? false);
    this.stores[entry.store].set(key, entry, entry.used);
    if (entry.store === CACHE_SUCCESS) this.stores[CACHE_DENIAL].delete(key);
    return entry;
  }

  /** Every entry with its key (success store first), without touching counters or recency. */
  *entries(): Generator<[string, CacheEntry]> {
    yield* this.stores[CACHE_SUCCESS].entries();
    yield* this.stores[CACHE_DENIAL].entries();
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
    entry.lastHitMs = Math.floor(now);
    if (entry.refreshing || entry.hits < prefetch.amount) return false;
    const threshold = Math.ceil((entry.ttlSeconds * prefetch.percentage) / 100);
    return lookup.ttlSeconds <= threshold;
  }

  get size(): { success: number; denial: number } {
    return { success: this.stores[0].size, denial: this.stores[1].size };
  }

  /** Entries per segment of each store (tests, flood measurements). */
  get segments(): { success: { probation: number; protected: number }; denial: { probation: number; protected: number } } {
    return { success: this.stores[CACHE_SUCCESS].segmentSizes, denial: this.stores[CACHE_DENIAL].segmentSizes };
  }

  clear(): void {
    this.stores[0].clear();
    this.stores[1].clear();
    this.recentlyUsed.clear();
  }
}
