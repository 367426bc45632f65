// Reports for `node-local-dns load`: an aligned text table, a JSON document,
// and one self-contained HTML page (inline CSS and SVG, no scripts, nothing
// fetched) with a latency histogram on a log-scale x axis, latency over time
// (p50/p99/max per second), throughput over time, and the summary table.

import type { HistogramBucket, LoadSummary, Outcome, SecondSample } from './stats.js';

export interface LoadReport {
  tool: 'node-local-dns load';
  startedAt: string;
  /** e.g. "udp 127.0.0.1:53" or "getaddrinfo (family IPv4)". */
  target: string;
  types: string[];
  queriesPerLookup: number;
  concurrency: number;
  durationMs: number;
  timeoutMs: number;
  maxCount: number | null;
  hosts: { count: number; sample: string[] };
  stoppedBy: 'duration' | 'max-count' | 'interrupt';
  summary: LoadSummary;
  series: SecondSample[];
  /** Non-empty histogram buckets (each under 1% wide); left out of the JSON report. */
  histogram: HistogramBucket[];
}

// ---------------------------------------------------------------------------
// Formatting helpers

/** Milliseconds with ~3 significant digits: 0.0412, 0.412, 4.12, 41.2, 412. */
function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms === 0) return '0';
  if (ms < 0.1) return ms.toFixed(4);
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Short axis labels for counts: 950, 1.5k, 150k, 1.2M. */
function fmtCompact(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${Number((n / 1e3).toPrecision(3))}k`;
  return `${Number((n / 1e6).toPrecision(3))}M`;
}

function fmtRate(n: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

function fmtPercent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((part * 100) / whole).toFixed(part === whole || part === 0 ? 0 : 2)}%`;
}

/** Align columns: 'l' pads right, 'r' pads left. */
function alignRows(rows: string[][], align: ('l' | 'r')[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => ((align[i] ?? 'l') === 'r' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function plural(n: number, word: string): string {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** Mention the wait for in-flight lookups after the stop when it is noticeable. */
const DRAIN_NOTE_MS = 100;

function headline(r: LoadReport): string {
  const names = r.hosts.count === 1 ? r.hosts.sample[0] : plural(r.hosts.count, 'name');
  const stop = r.stoppedBy === 'duration' ? '' : r.stoppedBy === 'max-count' ? ', stopped at --max-count' : ', interrupted';
  const { elapsedMs, drainMs } = r.summary;
  const time =
    drainMs >= DRAIN_NOTE_MS
      ? `${((elapsedMs - drainMs) / 1000).toFixed(2)} s + ${(drainMs / 1000).toFixed(2)} s for lookups in flight`
      : `${(elapsedMs / 1000).toFixed(2)} s`;
  return `${r.target}, type ${r.types.join('+')}, ${plural(r.concurrency, 'worker')}, ${names}, ${time}${stop}`;
}

const LATENCY_COLUMNS: [string, keyof LoadSummary['latencyMs']][] = [
  ['min', 'min'],
  ['avg', 'avg'],
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p99.9', 'p999'],
  ['max', 'max'],
];

/** Rows of the summary table shared by the text and HTML reports. */
function summaryRows(r: LoadReport): string[][] {
  const s = r.summary;
  const rows: string[][] = [
    ['lookups', fmtInt(s.lookups), `${fmtRate(s.lookupsPerSecond)}/s`],
    ['ok', fmtInt(s.ok), fmtPercent(s.ok, s.lookups)],
    ['errors', fmtInt(s.errors), fmtPercent(s.errors, s.lookups)],
  ];
  for (const [kind, count] of Object.entries(s.errorsByKind) as [Outcome, number][]) {
    rows.push([`  ${kind}`, fmtInt(count), fmtPercent(count, s.lookups)]);
  }
  rows.push([`over ${fmtMs(s.limitMs)} ms`, fmtInt(s.overLimit), fmtPercent(s.overLimit, s.lookups)]);
  if (r.queriesPerLookup > 1) {
    rows.push(['queries sent', fmtInt(s.lookups * r.queriesPerLookup), `${r.queriesPerLookup} per lookup`]);
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Text and JSON

export function formatText(r: LoadReport): string {
  const lines = [`node-local-dns load: ${headline(r)}`, ''];
  lines.push(...alignRows(summaryRows(r), ['l', 'r', 'r']).map((l) => `  ${l}`));
  lines.push('');
  const header = ['latency (ms)', ...LATENCY_COLUMNS.map(([label]) => label)];
  const values = ['', ...LATENCY_COLUMNS.map(([, key]) => fmtMs(r.summary.latencyMs[key]))];
  lines.push(...alignRows([header, values], ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']).map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}

export function formatJson(r: LoadReport): string {
  const { histogram: _omitted, ...rest } = r;
  return `${JSON.stringify(rest, null, 2)}\n`;
}

// ---------------------------------------------------------------------------
// HTML

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Box {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const BOX: Box = { width: 860, height: 300, left: 64, right: 20, top: 16, bottom: 44 };

function plotWidth(b: Box): number {
  return b.width - b.left - b.right;
}
function plotHeight(b: Box): number {
  return b.height - b.top - b.bottom;
}

/** Ticks for a log axis: powers of ten, with 2 and 5 added on short ranges. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const decades = Math.log10(hi / lo);
  const steps = decades < 3 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

/** Round ticks from 0 up to the first one at or above max (steps of 1, 2 or 5 x 10^n, at least minStep). */
function linearTicks(max: number, count = 5, minStep = 0): number[] {
  if (max <= 0) return [0, 1];
  const raw = Math.max(max / count, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const v = Number((i * step).toPrecision(12));
    ticks.push(v);
    if (v >= max) return ticks;
  }
}

/** Axis label without float noise or trailing zeros: 0.1, 0.25, 5, 1000. */
function fmtTick(v: number): string {
  return String(Number(v.toPrecision(3)));
}

function logScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  const a = Math.log10(lo);
  const span = Math.log10(hi) - a || 1;
  return (v) => from + ((Math.log10(Math.max(v, lo)) - a) / span) * (to - from);
}

function linearScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  const span = hi - lo || 1;
  return (v) => from + ((v - lo) / span) * (to - from);
}

function svgOpen(b: Box, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${b.width} ${b.height}" width="${b.width}" height="${b.height}" role="img" aria-label="${escapeHtml(title)}">`;
}

function axisX(b: Box, ticks: number[], x: (v: number) => number, label: (v: number) => string, title: string): string {
  const y = b.height - b.bottom;
  const parts = [`<line class="axis" x1="${b.left}" y1="${y}" x2="${b.width - b.right}" y2="${y}"/>`];
  for (const t of ticks) {
    const px = x(t).toFixed(1);
    parts.push(`<line class="tick" x1="${px}" y1="${y}" x2="${px}" y2="${y + 5}"/>`);
    parts.push(`<text x="${px}" y="${y + 18}" text-anchor="middle">${escapeHtml(label(t))}</text>`);
  }
  parts.push(`<text x="${b.left + plotWidth(b) / 2}" y="${b.height - 6}" text-anchor="middle" class="title">${escapeHtml(title)}</text>`);
  return parts.join('');
}

function axisY(b: Box, ticks: number[], y: (v: number) => number, label: (v: number) => string, title: string): string {
  const parts = [`<line class="axis" x1="${b.left}" y1="${b.top}" x2="${b.left}" y2="${b.height - b.bottom}"/>`];
  for (const t of ticks) {
    const py = y(t).toFixed(1);
    parts.push(`<line class="grid" x1="${b.left}" y1="${py}" x2="${b.width - b.right}" y2="${py}"/>`);
    parts.push(`<text x="${b.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeHtml(label(t))}</text>`);
  }
  parts.push(
    `<text transform="translate(14 ${b.top + plotHeight(b) / 2}) rotate(-90)" text-anchor="middle" class="title">${escapeHtml(title)}</text>`,
  );
  return parts.join('');
}

interface Bin {
  lowMs: number;
  highMs: number;
  count: number;
}

/** Regroup the fine histogram into `count` equal-width bins on a log scale. */
function logBins(buckets: HistogramBucket[], count = 60): Bin[] {
  if (buckets.length === 0) return [];
  let lo = Math.max(buckets[0].lowMs, buckets[0].highMs / 2, 1e-6);
  let hi = buckets[buckets.length - 1].highMs;
  if (hi / lo < 1.5) {
    lo /= 1.25;
    hi *= 1.25;
  }
  const step = Math.log10(hi / lo) / count;
  const bins: Bin[] = [];
  for (let i = 0; i < count; i++) {
    bins.push({ lowMs: lo * 10 ** (i * step), highMs: lo * 10 ** ((i + 1) * step), count: 0 });
  }
  for (const b of buckets) {
    const mid = Math.sqrt(Math.max(b.lowMs, lo) * b.highMs);
    const i = Math.min(count - 1, Math.max(0, Math.floor(Math.log10(mid / lo) / step)));
    bins[i].count += b.count;
  }
  return bins;
}

function histogramSvg(r: LoadReport): string {
  const bins = logBins(r.histogram);
  if (bins.length === 0) return '<p>No lookups finished.</p>';
  const b = BOX;
  const lo = bins[0].lowMs;
  const hi = bins[bins.length - 1].highMs;
  const x = logScale(lo, hi, b.left, b.width - b.right);
  const yTicks = linearTicks(Math.max(...bins.map((bin) => bin.count)));
  const y = linearScale(0, yTicks[yTicks.length - 1], b.height - b.bottom, b.top);
  const parts = [svgOpen(b, 'Latency histogram')];
  parts.push(axisY(b, yTicks, y, fmtCompact, 'lookups'));
  for (const bin of bins) {
    if (bin.count === 0) continue;
    const x0 = x(bin.lowMs);
    const w = Math.max(1, x(bin.highMs) - x0 - 1);
    const y0 = y(bin.count);
    parts.push(
      `<rect class="bar" x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${(b.height - b.bottom - y0).toFixed(1)}">` +
        `<title>${escapeHtml(`${fmtMs(bin.lowMs)}–${fmtMs(bin.highMs)} ms: ${fmtInt(bin.count)}`)}</title></rect>`,
    );
  }
  const markers = [
    ['p50', r.summary.latencyMs.p50],
    ['p99', r.summary.latencyMs.p99],
  ] as const;
  markers.forEach(([label, value], i) => {
    const px = x(value);
    // Labels go left of the line near the right edge, and on separate rows.
    const leftSide = px > b.left + plotWidth(b) * 0.7;
    parts.push(`<line class="marker ${label}" x1="${px.toFixed(1)}" y1="${b.top}" x2="${px.toFixed(1)}" y2="${b.height - b.bottom}"/>`);
    parts.push(
      `<text class="${label}" x="${px.toFixed(1)}" y="${b.top + 10 + i * 14}" dx="${leftSide ? -4 : 4}" text-anchor="${leftSide ? 'end' : 'start'}">` +
        `${label} ${escapeHtml(fmtMs(value))} ms</text>`,
    );
  });
  parts.push(axisX(b, logTicks(lo, hi), x, fmtTick, 'latency (ms, log scale)'));
  parts.push('</svg>');
  return parts.join('');
}

interface Line {
  name: string;
  cls: string;
  value: (s: SecondSample) => number;
}

const MAX_POINT_MARKERS = 60;

/**
 * A path through the seconds that have data; gaps (no lookup finished that
 * second) break the line. Short series also get a dot per second, so a
 * one-second run still shows something.
 */
function linePath(samples: SecondSample[], line: Line, x: (v: number) => number, y: (v: number) => number): string {
  const dots = samples.length <= MAX_POINT_MARKERS;
  let d = '';
  let circles = '';
  let drawing = false;
  for (const s of samples) {
    if (s.count === 0) {
      drawing = false;
      continue;
    }
    const px = x(s.second + 0.5).toFixed(1);
    const py = y(line.value(s)).toFixed(1);
    d += `${drawing ? 'L' : 'M'}${px},${py}`;
    if (dots) circles += `<circle class="${line.cls}" cx="${px}" cy="${py}" r="2.5"/>`;
    drawing = true;
  }
  return `<path class="line ${line.cls}" d="${d}"/>${circles}`;
}

function legend(b: Box, lines: Line[]): string {
  return lines
    .map(
      (l, i) =>
        `<text class="${l.cls}" x="${b.width - b.right - 8}" y="${b.top + 12 + i * 15}" text-anchor="end">— ${escapeHtml(l.name)}</text>`,
    )
    .join('');
}

function timeAxis(samples: SecondSample[], b: Box): { x: (v: number) => number; ticks: number[] } {
  const seconds = Math.max(1, samples.length);
  const ticks = linearTicks(seconds, 8, 1);
  return { x: linearScale(0, ticks[ticks.length - 1], b.left, b.width - b.right), ticks };
}

function latencyOverTimeSvg(r: LoadReport): string {
  const samples = r.series;
  const active = samples.filter((s) => s.count > 0);
  if (active.length === 0) return '<p>No lookups finished.</p>';
  const b = BOX;
  const lines: Line[] = [
    { name: 'max', cls: 'max', value: (s) => s.maxMs },
    { name: 'p99', cls: 'p99', value: (s) => s.p99Ms },
    { name: 'p50', cls: 'p50', value: (s) => s.p50Ms },
  ];
  const positive = active.flatMap((s) => [s.p50Ms, s.maxMs]).filter((v) => v > 0);
  let lo = Math.min(...positive, Infinity);
  let hi = Math.max(...positive, 0);
  if (!Number.isFinite(lo) || hi <= 0) {
    lo = 0.001;
    hi = 1;
  }
  lo /= 1.5;
  hi *= 1.5;
  const { x, ticks } = timeAxis(samples, b);
  const y = logScale(lo, hi, b.height - b.bottom, b.top);
  const parts = [svgOpen(b, 'Latency over time')];
  parts.push(axisY(b, logTicks(lo, hi), y, fmtTick, 'ms (log scale)'));
  parts.push(axisX(b, ticks, x, (v) => `${v}s`, 'time since start'));
  for (const line of lines) parts.push(linePath(samples, line, x, y));
  parts.push(legend(b, lines), '</svg>');
  return parts.join('');
}

function throughputSvg(r: LoadReport): string {
  // Whole seconds of the run window only: a partial last second, or the drain
  // after the stop, would look like a collapse in throughput.
  const fullSeconds = Math.floor((r.summary.elapsedMs - r.summary.drainMs) / 1000);
  const samples = fullSeconds >= 1 ? r.series.filter((s) => s.second < fullSeconds) : r.series;
  if (samples.length === 0) return '';
  const b = { ...BOX, height: 220 };
  const lines: Line[] = [
    { name: 'lookups/s', cls: 'count', value: (s) => s.count },
    { name: 'errors/s', cls: 'errors', value: (s) => s.errors },
  ];
  const max = Math.max(1, ...samples.map((s) => s.count));
  const { x, ticks } = timeAxis(samples, b);
  const yTicks = linearTicks(max);
  const y = linearScale(0, yTicks[yTicks.length - 1], b.height - b.bottom, b.top);
  const parts = [svgOpen(b, 'Throughput over time')];
  parts.push(axisY(b, yTicks, y, fmtCompact, 'per second'));
  parts.push(axisX(b, ticks, x, (v) => `${v}s`, 'time since start'));
  // Every second, including empty ones, so a stall shows as a drop to zero.
  const dots = samples.length <= MAX_POINT_MARKERS;
  for (const line of lines) {
    let d = '';
    for (const s of samples) {
      const px = x(s.second + 0.5).toFixed(1);
      const py = y(line.value(s)).toFixed(1);
      d += `${d === '' ? 'M' : 'L'}${px},${py}`;
      if (dots) parts.push(`<circle class="${line.cls}" cx="${px}" cy="${py}" r="2.5"/>`);
    }
    parts.push(`<path class="line ${line.cls}" d="${d}"/>`);
  }
  parts.push(legend(b, lines), '</svg>');
  return parts.join('');
}

function htmlTable(rows: string[][], header?: string[]): string {
  const head = header ? `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>` : '';
  const body = rows
    .map((row) => `<tr>${row.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`)
    .join('');
  return `<table>${head}${body}</table>`;
}

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:900px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#666;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 12px;text-align:right;border-bottom:1px solid #eee}
th:first-child{text-align:left;font-weight:500}
svg{font-size:11px;background:#fff}
svg text{fill:#444}svg .title{fill:#222;font-size:12px}
.axis{stroke:#888}.tick{stroke:#888}.grid{stroke:#eee}
.bar{fill:#4a7fd0}
.marker{stroke-dasharray:4 3;stroke-width:1.5}
.line{fill:none;stroke-width:1.8}
.p50{stroke:#2a9d3a;fill:#2a9d3a}.p99{stroke:#e08a00;fill:#e08a00}.max{stroke:#c0392b;fill:#c0392b}
.count{stroke:#4a7fd0;fill:#4a7fd0}.errors{stroke:#c0392b;fill:#c0392b}
path.line{fill:none}
`;

export function renderHtml(r: LoadReport): string {
  const latencyHeader = ['', ...LATENCY_COLUMNS.map(([label]) => label)];
  const latencyRow = ['latency (ms)', ...LATENCY_COLUMNS.map(([, key]) => fmtMs(r.summary.latencyMs[key]))];
  const config = [
    ['target', r.target],
    ['query types', r.types.join(', ') + (r.queriesPerLookup > 1 ? ' (all per lookup)' : '')],
    ['workers', fmtInt(r.concurrency)],
    ['duration', `${(r.durationMs / 1000).toFixed(1)} s requested, ${(r.summary.elapsedMs / 1000).toFixed(2)} s run`],
    ['timeout', `${fmtMs(r.timeoutMs)} ms`],
    ['names', r.hosts.count <= r.hosts.sample.length ? r.hosts.sample.join(', ') : `${fmtInt(r.hosts.count)} (${r.hosts.sample.join(', ')}, …)`],
    ['started', r.startedAt],
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>node-local-dns load report</title>
<style>${CSS}</style></head>
<body>
<h1>node-local-dns load report</h1>
<p class="sub">${escapeHtml(headline(r))}</p>
<h2>Summary</h2>
${htmlTable(summaryRows(r))}
${htmlTable([latencyRow], latencyHeader)}
<h2>Latency histogram</h2>
${histogramSvg(r)}
<h2>Latency over time</h2>
${latencyOverTimeSvg(r)}
<h2>Throughput over time</h2>
${throughputSvg(r)}
<h2>Run</h2>
${htmlTable(config)}
</body></html>
`;
}
