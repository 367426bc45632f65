// Memory of node-local-dns with both cluster.local caches full.
//
// Starts BIND (authoritative for cluster.local, query log off) and the daemon with the official
// cluster.local config (force_tcp, success 9984/30, denial 9984/5), then reports VmRSS:
//   1. right after start,
//   2. after warm-up (100 service names),
//   3. with both caches full: 9984 distinct positive names (<N>.wild.cluster.local, the zone's
//      wildcard, one A record each) and 9984 distinct NXDOMAIN names (nx-N.cluster.local, SOA in
//      authority), sent over UDP with at most 100 queries in flight.
// Entry counts are read back from the daemon's coredns_cache_entries metric.
//
// Usage: node --import tsx bench/memory.ts        (env MEMORY_ENTRIES=N to change 9984,
//        MEMORY_WORKERS=N to run the daemon with `workers: N`; BENCH_NODE / BENCH_DAEMON_ENV pick
//        the runtime, default Node 24 with the image's ENV, see bench/lib/runtime.ts)
// Each stage also gives where the memory is: RssAnon and RssFile (/proc/PID/status; file pages are
// mostly the node binary's), the V8 heap (committed and used, code space) and external memory
// (the daemon's nodejs_* metrics).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateZone } from '../test/harness/zone.js';
import { pickFreePort, startUpstream, type Upstream } from '../test/harness/upstream.js';
import { MiB, treeRssBytes } from './lib/proc.js';
import { startProcess, stopAll, type Managed } from './lib/procs.js';
import { daemonConfigYaml, haveBinary, resolveDaemon, ROOT } from './lib/servers.js';
import { benchRuntime } from './lib/runtime.js';
import { queryBatch, waitAnswering, type Question } from './lib/udp.js';

const ENTRIES = Number(process.env.MEMORY_ENTRIES ?? 9984);
const WORKERS = Number(process.env.MEMORY_WORKERS ?? 1);
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Scrape {
  success?: number;
  denial?: number;
  /** nodejs_heap_size_total_bytes, nodejs_heap_size_used_bytes, code space used, nodejs_external_memory_bytes (MiB) */
  heapMiB?: number;
  heapUsedMiB?: number;
  codeMiB?: number;
  externalMiB?: number;
}

async function scrape(metricsPort: number): Promise<Scrape> {
  try {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    const out: Scrape = {};
    for (const m of text.matchAll(/^coredns_cache_entries\{([^}]*)\} (\S+)$/gm)) {
      const labels = m[1]!;
      if (!/zones?="cluster\.local\."/.test(labels)) continue;
      const type = /type="(\w+)"/.exec(labels)?.[1];
      if (type === 'success' || type === 'denial') out[type] = Math.max(out[type] ?? 0, Number(m[2]));
    }
    const value = (re: RegExp) => {
      const v = re.exec(text)?.[1];
      return v === undefined ? undefined : Number(v) / MiB;
    };
    out.heapMiB = value(/^nodejs_heap_size_total_bytes (\S+)$/m);
    out.heapUsedMiB = value(/^nodejs_heap_size_used_bytes (\S+)$/m);
    out.codeMiB = value(/^nodejs_heap_space_size_used_bytes\{space="code"\} (\S+)$/m);
    out.externalMiB = value(/^nodejs_external_memory_bytes (\S+)$/m);
    return out;
  } catch {
    return {};
  }
}

/** RssAnon and RssFile of one process (MiB), from /proc/PID/status. */
function rssParts(pid: number): { anonMiB?: number; fileMiB?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => {
      const v = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
      return v === undefined ? undefined : (Number(v) * 1024) / MiB;
    };
    return { anonMiB: kb('RssAnon'), fileMiB: kb('RssFile') };
  } catch {
    return {};
  }
}

function mib(pid: number): number {
  return treeRssBytes(pid) / MiB;
}

async function fill(port: number, questions: Question[], what: string, want: string): Promise<void> {
  const r = await queryBatch(port, questions, { concurrency: 100, timeoutMs: 2000, attempts: 3, deadlineMs: 120_000 });
  const ok = r.rcodes[want] ?? 0;
  log(`memory: ${what}: ${questions.length} queries in ${r.elapsedMs} ms, ${JSON.stringify(r.rcodes)}, timed out ${r.timedOut}`);
  if (ok < questions.length * 0.99) throw new Error(`${what}: only ${ok}/${questions.length} answered ${want}`);
}

async function main(): Promise<void> {
  if (!haveBinary('named')) throw new Error('named (bind9) is missing: run bash scripts/install-test-deps.sh');
  const zone = generateZone();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nld-memory-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true })); // also after SIGINT/SIGTERM
  let upstream: Upstream | undefined;
  let daemon: Managed | undefined;
  try {
    const cmd = await resolveDaemon(log);
    const runtime = benchRuntime(log);
    upstream = await startUpstream({ kind: 'bind', queryLog: false, zones: zone.zones });
    const port = await pickFreePort();
    const metricsPort = await pickFreePort();
    const healthPort = await pickFreePort();
    const configFile = path.join(tmp, 'config.yaml');
    writeFileSync(configFile, daemonConfigYaml({ port, upstreamPort: upstream.port, metricsPort: cmd.kind === 'fallback' ? undefined : metricsPort, healthPort: cmd.kind === 'fallback' ? undefined : healthPort, workers: WORKERS }));
    daemon = startProcess('node-local-dns', runtime.node, [...cmd.args, '--config', configFile], { cwd: ROOT, env: { ...process.env, ...runtime.env } });
    const d = daemon;
    await waitAnswering(port, '_memory-probe.cluster.local', 20_000, () => d.running).catch((err: Error) => {
      throw new Error(`daemon did not start: ${err.message}\n${d.output().slice(-2000)}`);
    });
    await sleep(500);
    const rows: Array<Scrape & { stage: string; rssMiB: number; anonMiB?: number; fileMiB?: number }> = [];
    const record = async (stage: string) => {
      const e = await scrape(metricsPort);
      rows.push({ stage, ...e, rssMiB: mib(d.pid), ...rssParts(d.pid) });
    };
    await record('started');

    const warmNames = zone.fixtures.services.slice(0, 100).map((s) => ({ name: s.name, type: 'A' }));
    await fill(port, warmNames, 'warm-up (100 services)', 'NOERROR');
    await fill(port, warmNames, 'warm-up again (hits)', 'NOERROR');
    await sleep(200);
    await record('after warm-up (100 names)');

    const token = Date.now().toString(36);
    const positives = Array.from({ length: ENTRIES }, (_, i) => ({ name: `p${token}-${i}.${zone.fixtures.wildcard.suffix}`, type: 'A' }));
    const negatives = Array.from({ length: ENTRIES }, (_, i) => ({ name: `nx-${token}-${i}.cluster.local`, type: 'A' }));
    // Denials live 5 s (denial maxTTL 5): fill positives first, negatives last, then measure at once.
    await fill(port, positives, `${ENTRIES} positive names`, 'NOERROR');
    await fill(port, negatives, `${ENTRIES} NXDOMAIN names`, 'NXDOMAIN');
    await record('both caches full');
    await sleep(2000);
    await record('2 s later');

    const full = rows[2]!;
    const warm = rows[1]!;
    const entries = (full.success ?? ENTRIES) + (full.denial ?? ENTRIES);
    const bytesPerEntry = ((full.rssMiB - warm.rssMiB) * MiB) / Math.max(1, entries - (warm.success ?? 0) - (warm.denial ?? 0));
    const f = (v: number | undefined, w: number) => (v === undefined ? '-' : v.toFixed(1)).padStart(w);
    const lines = [
      '',
      `node-local-dns memory (${cmd.note}, workers: ${WORKERS})`,
      `runtime: ${runtime.label}`,
      '',
      'stage                        success  denial  RSS MiB  anon  file  heap  used  code  external',
      '---------------------------  -------  ------  -------  ----  ----  ----  ----  ----  --------',
      ...rows.map(
        (r) =>
          `${r.stage.padEnd(27)}  ${String(r.success ?? '-').padStart(7)}  ${String(r.denial ?? '-').padStart(6)}  ${f(r.rssMiB, 7)}  ${f(r.anonMiB, 4)}  ${f(r.fileMiB, 4)}  ${f(r.heapMiB, 4)}  ${f(r.heapUsedMiB, 4)}  ${f(r.codeMiB, 4)}  ${f(r.externalMiB, 8)}`,
      ),
      '',
      'RSS = anon + file (RssAnon, RssFile of /proc/PID/status; file: pages of the node binary and libraries). heap: V8 heap committed and used; code: V8 code space used; external: memory outside the V8 heap that it accounts (Buffers).',
      `entries -> MiB: ${warm.success ?? 100} + ${warm.denial ?? 0} -> ${warm.rssMiB.toFixed(1)} MiB; ${full.success ?? '?'} + ${full.denial ?? '?'} -> ${full.rssMiB.toFixed(1)} MiB (about ${Math.round(bytesPerEntry)} bytes of RSS per entry)`,
      `targets: <= 64 MiB idle (started): ${rows[0]!.rssMiB <= 64 ? 'ok' : 'NOT MET'}; both caches full add <= 10 MiB: ${full.rssMiB - rows[0]!.rssMiB <= 10 ? 'ok' : 'NOT MET'} (+${(full.rssMiB - rows[0]!.rssMiB).toFixed(1)} MiB)`,
    ];
    if (cmd.kind === 'fallback') lines.push('(entry counts unknown: the fallback launcher serves no metrics)');
    console.log(lines.join('\n'));
  } finally {
    await daemon?.stop(5000);
    await upstream?.stop();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  log(`memory: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exit(1);
});
