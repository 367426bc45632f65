// Drain before close: queries that are cache misses waiting on a slow upstream when SIGTERM
// arrives are all answered before the process exits (stop receives no more, drains, then closes).
// Runs the built bundle as a real process; the upstream is BIND behind the fault relay in `slow`
// mode (every reply held 800 ms).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { startFaultRelay, type FaultRelay } from '../harness/fault-relay.js';
import { fixtures } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { queryTcp, queryUdp } from '../harness/dns-client.js';
import { clusterBlockYaml } from '../harness/daemon-process.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-drain-'));
let upstream: Upstream | undefined;
let relay: FaultRelay | undefined;
let daemonPid: number | undefined;

after(async () => {
  if (daemonPid) {
    try {
      process.kill(daemonPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await relay?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const readPid = (file: string): number | undefined => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || undefined : undefined);

test('SIGTERM with misses in flight: every one is answered before the process exits', { skip: !existsSync(BUNDLE) && 'run npm run build first' }, async (t) => {
  upstream = await startUpstream({ kind: 'bind' });
  relay = await startFaultRelay({ host: upstream.host, port: upstream.port }, { mode: 'slow', opts: { delayMs: 800 } });
  const port = await pickFreePort();
  const pidFile = join(dir, 'nld.pid');
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    `${clusterBlockYaml(port, relay.address, 'timeout: 5s')}log: { level: warn }
`,
  );
  const child = spawn(process.execPath, [BUNDLE, '--config', configFile, '-pidfile', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemonPid = child.pid;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(() => readPid(pidFile) === child.pid, 10_000, 'daemon to serve', () => stderr);

  const server = { host: '127.0.0.1', port };
  // Distinct wildcard names: each one is a miss held 800 ms by the relay.
  const names = Array.from({ length: 60 }, (_, i) => `drain-${i}.${fixtures.wildcard.suffix}`);
  const lookups = names.map((name, i) =>
    (i % 4 === 0 ? queryTcp(server, name, 'A', { timeoutMs: 4000 }) : queryUdp(server, name, 'A', { timeoutMs: 4000 })).then(
      (r) => r.packet.rcode,
      (err: Error) => `failed: ${err.message}`,
    ),
  );
  await waitFor(() => relay!.stats.tcpQueries >= names.length, 5000, 'every miss to reach the upstream');
  child.kill('SIGTERM');
  const rcodes = await Promise.all(lookups);
  const code = await exited;
  daemonPid = undefined;
  const failed = rcodes.filter((r) => r !== 'NOERROR');
  t.diagnostic(`${names.length} misses in flight at SIGTERM (upstream replies delayed 800 ms), ${failed.length} unanswered`);
  assert.deepEqual(failed, []);
  assert.equal(code, 0, stderr);
  // Stopped receiving before the drain: a query after the exit finds nobody.
  await assert.rejects(queryUdp(server, names[0]!, 'A', { timeoutMs: 300 }));
});
