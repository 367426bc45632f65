// A segmented LRU (SLRU) index of `capacity` entries in total, built from two lru-cache instances:
// new keys enter the probation segment; a second use (get) promotes a key to the protected
// segment, which holds at most PROTECTED_SHARE of the capacity. Evictions take the least recently
// used probation entry first, so a flood of one-shot keys churns probation and leaves the keys
// that were used twice alone. When protected is full, its least recently used key is demoted to
// the front of probation (not evicted): it gets one more chance to be used again.
// No clock, no TTLs, no metrics: the caller decides what a use is and counts evictions.
import { LRUCache } from 'lru-cache';

/** Share of the capacity the protected segment may hold; probation always keeps the rest. */
export const PROTECTED_SHARE = 0.8;

export class SegmentedLru<V extends object> {
  private readonly probation: LRUCache<string, V>;
  private readonly protectedSegment: LRUCache<string, V>;
  private readonly protectedMax: number;

  constructor(
    readonly capacity: number,
    private readonly onEvict: (key: string, value: V) => void,
  ) {
    // Each segment may grow to the whole capacity (probation while nothing was used twice); the
    // total is enforced here, so lru-cache never evicts on its own.
    this.probation = new LRUCache<string, V>({ max: capacity });
    this.protectedSegment = new LRUCache<string, V>({ max: capacity });
    this.protectedMax = Math.max(0, Math.min(capacity - 1, Math.floor(capacity * PROTECTED_SHARE)));
  }

  /** The value for `key`, counted as a use: a probation key moves to protected. */
  get(key: string): V | undefined {
    const kept = this.protectedSegment.get(key);
    if (kept !== undefined) return kept;
    const value = this.probation.get(key);
    if (value === undefined) return undefined;
    this.probation.delete(key);
    this.protect(key, value);
    return value;
  }

  /** The value for `key` without touching recency or segments. */
  peek(key: string): V | undefined {
    return this.protectedSegment.peek(key) ?? this.probation.peek(key);
  }

  has(key: string): boolean {
    return this.protectedSegment.has(key) || this.probation.has(key);
  }

  /** True when `key` sits in the protected segment (it was used at least twice). */
  isProtected(key: string): boolean {
    return this.protectedSegment.has(key);
  }

  /**
   * Stores `value`. A key already present keeps its segment (a refresh of a protected entry stays
   * protected); a new key enters probation, or protected when `admitProtected` (the caller knows
   * it was used before). Evicts the least recently used probation entry when full.
   */
  set(key: string, value: V, admitProtected = false): void {
    if (this.protectedSegment.has(key)) {
      this.protectedSegment.set(key, value);
      return;
    }
    if (this.probation.has(key)) {
      if (!admitProtected) {
        this.probation.set(key, value);
        return;
      }
      this.probation.delete(key);
      this.protect(key, value);
      return;
    }
    if (this.size >= this.capacity) this.evictOne();
    if (admitProtected) this.protect(key, value);
    else this.probation.set(key, value);
  }

  /** Removes `key` (not an eviction: onEvict is not called). */
  delete(key: string): void {
    if (!this.protectedSegment.delete(key)) this.probation.delete(key);
  }

  get size(): number {
    return this.probation.size + this.protectedSegment.size;
  }

  /** Entry counts per segment (tests and metrics). */
  get segmentSizes(): { probation: number; protected: number } {
    return { probation: this.probation.size, protected: this.protectedSegment.size };
  }

  clear(): void {
    this.probation.clear();
    this.protectedSegment.clear();
  }

  /** Every entry, protected ones first, each segment from most to least recently used. */
  *entries(): Generator<[string, V]> {
    yield* this.protectedSegment.entries();
    yield* this.probation.entries();
  }

  private protect(key: string, value: V): void {
    if (this.protectedSegment.size >= this.protectedMax) {
      const demoted = this.protectedSegment.rkeys().next();
      if (!demoted.done) {
        const old = this.protectedSegment.peek(demoted.value)!;
        this.protectedSegment.delete(demoted.value);
        this.probation.set(demoted.value, old);
      }
    }
    if (this.protectedMax > 0) this.protectedSegment.set(key, value);
    else this.probation.set(key, value);
  }

  private evictOne(): void {
    const segment = this.probation.size > 0 ? this.probation : this.protectedSegment;
    const victim = segment.rkeys().next();
    if (victim.done) return;
    const value = segment.peek(victim.value)!;
    segment.delete(victim.value);
    this.onEvict(victim.value, value);
  }
}
