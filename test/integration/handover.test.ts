// Restart without a gap: SIGUSR2 makes the running daemon start a successor on its own sockets,
// and a client sending a continuous mix of cache hits and misses loses no lookup across it.
// Runs the built bundle (dist/node-local-dns.cjs) as a real process, with one worker and (Node >=
// 22.12) with two worker threads.
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { queryUdp } from '../harness/dns-client.js';
import dnsPacket from 'dns-packet';
import { REUSE_PORT_SUPPORTED } from '../../src/util/features.js';
import { killAll } from '../harness/processes.js';
import { clusterBlockYaml } from '../harness/daemon-process.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-handover-'));
const pids = new Set<number>();
let upstream: Upstream | undefined;

const pidFilesForCleanup: string[] = [];

after(async () => {
  // The successor is detached: whatever the test's outcome, kill the process each pidfile names.
  for (const file of pidFilesForCleanup) {
    const last = readPid(file);
    if (last) pids.add(last);
  }
  killAll(pids);
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** id.server answers to `count` queries from fresh sockets (SO_REUSEPORT spreads them over the workers). */
async function workersAnswering(port: number, count = 32): Promise<Set<string>> {
  const ask = () => {
    const raw = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'id.server', type: 'TXT', class: 'CH' }] });
    return queryUdp({ host: '127.0.0.1', port }, 'id.server', 'TXT', { raw }).then(
      (r) => Buffer.concat((r.packet.answers[0] as { data: Buffer[] }).data).toString(),
      () => '',
    );
  };
  return new Set((await Promise.all(Array.from({ length: count }, ask))).filter(Boolean));
}

const readPid = (file: string): number | undefined => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || undefined : undefined);


test('SIGUSR2 hands the sockets to a successor and no lookup is lost under load', { skip: !existsSync(BUNDLE) && 'run npm run build first' }, (t) => handOverUnderLoad(t, 1));

test('workers: 2: worker 0 hands its sockets over, the other worker leaves the SO_REUSEPORT group; no lookup is lost', { skip: (!REUSE_PORT_SUPPORTED && 'workers > 1 needs Node >= 22.12') || (!existsSync(BUNDLE) && 'run npm run build first') }, (t) =>
  handOverUnderLoad(t, 2),
);

async function handOverUnderLoad(t: TestContext, workers: number): Promise<void> {
  upstream ??= await startUpstream({ kind: 'bind' });
  const port = await pickFreePort();
  const healthPort = await pickFreePort();
  const pidFile = join(dir, `nld-${workers}.pid`);
  pidFilesForCleanup.push(pidFile);
  const configFile = join(dir, `config-${workers}.yaml`);
  writeFileSync(
    configFile,
    `${clusterBlockYaml(port, upstream.address)}health: { listen: "127.0.0.1:${healthPort}" }
log: { level: warn }
workers: ${workers}
`,
  );
  const first = spawn(process.execPath, [BUNDLE, '--config', configFile, '-pidfile', pidFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  pids.add(first.pid!);
  await waitFor(() => readPid(pidFile) === first.pid, 10_000, 'first daemon');
  if (workers > 1) assert.equal((await workersAnswering(port)).size, workers, 'every worker answers before');

  const server = { host: '127.0.0.1', port };
  const hits = fixtures.services.slice(0, 20).map((s) => s.name);
  let sent = 0;
  let answered = 0;
  const failures: string[] = [];
  let running = true;
  // Bounded load: 8 concurrent clients, each lookup waits up to 2 s, stops after 20 s at most.
  const deadline = Date.now() + 20_000;
  const client = async (worker: number) => {
    let i = 0;
    while (running && Date.now() < deadline) {
      const name = i % 5 === 0 ? `w${worker}-${i}.${fixtures.wildcard.suffix}` : hits[i % hits.length];
      i++;
      sent++;
      try {
        const { packet } = await queryUdp(server, name, 'A', { timeoutMs: 2000 });
        if (packet.rcode === 'NOERROR') answered++;
        else failures.push(`${name}: ${packet.rcode}`);
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, w) => client(w)));
  await new Promise((r) => setTimeout(r, 700));
  first.kill('SIGUSR2');
  await waitFor(() => first.exitCode !== null, 10_000, 'old process to exit');
  const successor = readPid(pidFile);
  assert.ok(successor && successor !== first.pid, 'successor wrote the pidfile');
  pids.add(successor);
  await new Promise((r) => setTimeout(r, 700));
  running = false;
  await load;
  assert.equal(first.exitCode, 0);
  assert.ok(sent > 200, `sent ${sent}`);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} lookups failed`);
  assert.equal(answered, sent);
  t.diagnostic(`${sent} lookups across the handover (20% cache misses), ${sent - answered} lost`);
  // The successor is serving and healthy.
  assert.equal((await queryUdp(server, hits[0], 'A')).packet.rcode, 'NOERROR');
  await waitFor(async () => (await fetch(`http://127.0.0.1:${healthPort}/health`).then((r) => r.status).catch(() => 0)) === 200, 5000, 'successor health');
  if (workers > 1) {
    const ids = [...(await workersAnswering(port))];
    assert.equal(ids.length, workers, `the successor's workers answer: ${ids.join(', ')}`);
    assert.ok(ids.every((id) => id.includes(`/${successor}/`)), `only the successor answers: ${ids.join(', ')}`);
  }
  process.kill(successor, 'SIGTERM');
  await waitFor(() => !existsSync(pidFile), 5000, 'successor to stop');
  pids.delete(successor);
}
