// `npm run bench`: node-local-dns side by side with a bare Node responder, unbound and dnsmasq,
// all forwarding caches for cluster.local in front of the same BIND on 127.0.0.1.
//
// Each server is pinned to core 0 and dnsperf (and the upstream) to core 1. Before every run the
// bench waits (bounded) for a quiet machine and marks runs during which other processes used
// CPU as disturbed. All traffic stays on 127.0.0.1; every dnsperf run is bounded by -l and -n.
//
// Env (all optional):
//   BENCH_QUICK=1          ~1 minute smoke version (1 run each, shorter runs, fewer servers' runs)
//   BENCH_SERVERS=a,b      subset of nld,nld-nometrics,nld-2w,bare,unbound,dnsmasq
//   BENCH_SECONDS=N        length of the timed runs (default 5, quick 2)
//   BENCH_REPEATS=N        runs per max-rate workload, median reported (default 3, quick 1)
//   BENCH_RATE=N           fixed-rate run, queries/s, same for all servers (default 20000); a second
//                          fixed-rate run uses half of each server's own max rate
//   BENCH_MISS_NAMES=N     never-seen names per miss run (default 10000, quick 3000)
//   BENCH_MIXED_QUERIES=N  queries per mixed run, 10% never-seen (default 100000, quick 20000)
//   BENCH_QUIET_MAX_S=N    max wait for a quiet machine before a run (default 30, quick 5; 0 = no wait)
//   BENCH_QUIET_BUDGET_S=N total quiet-wait budget (default 60, quick 15)
//   BENCH_OUT_DIR=DIR      where latest.{json,md,svg} go (default bench/results)
//   BENCH_PROFILE=1        also profile node-local-dns (--cpu-prof) under the cache-hit workload
//   BENCH_SKIP_INSTALL=1   do not run scripts/install-test-deps.sh even if tools are missing
//   BENCH_NODE=X           the Node our daemon and the bare responder run on: node24 (default, the
//                          image's runtime from .runtime/node24, fetched on first use), current (the
//                          Node running this script) or a path; also --node=X. They always get the
//                          image's ENV (NODE_OPTIONS); the report says which runtime and flags.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateZone } from '../test/harness/zone.js';
import { startUpstream, type Upstream } from '../test/harness/upstream.js';
import { runDnsperf, dnsperfVersion, type DnsperfResult } from './lib/dnsperf.js';
import { MiB, treeCpuUs, treeRssBytes } from './lib/proc.js';
import { runToCompletion, stopAll } from './lib/procs.js';
import { loadavg, waitQuiet, watchDisturbance } from './lib/quiet.js';
import { summarizeProfile } from './lib/profile.js';
import { queryBatch, type Question } from './lib/udp.js';
import {
  ALL_SERVERS,
  ROOT,
  SERVER_LABELS,
  haveBinary,
  makeTmp,
  resolveDaemon,
  startServer,
  UPSTREAM_DIRECT,
  type RunningServer,
  type ServerContext,
  type ServerId,
} from './lib/servers.js';
import { benchRuntime, type BenchRuntime } from './lib/runtime.js';
import {
  errorLines,
  markdown,
  ratioLines,
  svgChart,
  targetLines,
  textTable,
  fmt,
  type BenchReport,
  type Ratio,
  type RunResult,
  type ServerResult,
  type Target,
  type WorkloadId,
  type WorkloadResult,
} from './lib/report.js';

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const env = process.env;
const QUICK = env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const intEnv = (name: string, dflt: number, quick = dflt): number => {
  const v = env[name];
  if (v === undefined || v === '') return QUICK ? quick : dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return n;
};

const SETTINGS = {
  seconds: intEnv('BENCH_SECONDS', 5, 2),
  repeats: Math.max(1, intEnv('BENCH_REPEATS', 3, 1)),
  rate: intEnv('BENCH_RATE', 20000),
  missNames: Math.max(100, intEnv('BENCH_MISS_NAMES', 10000, 3000)),
  mixedQueries: Math.max(100, intEnv('BENCH_MIXED_QUERIES', 100000, 20000)),
  hitNames: 100,
  quietMaxS: intEnv('BENCH_QUIET_MAX_S', 30, 5),
  quietBudgetS: intEnv('BENCH_QUIET_BUDGET_S', 60, 15),
  /** foreign CPU (cores) above which a run is marked disturbed */
  disturbedCores: 0.15,
  clients: 4,
  outstanding: 256,
  profile: env.BENCH_PROFILE === '1' || process.argv.includes('--profile'),
};
const OUT_DIR = path.resolve(env.BENCH_OUT_DIR ?? path.join(ROOT, 'bench/results'));
const CORES = os.cpus().length;
const SERVER_CPU = CORES >= 2 ? '0' : undefined;
const CLIENT_CPU = CORES >= 2 ? '1' : undefined;

function selectedServers(): ServerId[] {
  const raw = env.BENCH_SERVERS?.trim();
  if (!raw) return ALL_SERVERS;
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) if (!ALL_SERVERS.includes(id as ServerId)) throw new Error(`BENCH_SERVERS: unknown server ${id} (known: ${ALL_SERVERS.join(',')})`);
  return ids as ServerId[];
}

const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------

async function ensureTools(servers: ServerId[]): Promise<void> {
  const needed = ['dnsperf', 'named', 'taskset'];
  if (servers.includes('unbound')) needed.push('unbound');
  if (servers.includes('dnsmasq')) needed.push('dnsmasq');
  const missing = needed.filter((b) => !haveBinary(b));
  if (missing.length === 0) return;
  if (env.BENCH_SKIP_INSTALL === '1') throw new Error(`missing tools: ${missing.join(', ')} (BENCH_SKIP_INSTALL=1)`);
  log(`bench: missing ${missing.join(', ')}; running scripts/install-test-deps.sh`);
  const r = await runToCompletion('install-test-deps', 'bash', [path.join(ROOT, 'scripts/install-test-deps.sh')], 15 * 60_000, { cwd: ROOT });
  if (r.code !== 0) throw new Error(`install-test-deps.sh failed (exit ${r.code}):\n${r.output.slice(-3000)}`);
  const still = needed.filter((b) => !haveBinary(b));
  if (still.includes('taskset')) throw new Error('taskset (util-linux) is missing');
  if (still.length) throw new Error(`still missing after install: ${still.join(', ')}`);
}

// ---------------------------------------------------------------------------
// Data files
// ---------------------------------------------------------------------------

const zone = generateZone();
const HIT_NAMES: Question[] = zone.fixtures.services.slice(0, SETTINGS.hitNames).map((s) => ({ name: s.name, type: 'A' }));
const WILD = zone.fixtures.wildcard.suffix; // any <label>.wild.cluster.local exists
let tmp = '';
let fileSeq = 0;
let missSeq = 0;
const token = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function writeData(lines: string[]): string {
  const file = path.join(tmp, `data-${fileSeq++}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Fresh never-seen names (unique per call across the whole bench). */
function missNames(count: number): string[] {
  const run = missSeq++;
  return Array.from({ length: count }, (_, i) => `m${token}-${run}-${i}.${WILD}`);
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

let quietSpentMs = 0;

async function quietBeforeRun(): Promise<boolean> {
  if (SETTINGS.quietMaxS === 0) return true; // waiting disabled (smoke test); disturbance is still measured
  const budgetLeft = SETTINGS.quietBudgetS * 1000 - quietSpentMs;
  const maxWaitMs = Math.max(300, Math.min(SETTINGS.quietMaxS * 1000, budgetLeft));
  const q = await waitQuiet({ maxWaitMs, windowMs: Math.min(1000, maxWaitMs) });
  quietSpentMs += q.waitedMs;
  if (!q.quiet) {
    const top = q.last?.top.map((t) => `${t.comm} ${t.cores}`).join(', ');
    log(`    machine not quiet after ${(q.waitedMs / 1000).toFixed(1)} s (foreign ${q.last?.foreignCores} cores: ${top}; loadavg ${q.loadavg}); measuring anyway`);
  }
  return q.quiet;
}

async function warm(server: RunningServer): Promise<void> {
  const r = await queryBatch(server.port, HIT_NAMES, { concurrency: 20, timeoutMs: 2000 });
  if ((r.rcodes.NOERROR ?? 0) !== HIT_NAMES.length) {
    throw new Error(`${server.id}: warm-up answered ${JSON.stringify(r.rcodes)} for ${HIT_NAMES.length} names (timed out ${r.timedOut})`);
  }
}

interface RunSpec {
  dataFile: string;
  seconds: number;
  maxRuns: number;
  rate?: number;
  percentiles?: boolean;
  warmFirst?: boolean;
  mode?: 'udp' | 'tcp';
}

async function measureRun(server: RunningServer, spec: RunSpec): Promise<{ run: RunResult; raw: DnsperfResult }> {
  if (spec.warmFirst) await warm(server); // hit entries have TTL 30 s: re-warm so hits stay hits
  const startedQuiet = await quietBeforeRun();
  const cpu0 = treeCpuUs(server.pid);
  const { result: raw, window } = await watchDisturbance(() =>
    runDnsperf({
      port: server.port,
      dataFile: spec.dataFile,
      seconds: spec.seconds,
      maxRuns: spec.maxRuns,
      rate: spec.rate,
      clients: SETTINGS.clients,
      outstanding: SETTINGS.outstanding,
      percentiles: spec.percentiles,
      mode: spec.mode,
      cpu: CLIENT_CPU,
      verboseFile: path.join(tmp, 'dnsperf-verbose.txt'),
    }),
  );
  const cpuUs = treeCpuUs(server.pid) - cpu0;
  if (!server.proc.running) throw new Error(`${server.id} exited during the run:\n${server.proc.output().slice(-2000)}`);
  const disturbed = !startedQuiet || window.foreignCores > SETTINGS.disturbedCores;
  if (disturbed && startedQuiet) log(`    disturbed: foreign ${window.foreignCores} cores (${window.top.map((t) => `${t.comm} ${t.cores}`).join(', ')})`);
  const run: RunResult = {
    qps: raw.qps,
    sent: raw.sent,
    completed: raw.completed,
    lost: raw.lost,
    avgMs: raw.avgMs,
    maxMs: raw.maxMs,
    stddevMs: raw.stddevMs,
    p99Ms: raw.p99Ms,
    cpuUsPerQuery: raw.completed > 0 ? cpuUs / raw.completed : NaN,
    foreignCores: window.foreignCores,
    startedQuiet,
    disturbed,
    rcodes: raw.rcodes,
  };
  return { run, raw };
}

function median<T>(items: T[], key: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function measureWorkload(server: RunningServer, workload: WorkloadId, repeats: number, spec: () => RunSpec): Promise<WorkloadResult> {
  const rssBefore = treeRssBytes(server.pid) / MiB;
  const runs: RunResult[] = [];
  let command = '';
  for (let i = 0; i < repeats; i++) {
    const { run, raw } = await measureRun(server, spec());
    command = raw.command;
    runs.push(run);
    log(
      `    ${workload} #${i + 1}: ${fmt(run.qps, 0)} qps, avg ${fmt(run.avgMs, 3)} ms, p99 ${fmt(run.p99Ms, 3)} ms, lost ${run.lost}, ${fmt(run.cpuUsPerQuery, 1)} µs/q${run.disturbed ? ' (disturbed)' : ''}`,
    );
  }
  // Prefer undisturbed runs: the median of those if there are any.
  const clean = runs.filter((r) => !r.disturbed);
  const m = median(clean.length ? clean : runs, (r) => r.qps);
  return {
    workload,
    qps: m.qps,
    runsQps: runs.map((r) => Math.round(r.qps)),
    avgMs: m.avgMs,
    p99Ms: m.p99Ms,
    maxMs: m.maxMs,
    lost: runs.reduce((n, r) => n + r.lost, 0),
    sent: runs.reduce((n, r) => n + r.sent, 0),
    cpuUsPerQuery: m.cpuUsPerQuery,
    rssBeforeMiB: rssBefore,
    rssAfterMiB: treeRssBytes(server.pid) / MiB,
    disturbed: clean.length === 0,
    runs,
    command: command.replace(/-d \S+/, '-d DATA'),
  };
}

async function benchServer(id: ServerId, ctx: ServerContext): Promise<ServerResult> {
  log(`bench: ${id} (${SERVER_LABELS[id]})`);
  let server: RunningServer | undefined;
  try {
    server = await startServer(id, ctx);
    const rssStart = treeRssBytes(server.pid) / MiB;
    if (UPSTREAM_DIRECT.includes(id)) {
      // The upstream's own ceiling for never-seen names (what a forwarder's misses can reach).
      const mode = id === 'bind-tcp' ? 'tcp' : 'udp';
      const miss = await measureWorkload(server, 'miss', SETTINGS.repeats, () => ({
        dataFile: writeData(missNames(SETTINGS.missNames).map((n) => `${n} A`)),
        seconds: 30,
        maxRuns: 1,
        percentiles: true,
        mode,
      }));
      const rss = treeRssBytes(server.pid) / MiB;
      return { id, label: SERVER_LABELS[id], processes: server.processes, notes: server.notes, rssStartMiB: rssStart, rssWarmMiB: rssStart, rssEndMiB: rss, workloads: [miss] };
    }
    await warm(server);
    await warm(server);
    const rssWarm = treeRssBytes(server.pid) / MiB;
    const s = SETTINGS.seconds;
    const hitFile = writeData(HIT_NAMES.map((q) => `${q.name} A`));
    // -n bounds the count: enough passes for 300k qps over the whole run.
    const hitRuns = Math.ceil((s * 300_000) / HIT_NAMES.length);
    const workloads: WorkloadResult[] = [];
    workloads.push(await measureWorkload(server, 'hit-max', SETTINGS.repeats, () => ({ dataFile: hitFile, seconds: s, maxRuns: hitRuns, warmFirst: true })));
    workloads.push(
      await measureWorkload(server, 'hit-fixed', 1, () => ({
        dataFile: hitFile,
        seconds: s,
        maxRuns: Math.ceil((s * SETTINGS.rate * 1.1) / HIT_NAMES.length),
        rate: SETTINGS.rate,
        percentiles: true,
        warmFirst: true,
      })),
    );
    const half = Math.round((workloads[0]!.qps || 2 * SETTINGS.rate) / 2);
    workloads.push(
      await measureWorkload(server, 'hit-half', 1, () => ({
        dataFile: hitFile,
        seconds: s,
        maxRuns: Math.ceil((s * half * 1.1) / HIT_NAMES.length),
        rate: half,
        percentiles: true,
        warmFirst: true,
      })),
    );
    // The bare responder answers everything from one prepared reply: it has no misses.
    if (id !== 'bare') workloads.push(
      await measureWorkload(server, 'miss', SETTINGS.repeats, () => ({
        dataFile: writeData(missNames(SETTINGS.missNames).map((n) => `${n} A`)),
        seconds: 30,
        maxRuns: 1,
        percentiles: true,
      })),
    );
    if (id !== 'bare') workloads.push(
      await measureWorkload(server, 'mixed', SETTINGS.repeats, () => {
        const misses = missNames(Math.ceil(SETTINGS.mixedQueries / 10));
        const lines: string[] = [];
        for (let i = 0, h = 0, m = 0; i < SETTINGS.mixedQueries; i++) {
          lines.push(i % 10 === 9 && m < misses.length ? `${misses[m++]} A` : `${HIT_NAMES[h++ % HIT_NAMES.length]!.name} A`);
        }
        return { dataFile: writeData(lines), seconds: 30, maxRuns: 1, percentiles: true, warmFirst: true };
      }),
    );
    return {
      id,
      label: SERVER_LABELS[id],
      processes: server.processes,
      notes: server.notes,
      rssStartMiB: rssStart,
      rssWarmMiB: rssWarm,
      rssEndMiB: treeRssBytes(server.pid) / MiB,
      workloads,
    };
  } catch (err) {
    const msg = (err as Error).message;
    log(`bench: ${id} FAILED: ${msg}`);
    return { id, label: SERVER_LABELS[id], processes: server?.processes ?? 0, notes: server?.notes ?? [], rssStartMiB: NaN, rssWarmMiB: NaN, rssEndMiB: NaN, workloads: [], error: msg };
  } finally {
    await server?.stop();
  }
}

// ---------------------------------------------------------------------------
// Profile (optional)
// ---------------------------------------------------------------------------

async function profileDaemon(ctx: ServerContext): Promise<BenchReport['profile']> {
  const dir = path.join(tmp, 'prof');
  mkdirSync(dir, { recursive: true });
  log('bench: profiling node-local-dns (--cpu-prof) under the cache-hit workload');
  const server = await startServer('nld', { ...ctx, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    await warm(server);
    const hitFile = writeData(HIT_NAMES.map((q) => `${q.name} A`));
    await measureRun(server, { dataFile: hitFile, seconds: SETTINGS.seconds, maxRuns: Math.ceil((SETTINGS.seconds * 300_000) / HIT_NAMES.length) });
  } finally {
    await server.stop(); // SIGTERM: the daemon exits normally and V8 writes the profile
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) {
    log('bench: no .cpuprofile written (did the daemon exit on SIGTERM through process.exit?)');
    return undefined;
  }
  const keep = path.join(OUT_DIR, 'latest.cpuprofile');
  execFileSync('cp', [path.join(dir, files[0]!), keep]);
  const s = summarizeProfile(keep, 10);
  return { file: path.relative(ROOT, keep), totalMs: s.totalMs, top: s.top };
}

// ---------------------------------------------------------------------------
// Ratios, targets, environment
// ---------------------------------------------------------------------------

function ratiosAndTargets(servers: ServerResult[]): { ratios: Ratio[]; targets: Target[] } {
  const by = (id: string) => servers.find((s) => s.id === id && !s.error);
  const w = (s: ServerResult | undefined, id: WorkloadId) => s?.workloads.find((x) => x.workload === id);
  const nld = by('nld');
  const ratios: Ratio[] = [];
  for (const against of ['bare', 'unbound']) {
    const other = by(against);
    if (!nld || !other) continue;
    for (const wl of ['hit-max', 'miss', 'mixed'] as WorkloadId[]) {
      const a = w(nld, wl);
      const b = w(other, wl);
      if (a?.qps && b?.qps) ratios.push({ workload: wl, metric: 'qps', against, value: a.qps / b.qps, disturbed: a.disturbed || b.disturbed });
    }
    for (const wl of ['hit-fixed', 'hit-max', 'miss'] as WorkloadId[]) {
      const a = w(nld, wl);
      const b = w(other, wl);
      if (a?.cpuUsPerQuery && b?.cpuUsPerQuery) {
        ratios.push({ workload: wl, metric: 'cpuUsPerQuery', against, value: a.cpuUsPerQuery / b.cpuUsPerQuery, disturbed: a.disturbed || b.disturbed });
      }
    }
  }
  const targets: Target[] = [];
  const bare = by('bare');
  const cpuA = w(nld, 'hit-fixed')?.cpuUsPerQuery;
  const cpuB = w(bare, 'hit-fixed')?.cpuUsPerQuery;
  if (cpuA && cpuB) targets.push({ name: 'cache-hit CPU/query <= 1.25x bare Node responder (fixed rate)', value: `${(cpuA / cpuB).toFixed(2)}x (${cpuA.toFixed(1)} vs ${cpuB.toFixed(1)} µs)`, pass: cpuA / cpuB <= 1.25 });
  const qA = w(nld, 'hit-max')?.qps;
  const qB = w(bare, 'hit-max')?.qps;
  if (qA && qB) targets.push({ name: 'cache-hit QPS >= 80% of the bare Node responder', value: `${((100 * qA) / qB).toFixed(0)}%`, pass: qA / qB >= 0.8 });
  const half = w(nld, 'hit-half');
  if (half) {
    targets.push({
      name: 'hit p99 <= 1 ms at half the max rate',
      value: `${fmt(half.p99Ms, 3)} ms at ${Math.round(half.qps)} qps`,
      pass: half.p99Ms === undefined ? null : half.p99Ms <= 1,
    });
  }
  const miss = w(nld, 'miss');
  if (miss) targets.push({ name: 'misses >= 30k qps over force_tcp', value: `${Math.round(miss.qps)} qps`, pass: miss.qps >= 30000 });
  if (nld) targets.push({ name: 'RSS <= 64 MiB after warm-up', value: `${nld.rssWarmMiB.toFixed(1)} MiB`, pass: nld.rssWarmMiB <= 64 });
  return { ratios, targets };
}

function version(cmd: string, args: string[], re: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return re.exec(out)?.[1] ?? out.split('\n')[0]!.trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    return re.exec(out)?.[1] ?? 'unknown';
  }
}

async function environment(daemonNote: string, runtime: BenchRuntime, upstream: Upstream): Promise<Record<string, string | number>> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (src/ modified)';
  } catch {
    /* not a git checkout */
  }
  return {
    runtime: `node-local-dns and the bare responder: ${runtime.label}`,
    'bench script node': process.version,
    dnsperf: await dnsperfVersion(),
    unbound: version('unbound', ['-V'], /Version ([\d.]+)/),
    dnsmasq: version('dnsmasq', ['--version'], /version ([\d.]+)/),
    named: version('named', ['-v'], /BIND ([\d.]+\S*)/),
    kernel: `${os.type()} ${os.release()}`,
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} x${CORES}`,
    pinning: SERVER_CPU === undefined ? 'none (1 core)' : `server cpu ${SERVER_CPU}; dnsperf and upstream cpu ${CLIENT_CPU}`,
    upstream: `BIND ${upstream.address}, ${zone.fixtures.services.length} services in cluster.local, query log off`,
    daemon: daemonNote,
    commit,
  };
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const servers = selectedServers();
  await ensureTools(servers);
  mkdirSync(OUT_DIR, { recursive: true });
  tmp = makeTmp();
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true })); // also after SIGINT/SIGTERM
  let upstream: Upstream | undefined;
  try {
    const daemon = servers.some((s) => s.startsWith('nld')) || SETTINGS.profile ? await resolveDaemon(log) : { kind: 'dist' as const, args: [], note: 'not used' };
    const runtime = benchRuntime(log);
    log(`bench: ${QUICK ? 'quick' : 'full'} mode, servers ${servers.join(',')}, ${SETTINGS.seconds} s runs x${SETTINGS.repeats}, loadavg ${loadavg().text}`);
    log(`bench: node-local-dns and the bare responder run on ${runtime.label}`);
    upstream = await startUpstream({ kind: 'bind', queryLog: false, zones: zone.zones, workers: 1 });
    if (CLIENT_CPU !== undefined && upstream.pid) {
      await runToCompletion('taskset', 'taskset', ['-a', '-p', '-c', CLIENT_CPU, String(upstream.pid)], 5000);
    }
    const ctx: ServerContext = { upstreamPort: upstream.port, upstreamPid: upstream.pid!, cpu: SERVER_CPU, daemon, runtime, tmp };
    const results: ServerResult[] = [];
    for (const id of servers) results.push(await benchServer(id, ctx));
    let profile: BenchReport['profile'];
    if (SETTINGS.profile) {
      try {
        profile = await profileDaemon(ctx);
      } catch (err) {
        log(`bench: profile failed: ${(err as Error).message}`);
      }
    }
    const { ratios, targets } = ratiosAndTargets(results);
    const report: BenchReport = {
      version: 1,
      date: new Date().toISOString(),
      mode: QUICK ? 'quick' : 'full',
      environment: await environment(daemon.note, runtime, upstream),
      settings: { ...SETTINGS, quietSpentS: Math.round(quietSpentMs / 1000) },
      servers: results,
      ratios,
      targets,
      profile,
      durationS: (performance.now() - t0) / 1000,
    };
    writeFileSync(path.join(OUT_DIR, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(path.join(OUT_DIR, 'latest.md'), markdown(report));
    writeFileSync(path.join(OUT_DIR, 'latest.svg'), svgChart(report));

    const out: string[] = ['', `node-local-dns and the bare responder ran on ${runtime.label}.`, '', textTable(report), ''];
    const errors = errorLines(report);
    if (errors.length) out.push('Errors:', ...errors.map((l) => `  ${l}`), '');
    if (ratios.length) out.push('Ratios:', ...ratioLines(report).map((l) => `  ${l}`), '');
    if (targets.length) out.push('Targets:', ...targetLines(report).map((l) => `  ${l}`), '');
    if (profile) {
      out.push(`Profile (self time, ${profile.file}):`);
      for (const p of profile.top.slice(0, 5)) out.push(`  ${p.selfPct.toFixed(1).padStart(5)}%  ${p.function}  ${p.url}`);
      out.push('');
    }
    out.push(`Wrote ${path.relative(process.cwd(), OUT_DIR) || '.'}/latest.{json,md,svg} in ${report.durationS.toFixed(0)} s.`);
    console.log(out.join('\n'));
    if (results.every((r) => r.error)) process.exitCode = 1;
  } finally {
    await upstream?.stop();
    await stopAll();
    if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  log(`bench: ${(err as Error).stack ?? err}`);
  await stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
});
