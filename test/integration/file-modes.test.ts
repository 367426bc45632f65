// Files the daemon writes for others are 0644 whatever the umask: the pidfile here (the real
// process, started under umask 000); the generated Corefile in test/unit/config-sources.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';
import { BUNDLE } from '../harness/daemon-process.js';

const dir = mkdtempSync(join(tmpdir(), 'nld-modes-'));
let child: ChildProcess | undefined;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('the pidfile is written 0644 under umask 000, and removed on stop', { skip: !existsSync(BUNDLE) && 'run npm run build first' }, async () => {
  const port = await pickFreePort();
  const config = join(dir, 'config.yaml');
  const pidFile = join(dir, 'nld.pid');
  writeFileSync(config, `servers:\n  - zones: [cluster.local]\n    bind: [127.0.0.1]\n    port: ${port}\n`);
  child = spawn('sh', ['-c', 'umask 000 && exec "$@"', 'sh', process.execPath, BUNDLE, '--config', config, '-pidfile', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => existsSync(pidFile), 10_000, 'pidfile', () => logs.slice(-2000));
  assert.equal(statSync(pidFile).mode & 0o777, 0o644);
  assert.equal(readFileSync(pidFile, 'utf8'), `${child.pid}\n`);
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  assert.equal(existsSync(pidFile), false);
});
