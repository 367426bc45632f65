// The image entrypoint (deploy/image/iptables-mode.sh) as a restart supervisor, with the real
// bundle on 127.0.0.1: a daemon killed by SIGKILL is serving again within about a second (not after
// kubelet's CrashLoop backoff), repeated crashes double the delay, a stable run resets it, and
// SIGTERM to the entrypoint stops everything without a restart. The iptables backend selection is
// skipped (NLD_SELECT_IPTABLES=0): nothing on the host is touched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';
import { queryUdp } from '../harness/dns-client.js';

const BUNDLE = join(process.cwd(), 'dist/node-local-dns.cjs');
const ENTRYPOINT = join(process.cwd(), 'deploy/image/iptables-mode.sh');
const dir = mkdtempSync(join(tmpdir(), 'nld-supervisor-'));
const pidFile = join(dir, 'nld.pid');
const killAtEnd = new Set<number>();

after(() => {
  for (const pid of killAtEnd) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const readPid = (): number => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0);

test('entrypoint restart supervisor: SIGKILL → serving again within ~1 s, backoff doubles, a stable run resets it, SIGTERM stops', { skip: !existsSync(BUNDLE) && 'run npm run build first', timeout: 60_000 }, async (t) => {
  const port = await pickFreePort();
  const config = join(dir, 'config.yaml');
  // The "." zone answers REFUSED without an upstream: enough to see the daemon serve, no traffic leaves.
  writeFileSync(config, `servers:\n  - zones: [example.test]\n    bind: [127.0.0.1]\n    port: ${port}\nlog: { level: warn }\n`);
  const entry = spawn('sh', [ENTRYPOINT, '--config', config, '-pidfile', pidFile], {
    env: { ...process.env, NLD_NODE: process.execPath, NLD_BUNDLE: BUNDLE, NLD_SELECT_IPTABLES: '0', NLD_RESTART_DELAY_MS: '200', NLD_RESTART_STABLE_S: '3' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  killAtEnd.add(entry.pid!);
  let stderr = '';
  entry.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => entry.on('exit', (code) => r(code)));
  const serving = async () => (await queryUdp({ host: '127.0.0.1', port }, 'a.example.test', 'A', { timeoutMs: 200 }).then(() => true, () => false));

  await waitFor(async () => readPid() > 0 && (await serving()), 15_000, 'first daemon', () => stderr);
  const restartTimes: number[] = [];
  const delays: string[] = [];
  // Three crashes in a row: 200, 400, 800 ms.
  for (let i = 0; i < 3; i++) {
    const pid = readPid();
    killAtEnd.add(pid);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => readPid() !== pid && (await serving()), 10_000, `restart ${i + 1}`, () => stderr);
    restartTimes.push(Date.now() - killedAt);
    killAtEnd.add(readPid());
  }
  for (const m of stderr.matchAll(/daemon was killed by signal 9 after \d+s; restarting in (\d+) ms \(restart (\d+)\)/g)) delays.push(`${m[2]}:${m[1]}`);
  assert.deepEqual(delays, ['1:200', '2:400', '3:800'], stderr);
  // Serving again = restart delay + node start; the first one must be within about a second.
  assert.ok(restartTimes[0]! < 2500, `first restart took ${restartTimes[0]} ms`);
  t.diagnostic(`killed → serving again: ${restartTimes.join(', ')} ms (restart delays 200, 400, 800 ms)`);

  // A run longer than NLD_RESTART_STABLE_S resets the backoff.
  await new Promise((r) => setTimeout(r, 3500));
  const pid = readPid();
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => readPid() !== pid && (await serving()), 10_000, 'restart after a stable run', () => stderr);
  killAtEnd.add(readPid());
  assert.match(stderr, /killed by signal 9 after [3-9]s; restarting in 200 ms \(restart 1\)/);

  // SIGTERM to the entrypoint: forwarded, the daemon stops (and removes its pidfile), no restart.
  entry.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.equal(existsSync(pidFile), false, 'the daemon removed its pidfile on a clean stop');
  assert.equal(await serving(), false, 'nothing serves after the stop');
  assert.doesNotMatch(stderr.split('restart 1)').at(-1)!, /restarting/);
});
