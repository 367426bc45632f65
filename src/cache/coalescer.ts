// Request coalescing: concurrent identical misses share one upstream exchange. The first caller
// starts the work; later callers with the same key await the same promise until it settles.

export class Coalescer<T> {
  private readonly inflight = new Map<string, Promise<T>>();
  joined = 0; // callers that shared someone else's exchange

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) {
      this.joined++;
      return existing;
    }
    const promise = work().finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  has(key: string): boolean {
    return this.inflight.has(key);
  }

  get size(): number {
    return this.inflight.size;
  }

  /** Resolves when nothing is in flight (used when draining on shutdown). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }
}
