// `workers: 1` and `workers: 2` side by side on the same traffic (the issue #12 targets: RSS, cache
// hit ratio, hit CPU per query at a fixed rate). Both daemons run at once, pinned to core 0 (so
// the two workers share one core: this measures cost, not scaling), dnsperf runs on core 1, and
// runs alternate between the two daemons. Everything goes to 127.0.0.1; every dnsperf run is
// bounded by -l and -n.
//
//   1. hit ratio: one pass of a skewed stream (WORKERS_QUERIES queries over WORKERS_NAMES names,
//      Zipf-like, the same file for both) at WORKERS_RATE/2 qps; ratio = cache hits / requests
//      from /metrics. With shared fills, workers: 2 should be as high as workers: 1.
//   2. hit CPU: WORKERS_REPEATS runs of WORKERS_SECONDS over 100 cached names at WORKERS_RATE
//      qps; CPU µs per answered query is the process's utime+stime (/proc) over the run.
//   RSS is read idle (after start) and at the end.
//
// Usage: node --import tsx bench/workers.ts   (env WORKERS_RATE=20000 WORKERS_SECONDS=5
//        WORKERS_REPEATS=3 WORKERS_NAMES=3000 WORKERS_QUERIES=30000)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateZone } from '../test/harness/zone.js';
import { pickFreePort, startUpstream, type Upstream } from '../test/harness/upstream.js';
import { rng } from '../test/fuzz/fuzz-long.js';
import { runDnsperf } from './lib/dnsperf.js';
import { MiB, treeCpuUs, treeRssBytes } from './lib/proc.js';
import { startProcess, stopAll, type Managed } from './lib/procs.js';
import { daemonConfigYaml, haveBinary, resolveDaemon, ROOT } from './lib/servers.js';
import { benchRuntime } from './lib/runtime.js';
import { queryBatch, waitAnswering } from './lib/udp.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const RATE = num('WORKERS_RATE', 20000);
const SECONDS = num('WORKERS_SECONDS', 5);
const REPEATS = num('WORKERS_REPEATS', 3);
const NAMES = num('WORKERS_NAMES', 3000);
const QUERIES = num('WORKERS_QUERIES', 30000);
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Daemon {
  workers: number;
  port: number;
  metricsPort: number;
  proc: Managed;
  rssIdleMiB: number;
  cpuUsPerQuery: number[];
  qps: number[];
  hitRatio?: number;
}

async function cacheCounts(metricsPort: number): Promise<{ requests: number; hits: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].filter((m) => m[1]!.includes('zones="cluster.local."')).reduce((n, m) => n + Number(m[2]), 0);
  return { requests: sum('coredns_cache_requests_total'), hits: sum('coredns_cache_hits_total') };
}

/** A skewed stream: name i drawn with probability ~ 1/(i+1) (Zipf s=1), same seed every time. */
function skewedStream(token: string, suffix: string): string[] {
  const random = rng(12);
  const weights = Array.from({ length: NAMES }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w, i) => (cumulative[i] = acc + w / total), 0);
  return Array.from({ length: QUERIES }, () => {
    const r = random();
    let lo = 0;
    let hi = NAMES - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return `z${lo}-${token}.${suffix} A`;
  });
}

async function main(): Promise<void> {
  if (!haveBinary('dnsperf') || !haveBinary('named')) throw new Error('dnsperf and named are needed: run bash scripts/install-test-deps.sh');
  const zone = generateZone();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nld-workers-bench-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  let upstream: Upstream | undefined;
  const daemons: Daemon[] = [];
  try {
    const cmd = await resolveDaemon(log);
    if (cmd.kind === 'fallback') throw new Error('workers need the daemon CLI bundle');
    const runtime = benchRuntime(log);
    upstream = await startUpstream({ kind: 'bind', queryLog: false, zones: zone.zones });
    for (const workers of [1, 2]) {
      const port = await pickFreePort();
      const metricsPort = await pickFreePort();
      const file = path.join(tmp, `w${workers}.yaml`);
      writeFileSync(file, daemonConfigYaml({ port, upstreamPort: upstream.port, metricsPort, workers }));
      const proc = startProcess(`nld-w${workers}`, 'taskset', ['-c', '0', runtime.node, ...cmd.args, '--config', file], { cwd: ROOT, env: { ...process.env, ...runtime.env } });
      await waitAnswering(port, '_probe.cluster.local', 20_000, () => proc.running);
      await new Promise((r) => setTimeout(r, 1000));
      daemons.push({ workers, port, metricsPort, proc, rssIdleMiB: treeRssBytes(proc.pid) / MiB, cpuUsPerQuery: [], qps: [] });
    }

    const streamFile = path.join(tmp, 'stream.txt');
    writeFileSync(streamFile, skewedStream(Date.now().toString(36), zone.fixtures.wildcard.suffix).join('\n') + '\n');
    for (const d of daemons) {
      const before = await cacheCounts(d.metricsPort);
      const r = await runDnsperf({ port: d.port, dataFile: streamFile, seconds: Math.ceil((2 * QUERIES) / RATE) + 10, maxRuns: 1, rate: RATE / 2, clients: 4, outstanding: 256, cpu: '1' });
      const after = await cacheCounts(d.metricsPort);
      d.hitRatio = (after.hits - before.hits) / Math.max(1, after.requests - before.requests);
      log(`workers: ${d.workers}: skewed stream ${r.completed}/${r.sent} answered, hit ratio ${d.hitRatio.toFixed(4)}`);
    }

    const hitNames = zone.fixtures.services.slice(0, 100).map((s) => ({ name: s.name, type: 'A' }));
    const hitFile = path.join(tmp, 'hits.txt');
    writeFileSync(hitFile, hitNames.map((q) => `${q.name} A`).join('\n') + '\n');
    for (let i = 0; i < REPEATS; i++) {
      for (const d of daemons) {
        await queryBatch(d.port, hitNames, { concurrency: 20, timeoutMs: 2000 }); // TTL 30 s: keep them hits
        await queryBatch(d.port, hitNames, { concurrency: 20, timeoutMs: 2000 }); // and in every worker
        const cpu0 = treeCpuUs(d.proc.pid);
        const r = await runDnsperf({ port: d.port, dataFile: hitFile, seconds: SECONDS, maxRuns: Math.ceil((SECONDS * RATE * 1.1) / hitNames.length), rate: RATE, clients: 4, outstanding: 256, cpu: '1' });
        const us = (treeCpuUs(d.proc.pid) - cpu0) / Math.max(1, r.completed);
        d.cpuUsPerQuery.push(us);
        d.qps.push(r.qps);
        log(`workers: ${d.workers}: run ${i + 1}: ${r.qps.toFixed(0)} qps, ${us.toFixed(2)} µs/query, lost ${r.lost}`);
      }
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const one = daemons[0]!;
    const lines = [
      '',
      `workers: 1 vs 2 (${cmd.note}; ${runtime.label}; daemons on core 0, dnsperf on core 1)`,
      '',
      'workers  RSS idle MiB  RSS end MiB  hit ratio  hit CPU µs/q (median; runs)           QPS at fixed rate',
      ...daemons.map(
        (d) =>
          `${String(d.workers).padStart(7)}  ${d.rssIdleMiB.toFixed(1).padStart(12)}  ${(treeRssBytes(d.proc.pid) / MiB).toFixed(1).padStart(11)}  ${d.hitRatio!.toFixed(4).padStart(9)}  ` +
          `${`${median(d.cpuUsPerQuery).toFixed(2).padStart(6)} (${d.cpuUsPerQuery.map((x) => x.toFixed(2)).join(', ')})`.padEnd(40)} ${median(d.qps).toFixed(0)}`,
      ),
      '',
      ...daemons.slice(1).map(
        (d) =>
          `workers: ${d.workers} / workers: 1: RSS idle ${(d.rssIdleMiB / one.rssIdleMiB).toFixed(2)}x, hit CPU ${(median(d.cpuUsPerQuery) / median(one.cpuUsPerQuery)).toFixed(2)}x, hit ratio ${d.hitRatio!.toFixed(4)} vs ${one.hitRatio!.toFixed(4)}`,
      ),
    ];
    console.log(lines.join('\n'));
  } finally {
    for (const d of daemons) await d.proc.stop(5000);
    await upstream?.stop();
    await stopAll();
  }
}

main().catch(async (err) => {
  log(`workers bench: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exit(1);
});
