// Counting primitives shared by every stats holder (DNS, cache, forward, health): numbers only, so
// the hot path increments and metrics/registry.ts turns them into Prometheus series at scrape time.

/** Slots of per-RCODE counters: values 0-23 (4-bit header RCODEs and the extended ones we write). */
export const RCODE_SLOTS = 24;

// CoreDNS plugin.TimeBuckets: 0.00025 doubling, 16 buckets.
export const DURATION_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

/** A classic histogram: per-bucket (non-cumulative) counts plus +Inf slot, and the sum. */
export class HistogramCounts {
  readonly counts: Float64Array;
  sum = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
  }
  get count(): number {
    let n = 0;
    for (let i = 0; i < this.counts.length; i++) n += this.counts[i];
    return n;
  }
}
