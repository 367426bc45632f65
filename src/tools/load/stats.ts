// Latency and outcome statistics for `node-local-dns load`.
//
// LatencyHistogram is a log-linear (HDR-style) histogram over nanoseconds:
// values below 256 ns get exact 1 ns buckets, above that every power of two
// is split into 128 linear sub-buckets, so any bucket is at most 1/128 (<0.8%)
// of its value wide. 4,608 buckets cover 0 ns .. ~73 minutes in 37 KB no
// matter how many samples are recorded; min, max and sum are kept exactly.
//
// LoadStats counts lookups by outcome, lookups over the --limit-ms threshold,
// and keeps a per-second time series (count, errors, p50, p99, max) built by
// reusing one histogram for the current second.

const OUTCOMES = [
  'ok', // NOERROR with an answer of the asked type
  'nodata', // NOERROR without one
  'nxdomain',
  'servfail',
  'refused',
  'other-rcode',
  'timeout',
  'truncated', // TC bit set; with --system: getaddrinfo failed and the reply was truncated (truncation-probe.ts)
  'malformed', // reply that could not be parsed past the header
  'network-error', // send failed, connection refused or closed
] as const;

export type Outcome = (typeof OUTCOMES)[number];

const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS; // 128 sub-buckets per power of two
const LINEAR_LIMIT = SUB_COUNT * 2; // values below 256 ns are exact
const MAX_EXPONENT = 41; // top bucket group: [2^41, 2^42) ns ≈ 36..73 min
const BUCKET_COUNT = LINEAR_LIMIT + (MAX_EXPONENT - SUB_BITS) * SUB_COUNT;
const MAX_NS = 2 ** (MAX_EXPONENT + 1) - 1;
const TWO_32 = 2 ** 32;

/** Position of the highest set bit of a positive integer below 2^53. */
function highestBit(n: number): number {
  if (n < TWO_32) return 31 - Math.clz32(n);
  return 32 + (31 - Math.clz32(Math.floor(n / TWO_32)));
}

function bucketIndex(ns: number): number {
  if (ns < LINEAR_LIMIT) return ns;
  const exponent = highestBit(ns); // >= 8
  const shift = exponent - SUB_BITS;
  const sub = Math.floor(ns / 2 ** shift); // in [128, 256)
  return LINEAR_LIMIT + (exponent - SUB_BITS - 1) * SUB_COUNT + (sub - SUB_COUNT);
}

/** Lowest value (ns) and width (ns) of a bucket. */
function bucketBounds(index: number): { low: number; width: number } {
  if (index < LINEAR_LIMIT) return { low: index, width: 1 };
  const offset = index - LINEAR_LIMIT;
  const shift = Math.floor(offset / SUB_COUNT) + 1;
  const sub = (offset % SUB_COUNT) + SUB_COUNT;
  return { low: sub * 2 ** shift, width: 2 ** shift };
}

export interface HistogramBucket {
  lowMs: number;
  highMs: number;
  count: number;
}

export class LatencyHistogram {
  static readonly bucketCount = BUCKET_COUNT;
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  sumMs = 0;
  minMs = Infinity;
  maxMs = -Infinity;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let ns = Math.floor(v * 1e6);
    if (ns > MAX_NS) ns = MAX_NS;
    this.counts[bucketIndex(ns)]++;
    this.count++;
    this.sumMs += v;
    if (v < this.minMs) this.minMs = v;
    if (v > this.maxMs) this.maxMs = v;
  }

  get meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count;
  }

  /**
   * The value at percentile p (0..100): the midpoint of the bucket holding the
   * ceil(p% * count)-th smallest sample, clamped to the exact min and max.
   * Returns 0 for an empty histogram.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    if (p <= 0) return this.minMs;
    if (p >= 100) return this.maxMs;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const { low, width } = bucketBounds(i);
        const mid = (low + width / 2) / 1e6;
        return Math.min(this.maxMs, Math.max(this.minMs, mid));
      }
    }
    return this.maxMs;
  }

  /** Non-empty buckets in increasing order. */
  buckets(): HistogramBucket[] {
    const out: HistogramBucket[] = [];
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const count = this.counts[i];
      if (count === 0) continue;
      const { low, width } = bucketBounds(i);
      out.push({ lowMs: low / 1e6, highMs: (low + width) / 1e6, count });
    }
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
    this.minMs = Infinity;
    this.maxMs = -Infinity;
  }
}

/** One second of the run, for the latency-over-time chart. */
export interface SecondSample {
  second: number;
  count: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Per-second series keyed by completion time. Samples arrive in completion
 * order, so only the current second needs a histogram; it is summarized and
 * reused when the clock moves on. Seconds without completions appear as zeros.
 */
export class TimeSeries {
  private readonly done: SecondSample[] = [];
  private readonly current = new LatencyHistogram();
  private currentSecond = 0;
  private currentErrors = 0;

  record(atMs: number, latencyMs: number, isError: boolean): void {
    const second = Math.max(0, Math.floor(atMs / 1000));
    if (second > this.currentSecond) this.advanceTo(second);
    this.current.record(latencyMs);
    if (isError) this.currentErrors++;
  }

  /** Completed seconds plus the one in progress (if it has samples). */
  samples(): SecondSample[] {
    const out = this.done.slice();
    if (this.current.count > 0) out.push(this.summarizeCurrent());
    return out;
  }

  private advanceTo(second: number): void {
    this.done.push(this.summarizeCurrent());
    for (let s = this.currentSecond + 1; s < second; s++) {
      this.done.push({ second: s, count: 0, errors: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
    }
    this.current.reset();
    this.currentErrors = 0;
    this.currentSecond = second;
  }

  private summarizeCurrent(): SecondSample {
    const h = this.current;
    return {
      second: this.currentSecond,
      count: h.count,
      errors: this.currentErrors,
      p50Ms: h.percentile(50),
      p99Ms: h.percentile(99),
      maxMs: h.count === 0 ? 0 : h.maxMs,
    };
  }
}

export interface LoadSummary {
  lookups: number;
  ok: number;
  errors: number;
  errorsByKind: Partial<Record<Outcome, number>>;
  /** From the start until the last lookup finished. */
  elapsedMs: number;
  /** Part of elapsedMs spent after the stop, waiting for lookups in flight. */
  drainMs: number;
  /**
   * Lookups finished per second of the run window. For a timed run the
   * window ends at the stop, so waiting for stragglers (up to --timeout-ms)
   * does not dilute the rate; otherwise it is lookups / elapsed.
   */
  lookupsPerSecond: number;
  limitMs: number;
  overLimit: number;
  latencyMs: {
    min: number;
    avg: number;
    p50: number;
    p90: number;
    p99: number;
    p999: number;
    max: number;
  };
}

/**
 * Everything the report needs. Latency covers every finished lookup,
 * including failures: it is what a client would have waited.
 */
export class LoadStats {
  readonly latency = new LatencyHistogram();
  readonly series = new TimeSeries();
  readonly byKind: Record<Outcome, number>;
  overLimit = 0;
  /** When issuing stopped (ms since start), and how many lookups had finished by then. */
  private stopAtMs: number | undefined;
  private finishedBeforeStop = 0;

  constructor(readonly limitMs: number) {
    this.byKind = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  }

  /** Record a finished lookup; atMs is its completion time since the run started. */
  record(outcome: Outcome, latencyMs: number, atMs: number): void {
    if (this.stopAtMs === undefined) this.finishedBeforeStop++;
    this.byKind[outcome]++;
    this.latency.record(latencyMs);
    if (latencyMs > this.limitMs) this.overLimit++;
    this.series.record(atMs, latencyMs, outcome !== 'ok');
  }

  /** Issuing stopped at atMs (since start); later completions are the drain. */
  markStop(atMs: number): void {
    if (this.stopAtMs === undefined) this.stopAtMs = atMs;
  }

  get lookups(): number {
    return this.latency.count;
  }

  get errors(): number {
    return this.latency.count - this.byKind.ok;
  }

  /**
   * Summarize the run. With rateOverWindow the rate counts lookups finished
   * before markStop() over the time until then (a timed run); otherwise all
   * lookups over elapsedMs.
   */
  summarize(elapsedMs: number, rateOverWindow = false): LoadSummary {
    const h = this.latency;
    const stopAt = this.stopAtMs ?? elapsedMs;
    const windowed = rateOverWindow && stopAt > 0;
    const lookupsPerSecond = windowed
      ? (this.finishedBeforeStop * 1000) / stopAt
      : elapsedMs > 0
        ? (h.count * 1000) / elapsedMs
        : 0;
    const errorsByKind: Partial<Record<Outcome, number>> = {};
    for (const o of OUTCOMES) if (o !== 'ok' && this.byKind[o] > 0) errorsByKind[o] = this.byKind[o];
    return {
      lookups: h.count,
      ok: this.byKind.ok,
      errors: this.errors,
      errorsByKind,
      elapsedMs,
      drainMs: Math.max(0, elapsedMs - stopAt),
      lookupsPerSecond,
      limitMs: this.limitMs,
      overLimit: this.overLimit,
      latencyMs: {
        min: h.count === 0 ? 0 : h.minMs,
        avg: h.meanMs,
        p50: h.percentile(50),
        p90: h.percentile(90),
        p99: h.percentile(99),
        p999: h.percentile(99.9),
        max: h.count === 0 ? 0 : h.maxMs,
      },
    };
  }
}
