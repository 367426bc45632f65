// workers: 2 in a real process: both workers answer on the shared sockets, /metrics sums their
// counters, a reload reaches every worker, a killed worker is replaced, and SIGTERM stops all.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { waitFor as waitForCondition } from '../harness/wait.js';
import { queryUdp, queryTcp } from '../harness/dns-client.js';
import dnsPacket from 'dns-packet';
import { instancesAnswering } from '../../src/node/instance-probe.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-workers-'));
let primary: ChildProcess | undefined;
let upstream: Upstream | undefined;
let logs = '';
const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => waitForCondition(check, timeoutMs, what, () => `logs:\n${logs.slice(-2000)}`);

const childPids = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

after(async () => {
  if (primary?.pid) for (const pid of childPids(primary.pid)) process.kill(pid, 'SIGKILL');
  primary?.kill('SIGKILL');
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});


test('two workers share the listeners; metrics, reload, restart and stop cover both', { skip: !existsSync(BUNDLE) && 'run npm run build first' }, async (t) => {
  upstream = await startUpstream({ kind: 'bind' });
  const port = await pickFreePort();
  const metricsPort = await pickFreePort();
  const file = join(dir, 'config.yaml');
  const yaml = (zones: string) => `servers:
  - zones: [${zones}]
    bind: [127.0.0.1]
    port: ${port}
    cache: {}
    forward: { to: ["${upstream!.address}"], forceTCP: true }
metrics: { listen: "127.0.0.1:${metricsPort}" }
workers: 2
`;
  writeFileSync(file, yaml('cluster.local'));
  primary = spawn(process.execPath, [BUNDLE, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  primary.stdout!.on('data', (d) => (logs += d));
  primary.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => logs.includes('node-local-dns serving'), 15_000, 'start');
  await waitFor(() => childPids(primary!.pid!).length === 2, 5000, 'two workers');
  const server = { host: '127.0.0.1', port };

  // Both workers serve: the cluster module hands TCP connections to the workers in turn, and
  // id.server names the process that answered. (Over UDP, whichever worker wakes first reads the
  // shared socket, so one worker may take every datagram of a light load.)
  const ids = new Set<string>();
  for (let i = 0; i < 8 && ids.size < 2; i++) {
    const raw = dnsPacket.encode({ type: 'query', id: i + 1, questions: [{ name: 'id.server', type: 'TXT', class: 'CH' }] });
    const { packet } = await queryTcp(server, 'id.server', 'TXT', { raw });
    const txt = packet.answers[0] as { data: Buffer[] };
    ids.add(Buffer.concat(txt.data).toString());
  }
  assert.equal(ids.size, 2, `answering instances: ${[...ids].join(', ')}`);
  assert.ok((await instancesAnswering('127.0.0.1', port, 8, 1000)).size >= 1, 'UDP answered too');

  const names = fixtures.services.slice(0, 100).map((s) => s.name);
  const replies = await Promise.all(names.map((n) => queryUdp(server, n, 'A', { timeoutMs: 3000 })));
  for (const r of replies) assert.equal(r.packet.rcode, 'NOERROR');
  assert.equal((await queryTcp(server, names[0], 'A')).packet.rcode, 'NOERROR');
  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const requests = (text: string, proto: string) =>
    Number(new RegExp(`^coredns_dns_requests_total\\{family="1",proto="${proto}",server="dns://127.0.0.1:${port}",type="A",view="",zone="cluster.local."\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const text = await scrape();
  assert.equal(requests(text, 'udp'), 100, 'UDP requests summed over both workers');
  assert.equal(requests(text, 'tcp'), 1);

  // A reload (SIGUSR1) reaches both workers: the reverse zone is answered by whichever reads.
  writeFileSync(file, yaml('cluster.local, 10.in-addr.arpa'));
  primary.kill('SIGUSR1');
  const ptr = fixtures.ptrs[0];
  await waitFor(async () => (await queryUdp(server, ptr.name, 'PTR')).packet.rcode === 'NOERROR', 8000, 'reload');
  const rcodes = await Promise.all(Array.from({ length: 40 }, () => queryUdp(server, ptr.name, 'PTR').then((r) => r.packet.rcode)));
  assert.deepEqual([...new Set(rcodes)], ['NOERROR'], 'every worker reloaded');

  // A killed worker is replaced; counters of the dead one are kept.
  const [victim] = childPids(primary.pid!);
  process.kill(victim, 'SIGKILL');
  await waitFor(() => childPids(primary!.pid!).length === 2 && !childPids(primary!.pid!).includes(victim), 8000, 'replacement worker');
  assert.ok(requests(await scrape(), 'udp') >= 100, 'counters do not go backwards after a worker dies');
  t.diagnostic(`workers answering: ${[...ids].join(', ')}`);

  primary.kill('SIGTERM');
  await waitFor(() => primary!.exitCode !== null, 10_000, 'exit');
  assert.equal(primary.exitCode, 0);
});
