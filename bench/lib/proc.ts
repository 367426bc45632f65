// /proc readers: CPU time and resident memory of a process tree (a server plus its forked
// children or cluster workers), and whole-machine snapshots used to detect other load.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticks = 0;
/** Clock ticks per second for /proc/PID/stat times (USER_HZ, almost always 100). */
export function clockTicks(): number {
  if (ticks) return ticks;
  try {
    ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticks = 100;
  }
  return ticks;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime in µs */
  selfUs: number;
  /** cutime + cstime in µs (reaped children) */
  childrenUs: number;
}

/** Parses /proc/PID/stat; undefined if the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' '); // f[0] = state (field 3)
  const us = 1e6 / clockTicks();
  return {
    pid,
    ppid: Number(f[1]),
    comm,
    selfUs: (Number(f[11]) + Number(f[12])) * us, // fields 14, 15
    childrenUs: (Number(f[13]) + Number(f[14])) * us, // fields 16, 17
  };
}

/** All processes right now. */
export function snapshotAll(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(Number(name));
    if (s) out.set(s.pid, s);
  }
  return out;
}

/** pid and all its live descendants. */
export function treePids(root: number, all = snapshotAll()): number[] {
  const children = new Map<number, number[]>();
  for (const s of all.values()) {
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    if (!all.has(pid)) continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU µs consumed so far by a process tree (root incl. reaped children + live descendants). */
export function treeCpuUs(root: number): number {
  const all = snapshotAll();
  let total = 0;
  for (const pid of treePids(root, all)) {
    const s = all.get(pid)!;
    total += s.selfUs + (pid === root ? s.childrenUs : 0);
  }
  return total;
}

/** VmRSS of one process in bytes (0 if gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS over a process tree, in bytes. */
export function treeRssBytes(root: number): number {
  return treePids(root).reduce((n, pid) => n + rssBytes(pid), 0);
}

export const MiB = 1024 * 1024;
