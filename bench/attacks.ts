// Issue 10's attacks, each against a fresh server, side by side: node-local-dns from this tree,
// the same before the hardening (the bundle of NLD_BEFORE_COMMIT), and node-cache when
// NODE_CACHE_BIN names its binary. All servers read the same Corefile through node-cache's own
// flags and forward to one real BIND9 on loopback. Writes bench/results/attacks.md.
//
//   npm run bench:attacks                       # about 8 minutes with node-cache
//   NODE_CACHE_BIN=/path/node-cache NODE_CACHE_LABEL='node-cache 1.22.14' npm run bench:attacks
//   node --import tsx bench/attacks.ts --quick  # one attack, node-local-dns only, < 20 s
//
// Env: BENCH_NODE (the daemon's runtime, bench/lib/runtime.ts: node24 by default), NLD_BEFORE_COMMIT (default 86f4a30; empty = skip), NODE_CACHE_BIN, NODE_CACHE_LABEL, ATTACKS (comma-separated
// ids to run), ATTACKS_OUT (report path). Needs root (raw socket, prlimit), python3, dnsperf, ss.
// Loopback only; every attack is bounded in time and in queries or connections.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type Upstream } from '../test/harness/upstream.js';
import { fixtures } from '../test/harness/zone.js';
import { answerData, buildQuery, queryTcp, queryUdp, type DnsServer } from '../test/harness/dns-client.js';
import { connectionFlood, legitimateTcpLookups, median, nonReadingPipeliner, raiseFdLimit, type LookupStats } from '../test/harness/tcp-abuse.js';
import { askWorkingSet, percentile, sendFromPortZero, stillEstablished, udpSocketDrops, writeDataFile, type WorkingSetStats } from './lib/attack-clients.js';
import { SERVER_NOFILE, beforeSpec, currentSpec, nodeCacheSpec, startAttackServer, type AttackServer, type AttackServerSpec, type CorefileOptions } from './lib/attack-servers.js';
import { runDnsperf, type DnsperfResult } from './lib/dnsperf.js';
import { stopAll } from './lib/procs.js';
import { benchRuntime } from './lib/runtime.js';
import { ROOT } from './lib/servers.js';

const QUICK = process.argv.includes('--quick');
const BEFORE_COMMIT = process.env.NLD_BEFORE_COMMIT ?? '86f4a30';
const OUT = process.env.ATTACKS_OUT ?? (QUICK ? path.join(os.tmpdir(), 'nld-attacks-quick.md') : path.join(ROOT, 'bench/results/attacks.md'));
const DEFAULT_CACHE: CorefileOptions = { successTtl: 30, serveStale: false };
const LEGIT = fixtures.services.slice(0, 50).map((s) => ({ name: s.name, ipv4: s.ipv4 }));
const log = (s: string) => process.stderr.write(`${s}\n`);
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

interface Context {
  upstream: Upstream;
  tmp: string;
  /** taskset CPU lists: the server alone on one core, clients and BIND on the other (undefined = no pinning). */
  serverCpu?: string;
  clientCpu?: string;
}

/** One row of an attack's table: the server's figures, as cells keyed by column. */
type Row = Record<string, string>;

interface Attack {
  id: string;
  title: string;
  /** What is done, in one or two sentences (the report's text). */
  how: string;
  columns: string[];
  run(spec: AttackServerSpec, ctx: Context): Promise<Row[]>;
}

/** Starts a fresh server for one attack, warms the legitimate names into its cache, always stops it. */
async function withServer<T>(spec: AttackServerSpec, ctx: Context, cache: CorefileOptions, fn: (s: AttackServer, server: DnsServer) => Promise<T>, warm = LEGIT): Promise<T> {
  const s = await startAttackServer(spec, { ...cache, upstream: ctx.upstream.address, tmp: ctx.tmp, cpu: ctx.serverCpu });
  try {
    const server = { host: '127.0.0.1', port: s.port };
    for (const n of warm) await queryUdp(server, n.name, 'A', { timeoutMs: 2000 });
    return await fn(s, server);
  } finally {
    await s.stop();
  }
}

const alive = (s: AttackServer) => (s.alive() ? 'yes' : `**no** (exit ${s.proc.child.exitCode ?? s.proc.child.signalCode})`);
const rss = (before: number, s: AttackServer) => `${f0(before)} → ${f0(s.memory().peakMiB)}`;
const lookups = (l: LookupStats, count: number) => ({ answered: `${l.answered}/${count}`, refused: String(l.refused), lost: String(l.lost), latency: `${f1(median(l.latenciesMs))} / ${f1(percentile(l.latenciesMs, 0.99))}` });

/** Answered / asked after an attack, over UDP and TCP, for a cached name and one never asked. */
async function answersAfter(server: DnsServer): Promise<string> {
  let ok = 0;
  const names = [LEGIT[0]!, { name: fixtures.services[60]!.name, ipv4: fixtures.services[60]!.ipv4 }];
  for (const n of names) {
    for (const ask of [queryUdp, queryTcp]) {
      try {
        if (answerData<string>((await ask(server, n.name, 'A', { timeoutMs: 2000 })).packet, 'A')[0] === n.ipv4) ok++;
      } catch {
        /* not answered */
      }
    }
  }
  return `${ok}/4`;
}

const portZero: Attack = {
  id: 'port0',
  title: '1. UDP datagrams from source port 0',
  how: '20 raw-socket datagrams from 127.0.0.1:0 for a cached name and 20 for a name not cached (hit and miss paths); then one cached and one new name over UDP and TCP.',
  columns: ['alive after', 'RSS MiB (start → peak)', 'lookups answered after'],
  async run(spec, ctx) {
    return withServer(spec, ctx, DEFAULT_CACHE, async (s, server) => {
      const before = s.memory().rssMiB;
      sendFromPortZero(s.port, buildQuery(LEGIT[0]!.name, 'A', { id: 0x1111 }).wire, 20);
      sendFromPortZero(s.port, buildQuery(fixtures.services[70]!.name, 'A', { id: 0x2222 }).wire, 20);
      await sleep(1000);
      const after = s.alive() ? await answersAfter(server) : '0/4';
      return [{ 'alive after': alive(s), 'RSS MiB (start → peak)': rss(before, s), 'lookups answered after': after }];
    });
  },
};

const NON_READER_BYTES = 1_000_000;
const nonReader = (connections: number): Attack => ({
  id: `nonreader${connections}`,
  title: `2${connections === 1 ? 'a' : 'b'}. Non-reading pipelined TCP client${connections > 1 ? 's' : ''} (${connections} connection${connections > 1 ? 's' : ''})`,
  how: `${connections} connection${connections > 1 ? 's' : ''} each writing ~1 MB of pipelined queries for the ${(fixtures.bigTxt.approxAnswerBytes / 1024).toFixed(1)} KB TXT record and never reading; meanwhile 40 legitimate TCP lookups (one every 100 ms, 3 s timeout, each on a new connection). Waits up to 15 s for the server to close the attackers (seen in the client's kernel with ss).`,
  columns: ['alive after', 'RSS MiB (start → peak)', 'attackers closed (after s)', 'legit answered', 'refused', 'lost', 'latency ms (median / p99)'],
  async run(spec, ctx) {
    return withServer(spec, ctx, DEFAULT_CACHE, async (s, server) => {
      await queryTcp(server, fixtures.bigTxt.name, 'TXT', { timeoutMs: 3000 });
      const before = s.memory().rssMiB;
      const started = performance.now();
      const attackers = await Promise.all(Array.from({ length: connections }, () => nonReadingPipeliner(server, buildQuery(fixtures.bigTxt.name, 'TXT').wire, NON_READER_BYTES)));
      const closedAt: number[] = [];
      const open = new Set(attackers.map((a) => a.socket.localPort!));
      const watch = (async () => {
        while (open.size > 0 && performance.now() - started < 15_000 && s.alive()) {
          for (const lp of open) {
            if (!stillEstablished(lp, s.port)) {
              open.delete(lp);
              closedAt.push(performance.now() - started);
            }
          }
          await sleep(100);
        }
      })();
      const legit = await legitimateTcpLookups(server, LEGIT, { count: 40, everyMs: 100, timeoutMs: 3000 });
      await watch;
      for (const a of attackers) a.socket.destroy();
      const closed = closedAt.length === 0 ? 'no (15 s)' : `${closedAt.length}/${connections} (${closedAt.map((ms) => (ms / 1000).toFixed(1)).join(', ')})`;
      return [{ 'alive after': alive(s), 'RSS MiB (start → peak)': rss(before, s), 'attackers closed (after s)': s.alive() ? closed : '(process gone)', ...renameLookups(lookups(legit, 40)) }];
    });
  },
});

function renameLookups(l: ReturnType<typeof lookups>): Row {
  return { 'legit answered': l.answered, refused: l.refused, lost: l.lost, 'latency ms (median / p99)': l.latency };
}

const connectionHog = (o: { id: string; title: string; how: string; connections: number; everyMs: number; seconds: number; legitCount: number; legitEveryMs: number }): Attack => ({
  id: o.id,
  title: o.title,
  how: o.how,
  columns: ['alive after', 'RSS MiB (start → peak)', 'attacker connections opened', 'closed by server (median life s)', 'legit answered', 'refused', 'lost', 'latency ms (median / p99)'],
  async run(spec, ctx) {
    return withServer(spec, ctx, DEFAULT_CACHE, async (s, server) => {
      const before = s.memory().rssMiB;
      const flood = connectionFlood(server, { connections: o.connections, everyMs: o.everyMs, untilMs: performance.now() + o.seconds * 1000 });
      await sleep(1000); // the attackers hold their connections by now
      const legit = await legitimateTcpLookups(server, LEGIT, { count: o.legitCount, everyMs: o.legitEveryMs, timeoutMs: 3000 });
      const stats = await flood;
      return [
        {
          'alive after': alive(s),
          'RSS MiB (start → peak)': rss(before, s),
          'attacker connections opened': String(stats.opened),
          'closed by server (median life s)': `${stats.closedByServer.length} (${f1(median(stats.closedByServer) / 1000)})`,
          ...renameLookups(lookups(legit, o.legitCount)),
        },
      ];
    });
  },
});

const slowloris = connectionHog({
  id: 'slowloris',
  title: '3. Slowloris: 1,500 connections sending one byte every 2 s',
  how: '1,500 connections, each sending one byte of a never-finished frame every 2 s for 20 s, reopened when the server closes them; from 1 s on, 90 legitimate TCP lookups (one every 200 ms, 3 s timeout, each on a new connection).',
  connections: 1500,
  everyMs: 2000,
  seconds: 20,
  legitCount: 90,
  legitEveryMs: 200,
});

const idle = connectionHog({
  id: 'idle',
  title: '4. 3,000 idle connections',
  how: '3,000 connections that send nothing, for 10 s, reopened when the server closes them; from 1 s on, 60 legitimate TCP lookups (one every 100 ms, 3 s timeout).',
  connections: 3000,
  everyMs: 0,
  seconds: 10,
  legitCount: 60,
  legitEveryMs: 100,
});

/** Above what any of the servers answers on one core here (the issue's open-loop flood), and within it. */
const FLOOD_RATES = [30_000, 8_000];
const FLOOD_S = 10;
const BLACKHOLE_AFTER_MS = 2000;
/** Each cached name is asked every 2 s: between two asks the flood inserts more names than the cache holds. */
const WORKING_SET_EVERY_MS = 2000;
const WORKING_SET = fixtures.services.slice(0, 100).map((s) => ({ name: s.name, ipv4: s.ipv4 }));
const floodVariants = [
  { name: 'upstream healthy', blackhole: false, serveStale: false },
  { name: 'upstream black-holed, serve_stale 1h', blackhole: true, serveStale: true },
  { name: 'upstream black-holed, no serve_stale', blackhole: true, serveStale: false },
];

function workingSetCells(w: WorkingSetStats): Row {
  const failures = Object.entries(w.failures).map(([k, v]) => `${k} ${v}`);
  return {
    'cached names asked': String(w.asked),
    answered: String(w.fresh),
    stale: String(w.stale),
    'REFUSED / SERVFAIL / lost': `${w.failures.REFUSED ?? 0} / ${w.failures.SERVFAIL ?? 0} / ${w.failures.LOST ?? 0}${failures.some((x) => !/^(REFUSED|SERVFAIL|LOST) /.test(x)) ? ` (${failures.join(', ')})` : ''}`,
    'latency ms (median / p99)': `${f1(median(w.latenciesMs))} / ${f1(percentile(w.latenciesMs, 0.99))}`,
  };
}

const subdomainFlood: Attack = {
  id: 'flood',
  title: '5. Random-subdomain flood',
  how: `dnsperf sends ${FLOOD_RATES.map((r) => r.toLocaleString('en-US')).join(' or ')} qps open-loop for ${FLOOD_S} s, every query a new name under the wildcard \`*.${fixtures.wildcard.suffix}\` (so every one is a miss); the first rate is above what the servers answer on one core here (the flood is also an overload), the second within it. The ${WORKING_SET.length} previously cached names (a pod's working set, each looked up 3 times before) are asked in rounds every ${WORKING_SET_EVERY_MS / 1000} s over UDP (2 s timeout): between two asks the flood brings more new names than the cache holds (9,984), and \`success 9984 5\` makes them expire during the flood, so they need the upstream again. Black hole: BIND is SIGSTOPped ${BLACKHOLE_AFTER_MS / 1000} s into the flood until its end. "stale" = NOERROR with TTL 0.`,
  columns: ['variant', 'alive after', 'RSS MiB (start → peak)', 'flood answered', 'dropped by the kernel', 'cached names asked', 'answered', 'stale', 'REFUSED / SERVFAIL / lost', 'latency ms (median / p99)'],
  async run(spec, ctx) {
    const rows: Row[] = [];
    for (const [rate, v] of FLOOD_RATES.flatMap((r) => floodVariants.map((variant) => [r, variant] as const))) {
      const prefix = `f${randomInt(1e9).toString(36)}`;
      const data = writeDataFile(path.join(ctx.tmp, 'flood.txt'), (function* () {
        for (let i = 0; i < rate * FLOOD_S; i++) yield `${prefix}-${i}.${fixtures.wildcard.suffix}`;
      })());
      let timer: NodeJS.Timeout | undefined;
      try {
        rows.push(
          await withServer(spec, ctx, { successTtl: 5, serveStale: v.serveStale }, async (s, server) => {
            // Used, not only cached: two more lookups of each (withServer made the first).
            for (let round = 1; round < 3; round++) {
              for (const n of WORKING_SET) await queryUdp(server, n.name, 'A', { timeoutMs: 2000 });
            }
            const before = s.memory().rssMiB;
            const started = performance.now();
            if (v.blackhole) timer = setTimeout(() => ctx.upstream.pause(), BLACKHOLE_AFTER_MS);
            const [flood, legit] = await Promise.all([
              runDnsperf({ cpu: ctx.clientCpu, port: s.port, dataFile: data, seconds: FLOOD_S, maxRuns: 1, rate, clients: 4, outstanding: 20_000, timeoutS: 2 }),
              askWorkingSet(server, WORKING_SET, { untilMs: started + FLOOD_S * 1000, everyMs: WORKING_SET_EVERY_MS, timeoutMs: 2000, maxRounds: 100 }),
            ]);
            return { variant: `${rate / 1000}k qps, ${v.name}`, 'alive after': alive(s), 'RSS MiB (start → peak)': rss(before, s), 'flood answered': `${pct(flood.completed, flood.sent)} of ${flood.sent.toLocaleString('en-US')}`, 'dropped by the kernel': drops(s), ...workingSetCells(legit) };
          }, WORKING_SET),
        );
      } finally {
        clearTimeout(timer);
        if (ctx.upstream.paused) {
          ctx.upstream.resume();
          await sleep(1500); // BIND works off what queued up while it was stopped
        }
      }
    }
    return rows;
  },
};

/** Datagrams the server's UDP socket dropped because its receive buffer was full. */
const drops = (s: AttackServer) => (s.alive() ? udpSocketDrops(s.port).toLocaleString('en-US') : '-');
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');

const OVERLOAD_FACTOR = 1.5;
const OVERLOAD_S = 10;
const PROBE_EVERY_MS = 200;
const overload: Attack = {
  id: 'overload',
  title: '6. Open-loop UDP overload of cached names',
  how: `Capacity first: dnsperf closed-loop (4 clients, 200 outstanding) for 4 s on the ${LEGIT.length} cached names. Then dnsperf open-loop at ${OVERLOAD_FACTOR}× that rate for ${OVERLOAD_S} s (up to 40,000 outstanding, 2 s timeout): share answered and the latency of the answered queries as dnsperf sees them (its own receive queues included). Meanwhile a pod's view: the ${LEGIT.length} names asked in rounds every ${PROBE_EVERY_MS} ms, each from its own socket (2 s timeout).`,
  columns: ['alive after', 'RSS MiB (start → peak)', 'capacity qps', 'offered qps', 'dnsperf answered', 'dropped by the kernel', 'dnsperf latency ms (median / p99)', 'pod lookups answered', 'pod lookups lost', 'pod latency ms (median / p99)'],
  async run(spec, ctx) {
    const data = writeDataFile(path.join(ctx.tmp, 'cached.txt'), LEGIT.map((n) => n.name));
    return withServer(spec, ctx, DEFAULT_CACHE, async (s, server) => {
      const before = s.memory().rssMiB;
      const cap = await runDnsperf({ cpu: ctx.clientCpu, port: s.port, dataFile: data, seconds: 4, maxRuns: 1_000_000, clients: 4, outstanding: 200, timeoutS: 2 });
      const offered = Math.round(cap.qps * OVERLOAD_FACTOR);
      const started = performance.now();
      const [r, pod]: [DnsperfResult, WorkingSetStats] = await Promise.all([
        runDnsperf({ cpu: ctx.clientCpu, port: s.port, dataFile: data, seconds: OVERLOAD_S, maxRuns: 1_000_000, rate: offered, clients: 8, outstanding: 40_000, timeoutS: 2, percentiles: true, verboseFile: path.join(ctx.tmp, 'dnsperf-v.txt') }),
        (async () => {
          await sleep(1000); // the queues are full by now
          return askWorkingSet(server, LEGIT, { untilMs: started + (OVERLOAD_S - 1) * 1000, everyMs: PROBE_EVERY_MS, timeoutMs: 2000, maxRounds: 100 });
        })(),
      ]);
      const podAnswered = pod.fresh + pod.stale;
      return [
        {
          'alive after': alive(s),
          'RSS MiB (start → peak)': rss(before, s),
          'capacity qps': Math.round(cap.qps).toLocaleString('en-US'),
          'offered qps': offered.toLocaleString('en-US'),
          'dnsperf answered': `${pct(r.completed, r.sent)} of ${r.sent.toLocaleString('en-US')}`,
          'dropped by the kernel': drops(s),
          'dnsperf latency ms (median / p99)': `${f1(r.p50Ms ?? NaN)} / ${f1(r.p99Ms ?? NaN)}`,
          'pod lookups answered': `${podAnswered}/${pod.asked}`,
          'pod lookups lost': String(pod.asked - podAnswered),
          'pod latency ms (median / p99)': `${f1(median(pod.latenciesMs))} / ${f1(percentile(pod.latenciesMs, 0.99))}`,
        },
      ];
    });
  },
};

const ATTACKS: Attack[] = [portZero, nonReader(1), nonReader(3), slowloris, idle, subdomainFlood, overload];

function table(attack: Attack, results: { spec: AttackServerSpec; rows: Row[]; error?: string }[]): string {
  const head = ['server', ...attack.columns];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of results) {
    if (r.error) lines.push(`| ${r.spec.label} | failed: ${r.error.split('\n')[0]!.replace(/\|/g, '/')} |${' |'.repeat(attack.columns.length - 1)}`);
    for (const row of r.rows) lines.push(`| ${r.spec.label} | ${attack.columns.map((c) => row[c] ?? '-').join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root: raw sockets (source port 0) and prlimit');
  const fds = QUICK ? 0 : raiseFdLimit(16_384); // --quick opens no connection floods
  if (!QUICK && fds < 8_000) throw new Error(`descriptor limit ${fds}: the connection attacks need about 5,000`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nld-attacks-'));
  const upstream = await startUpstream({ kind: 'bind', queryLog: false });
  const pin = os.cpus().length >= 2 && process.env.ATTACKS_PIN !== '0';
  const ctx: Context = { upstream, tmp, serverCpu: pin ? '0' : undefined, clientCpu: pin ? '1' : undefined };
  if (pin) for (const pid of [process.pid, upstream.pid!]) spawnSync('taskset', ['-a', '-cp', '1', String(pid)]);
  const started = Date.now();
  try {
    const runtime = benchRuntime(log);
    const specs = [currentSpec(runtime)];
    if (!QUICK && BEFORE_COMMIT) {
      const before = beforeSpec(BEFORE_COMMIT, runtime, tmp, log);
      if (before) specs.unshift(before);
    }
    const nodeCache = QUICK ? undefined : nodeCacheSpec();
    if (nodeCache) specs.push(nodeCache);
    else if (!QUICK) log('attacks: NODE_CACHE_BIN unset, node-cache skipped');
    const wanted = process.env.ATTACKS?.split(',');
    const attacks = QUICK ? [portZero] : ATTACKS.filter((a) => !wanted || wanted.includes(a.id));

    const sections: string[] = [];
    for (const attack of attacks) {
      const results: { spec: AttackServerSpec; rows: Row[]; error?: string }[] = [];
      for (const spec of specs) {
        const t0 = Date.now();
        log(`attacks: ${attack.id} on ${spec.id}`);
        try {
          results.push({ spec, rows: await attack.run(spec, ctx) });
        } catch (err) {
          results.push({ spec, rows: [], error: (err as Error).message });
          log(`attacks: ${attack.id} on ${spec.id} failed: ${(err as Error).message}`);
        }
        log(`attacks: ${attack.id} on ${spec.id} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
      const section = `## ${attack.title}\n\n${attack.how}\n\n${table(attack, results)}\n`;
      process.stdout.write(`\n${section}`);
      sections.push(section);
    }

    const pinning = pin ? 'each server pinned to CPU 0 (taskset; node-cache therefore runs with GOMAXPROCS 1, like our one event loop), this script, dnsperf and BIND to CPU 1' : 'no CPU pinning';
    const runtimes = specs.map((s) => `- **${s.label}**: ${s.runtime}`).join('\n');
    const report = `# Attacks on a node's DNS (issue 10): before, now, node-cache

${new Date(started).toISOString()}, ${Math.round((Date.now() - started) / 1000)} s, ${os.cpus().length} CPUs (load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; the machine is shared, so latencies and capacities are indicative). Generated by \`npm run bench:attacks\` (bench/attacks.ts); do not edit.

Every server reads the same Corefile (the nodelocaldns \`cluster.local\` block: \`cache { success 9984 30; denial 9984 5 }\`, \`forward . <BIND> { force_tcp }\`, prometheus, health) through node-cache's own flags (\`-localip 127.0.0.1 -conf ... -setupinterface=false -setupiptables=false -skipteardown\`), with \`prlimit --nofile=${SERVER_NOFILE}\`, and forwards to one BIND9 on 127.0.0.1. Each attack starts a fresh server, caches ${LEGIT.length} service names, then attacks; "RSS start → peak" is VmRSS before the attack and VmHWM after it (deploy/daemonset.yaml limits the container to 384 MiB: a higher peak is an OOM kill there). "dropped by the kernel" counts datagrams the server's UDP socket dropped with its receive buffer full (ss \`skmem\` d). Legitimate TCP lookups open a new connection each, as a stub resolver retrying after TC does; "refused" = reset or closed before the answer, "lost" = no answer within the timeout.

${runtimes}
- client: ${process.version} (this script), dnsperf, python3 raw socket; ${pinning}

${sections.join('\n')}`;
    mkdirSync(path.dirname(OUT), { recursive: true });
    writeFileSync(OUT, report);
    log(`attacks: wrote ${path.relative(ROOT, OUT)} (${Math.round((Date.now() - started) / 1000)} s)`);
  } finally {
    if (upstream.paused) upstream.resume();
    await upstream.stop();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`attacks: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
    void stopAll().then(() => process.exit(1));
  },
);

