// CoreDNS's own flags that node-cache passes through: -plugins lists the Corefile directives this
// build understands and exits; -quiet drops the start banner (CoreDNS: no initialization output)
// while the daemon still logs that it serves.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';
import { SUPPORTED_DIRECTIVES } from '../../src/config/corefile.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const skip = !existsSync(BUNDLE) && 'run npm run build first';
const dir = mkdtempSync(join(tmpdir(), 'nld-flags-'));
let child: ChildProcess | undefined;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('-plugins prints every supported directive as dns.NAME and exits 0', { skip }, () => {
  const run = spawnSync(process.execPath, [BUNDLE, '-plugins'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 0, run.stderr);
  const listed = run.stdout.split('\n').filter((l) => l.startsWith('  dns.')).map((l) => l.trim().slice(4));
  assert.deepEqual(listed, [...SUPPORTED_DIRECTIVES].sort());
  assert.match(run.stdout, /^Server types:\n {2}dns\n/);
});

test('-quiet: no start banner, the daemon still serves and says so', { skip }, async () => {
  const port = await pickFreePort();
  const file = join(dir, 'quiet.yaml');
  writeFileSync(file, `servers:\n  - zones: [example.test]\n    bind: [127.0.0.1]\n    port: ${port}\n    forward: { to: ["127.0.0.1:9"] }\n`);
  let logs = '';
  child = spawn(process.execPath, [BUNDLE, '-quiet', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => logs.includes('node-local-dns serving'), 10_000, 'start', () => logs.slice(-1000));
  assert.doesNotMatch(logs, /Starting node-local-dns/);
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGTERM');
  await exited;
});
