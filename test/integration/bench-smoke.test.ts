// Smoke test of `npm run bench`: the quickest mode, our daemon and the bare responder only, 1 s
// runs. Checks that the bench runs end to end and writes JSON with positive QPS; the figures
// themselves are not asserted (this machine may be busy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function haveDnsperf(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, 'dnsperf')));
}

test('bench quick mode measures node-local-dns and the bare responder', { timeout: 90_000 }, async (t) => {
  if (!haveDnsperf()) {
    t.skip('dnsperf is not installed (bash scripts/install-test-deps.sh)');
    return;
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'nld-bench-smoke-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      BENCH_QUICK: '1',
      BENCH_SERVERS: 'nld,bare',
      BENCH_SECONDS: '1',
      BENCH_REPEATS: '1',
      BENCH_MISS_NAMES: '1000',
      BENCH_MIXED_QUERIES: '10000',
      BENCH_QUIET_MAX_S: '0',
      BENCH_SKIP_INSTALL: '1',
      BENCH_OUT_DIR: out,
      BENCH_NODE: 'current', // the servers run on this test's runtime (each CI leg checks its own)
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const killer = setTimeout(() => child.kill('SIGTERM'), 75_000); // bench kills its servers on SIGTERM
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, `bench exited with ${code}:\n${output.slice(-4000)}`);

  const report = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as {
    environment: Record<string, string>;
    servers: Array<{ id: string; error?: string; workloads: Array<{ workload: string; qps: number; cpuUsPerQuery: number }> }>;
  };
  assert.deepEqual(report.servers.map((s) => s.id), ['nld', 'bare']);
  // Every report names the runtime and the flags its figures come from.
  assert.match(report.environment.runtime ?? '', new RegExp(`Node ${process.version.replace(/\./g, '\\.')} .*NODE_OPTIONS=`));
  assert.match(readFileSync(path.join(out, 'latest.md'), 'utf8'), new RegExp(`Runtime: .*Node ${process.version.replace(/\./g, '\\.')}`));
  for (const s of report.servers) {
    assert.equal(s.error, undefined, `${s.id} failed: ${s.error}`);
    const ids = s.workloads.map((w) => w.workload);
    const want = s.id === 'bare' ? ['hit-max', 'hit-fixed', 'hit-half'] : ['hit-max', 'hit-fixed', 'hit-half', 'miss', 'mixed'];
    assert.deepEqual(ids, want);
    for (const w of s.workloads) assert.ok(w.qps > 0, `${s.id} ${w.workload}: qps ${w.qps}`);
  }
  assert.ok(existsSync(path.join(out, 'latest.md')));
  assert.match(readFileSync(path.join(out, 'latest.svg'), 'utf8'), /^<svg /);
  assert.match(output, /hit-max/);
});
