// The surge rollout of deploy/README.md ("Surge: maxSurge: 1, maxUnavailable: 0"), end to end in the
// namespace mini-cluster of ./topology.ts, under steady load from a pod:
//   1. A serves the node as the DaemonSet runs it (rules, addresses, pidfile).
//   2. B starts beside A with the same args; both bind port 53 (and the HTTP ports) on the same
//      addresses with SO_REUSEPORT, so the kernel spreads queries over both (id.server CH TXT asked
//      on the node sees both instance ids).
//   3. A gets SIGTERM: it sees another instance answering on its address, leaves the shared rules
//      and addresses in place and exits 0.
//   4. Only B answers; the rules and addresses are all there; B's /health and /metrics are served.
// Two loads run through all of it: glibc lookups (getaddrinfo with the kubelet's resolv.conf, short
// and absolute names) and raw UDP lookups (A+AAAA from one socket, like glibc) to the kube-dns
// ClusterIP. Not one lookup may fail.
// SO_REUSEPORT from JS needs Node >= 22.12 (the image runs Node 24): on older Node this file skips,
// saying so, unless NLD_REQUIRE_REUSEPORT=1 (set by scripts/test-all.sh for its Node 24 run), which
// turns the skip into a failure. Also needs what the other namespace tests need (root, ip netns,
// iptables, named, dig, getent, conntrack).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addresses,
  BUNDLE,
  CLUSTER_DNS_IP,
  createTopology,
  ensureBundle,
  HEALTH_URL,
  httpGet,
  LOCAL_DNS_IP,
  LOCAL_IPS,
  metricSum,
  netnsUnavailable,
  nodeLocalRules,
  scrapeMetrics,
  startDaemonInNode,
  type DaemonHandle,
  type Topology,
} from './topology.js';
import { REUSE_PORT_SUPPORTED } from '../../src/util/features.js';

const NEED_REUSEPORT = `the surge rollout needs SO_REUSEPORT from JS (Node >= 22.12); this is Node ${process.versions.node}. scripts/test-all.sh runs it on Node 24`;
if (!REUSE_PORT_SUPPORTED && process.env.NLD_REQUIRE_REUSEPORT === '1') {
  throw new Error(`NLD_REQUIRE_REUSEPORT=1 but ${NEED_REUSEPORT}`);
}
const skip = netnsUnavailable() ?? (REUSE_PORT_SUPPORTED ? null : NEED_REUSEPORT);

/** Every load: bounded by count and by time; stopped with SIGINT once the rollout is over. */
const LOAD_MAX_LOOKUPS = 500_000;
const LOAD_MAX_SECONDS = 120;
const RULES = 12 * LOCAL_IPS.length;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface LoadSummary {
  /** Seconds of the load's own clock in which failed lookups completed (a timeout completes --timeout-ms after its send). */
  failedAt?: string;
  lookups: number;
  errors: number;
  errorsByKind: Record<string, number>;
  lookupsPerSecond: number;
  overLimit: number;
  latencyMs: { p50: number; p99: number; max: number };
}

interface RunningLoad {
  stop(): Promise<LoadSummary>;
}

/** `node-local-dns load ...` inside the pod namespace, running until stop() (SIGINT: it reports what it did). */
function startLoad(ns: string, args: string[]): RunningLoad {
  const argv = ['netns', 'exec', ns, process.execPath, BUNDLE, 'load', ...args, '-d', `${LOAD_MAX_SECONDS}s`, '--max-count', String(LOAD_MAX_LOOKUPS), '-l', '1000', '--timeout-ms', '5000', '--json', '--quiet'];
  // ip netns exec execs node in place, so the SIGINT reaches the load tool itself.
  const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: '8' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    async stop() {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(killer);
      try {
        const report = JSON.parse(stdout) as { summary: LoadSummary; series: { second: number; errors: number }[] };
        const failedAt = report.series.filter((x) => x.errors > 0).map((x) => `${x.errors} in second ${x.second}`);
        return { ...report.summary, failedAt: failedAt.join(', ') };
      } catch {
        throw new Error(`load ${args.join(' ')}: exit ${code}, no JSON report:\n${stdout.slice(-1000)}\n${stderr.slice(-2000)}`);
      }
    },
  };
}

/**
 * The instance ids answering `id.server CH TXT` at the node-local address, asked from `probes`
 * fresh source ports on the node (the daemon answers it to the node's own addresses only).
 */
async function instancesSeen(topo: Topology, probes = 16): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  await Promise.all(
    Array.from({ length: probes }, async () => {
      const r = await topo.exec(topo.nsNode, ['dig', '+short', '+time=1', '+tries=2', `@${LOCAL_DNS_IP}`, 'id.server', 'CH', 'TXT'], { check: false, timeoutMs: 10_000 });
      const id = r.stdout.trim().replace(/^"|"$/g, '');
      if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
    }),
  );
  return seen;
}

/** The pid part of an instance id (HOST/PID/RANDOM). */
const pidOf = (id: string): number => Number(id.split('/')[1]);

describe('surge rollout A -> B with SO_REUSEPORT under load (deploy/README "Surge")', { skip: skip ?? false }, () => {
  let topo: Topology;
  const daemons: DaemonHandle[] = [];
  const loads: RunningLoad[] = [];

  before(async () => {
    ensureBundle();
    topo = await createTopology({ prefix: 'nld-surge', pods: 1, replicas: 2, services: 300 });
  });

  after(async () => {
    for (const l of loads) await l.stop().catch(() => {});
    for (const d of daemons) if (!d.exited) await d.stop('SIGKILL');
    await topo?.cleanup();
  });

  test('0 failed lookups while B starts beside A and A gets SIGTERM; rules, addresses, health and metrics stay', async (t) => {
    const a = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '1'] });
    daemons.push(a);

    // 40 Services in "default", asked by absolute name (A+AAAA) and by short name through the
    // search list (ndots:5: NXDOMAIN for the first search domain, then the answer), so both caches
    // fill and most lookups are hits, as on a node; B starts cold and forwards its first misses.
    const names = Array.from({ length: 40 }, (_, i) => `svc-${i}.default.svc.cluster.local.`);
    const shortNames = Array.from({ length: 20 }, (_, i) => `svc-${i}.default`);
    const namesFile = join(topo.dir, 'names.txt');
    const systemNamesFile = join(topo.dir, 'system-names.txt');
    writeFileSync(namesFile, names.join('\n') + '\n');
    writeFileSync(systemNamesFile, [...names, ...shortNames].join('\n') + '\n');

    const started = Date.now();
    const glibc = startLoad(topo.nsPods[0]!, ['--system', '--hosts-file', systemNamesFile, '-c', '4']);
    loads.push(glibc);
    const udp = startLoad(topo.nsPods[0]!, ['--server', `${CLUSTER_DNS_IP}:53`, '--allow-remote', '--hosts-file', namesFile, '--type', 'A,AAAA', '-c', '4']);
    loads.push(udp);
    await sleep(2000); // A alone, under load

    const b = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '1'] });
    daemons.push(b);
    const bReadyMs = Date.now() - started;
    // Both serve: the kernel spreads fresh source ports over both sockets of the reuseport group.
    let both = await instancesSeen(topo);
    for (let i = 0; i < 5 && both.size < 2; i++) both = await instancesSeen(topo);
    assert.deepEqual([...both.keys()].map(pidOf).sort(), [a.pid, b.pid].sort(), `id.server answers while A and B run: ${JSON.stringify([...both])}`);
    await sleep(2000); // minReadySeconds, shortened

    const aStop = Date.now();
    const aExit = await a.stop('SIGTERM');
    const aStopMs = Date.now() - aStop;
    assert.deepEqual(aExit, { code: 0, signal: null }, a.logs().slice(-3000));
    assert.match(a.logs(), /another node-local-dns instance answers on our address; leaving rules and interface in place/);
    assert.doesNotMatch(a.logs(), /Tearing down/);
    await sleep(3000); // B alone, under load

    const [g, u] = [await glibc.stop(), await udp.stop()];
    loads.length = 0;
    const line = (what: string, s: LoadSummary) =>
      `${what}: ${s.lookups} lookups (${s.lookupsPerSecond.toFixed(0)}/s), ${s.errors} failed ${JSON.stringify(s.errorsByKind)}${s.failedAt ? ` (${s.failedAt})` : ''}, ${s.overLimit} over 1 s, p99 ${s.latencyMs.p99.toFixed(1)} ms, max ${s.latencyMs.max.toFixed(0)} ms`;
    t.diagnostic(`Node ${process.versions.node}: B ready ${bReadyMs} ms into the load, A's SIGTERM at ${aStop - started} ms, exited ${aStopMs} ms later; ${Date.now() - started} ms of load in all`);
    t.diagnostic(line('glibc getaddrinfo', g));
    t.diagnostic(line('UDP A+AAAA', u));
    for (const [what, s] of [['glibc', g], ['UDP', u]] as const) {
      assert.ok(s.lookups >= 100, `${what} load ran only ${s.lookups} lookups`);
      assert.equal(s.errors, 0, `${what} lookups failed during the rollout: ${line(what, s)}`);
    }

    // Only B now; the node is set up exactly as before.
    const alone = await instancesSeen(topo, 8);
    assert.deepEqual([...alone.keys()].map(pidOf), [b.pid], `id.server answers after A left: ${JSON.stringify([...alone])}`);
    assert.equal((await nodeLocalRules(topo.nsNode)).length, RULES);
    const addrs = await addresses(topo.nsNode);
    for (const ip of LOCAL_IPS) assert.ok(addrs.includes(`${ip}/32`), `${ip}/32 missing after the rollout: ${addrs.join(' ')}`);
    assert.deepEqual(await httpGet(topo.nsNode, HEALTH_URL), { status: 200, body: 'OK' });
    const metrics = await scrapeMetrics(topo.nsNode);
    assert.ok(metricSum(metrics, 'coredns_dns_requests_total') > 0, 'B counted the queries it served');
    assert.ok(metricSum(metrics, 'coredns_cache_misses_total') > 0, 'B started cold and forwarded its first misses');

    // B, the last instance, tears down on SIGTERM as node-cache does.
    assert.deepEqual(await b.stop('SIGTERM'), { code: 0, signal: null }, b.logs().slice(-3000));
    assert.deepEqual(await nodeLocalRules(topo.nsNode), []);
  });
});
