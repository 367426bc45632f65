// Hot reload in a real process: a changed config file is applied in place (same sockets, cache
// kept, no lookup dropped under load); a bad file keeps the last good config, is logged with
// file:line and counted in coredns_reload_failed_total; SIGUSR1 reloads too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { waitFor as waitForCondition } from '../harness/wait.js';
import { queryUdp } from '../harness/dns-client.js';
import { configFromYaml, startDaemon as startInProcess } from '../harness/daemon.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-reload-'));
let child: ChildProcess | undefined;
let upstream: Upstream | undefined;
let logs = '';
const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => waitForCondition(check, timeoutMs, what, () => `logs:\n${logs.slice(-2000)}`);

after(async () => {
  child?.kill('SIGKILL');
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});


const yaml = (port: number, metricsPort: number, zones: string, capacity = 1000) => `servers:
  - zones: [${zones}]
    bind: [127.0.0.1]
    port: ${port}
    cache: { success: { capacity: ${capacity}, maxTTL: 30 }, denial: { capacity: 1000, maxTTL: 5 } }
    forward: { to: ["${upstream!.address}"], forceTCP: true }
metrics: { listen: "127.0.0.1:${metricsPort}" }
`;

test('config changes apply in place; bad configs keep the last good one', { skip: !existsSync(BUNDLE) && 'run npm run build first' }, async (t) => {
  upstream = await startUpstream({ kind: 'bind' });
  const port = await pickFreePort();
  const metricsPort = await pickFreePort();
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml(port, metricsPort, 'cluster.local'));
  child = spawn(process.execPath, [BUNDLE, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => logs.includes('node-local-dns serving'), 10_000, 'start');
  const server = { host: '127.0.0.1', port };
  const svc = fixtures.services[1];
  const ptr = fixtures.ptrs[0];
  assert.equal((await queryUdp(server, svc.name, 'A')).packet.rcode, 'NOERROR');
  assert.equal((await queryUdp(server, ptr.name, 'PTR')).packet.rcode, 'REFUSED', 'reverse zone not served yet');

  // Continuous bounded load across both reloads.
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const load = (async () => {
    const until = Date.now() + 20_000;
    while (running && Date.now() < until) {
      sent++;
      try {
        const { packet } = await queryUdp(server, svc.name, 'A', { timeoutMs: 2000 });
        if (packet.rcode !== 'NOERROR') failures.push(packet.rcode);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();

  // 1. A valid change (new zone) is picked up by the file watcher.
  writeFileSync(file, yaml(port, metricsPort, 'cluster.local, 10.in-addr.arpa'));
  await waitFor(async () => (await queryUdp(server, ptr.name, 'PTR')).packet.rcode === 'NOERROR', 8000, 'reload adding the reverse zone');
  assert.equal(await upstream.queryCount({ name: svc.name, type: 'A' }), 1, 'cache kept across the reload');

  // 2. A bad file: logged with file:line and field, counted, old config keeps serving.
  writeFileSync(file, yaml(port, metricsPort, 'cluster.local, 10.in-addr.arpa', -5));
  await waitFor(() => /config\.yaml:5 servers\[0\]\.cache\.success\.capacity: must be >= 1, got -5/.test(logs), 8000, 'error log');
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /^coredns_reload_failed_total 1$/m);
  assert.equal((await queryUdp(server, ptr.name, 'PTR')).packet.rcode, 'NOERROR', 'last good config still serves');

  // 3. Fixed again, applied on SIGUSR1 without waiting for the watcher.
  writeFileSync(file, yaml(port, metricsPort, 'cluster.local'));
  child.kill('SIGUSR1');
  await waitFor(async () => (await queryUdp(server, ptr.name, 'PTR')).packet.rcode === 'REFUSED', 8000, 'reload removing the reverse zone');

  running = false;
  await load;
  t.diagnostic(`${sent} lookups during three reloads, ${failures.length} failed`);
  assert.deepEqual(failures, []);
  child.kill('SIGTERM');
  await waitFor(() => child!.exitCode !== null, 5000, 'exit');
  assert.equal(child.exitCode, 0);
});

test('a reload keeps one forwarder per block: two blocks with the same forward settings do not end up sharing one', async () => {
  const yaml = (extraZone: string) => `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: 0
    forward: { to: ["127.0.0.1:9"], forceTCP: true }
  - zones: [in-addr.arpa${extraZone}]
    bind: [127.0.0.1]
    port: 0
    forward: { to: ["127.0.0.1:9"], forceTCP: true }
`;
  const nld = await startInProcess(yaml(''));
  try {
    assert.equal(new Set(nld.daemon.forwarders()).size, 2, 'one forwarder per block at start');
    const before = nld.daemon.forwarders();
    const result = await nld.daemon.reload(configFromYaml(yaml(', ip6.arpa')));
    assert.equal(result.ok, true);
    const after = nld.daemon.forwarders();
    assert.equal(new Set(after).size, 2, 'still one forwarder per block after the reload');
    assert.ok(after.every((f) => before.includes(f)), 'both forwarders (and their pools) were kept');
  } finally {
    await nld.stop();
  }
});
