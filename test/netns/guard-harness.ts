// Helpers of the guard's namespace tests (guard*.test.ts): the guard process in the node namespace,
// the image entrypoint (restart supervisor) running the daemon there, and a steady lookup load from
// a pod namespace that records every lookup (glibc getaddrinfo through the pod's resolv.conf, and
// raw UDP to both local IPs) so a test can count failed or late ones and find the longest window
// without answers. Every process is started in a namespace the topology created (and killed with it).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, CLUSTER_DNS_IP, LOCAL_DNS_IP, LOCAL_IPS, REPO_ROOT, UPSTREAM_SVC_IP, baseCorefile, httpGet, metricSum, type TopologyState } from './topology.js';
import { mkdirSync } from 'node:fs';

export const GUARD_PORT = 8081;
export const GUARD_METRICS_URL = `http://127.0.0.1:${GUARD_PORT}/metrics`;
export const ENTRYPOINT = join(REPO_ROOT, 'deploy', 'image', 'iptables-mode.sh');

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  logs(): string;
  readonly exited: boolean;
  /** Sends the signal and waits for the exit (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Spawns argv inside the namespace, keeping its output. */
export function spawnIn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const done = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  return {
    child,
    pid: child.pid ?? -1,
    logs: () => output,
    get exited() {
      return exited;
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await done;
      clearTimeout(timer);
    },
  };
}

/** The DaemonSet's node-cache args (as startDaemonInNode passes them), in `dir`. */
export function daemonArgs(dir: string, extra: string[] = []): string[] {
  mkdirSync(join(dir, 'coredns'), { recursive: true });
  mkdirSync(join(dir, 'kube-dns'), { recursive: true });
  writeFileSync(join(dir, 'coredns', 'Corefile.base'), baseCorefile());
  writeFileSync(join(dir, 'kube-dns', 'upstreamNameservers'), JSON.stringify([UPSTREAM_SVC_IP]));
  return [
    '-localip', LOCAL_IPS.join(','),
    '-conf', join(dir, 'Corefile'),
    '-basecorefile', join(dir, 'coredns', 'Corefile.base'),
    '-kubednscm', join(dir, 'kube-dns'),
    '-upstreamsvc', 'kube-dns-upstream',
    ...extra,
  ];
}

export const KUBELET_ENV = { KUBE_DNS_UPSTREAM_SERVICE_HOST: UPSTREAM_SVC_IP };

/** `node-local-dns guard` with the daemon's args, a short grace for the tests. */
export function startGuard(topo: Pick<TopologyState, 'nsNode'>, args: string[], guardArgs: string[] = ['-guard-grace', '1s', '-guard-recover', '600ms']): Proc {
  return spawnIn(topo.nsNode, [process.execPath, BUNDLE, 'guard', ...args, '-guard-health-port', String(GUARD_PORT), ...guardArgs], KUBELET_ENV);
}

/** The image entrypoint (supervisor) running the daemon, without touching the host's iptables alternatives. */
export function startEntrypoint(topo: Pick<TopologyState, 'nsNode'>, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return spawnIn(topo.nsNode, ['sh', ENTRYPOINT, ...args], { ...KUBELET_ENV, NLD_BUNDLE: BUNDLE, NLD_NODE: process.execPath, NLD_SELECT_IPTABLES: '0', ...env });
}

export async function guardMetric(ns: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const r = await httpGet(ns, GUARD_METRICS_URL);
  return metricSum(r.body, name, labels);
}

// ---- load from a pod ------------------------------------------------------------------------------

/** One lookup: when it was sent (ms since the load started), how long it took (-1: no answer / error), and to what. */
export type Lookup = [sentMs: number, latencyMs: number, kind: 'glibc' | 'udp-cluster' | 'udp-link'];

const LOAD_SCRIPT = `
const dgram = require('node:dgram');
const dns = require('node:dns');
const [durationMs, udpRate, names, wildSuffix, t0] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4].split(','), process.argv[5], Number(process.argv[6])];
const out = [];
const now = () => Date.now() - t0;
const MAX = 200000;
function query(name, id) {
  const labels = name.split('.');
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}
let seq = 0;
function udpOne(server, kind, name) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = (seq++) & 0xffff;
    const sent = now();
    const finish = (lat) => { clearTimeout(timer); s.close(); if (out.length < MAX) out.push([sent, lat, kind]); resolve(); };
    const timer = setTimeout(() => finish(-1), 1000);
    s.on('error', () => finish(-1));
    s.on('message', (m) => { if (m.readUInt16BE(0) === id) finish((m[3] & 15) === 0 ? now() - sent : -1); });
    s.send(query(name, id), 53, server);
  });
}
async function udpLoop(server, kind) {
  // udpRate lookups/s per target, 80% on a few hot names (hits), 20% unique (misses).
  const gap = 1000 / udpRate;
  let i = 0;
  const inflight = new Set();
  while (now() < durationMs) {
    const name = i % 5 === 4 ? 'u' + i + '-' + kind + '.' + wildSuffix : names[i % names.length];
    i++;
    const p = udpOne(server, kind, name);
    inflight.add(p); p.then(() => inflight.delete(p));
    const next = i * gap;
    const wait = next - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (inflight.size > 200) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}
async function glibcLoop(worker) {
  let i = 0;
  while (now() < durationMs) {
    const name = names[(i++ + worker) % names.length];
    const sent = now();
    const lat = await new Promise((resolve) => dns.lookup(name, { family: 4 }, (err) => resolve(err ? -1 : now() - sent)));
    if (out.length < MAX) out.push([sent, lat, 'glibc']);
    await new Promise((r) => setTimeout(r, 20));
  }
}
Promise.all([udpLoop('${CLUSTER_DNS_IP}', 'udp-cluster'), udpLoop('${LOCAL_DNS_IP}', 'udp-link'), glibcLoop(0), glibcLoop(1), glibcLoop(2), glibcLoop(3)]).then(() => {
  process.stdout.write(JSON.stringify(out));
});
`;

export interface LoadRun {
  /** Resolves with every lookup once the load ends. */
  readonly done: Promise<Lookup[]>;
  /** ms since the load started (to place events on the same time axis). */
  elapsed(): number;
}

/** Starts a bounded load (durationMs, udpRate per target) from the pod namespace. */
export function startLoad(topo: Pick<TopologyState, 'dir'>, podNs: string, opts: { durationMs: number; udpRate: number; names: string[]; wildSuffix: string }): LoadRun {
  const script = join(topo.dir, 'guard-load.cjs');
  writeFileSync(script, LOAD_SCRIPT);
  // UV_THREADPOOL_SIZE: the glibc lookups run on libuv's pool; the default 4 is enough for 4 workers.
  // One time axis for the test and the load: the load measures from the test's t0 (same clock).
  const t0 = Date.now();
  const proc = spawnIn(podNs, [process.execPath, script, String(opts.durationMs), String(opts.udpRate), opts.names.join(','), opts.wildSuffix, String(t0)]);
  const done = new Promise<Lookup[]>((resolve, reject) => {
    proc.child.on('exit', (code) => {
      const text = proc.logs();
      try {
        resolve(JSON.parse(text.slice(text.indexOf('['))) as Lookup[]);
      } catch {
        reject(new Error(`load exited ${code}: ${text.slice(-2000)}`));
      }
    });
  });
  return { done, elapsed: () => Date.now() - t0 };
}

export interface LoadSummary {
  sent: number;
  failed: number; // no answer, an error, or later than 1 s
  byKind: Record<string, { sent: number; failed: number }>;
  /** Longest span from a failed lookup's send to the send of the next lookup of the same kind that succeeded. */
  longestWindowMs: number;
  /** Failed lookups sent in [fromMs, toMs). */
  failedBetween(fromMs: number, toMs: number): Lookup[];
  /** Lookups sent in [fromMs, toMs). */
  sentBetween(fromMs: number, toMs: number): number;
}

export function summarize(lookups: readonly Lookup[]): LoadSummary {
  const bad = (l: Lookup) => l[1] < 0 || l[1] > 1000;
  const byKind: Record<string, { sent: number; failed: number }> = {};
  let longest = 0;
  for (const kind of ['glibc', 'udp-cluster', 'udp-link']) {
    const list = lookups.filter((l) => l[2] === kind).sort((a, b) => a[0] - b[0]);
    byKind[kind] = { sent: list.length, failed: list.filter(bad).length };
    let start = -1;
    for (const l of list) {
      if (bad(l)) {
        if (start < 0) start = l[0];
      } else if (start >= 0) {
        longest = Math.max(longest, l[0] - start);
        start = -1;
      }
    }
    if (start >= 0) longest = Math.max(longest, list[list.length - 1]![0] - start);
  }
  return {
    sent: lookups.length,
    failed: lookups.filter(bad).length,
    byKind,
    longestWindowMs: longest,
    failedBetween: (a, b) => lookups.filter((l) => bad(l) && l[0] >= a && l[0] < b),
    sentBetween: (a, b) => lookups.filter((l) => l[0] >= a && l[0] < b).length,
  };
}

export function describe(s: LoadSummary): string {
  const kinds = Object.entries(s.byKind)
    .map(([k, v]) => `${k} ${v.failed}/${v.sent}`)
    .join(', ');
  return `${s.sent} lookups, ${s.failed} failed or late (${kinds}), longest window without answers ${s.longestWindowMs} ms`;
}
