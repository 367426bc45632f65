// The max_concurrent limit of one forwarder, with a share reserved for names seen before.
// A random-subdomain flood is all names nobody asked before; without a reserve it fills every
// slot and the names pods really use (whose entries expire or need a refresh) get REFUSED, and
// with serve_stale they lose their stale fallback once evicted. Names seen before (the cache
// says so) may use every slot; other names only the unreserved part. No clock, no I/O.

/** Share of maxConcurrent that only names seen before may use. */
export const SEEN_BEFORE_RESERVE = 0.25;

export class ConcurrencyLimit {
  private inflight = 0;
  /** Slots a name not seen before may take (maxConcurrent minus the reserve); 0 = unlimited. */
  readonly unseenLimit: number;

  constructor(readonly max: number /* 0 = unlimited */) {
    this.unseenLimit = max > 0 ? max - Math.floor(max * SEEN_BEFORE_RESERVE) : 0;
  }

  /** Takes a slot, or returns false when the limit for this kind of name is reached. */
  tryAcquire(seenBefore: boolean): boolean {
    if (this.max > 0 && this.inflight >= (seenBefore ? this.max : this.unseenLimit)) return false;
    this.inflight++;
    return true;
  }

  release(): void {
    this.inflight--;
  }

  get inFlight(): number {
    return this.inflight;
  }

  /** The limit that applied to a rejected query (for the error detail). */
  limitFor(seenBefore: boolean): number {
    return seenBefore ? this.max : this.unseenLimit;
  }
}
