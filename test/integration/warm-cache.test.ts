// Warm start across restarts (src/cache/snapshot.ts): a successor begins with its predecessor's
// cache, with the expiry times kept.
//   - SIGUSR2 handover: the snapshot travels with the sockets; on names only the predecessor had
//     cached, the successor's hit ratio in its first seconds is >= 90% of the predecessor's.
//   - restart with NLD_CACHE_SNAPSHOT: written when shutdown begins, read by the next start.
//   - surge: a daemon already running beside the one that stops merges the snapshot it writes.
//   - cold start (no predecessor, no file): nothing restored, the first lookups are misses.
// Runs the built bundle as real processes against BIND on 127.0.0.1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { queryUdp } from '../harness/dns-client.js';
import { killAll } from '../harness/processes.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-warm-'));
const pids = new Set<number>();
let upstream: Upstream | undefined;

after(async () => {
  killAll(pids);
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0);
const NAMES = fixtures.services.slice(0, 150).map((s) => s.name);

interface Setup {
  port: number;
  metricsPort: number;
  config: string;
  pidFile: string;
}

async function setup(name: string): Promise<Setup> {
  upstream ??= await startUpstream({ kind: 'bind' });
  const port = await pickFreePort();
  const metricsPort = await pickFreePort();
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: ${port}
    cache: { success: { capacity: 1000, maxTTL: 300 }, denial: { capacity: 1000, maxTTL: 30 } }
    forward: { to: ["${upstream.address}"], forceTCP: true }
metrics: { listen: "127.0.0.1:${metricsPort}" }
log: { level: info }
`,
  );
  return { port, metricsPort, config, pidFile: join(dir, `${name}.pid`) };
}

function startDaemon(s: Setup, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; logs: () => string } {
  const child = spawn(process.execPath, [BUNDLE, '--config', s.config, '-pidfile', s.pidFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  pids.add(child.pid!);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, logs: () => out };
}

const metricsUp = (s: Setup) => fetch(`http://127.0.0.1:${s.metricsPort}/metrics`).then((r) => r.ok, () => false);

async function cacheCounters(s: Setup): Promise<{ requests: number; hits: number }> {
  const text = await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`).then((r) => r.text());
  const sum = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return { requests: sum('coredns_cache_requests_total'), hits: sum('coredns_cache_hits_total') };
}

/** One pass over NAMES; returns the cache hit ratio of that pass (from the daemon's own counters). */
async function pass(s: Setup): Promise<number> {
  const before = await cacheCounters(s);
  for (const name of NAMES) {
    const r = await queryUdp({ host: '127.0.0.1', port: s.port }, name, 'A', { timeoutMs: 2000 });
    assert.equal(r.packet.rcode, 'NOERROR');
  }
  const after = await cacheCounters(s);
  return (after.hits - before.hits) / (after.requests - before.requests);
}

test('warm start: SIGUSR2 successor, NLD_CACHE_SNAPSHOT restart, cold start', { skip: !existsSync(BUNDLE) && 'run npm run build first', timeout: 90_000 }, async (t) => {
  // --- handover
  const h = await setup('handover');
  const a = startDaemon(h);
  await waitFor(async () => readPid(h.pidFile) === a.child.pid && (await metricsUp(h)), 10_000, 'daemon A', a.logs);
  const coldRatio = await pass(h); // fills A's cache
  const ratioA = await pass(h);
  assert.equal(coldRatio, 0, 'a cold start restores nothing: the first pass misses');
  assert.ok(ratioA > 0.99, `A's hit ratio on its own names ${ratioA}`);
  const upstreamBefore = await upstream!.queryCount();
  a.child.kill('SIGUSR2');
  await waitFor(() => a.child.exitCode !== null, 15_000, 'A to hand over and exit', a.logs);
  const successor = readPid(h.pidFile);
  assert.ok(successor > 0 && successor !== a.child.pid, 'the successor wrote the pidfile');
  pids.add(successor);
  const started = Date.now();
  await waitFor(() => metricsUp(h), 10_000, 'successor metrics');
  const ratioB = await pass(h);
  const within = Date.now() - started;
  t.diagnostic(`handover: A's hit ratio ${ratioA.toFixed(3)}, successor's first pass ${ratioB.toFixed(3)} (${NAMES.length} names, ${within} ms after A exited), upstream queries meanwhile ${(await upstream!.queryCount()) - upstreamBefore}`);
  assert.ok(within < 10_000, 'the pass ran within the first 10 s');
  assert.ok(ratioB >= 0.9 * ratioA, `successor's hit ratio ${ratioB} >= 90% of A's ${ratioA}`);
  process.kill(successor, 'SIGTERM');
  await waitFor(() => !existsSync(h.pidFile), 10_000, 'successor to stop');

  // --- restart through the snapshot file, expiry kept
  const f = await setup('file');
  const file = join(dir, 'cache.snapshot');
  const env = { NLD_CACHE_SNAPSHOT: file };
  const c = startDaemon(f, env);
  await waitFor(async () => readPid(f.pidFile) === c.child.pid && (await metricsUp(f)), 10_000, 'daemon C', c.logs);
  assert.equal(await pass(f), 0, 'no snapshot file yet: a cold start');
  const ratioC = await pass(f);
  const ttlBefore = (await queryUdp({ host: '127.0.0.1', port: f.port }, NAMES[0]!, 'A')).packet.answers[0]!.ttl!;
  c.child.kill('SIGTERM');
  await waitFor(() => c.child.exitCode !== null, 10_000, 'C to stop', c.logs);
  assert.ok(existsSync(file), 'snapshot written on shutdown');
  await new Promise((r) => setTimeout(r, 1100));
  const d = startDaemon(f, env);
  await waitFor(async () => readPid(f.pidFile) === d.child.pid && (await metricsUp(f)), 10_000, 'daemon D', d.logs);
  const ttlAfter = (await queryUdp({ host: '127.0.0.1', port: f.port }, NAMES[0]!, 'A')).packet.answers[0]!.ttl!;
  const ratioD = await pass(f);
  t.diagnostic(`file: C's hit ratio ${ratioC.toFixed(3)}, D's first pass ${ratioD.toFixed(3)}; TTL ${ttlBefore} s before the restart, ${ttlAfter} s after`);
  assert.ok(ratioD >= 0.9 * ratioC, `D's hit ratio ${ratioD} >= 90% of C's ${ratioC}`);
  assert.ok(ttlAfter < ttlBefore, 'the expiry is kept: the TTL went on counting down across the restart');
  assert.match(d.logs(), /warm start: \d+ cache entries restored/);

  // --- surge: E starts beside D (another port here: Node 20 has no SO_REUSEPORT) and merges the
  // snapshot D writes when its shutdown begins.
  const e = await setup('surge');
  rmSync(file); // E starts cold: only the merge can warm it
  const eDaemon = startDaemon(e, env);
  await waitFor(async () => readPid(e.pidFile) === eDaemon.child.pid && (await metricsUp(e)), 10_000, 'daemon E', eDaemon.logs);
  await pass(f); // D answers (and refreshes) the names
  d.child.kill('SIGTERM');
  await waitFor(() => d.child.exitCode !== null, 10_000, 'D to stop');
  await waitFor(() => /merged \d+ cache entries another daemon wrote/.test(eDaemon.logs()), 5000, 'E to merge D\'s snapshot', eDaemon.logs);
  const ratioE = await pass(e);
  t.diagnostic(`surge: E's first pass after D stopped ${ratioE.toFixed(3)}`);
  assert.ok(ratioE >= 0.9 * ratioC, `E's hit ratio ${ratioE} >= 90% of C's ${ratioC}`);
  eDaemon.child.kill('SIGTERM');
  await waitFor(() => eDaemon.child.exitCode !== null, 10_000, 'E to stop');
});
