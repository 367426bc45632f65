// Waiting for a quiet machine, and telling afterwards whether a measurement was disturbed.
//
// "Ours" is this process and all its descendants (servers, upstream, dnsperf). Everything else
// is foreign. A window's foreign CPU is computed from /proc/PID/stat deltas of foreign processes
// (including cutime/cstime, so short-lived children of a long-lived parent such as a test
// runner count once they are reaped, capped at one core per parent and window), and checked against /proc/stat's per-core busy time and
// the instantaneous run queue from /proc/loadavg.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { snapshotAll, treePids, type ProcStat } from './proc.js';

export interface CpuTimes {
  /** per core: [busy, total] in jiffies */
  cores: Array<[number, number]>;
}

export function readCpuTimes(): CpuTimes {
  const cores: Array<[number, number]> = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores.push([total - idle, total]);
  }
  return { cores };
}

/** Busy fraction per core between two readings. */
export function busyFractions(a: CpuTimes, b: CpuTimes): number[] {
  return b.cores.map(([busy, total], i) => {
    const [busy0, total0] = a.cores[i] ?? [0, 0];
    const dt = total - total0;
    return dt > 0 ? (busy - busy0) / dt : 0;
  });
}

export function loadavg(): { one: number; running: number; text: string } {
  const text = readFileSync('/proc/loadavg', 'utf8').trim();
  const f = text.split(/\s+/);
  return { one: Number(f[0]), running: Number((f[3] ?? '0/0').split('/')[0]), text };
}

interface Window {
  at: number;
  cpu: CpuTimes;
  procs: Map<number, ProcStat>;
  ours: Set<number>;
}

function openWindow(): Window {
  const procs = snapshotAll();
  return { at: performance.now(), cpu: readCpuTimes(), procs, ours: new Set(treePids(process.pid, procs)) };
}

export interface WindowReport {
  seconds: number;
  /** Foreign processes' CPU in the window, in cores (1.0 = one core fully busy). */
  foreignCores: number;
  /** The busiest foreign processes (comm: cores). */
  top: Array<{ comm: string; cores: number }>;
  /** /proc/stat busy fraction per core (includes our own processes). */
  coreBusy: number[];
}

function closeWindow(w: Window): WindowReport {
  const end = snapshotAll();
  const ours = new Set([...w.ours, ...treePids(process.pid, end)]);
  const seconds = (performance.now() - w.at) / 1000;
  const windowUs = seconds * 1e6;
  const perComm = new Map<string, number>();
  let foreignUs = 0;
  for (const s of end.values()) {
    if (ours.has(s.pid)) continue;
    const before = w.procs.get(s.pid);
    let d: number;
    if (before && before.comm === s.comm) {
      // A child reaped in the window adds its whole lifetime to cutime/cstime: count at most one
      // core for the window (it was probably running until it exited, but not for longer).
      const reaped = Math.min(s.childrenUs - before.childrenUs, windowUs);
      d = s.selfUs - before.selfUs + reaped;
    } else if (!before) d = s.selfUs; // started during the window
    else continue; // pid reused
    if (d <= 0) continue;
    foreignUs += d;
    perComm.set(s.comm, (perComm.get(s.comm) ?? 0) + d);
  }
  const top = [...perComm.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([comm, us]) => ({ comm, cores: round(us / 1e6 / seconds) }));
  return {
    seconds,
    foreignCores: round(foreignUs / 1e6 / Math.max(seconds, 1e-3)),
    top,
    coreBusy: busyFractions(w.cpu, readCpuTimes()).map(round),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Measures foreign load during `fn`. */
export async function watchDisturbance<T>(fn: () => Promise<T>): Promise<{ result: T; window: WindowReport }> {
  const w = openWindow();
  const result = await fn();
  return { result, window: closeWindow(w) };
}

export interface QuietOptions {
  /** Give up after this long (the run is then marked as not started quiet). */
  maxWaitMs: number;
  /** Foreign CPU allowed, in cores (default 0.1). */
  maxForeignCores?: number;
  /** Busy fraction allowed on any core (default 0.2; our idle servers are included). */
  maxCoreBusy?: number;
  /** Sampling window (default 1000 ms, at most maxWaitMs). */
  windowMs?: number;
}

export interface QuietResult {
  quiet: boolean;
  waitedMs: number;
  last?: WindowReport;
  loadavg: string;
}

/**
 * Samples windows until one shows the machine idle: foreign CPU below the limit, every core
 * below maxCoreBusy, at most 2 runnable tasks. Bounded by maxWaitMs.
 */
export async function waitQuiet(opts: QuietOptions): Promise<QuietResult> {
  const start = performance.now();
  const maxForeign = opts.maxForeignCores ?? 0.1;
  const maxBusy = opts.maxCoreBusy ?? 0.2;
  const windowMs = Math.max(100, Math.min(opts.windowMs ?? 1000, opts.maxWaitMs));
  let last: WindowReport | undefined;
  for (;;) {
    const w = openWindow();
    await sleep(windowMs);
    last = closeWindow(w);
    const la = loadavg();
    const quiet = last.foreignCores <= maxForeign && last.coreBusy.every((b) => b <= maxBusy) && la.running <= 2;
    const waitedMs = Math.round(performance.now() - start);
    if (quiet || waitedMs + windowMs > opts.maxWaitMs) return { quiet, waitedMs, last, loadavg: la.text };
  }
}
