// Runs dnsperf (pinned to the client core) against a server on 127.0.0.1 and parses its
// statistics. dnsperf 2.x has no latency histogram, so when p99 is wanted the run uses -v,
// which prints one line per answered query with its latency; that output goes to a file and
// is parsed after the run (nothing competes with dnsperf on its core meanwhile).
import { openSync, closeSync, createReadStream, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runToCompletion } from './procs.js';

export interface DnsperfOptions {
  port: number;
  dataFile: string;
  /** -l: stop after this many seconds. */
  seconds: number;
  /** -n: stop after this many passes through the data file. */
  maxRuns: number;
  /** -c */
  clients?: number;
  /** -q: max outstanding queries */
  outstanding?: number;
  /** -Q: fixed rate */
  rate?: number;
  /** -m: transport (default udp) */
  mode?: 'udp' | 'tcp';
  /** -t: per-query timeout in seconds (default 2) */
  timeoutS?: number;
  /** Record per-query latencies (-v) to compute percentiles. */
  percentiles?: boolean;
  /** CPU list for taskset (e.g. '1'); undefined = not pinned. */
  cpu?: string;
  /** Scratch file for -v output. */
  verboseFile?: string;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  runTimeS: number;
  avgMs: number;
  minMs: number;
  maxMs: number;
  stddevMs: number;
  p50Ms?: number;
  p99Ms?: number;
  rcodes: Record<string, number>;
  command: string;
}

const num = (re: RegExp, text: string): number => {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
};

export function parseDnsperf(text: string): Omit<DnsperfResult, 'command'> {
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s+(.*)/.exec(text);
  if (rc) for (const m of rc[1]!.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  const sent = num(/Queries sent:\s+(\d+)/, text);
  if (!Number.isFinite(sent)) throw new Error(`dnsperf output without statistics:\n${text.slice(-2000)}`);
  return {
    sent,
    completed: num(/Queries completed:\s+(\d+)/, text),
    lost: num(/Queries lost:\s+(\d+)/, text),
    qps: num(/Queries per second:\s+([\d.]+)/, text),
    runTimeS: num(/Run time \(s\):\s+([\d.]+)/, text),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/, text) * 1000,
    minMs: num(/Average Latency \(s\):.*min ([\d.]+)/, text) * 1000,
    maxMs: num(/Average Latency \(s\):.*max ([\d.]+)/, text) * 1000,
    stddevMs: num(/Latency StdDev \(s\):\s+([\d.]+)/, text) * 1000,
    rcodes,
  };
}

/** Percentiles from a -v output file (lines `> RCODE name type LATENCY`). */
async function percentilesFromVerbose(file: string): Promise<{ p50Ms?: number; p99Ms?: number }> {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.charCodeAt(0) !== 62 /* > */) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(v)) continue;
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = v;
  }
  if (n === 0) return {};
  const sorted = lat.subarray(0, n).sort();
  const pct = (p: number) => sorted[Math.min(n - 1, Math.ceil(p * n) - 1)]! * 1000;
  return { p50Ms: pct(0.5), p99Ms: pct(0.99) };
}

export async function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const args = [
    '-s', '127.0.0.1',
    '-p', String(o.port),
    '-d', o.dataFile,
    '-l', String(o.seconds),
    '-n', String(o.maxRuns),
    '-c', String(o.clients ?? 4),
    '-q', String(o.outstanding ?? 256),
    '-t', String(o.timeoutS ?? 2),
  ];
  if (o.rate) args.push('-Q', String(o.rate));
  if (o.mode === 'tcp') args.push('-m', 'tcp');
  if (o.percentiles) args.push('-v');
  const [cmd, full] = o.cpu !== undefined ? ['taskset', ['-c', o.cpu, 'dnsperf', ...args]] : ['dnsperf', args];
  const verbose = o.percentiles ? (o.verboseFile ?? `/tmp/nld-bench-dnsperf-${process.pid}.txt`) : undefined;
  const fd = verbose ? openSync(verbose, 'w') : undefined;
  // Hard limit: run time + per-query timeout + slack.
  const hardMs = (o.seconds + (o.timeoutS ?? 2) + 10) * 1000;
  let run;
  try {
    run = await runToCompletion('dnsperf', cmd, full, hardMs, { stdoutFd: fd });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const command = `${cmd} ${full.join(' ')}`;
  try {
    let text = run.output;
    if (verbose) text += readFileSync(verbose, 'utf8').slice(-4000); // statistics are at the end
    if (run.timedOut) throw new Error(`dnsperf exceeded its hard time limit (${hardMs} ms): ${command}`);
    if (run.code !== 0) throw new Error(`dnsperf exited with ${run.code}: ${command}\n${text.slice(-2000)}`);
    const stats = parseDnsperf(text);
    const pcts = verbose ? await percentilesFromVerbose(verbose) : {};
    return { ...stats, ...pcts, command };
  } finally {
    if (verbose) rmSync(verbose, { force: true });
  }
}

/** dnsperf's version line, e.g. "2.10.0". */
export async function dnsperfVersion(): Promise<string> {
  const r = await runToCompletion('dnsperf-version', 'dnsperf', ['-h'], 5000);
  return /Version ([\d.]+)/.exec(r.output)?.[1] ?? 'unknown';
}
