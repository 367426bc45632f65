// The NodeLocal DNSCache before/after lab on one machine (see lab/README.md).
//
//   lab/lab.sh up                  build the mini-cluster in network namespaces nld-lab-<id>-*
//   lab/lab.sh run before          lookups from both pods through the kube-dns ClusterIP (kube-proxy DNAT)
//   lab/lab.sh run after           the same with node-local-dns running in the node namespace
//   lab/lab.sh down                remove everything (idempotent)
//   lab/lab.sh all                 up, run before, run after, down
//   lab/lab.sh status              what is up
//
// Options (also as environment variables): -d/--duration SECS (LAB_DURATION, default 10),
// -c/--concurrency N per pod (LAB_CONCURRENCY, default 50), -l/--limit-ms MS (LAB_LIMIT_MS, default
// 1000), --hosts N short names svc-0.default .. (LAB_HOSTS, default 50), --timeout-ms MS (LAB_TIMEOUT_MS,
// default 12000), --services N in cluster.local (LAB_SERVICES, default 300, `up` only).
// LAB_DIR (default /tmp/nld-lab) holds the state between commands; LAB_RESULTS (default lab/results)
// receives lab-<id>.json, lab-<id>-before.html, lab-<id>-after.html and latest.md.
//
// Every packet stays inside the lab's namespaces; the root namespace's interfaces, routes and iptables
// are never touched. `down` runs on failure and on SIGINT/SIGTERM too.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync, rmdirSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import {
  attachTopology,
  BUNDLE,
  cleanupStateSync,
  conntrackCount,
  conntrackStats,
  createTopology,
  ensureBundle,
  LOCAL_DNS_IP,
  CLUSTER_DNS_IP,
  UPSTREAM_SVC_IP,
  listNamespaces,
  metricSum,
  netnsUnavailable,
  nodeLocalRules,
  nsRun,
  removeNamespaceSync,
  REPO_ROOT,
  run,
  scrapeMetrics,
  startDaemonInNode,
  udpStats,
  type DaemonHandle,
  type TopologyState,
} from '../test/netns/topology.js';

const PREFIX = 'nld-lab';
const LAB_DIR = resolve(process.env.LAB_DIR ?? '/tmp/nld-lab');
const STATE_FILE = join(LAB_DIR, 'state.json');
const RESULTS_DIR = resolve(process.env.LAB_RESULTS ?? join(REPO_ROOT, 'lab', 'results'));

type Phase = 'before' | 'after';

interface RunOptions {
  durationS: number;
  concurrency: number;
  limitMs: number;
  hosts: number;
  timeoutMs: number;
  services: number;
}

interface LoadSummary {
  lookups: number;
  ok: number;
  errors: number;
  errorsByKind: Record<string, number>;
  lookupsPerSecond: number;
  overLimit: number;
  limitMs: number;
  latencyMs: { min: number; avg: number; p50: number; p90: number; p99: number; p999: number; max: number };
}

interface PhaseResult {
  phase: Phase;
  startedAt: string;
  options: RunOptions;
  perPod: Record<string, { target: string; summary: LoadSummary; html?: string }>;
  total: {
    lookups: number;
    lookupsPerSecond: number;
    avgMs: number;
    p99Ms: number; // the worse of the pods' p99
    maxMs: number;
    slow: number;
    errors: number;
    errorsByKind: Record<string, number>;
  };
  conntrack: {
    countBefore: number;
    countAfter: number;
    created: number; // NEW events seen by `conntrack -E` in the node namespace during the run, or the table's growth if more
    eventsLost: boolean; // the event socket overflowed (ENOBUFS)
    lowerBound: boolean; // events lost and the run long enough for entries to expire: created is a lower bound
    stats: Record<string, number>; // conntrack -S deltas (insert_failed, drop, clash_resolve, ...)
  };
  udp: Record<string, { rcvbufErrors: number; inDatagrams: number; inErrors: number }>;
  /** CPU seconds (user + system) used during the run by the kube-dns replicas and by node-local-dns. */
  cpu: { kubeDns: number; nodeLocalDns?: number };
  /** 1-minute load average of the machine when the run started (other work skews the numbers). */
  loadAverage: number;
  daemon?: {
    args: string[];
    requests: number;
    cacheHits: number;
    cacheMisses: number;
    upstreamRequests: number;
    exit: { code: number | null; signal: string | null };
    rulesLeftAfterSigterm: number;
  };
}

interface LabState {
  runId: string;
  topology: TopologyState;
  hostsFile?: string;
  results: Partial<Record<Phase, PhaseResult>>;
}

const log = (msg: string) => console.log(`[lab] ${msg}`);

// ---- options ------------------------------------------------------------------------------------

function intFrom(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return n;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): { positionals: string[]; options: RunOptions } {
  const env = process.env;
  const raw: Record<string, string | undefined> = {
    duration: env.LAB_DURATION,
    concurrency: env.LAB_CONCURRENCY,
    limit: env.LAB_LIMIT_MS,
    hosts: env.LAB_HOSTS,
    timeout: env.LAB_TIMEOUT_MS,
    services: env.LAB_SERVICES,
  };
  const names: Record<string, string> = {
    '-d': 'duration', '--duration': 'duration', '-c': 'concurrency', '--concurrency': 'concurrency', '-l': 'limit', '--limit-ms': 'limit',
    '--hosts': 'hosts', '--timeout-ms': 'timeout', '--services': 'services',
  };
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 && arg.startsWith('-') ? arg.slice(0, eq) : arg;
    const key = names[flag];
    if (key) {
      const value = eq > 0 && arg.startsWith('-') ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      raw[key] = value.replace(/s$/, '');
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positionals.push(arg);
  }
  const options: RunOptions = {
    durationS: intFrom(raw.duration, 'duration', 10, 1, 3600),
    concurrency: intFrom(raw.concurrency, 'concurrency', 50, 1, 1000),
    limitMs: intFrom(raw.limit, 'limit-ms', 1000, 1, 600_000),
    hosts: intFrom(raw.hosts, 'hosts', 50, 1, 10_000),
    timeoutMs: intFrom(raw.timeout, 'timeout-ms', 12_000, 100, 60_000),
    services: intFrom(raw.services, 'services', 300, 8, 100_000),
  };
  return { positionals, options };
}

// ---- state -------------------------------------------------------------------------------------

function readState(): LabState | null {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LabState;
  } catch {
    return null;
  }
}

function writeState(state: LabState): void {
  mkdirSync(LAB_DIR, { recursive: true });
  const tmp = `${STATE_FILE}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, STATE_FILE);
}

function requireState(): LabState {
  const state = readState();
  if (!state) throw new UsageError(`the lab is not up (no ${STATE_FILE}): run lab/lab.sh up first`);
  const missing = state.topology.namespaces.filter((ns) => !existsSync(join('/run/netns', ns)));
  if (missing.length > 0) throw new Error(`the lab's namespaces are gone (${missing.join(', ')}): run lab/lab.sh down, then up`);
  return state;
}

// ---- down ---------------------------------------------------------------------------------------

let downDone = false;

/** Removes everything the lab may have created. Idempotent; safe from signal handlers. */
function downSync(quiet = false): void {
  const state = readState();
  if (state) cleanupStateSync(state.topology);
  const orphans = listNamespaces(`${PREFIX}-`);
  for (const ns of orphans) removeNamespaceSync(ns);
  try {
    for (const entry of readdirSync('/etc/netns')) if (entry.startsWith(`${PREFIX}-`)) rmSync(join('/etc/netns', entry), { recursive: true, force: true });
    if (readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
  } catch {
    /* no /etc/netns */
  }
  rmSync(LAB_DIR, { recursive: true, force: true });
  downDone = true;
  if (!quiet) log(state || orphans.length > 0 ? `down: removed ${state ? state.topology.namespaces.length : 0} namespace(s)${orphans.length > 0 ? ` and ${orphans.length} leftover(s)` : ''}` : 'down: nothing to remove');
}

function installSignalHandlers(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n[lab] ${sig}: tearing the lab down`);
      if (!downDone) downSync();
      process.exit(130);
    });
  }
}

// ---- up -------------------------------------------------------------------------------------------

async function up(options: RunOptions): Promise<LabState> {
  const why = netnsUnavailable();
  if (why) throw new Error(`the lab ${why}`);
  const existing = readState();
  if (existing) {
    const alive = existing.topology.namespaces.every((ns) => existsSync(join('/run/netns', ns)));
    if (alive) throw new UsageError(`the lab is already up (${existing.topology.nsNode}); run lab/lab.sh down first`);
    downSync(true);
  }
  for (const ns of listNamespaces(`${PREFIX}-`)) removeNamespaceSync(ns); // leftovers of a killed run
  ensureBundle(log);
  mkdirSync(LAB_DIR, { recursive: true });
  const topo = await createTopology({ prefix: PREFIX, pods: 2, replicas: 2, services: options.services, parentDir: LAB_DIR, log });
  topo.detach(); // from now on `down` owns it (also on SIGINT and failure)
  const runId = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const state: LabState = { runId, topology: topo.state(), results: {} };
  writeState(state);
  log(`up: node ${topo.nsNode}, pods ${topo.nsPods.join(' ')}, kube-dns ${topo.replicas.map((r) => `${r.ns} (${r.ip})`).join(' ')}`);
  log(`    kube-dns ClusterIP ${CLUSTER_DNS_IP}, kube-dns-upstream ClusterIP ${UPSTREAM_SVC_IP}, state in ${STATE_FILE}`);
  return state;
}

// ---- run --------------------------------------------------------------------------------------------

/** CPU seconds (utime + stime) of processes, from /proc/PID/stat; gone processes count 0. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5)
    } catch {
      /* exited */
    }
  }
  return ticks / 100; // USER_HZ
}

async function pidsIn(ns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', ns], { check: false });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

/** Counts conntrack NEW events in a namespace until stopped. */
function conntrackEvents(ns: string): { stop(): Promise<{ created: number; lost: boolean }> } {
  const child = spawn('ip', ['netns', 'exec', ns, 'conntrack', '-E', '-e', 'NEW', '-b', '16777216'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let created = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    for (const b of d) if (b === 10) created++;
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // let the last events arrive
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await closed;
      clearTimeout(timer);
      return { created, lost: /ENOBUFS/i.test(stderr) };
    },
  };
}

async function loadInPod(ns: string, hostsFile: string, o: RunOptions, html: string | undefined): Promise<{ target: string; summary: LoadSummary }> {
  const argv = [
    process.execPath, BUNDLE, 'load', '--system', '--allow-remote',
    '--hosts-file', hostsFile,
    '--type', 'A,AAAA', // getaddrinfo(AF_UNSPEC), as most applications call it: A and AAAA in parallel
    '-c', String(o.concurrency),
    '-d', `${o.durationS}s`,
    '-l', String(o.limitMs),
    '--timeout-ms', String(o.timeoutMs),
    '--json', '--quiet',
    ...(html ? ['--html', html] : []),
  ];
  const r = await nsRun(ns, argv, {
    env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.min(Math.max(o.concurrency, 4), 1024)) },
    timeoutMs: o.durationS * 1000 + o.timeoutMs + 30_000,
    check: false,
  });
  if (r.code !== 0) throw new Error(`load in ${ns} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  const report = JSON.parse(r.stdout) as { target: string; summary: LoadSummary };
  return { target: report.target, summary: report.summary };
}

function combine(perPod: PhaseResult['perPod']): PhaseResult['total'] {
  const s = Object.values(perPod).map((p) => p.summary);
  const lookups = s.reduce((a, x) => a + x.lookups, 0);
  const errorsByKind: Record<string, number> = {};
  for (const x of s) for (const [k, v] of Object.entries(x.errorsByKind)) errorsByKind[k] = (errorsByKind[k] ?? 0) + v;
  return {
    lookups,
    lookupsPerSecond: s.reduce((a, x) => a + x.lookupsPerSecond, 0),
    avgMs: lookups === 0 ? 0 : s.reduce((a, x) => a + x.latencyMs.avg * x.lookups, 0) / lookups,
    p99Ms: Math.max(...s.map((x) => x.latencyMs.p99)),
    maxMs: Math.max(...s.map((x) => x.latencyMs.max)),
    slow: s.reduce((a, x) => a + x.overLimit, 0),
    errors: s.reduce((a, x) => a + x.errors, 0),
    errorsByKind,
  };
}

async function runPhase(state: LabState, phase: Phase, o: RunOptions): Promise<PhaseResult> {
  const topo = attachTopology(state.topology);
  if (!existsSync(BUNDLE)) ensureBundle(log); // `up` built it; never rebuild between the two phases
  const defaultPods = Math.floor(state.topology.services / 4); // generateZone puts the first quarter in "default"
  if (o.hosts > defaultPods) throw new UsageError(`--hosts ${o.hosts}: only svc-0 .. svc-${defaultPods - 1} are in namespace default`);
  const hostsFile = join(topo.dir, `hosts-${o.hosts}.txt`);
  writeFileSync(hostsFile, Array.from({ length: o.hosts }, (_, i) => `svc-${i}.default`).join('\n') + '\n');

  const leftover = await nodeLocalRules(topo.nsNode);
  if (leftover.length > 0) throw new Error(`${leftover.length} NodeLocal DNS rules are already in ${topo.nsNode} (an interrupted run?): run lab/lab.sh down, then up`);

  let daemon: DaemonHandle | undefined;
  if (phase === 'after') {
    log(`starting node-local-dns in ${topo.nsNode} as the DaemonSet does (-localip ${LOCAL_DNS_IP},${CLUSTER_DNS_IP}, forwarding cluster.local to ${UPSTREAM_SVC_IP} over TCP)`);
    daemon = await startDaemonInNode(topo);
  }
  const nsByName: Record<string, string> = { node: topo.nsNode };
  for (const p of topo.pods) nsByName[p.name] = p.ns;
  for (const r of topo.replicas) nsByName[r.name] = r.ns;

  const result: Partial<PhaseResult> = { phase, startedAt: new Date().toISOString(), options: o };
  try {
    // Per-phase numbers: start from an empty table (the node namespace is the lab's own).
    await nsRun(topo.nsNode, ['conntrack', '-F'], { check: false });
    result.loadAverage = Math.round(loadavg()[0]! * 100) / 100;
    const replicaPids = (await Promise.all(topo.replicas.map((r) => pidsIn(r.ns)))).flat();
    const cpu0 = { kubeDns: cpuSeconds(replicaPids), daemon: daemon ? cpuSeconds([daemon.pid]) : 0 };
    const udp0 = await Promise.all(Object.values(nsByName).map((ns) => udpStats(ns)));
    const count0 = await conntrackCount(topo.nsNode);
    const stats0 = await conntrackStats(topo.nsNode);
    const metrics0 = daemon ? await scrapeMetrics(topo.nsNode) : '';
    const events = conntrackEvents(topo.nsNode);
    await new Promise((r) => setTimeout(r, 200));

    log(`run ${phase}: ${topo.pods.length} pods x ${o.concurrency} concurrent getaddrinfo lookups of ${o.hosts} short names (svc-N.default, ndots:5) for ${o.durationS}s`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const htmlFile = join(RESULTS_DIR, `lab-${state.runId}-${phase}.html`);
    const reports = await Promise.all(topo.pods.map((p, i) => loadInPod(p.ns, hostsFile, o, i === 0 ? htmlFile : undefined)));

    const cpu1 = { kubeDns: cpuSeconds(replicaPids), daemon: daemon ? cpuSeconds([daemon.pid]) : 0 };
    result.cpu = { kubeDns: cpu1.kubeDns - cpu0.kubeDns, ...(daemon ? { nodeLocalDns: cpu1.daemon - cpu0.daemon } : {}) };
    const ev = await events.stop();
    const count1 = await conntrackCount(topo.nsNode);
    const stats1 = await conntrackStats(topo.nsNode);
    const udp1 = await Promise.all(Object.values(nsByName).map((ns) => udpStats(ns)));
    result.perPod = Object.fromEntries(topo.pods.map((p, i) => [p.name, { ...reports[i]!, ...(i === 0 ? { html: htmlFile } : {}) }]));
    result.total = combine(result.perPod);
    result.conntrack = {
      countBefore: count0,
      countAfter: count1,
      // Events can overflow at high rates; the table started empty, so its growth is the other bound
      // (exact while the run is shorter than the 30 s UDP timeout).
      created: Math.max(ev.created, count1 - count0),
      eventsLost: ev.lost,
      lowerBound: ev.lost && o.durationS >= 25,
      stats: Object.fromEntries(Object.keys(stats1).filter((k) => k !== 'found' && k !== 'insert').map((k) => [k, stats1[k]! - (stats0[k] ?? 0)])),
    };
    result.udp = Object.fromEntries(
      Object.keys(nsByName).map((name, i) => [
        name,
        {
          rcvbufErrors: (udp1[i]!.RcvbufErrors ?? 0) - (udp0[i]!.RcvbufErrors ?? 0),
          inDatagrams: (udp1[i]!.InDatagrams ?? 0) - (udp0[i]!.InDatagrams ?? 0),
          inErrors: (udp1[i]!.InErrors ?? 0) - (udp0[i]!.InErrors ?? 0),
        },
      ]),
    );
    if (daemon) {
      const metrics1 = await scrapeMetrics(topo.nsNode);
      const delta = (name: string) => metricSum(metrics1, name) - metricSum(metrics0, name);
      result.daemon = {
        args: daemon.args,
        requests: delta('coredns_dns_requests_total'),
        cacheHits: delta('coredns_cache_hits_total'),
        cacheMisses: delta('coredns_cache_misses_total'),
        upstreamRequests: delta('coredns_proxy_request_duration_seconds_count'),
        exit: { code: null, signal: null },
        rulesLeftAfterSigterm: -1,
      };
    }
  } catch (err) {
    if (daemon) console.error(`[lab] node-local-dns log (tail):\n${daemon.logs().slice(-3000)}`);
    throw err;
  } finally {
    if (daemon) {
      const exit = await daemon.stop('SIGTERM');
      const left = (await nodeLocalRules(topo.nsNode)).length;
      if (result.daemon) {
        result.daemon.exit = exit;
        result.daemon.rulesLeftAfterSigterm = left;
      }
      log(`node-local-dns stopped with SIGTERM (exit ${exit.code ?? exit.signal}); ${left} rules left in ${topo.nsNode}`);
      if (exit.code !== 0 || left !== 0) console.error(`[lab] node-local-dns log (tail):\n${daemon.logs().slice(-3000)}`);
    }
  }
  return result as PhaseResult;
}

// ---- report -------------------------------------------------------------------------------------------

const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function tableRows(state: LabState): [string, string, string][] {
  const b = state.results.before;
  const a = state.results.after;
  const both = (f: (r: PhaseResult) => string): [string, string] => [b ? f(b) : '-', a ? f(a) : '-'];
  const limit = (a ?? b)?.options.limitMs ?? 1000;
  const rows: [string, string, string][] = [
    ['lookups (both pods)', ...both((r) => fmt(r.total.lookups))],
    ['lookups/s', ...both((r) => fmt(r.total.lookupsPerSecond))],
    ['avg latency (ms)', ...both((r) => fmt(r.total.avgMs, 2))],
    ['p99 latency (ms, worse pod)', ...both((r) => fmt(r.total.p99Ms, 2))],
    ['max latency (ms)', ...both((r) => fmt(r.total.maxMs, 1))],
    [`slow lookups (> ${limit} ms)`, ...both((r) => fmt(r.total.slow))],
    ['errors', ...both((r) => (r.total.errors === 0 ? '0' : `${fmt(r.total.errors)} (${Object.entries(r.total.errorsByKind).map(([k, v]) => `${k} ${v}`).join(', ')})`))],
    ['conntrack entries created (node)', ...both((r) => `${fmt(r.conntrack.created)}${r.conntrack.lowerBound ? ' (lower bound)' : ''}`)],
    ['conntrack table size at end (node)', ...both((r) => fmt(r.conntrack.countAfter))],
    ['conntrack insert_failed / drop / clash_resolve', ...both((r) => `${fmt(r.conntrack.stats.insert_failed)} / ${fmt(r.conntrack.stats.drop)} / ${fmt(r.conntrack.stats.clash_resolve)}`)],
  ];
  const names = Object.keys((b ?? a)?.udp ?? {});
  for (const n of names) rows.push([`UDP receive-buffer drops: ${n}`, ...both((r) => fmt(r.udp[n]?.rcvbufErrors))]);
  const replicas = names.filter((n) => n.startsWith('kubedns'));
  rows.push(['UDP datagrams received by kube-dns', ...both((r) => fmt(replicas.reduce((s, n) => s + (r.udp[n]?.inDatagrams ?? 0), 0)))]);
  rows.push(['CPU seconds: kube-dns replicas', ...both((r) => fmt(r.cpu.kubeDns, 1))]);
  rows.push(['CPU seconds: node-local-dns', '-', a ? fmt(a.cpu.nodeLocalDns, 1) : '-']);
  rows.push(['machine load average at start', ...both((r) => fmt(r.loadAverage, 2))]);
  rows.push(['node-local-dns: queries / cache hits / upstream (TCP)', '-', a?.daemon ? `${fmt(a.daemon.requests)} / ${fmt(a.daemon.cacheHits)} / ${fmt(a.daemon.upstreamRequests)}` : '-']);
  return rows;
}

function textTable(rows: [string, string, string][]): string {
  const head: [string, string, string] = ['', 'before (kube-proxy DNAT)', 'after (node-local-dns)'];
  const all = [head, ...rows];
  const w = [0, 1, 2].map((i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r, j) => `${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}${j === 0 ? `\n${'-'.repeat(w[0]! + w[1]! + w[2]! + 4)}` : ''}`).join('\n');
}

function markdownTable(rows: [string, string, string][]): string {
  return ['| | before (kube-proxy DNAT) | after (node-local-dns) |', '|---|---:|---:|', ...rows.map((r) => `| ${r[0]} | ${r[1]} | ${r[2]} |`)].join('\n');
}

async function machine(): Promise<Record<string, string>> {
  const first = async (argv: string[]) => ((await run(argv, { check: false })).stdout + '').split('\n')[0]!.trim();
  return {
    kernel: release(),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    node: process.version,
    named: await first(['named', '-v']),
    iptables: await first(['iptables', '--version']),
  };
}

async function writeResults(state: LabState): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const rows = tableRows(state);
  const info = await machine();
  const jsonFile = join(RESULTS_DIR, `lab-${state.runId}.json`);
  writeFileSync(jsonFile, JSON.stringify({ tool: 'node-local-dns lab', runId: state.runId, machine: info, topology: describeTopology(state.topology), phases: state.results }, null, 2) + '\n');
  const o = (state.results.after ?? state.results.before)!.options;
  const md = [
    `# Lab results ${state.runId}`,
    '',
    `Two pods, each running \`node-local-dns load --system\` (getaddrinfo, A+AAAA) with ${o.concurrency} concurrent lookups for ${o.durationS} s over ${o.hosts} short names (\`svc-N.default\`, resolved through the kubelet search list with ndots:5), against the kube-dns ClusterIP ${CLUSTER_DNS_IP}. *before*: kube-proxy-like DNAT to two BIND9 kube-dns replicas. *after*: node-local-dns in the node namespace as the DaemonSet runs it (${LOCAL_DNS_IP} and ${CLUSTER_DNS_IP}, NOTRACK rules, cache misses to kube-dns-upstream ${UPSTREAM_SVC_IP} over TCP).`,
    '',
    markdownTable(rows),
    '',
    `Machine: Linux ${info.kernel}, ${info.cpus}, Node ${info.node}, ${info.named}, ${info.iptables}.`,
    '',
    `Files: \`lab-${state.runId}.json\`${state.results.before ? `, \`lab-${state.runId}-before.html\`` : ''}${state.results.after ? `, \`lab-${state.runId}-after.html\`` : ''} (HTML: pod1's load report).`,
    '',
  ].join('\n');
  writeFileSync(join(RESULTS_DIR, 'latest.md'), md);
  console.log(`\n${textTable(rows)}\n`);
  log(`results: ${jsonFile}, ${join(RESULTS_DIR, 'latest.md')}`);
}

function describeTopology(t: TopologyState) {
  return {
    node: t.nsNode,
    pods: t.pods.map((p) => ({ ns: p.ns, ip: p.ip })),
    kubeDns: t.replicas.map((r) => ({ ns: r.ns, ip: r.ip })),
    services: t.services,
    clusterIPs: { kubeDns: CLUSTER_DNS_IP, kubeDnsUpstream: UPSTREAM_SVC_IP },
  };
}

async function runCommand(phase: string | undefined, options: RunOptions): Promise<void> {
  if (phase !== 'before' && phase !== 'after') throw new UsageError('run needs "before" or "after"');
  const state = requireState();
  const result = await runPhase(state, phase, options);
  state.results[phase] = result;
  writeState(state);
  await writeResults(state);
}

// ---- main --------------------------------------------------------------------------------------------

const USAGE = `usage: lab/lab.sh up|run before|run after|down|all|status [-d SECS] [-c N] [-l MS] [--hosts N] [--timeout-ms MS] [--services N]`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    console.error(`[lab] ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, arg] = parsed.positionals;
  const o = parsed.options;
  if (command === 'down') {
    downSync();
    return 0;
  }
  if (command === 'status') {
    const state = readState();
    console.log(state ? JSON.stringify({ runId: state.runId, topology: describeTopology(state.topology), phases: Object.keys(state.results) }, null, 2) : 'the lab is down');
    return 0;
  }
  if (!['up', 'run', 'all'].includes(command ?? '')) {
    console.error(USAGE);
    return 2;
  }
  installSignalHandlers();
  try {
    if (command === 'up') await up(o);
    else if (command === 'run') await runCommand(arg, o);
    else {
      try {
        await up(o);
        await runCommand('before', o);
        await runCommand('after', o);
      } finally {
        downSync();
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`[lab] ${err.message}`);
      return 2;
    }
    console.error(`[lab] failed: ${(err as Error).stack ?? String(err)}`);
    if (!downDone) {
      console.error('[lab] tearing the lab down after the failure');
      downSync();
    }
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
