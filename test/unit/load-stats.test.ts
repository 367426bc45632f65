// Tests for the load tool's latency histogram, time series and counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LatencyHistogram, LoadStats, TimeSeries } from '../../src/tools/load/stats.js';

/** Deterministic PRNG (mulberry32) so failures are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exact percentile by the same definition: the ceil(p% * n)-th smallest. */
function exactPercentile(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

const PERCENTILES = [1, 10, 50, 90, 99, 99.9];

function checkAgainstExact(samples: number[], tolerance = 0.01): void {
  const h = new LatencyHistogram();
  for (const v of samples) h.record(v);
  const sorted = Float64Array.from(samples).sort();
  for (const p of PERCENTILES) {
    const want = exactPercentile(sorted, p);
    const got = h.percentile(p);
    const err = Math.abs(got - want) / want;
    assert.ok(err <= tolerance, `p${p}: got ${got}, exact ${want}, relative error ${err}`);
  }
  assert.equal(h.count, samples.length);
  assert.equal(h.minMs, sorted[0]);
  assert.equal(h.maxMs, sorted[sorted.length - 1]);
  assert.equal(h.percentile(0), sorted[0]);
  assert.equal(h.percentile(100), sorted[sorted.length - 1]);
  const sum = samples.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(h.sumMs - sum) < 1e-6 * sum);
  assert.ok(Math.abs(h.meanMs - sum / samples.length) < 1e-6 * (sum / samples.length));
}

test('uniform 0.01..10 ms: percentiles within 1%', () => {
  const r = rng(1);
  checkAgainstExact(Array.from({ length: 200_000 }, () => 0.01 + r() * 9.99));
});

test('uniform 1..10000 integer microseconds: p50 ~ 5 ms, p99 ~ 9.9 ms', () => {
  const h = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) h.record(us / 1000);
  assert.ok(Math.abs(h.percentile(50) - 5) / 5 < 0.01);
  assert.ok(Math.abs(h.percentile(90) - 9) / 9 < 0.01);
  assert.ok(Math.abs(h.percentile(99) - 9.9) / 9.9 < 0.01);
  assert.ok(Math.abs(h.percentile(99.9) - 9.99) / 9.99 < 0.01);
  assert.equal(h.minMs, 0.001);
  assert.equal(h.maxMs, 10);
});

test('exponential (mean 0.3 ms): percentiles within 1%', () => {
  const r = rng(2);
  checkAgainstExact(Array.from({ length: 200_000 }, () => -0.3 * Math.log(1 - r()) + 0.02));
});

test('log-normal spanning microseconds to seconds: percentiles within 1%', () => {
  const r = rng(3);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  checkAgainstExact(Array.from({ length: 200_000 }, () => Math.exp(Math.log(0.5) + 2.5 * normal())));
});

test('bimodal with a timeout tail: p99 lands in the tail', () => {
  const samples: number[] = [];
  for (let i = 0; i < 9_800; i++) samples.push(0.1 + (i % 100) / 1000);
  for (let i = 0; i < 200; i++) samples.push(5000 + i);
  checkAgainstExact(samples);
  const h = new LatencyHistogram();
  for (const v of samples) h.record(v);
  assert.ok(h.percentile(50) < 0.2);
  assert.ok(h.percentile(99) >= 5000);
});

test('constant samples give that exact value at every percentile', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) h.record(0.123);
  for (const p of [0, 1, 50, 99, 99.9, 100]) assert.equal(h.percentile(p), 0.123);
});

test('empty histogram reports zeros', () => {
  const h = new LatencyHistogram();
  assert.equal(h.count, 0);
  assert.equal(h.percentile(50), 0);
  assert.equal(h.meanMs, 0);
  assert.deepEqual(h.buckets(), []);
});

test('huge and negative values are clamped, not lost', () => {
  const h = new LatencyHistogram();
  h.record(-1);
  h.record(1e12);
  assert.equal(h.count, 2);
  assert.equal(h.minMs, 0);
  assert.equal(h.maxMs, 1e12);
  assert.equal(h.buckets().length, 2);
});

test('property: a value is reported within 1% above itself', () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-5, max: 3.6e6, noNaN: true }), (v) => {
      const h = new LatencyHistogram();
      h.record(v);
      h.record(v * 1000); // so clamping to max cannot hide the bucket error
      const p = h.percentile(50);
      return p >= v && p <= v * (1 + 1 / 128) + 1e-6;
    }),
    { numRuns: 2000 },
  );
});

test('property: buckets are ordered, non-overlapping, and sum to count', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), (vs) => {
      const h = new LatencyHistogram();
      for (const v of vs) h.record(v);
      const b = h.buckets();
      let total = 0;
      for (let i = 0; i < b.length; i++) {
        total += b[i].count;
        if (b[i].highMs <= b[i].lowMs) return false;
        if (i > 0 && b[i].lowMs < b[i - 1].highMs) return false;
      }
      return total === vs.length;
    }),
    { numRuns: 300 },
  );
});

test('bounded memory: 5 million samples fit in the fixed bucket array', () => {
  const h = new LatencyHistogram();
  const r = rng(4);
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 5_000_000; i++) h.record(0.05 + r() * r() * 50);
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(h.count, 5_000_000);
  assert.ok(h.buckets().length <= LatencyHistogram.bucketCount);
  assert.ok(LatencyHistogram.bucketCount < 5000);
  // Keeping the samples would take 40 MB; the histogram allocates nothing per sample.
  assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${grown} bytes`);
  const p50 = h.percentile(50);
  assert.ok(p50 > 0.05 && p50 < 50);
});

test('time series: one entry per second, gaps filled with zeros', () => {
  const ts = new TimeSeries();
  ts.record(100, 1, false);
  ts.record(900, 3, true);
  ts.record(1500, 2, false);
  ts.record(3200, 10, false);
  const s = ts.samples();
  assert.deepEqual(
    s.map((x) => [x.second, x.count, x.errors]),
    [
      [0, 2, 1],
      [1, 1, 0],
      [2, 0, 0],
      [3, 1, 0],
    ],
  );
  assert.equal(s[0].maxMs, 3);
  assert.ok(Math.abs(s[0].p50Ms - 1) < 0.01, `p50 ${s[0].p50Ms}`);
  assert.equal(s[0].p99Ms, 3);
  assert.equal(s[3].p50Ms, 10);
  assert.equal(s[2].maxMs, 0);
});

test('time series stays bounded for an hour-long run', () => {
  const ts = new TimeSeries();
  for (let t = 0; t < 3_600_000; t += 7) ts.record(t, 0.2, false);
  const s = ts.samples();
  assert.equal(s.length, 3600);
  assert.ok(s.every((x) => x.count >= 142 && x.count <= 143));
});

test('LoadStats counts outcomes, errors and lookups over the limit', () => {
  const st = new LoadStats(100);
  st.record('ok', 1, 10);
  st.record('ok', 150, 20);
  st.record('nxdomain', 2, 30);
  st.record('timeout', 5000, 5030);
  st.record('servfail', 3, 5040);
  const sum = st.summarize(2000);
  assert.equal(sum.lookups, 5);
  assert.equal(sum.ok, 2);
  assert.equal(sum.errors, 3);
  assert.deepEqual(sum.errorsByKind, { nxdomain: 1, servfail: 1, timeout: 1 });
  assert.equal(sum.overLimit, 2);
  assert.equal(sum.lookupsPerSecond, 2.5);
  assert.equal(sum.latencyMs.min, 1);
  assert.equal(sum.latencyMs.max, 5000);
  const l = sum.latencyMs;
  assert.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
  assert.equal(st.series.samples().length, 6);
});

test('a timed run rates lookups over the window, not the drain after the stop', () => {
  const st = new LoadStats(5000);
  for (let t = 0; t < 3000; t += 1) st.record('ok', 0.1, t); // 3000 lookups in 3 s
  st.markStop(3000);
  st.record('timeout', 5000, 7900); // a straggler finishing 4.9 s after the stop
  const timed = st.summarize(8000, true);
  assert.equal(timed.lookups, 3001);
  assert.equal(timed.lookupsPerSecond, 1000);
  assert.equal(timed.drainMs, 5000);
  const counted = st.summarize(8000, false);
  assert.equal(counted.lookupsPerSecond, 3001 / 8);
});
