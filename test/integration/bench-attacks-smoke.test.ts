// Smoke test of `npm run bench:attacks`: its --quick mode (one attack, datagrams from source port
// 0, against the bundle on the Node running the suite) runs end to end and reports the daemon
// alive and answering afterwards. Needs root (raw socket) and python3, like the attack itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const skip =
  (!existsSync(path.join(ROOT, 'dist/node-local-dns.cjs')) && 'run npm run build first') ||
  (process.getuid?.() !== 0 && 'needs root (raw socket, prlimit)') ||
  (spawnSync('python3', ['--version']).status !== 0 && 'needs python3');

test('bench:attacks --quick: the daemon survives datagrams from source port 0 and answers after', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nld-attacks-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'attacks.md');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/attacks.ts', '--quick'], {
    cwd: ROOT,
    env: { ...process.env, BENCH_NODE: 'current', ATTACKS_OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const killer = setTimeout(() => child.kill('SIGTERM'), 50_000); // the script kills its servers on SIGTERM
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, `bench:attacks exited with ${code}:\n${output.slice(-3000)}`);
  const report = readFileSync(out, 'utf8');
  const row = report.split('\n').find((l) => l.startsWith('| node-local-dns (now) |'));
  assert.ok(row, report);
  const [alive, , answered] = row.split('|').slice(2, 5).map((c) => c.trim());
  assert.equal(alive, 'yes', row);
  assert.equal(answered, '4/4', row);
});
