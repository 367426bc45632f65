// Result types and renderers: the stdout table, the Markdown report and a hand-written SVG chart.

export type WorkloadId = 'hit-max' | 'hit-fixed' | 'hit-half' | 'miss' | 'mixed';

export const WORKLOAD_LABELS: Record<WorkloadId, string> = {
  'hit-max': 'cache hits over 100 warmed names, max rate (the bare responder runs only the hit workloads)',
  'hit-fixed': 'cache hits at a fixed rate, the same for every server (CPU per query, p99)',
  'hit-half': "cache hits at half of the server's own max rate (p99)",
  miss: 'misses (never-seen names)',
  mixed: 'mixed 90% hit / 10% miss',
};

export interface RunResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgMs: number;
  maxMs: number;
  stddevMs: number;
  p99Ms?: number;
  cpuUsPerQuery: number;
  /** foreign CPU during the run, in cores */
  foreignCores: number;
  /** the quiet wait before the run succeeded */
  startedQuiet: boolean;
  disturbed: boolean;
  rcodes: Record<string, number>;
}

export interface WorkloadResult {
  workload: WorkloadId;
  /** median of the runs by QPS (of the undisturbed runs if any); its latency figures are reported */
  qps: number;
  runsQps: number[];
  avgMs: number;
  p99Ms?: number;
  maxMs: number;
  /** total over all runs */
  lost: number;
  sent: number;
  cpuUsPerQuery: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  disturbed: boolean;
  runs: RunResult[];
  command: string;
}

export interface ServerResult {
  id: string;
  label: string;
  processes: number;
  notes: string[];
  rssStartMiB: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  workloads: WorkloadResult[];
  error?: string;
}

export interface Ratio {
  workload: WorkloadId;
  metric: 'qps' | 'cpuUsPerQuery';
  against: string;
  value: number;
  /** one of the two figures comes from a disturbed run */
  disturbed: boolean;
}

export interface Target {
  name: string;
  value: string;
  pass: boolean | null;
}

export interface BenchReport {
  version: 1;
  date: string;
  mode: 'quick' | 'full';
  environment: Record<string, string | number>;
  settings: Record<string, string | number | boolean>;
  servers: ServerResult[];
  ratios: Ratio[];
  targets: Target[];
  profile?: { file: string; totalMs: number; top: Array<{ function: string; url: string; selfMs: number; selfPct: number }> };
  durationS: number;
}

// ---------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------

export const fmt = (x: number | undefined, digits = 2): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
export const fmtInt = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US'));

interface Row {
  cells: string[];
}

const HEADER = ['server', 'workload', 'QPS', 'avg ms', 'p99 ms', 'max ms', 'lost', 'CPU µs/q', 'RSS before MiB', 'RSS after MiB', ''];

function rows(report: BenchReport): Row[] {
  const out: Row[] = [];
  for (const s of report.servers) {
    if (s.error) {
      out.push({ cells: [s.id, 'FAILED', '', '', '', '', '', '', '', '', 'see errors'] });
      continue;
    }
    for (const w of s.workloads) {
      out.push({
        cells: [
          s.id,
          w.workload,
          fmtInt(w.qps),
          fmt(w.avgMs, 3),
          fmt(w.p99Ms, 3),
          fmt(w.maxMs, 2),
          fmtInt(w.lost),
          fmt(w.cpuUsPerQuery, 1),
          fmt(w.rssBeforeMiB, 1),
          fmt(w.rssAfterMiB, 1),
          w.disturbed ? 'disturbed' : '',
        ],
      });
    }
  }
  return out;
}

export function textTable(report: BenchReport): string {
  const all = [HEADER, ...rows(report).map((r) => r.cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9]);
  const line = (r: string[]) =>
    r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ').trimEnd();
  return [line(HEADER), sep, ...all.slice(1).map(line)].join('\n');
}

export function errorLines(report: BenchReport): string[] {
  return report.servers.filter((s) => s.error).map((s) => `${s.id}: ${s.error!.split('\n').slice(0, 6).join('\n    ')}`);
}

export function ratioLines(report: BenchReport): string[] {
  return report.ratios.map(
    (r) => `${r.metric === 'qps' ? 'QPS' : 'CPU µs/query'} ${r.workload}: node-local-dns / ${r.against} = ${r.value.toFixed(2)}x${r.disturbed ? ' (disturbed)' : ''}`,
  );
}

export function targetLines(report: BenchReport): string[] {
  return report.targets.map((t) => `${t.pass === null ? '[ n/a ]' : t.pass ? '[ ok  ]' : '[FAIL ]'} ${t.name}: ${t.value}`);
}

export function markdown(report: BenchReport): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const md: string[] = [];
  md.push(`# node-local-dns benchmark (${report.mode})`, '');
  md.push(`${report.date}, ${report.durationS.toFixed(0)} s. Generated by \`npm run bench\`; do not edit.`, '');
  if (report.environment.runtime) md.push(`Runtime: ${report.environment.runtime}.`, '');
  md.push('## Results', '');
  md.push(`| ${HEADER.slice(0, -1).join(' | ')} | flags |`);
  md.push(`|${HEADER.map((_, i) => (i >= 2 && i <= 9 ? ' ---: ' : ' --- ')).join('|')}|`);
  for (const r of rows(report)) md.push(`| ${r.cells.map(esc).join(' | ')} |`);
  md.push('');
  md.push('QPS is the median of the runs, of the undisturbed ones when there are any (its latencies are shown); lost is summed over all runs; CPU µs/q is the server process tree\'s utime+stime per completed query (from /proc); p99 comes from dnsperf -v per-query latencies (only on runs that record them); RSS is VmRSS summed over the process tree before the first and after the last run of the workload. "disturbed": every run of the workload was disturbed: other processes used more than 0.15 cores during it, or the machine did not become quiet before it.');
  md.push('');
  md.push('## Workloads', '');
  for (const [id, label] of Object.entries(WORKLOAD_LABELS)) md.push(`- \`${id}\`: ${label}`);
  md.push('');
  const errors = errorLines(report);
  if (errors.length) {
    md.push('## Failed servers', '', '```', ...errors, '```', '');
  }
  if (report.ratios.length) {
    md.push('## Ratios', '');
    for (const l of ratioLines(report)) md.push(`- ${l}`);
    md.push('');
  }
  if (report.targets.length) {
    md.push('## Targets (issue 5)', '');
    for (const t of report.targets) md.push(`- ${t.pass === null ? 'n/a' : t.pass ? 'ok' : '**not met**'}: ${t.name}: ${t.value}`);
    md.push('');
  }
  if (report.profile) {
    md.push('## CPU profile of node-local-dns, cache-hit workload (self time)', '');
    md.push('| function | location | self ms | self % |', '| --- | --- | ---: | ---: |');
    for (const p of report.profile.top) md.push(`| ${esc(p.function)} | ${esc(p.url)} | ${p.selfMs.toFixed(0)} | ${p.selfPct.toFixed(1)} |`);
    md.push('');
  }
  md.push('## Servers', '');
  for (const s of report.servers) md.push(`- \`${s.id}\` (${s.label}, ${s.processes} process(es)): ${s.notes.join('; ') || '-'}`);
  md.push('');
  md.push('## Environment and settings', '');
  for (const [k, v] of Object.entries(report.environment)) md.push(`- ${k}: ${v}`);
  for (const [k, v] of Object.entries(report.settings)) md.push(`- ${k}: ${v}`);
  md.push('');
  md.push('![chart](latest.svg)', '');
  return md.join('\n');
}

// ---------------------------------------------------------------------------
// SVG chart
// ---------------------------------------------------------------------------

const COLORS = ['#1f77b4', '#aec7e8', '#9edae5', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Panel {
  title: string;
  unit: string;
  groups: string[];
  /** values[server][group] */
  values: Array<Array<number | undefined>>;
  digits: number;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function svgChart(report: BenchReport): string {
  const servers = report.servers.filter((s) => !s.error);
  const get = (s: ServerResult, w: WorkloadId) => s.workloads.find((x) => x.workload === w);
  const panels: Panel[] = [
    {
      title: 'Queries per second (median)',
      unit: 'QPS',
      groups: ['hit-max', 'miss', 'mixed'],
      values: servers.map((s) => (['hit-max', 'miss', 'mixed'] as WorkloadId[]).map((w) => get(s, w)?.qps)),
      digits: 0,
    },
    {
      title: 'Server CPU per query (µs)',
      unit: 'µs',
      groups: ['hit-fixed', 'hit-max', 'miss'],
      values: servers.map((s) => (['hit-fixed', 'hit-max', 'miss'] as WorkloadId[]).map((w) => get(s, w)?.cpuUsPerQuery)),
      digits: 1,
    },
    {
      title: 'Resident memory (MiB)',
      unit: 'MiB',
      groups: ['after warm-up', 'at end'],
      values: servers.map((s) => (s.workloads.some((w) => w.workload === 'hit-max') ? [s.rssWarmMiB, s.rssEndMiB] : [undefined, undefined])),
      digits: 1,
    },
  ];
  const W = 900;
  const panelH = 260;
  const legendH = 30 + 18 * Math.ceil(servers.length / 3);
  const H = 50 + panels.length * panelH + legendH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">node-local-dns benchmark (${xml(report.mode)}, ${xml(report.date.slice(0, 10))})</text>`);
  panels.forEach((p, pi) => {
    const top = 50 + pi * panelH;
    const left = 70;
    const right = W - 20;
    const plotTop = top + 28;
    const plotBottom = top + panelH - 40;
    const max = niceMax(Math.max(0, ...p.values.flat().filter((v): v is number => v !== undefined && Number.isFinite(v))));
    out.push(`<text x="${left}" y="${top + 16}" font-size="14" font-weight="bold">${xml(p.title)}</text>`);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = plotBottom - ((plotBottom - plotTop) * i) / 4;
      out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#555">${xml(v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(+v.toFixed(2)))}</text>`);
    }
    const groupW = (right - left) / p.groups.length;
    const barW = Math.max(4, Math.min(40, (groupW - 30) / Math.max(1, servers.length)));
    p.groups.forEach((g, gi) => {
      const gx = left + gi * groupW + (groupW - barW * servers.length) / 2;
      servers.forEach((s, si) => {
        const v = p.values[si]?.[gi];
        if (v === undefined || !Number.isFinite(v)) return;
        const h = ((plotBottom - plotTop) * v) / max;
        const x = gx + si * barW;
        const disturbed = p.groups[gi] && get(s, p.groups[gi] as WorkloadId)?.disturbed;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(plotBottom - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"${disturbed ? ' stroke="#000" stroke-dasharray="3,2"' : ''}><title>${xml(`${s.id} ${g}: ${v.toFixed(p.digits)} ${p.unit}${disturbed ? ' (disturbed)' : ''}`)}</title></rect>`,
        );
        const label = v >= 10000 ? `${(v / 1000).toFixed(0)}k` : v.toFixed(p.digits);
        out.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(plotBottom - h - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${xml(label)}</text>`);
      });
      out.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${plotBottom + 16}" text-anchor="middle">${xml(g)}</text>`);
    });
    out.push(`<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#333"/>`);
  });
  const ly = 50 + panels.length * panelH;
  servers.forEach((s, si) => {
    const x = 70 + (si % 3) * 270;
    const y = ly + 10 + Math.floor(si / 3) * 18;
    out.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`);
    out.push(`<text x="${x + 18}" y="${y + 10}">${xml(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
