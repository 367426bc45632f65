// workers: 2 in a real process. On Node >= 22.12: one process, two DNS workers (the main thread and
// a worker thread) with their own SO_REUSEPORT sockets; a name cached through one worker is a hit
// through the other (both ways); /metrics sums their counters and counts shared entries once; a
// reload reaches both; SIGTERM stops all; a worker thread that crashes is replaced, its counters
// kept, and fills reach the new one. On older Node, workers > 1 is a config error naming the field.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { waitFor as waitForCondition } from '../harness/wait.js';
import { decodeResponse, queryUdp, type DnsResponse } from '../harness/dns-client.js';
import { REUSE_PORT_SUPPORTED } from '../../src/util/features.js';
import { WorkerPool } from '../../src/cluster/primary.js';
import { configFromYaml } from '../harness/daemon.js';
import { silentLogger } from '../../src/log/logger.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const dir = mkdtempSync(join(tmpdir(), 'nld-workers-'));
let daemon: ChildProcess | undefined;
let upstream: Upstream | undefined;
const clients: PinnedClient[] = [];
let logs = '';
const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => waitForCondition(check, timeoutMs, what, () => `logs:\n${logs.slice(-2000)}`);

after(async () => {
  for (const c of [...clients]) c.close();
  daemon?.kill('SIGKILL');
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const childPids = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/**
 * A UDP client on one local port. SO_REUSEPORT picks the listening socket by a hash of the
 * 4-tuple, so every query from this client reaches the same worker, which id.server names.
 */
class PinnedClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (p: DnsResponse) => void>();
  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
  ) {
    socket.on('message', (msg) => {
      const packet = decodeResponse(msg);
      this.waiting.get(packet.id)?.(packet);
      this.waiting.delete(packet.id);
    });
  }

  static async open(port: number): Promise<PinnedClient> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const client = new PinnedClient(socket, port);
    clients.push(client);
    return client;
  }

  query(name: string, type: dnsPacket.RecordType, klass: dnsPacket.RecordClass = 'IN'): Promise<DnsResponse> {
    const id = this.nextId++;
    const wire = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: klass }] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no reply to ${name} ${type} within 3 s`));
      }, 3000);
      this.waiting.set(id, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
      this.socket.send(wire, this.port, '127.0.0.1');
    });
  }

  async worker(): Promise<string> {
    const reply = await this.query('id.server', 'TXT', 'CH');
    return Buffer.concat((reply.answers[0] as { data: Buffer[] }).data).toString();
  }

  close(): void {
    const i = clients.indexOf(this);
    if (i >= 0) clients.splice(i, 1);
    this.socket.close();
  }
}

/** A client pinned to the worker `id.server` names `id` (other clients are closed), or undefined after 64 tries. */
async function clientOf(port: number, id: string): Promise<PinnedClient | undefined> {
  for (let i = 0; i < 64; i++) {
    const client = await PinnedClient.open(port);
    if ((await client.worker().catch(() => '')) === id) return client;
    client.close();
  }
  return undefined;
}

function startDaemon(file: string): ChildProcess {
  const child = spawn(process.execPath, [BUNDLE, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  return child;
}

test('workers > 1 on Node without SO_REUSEPORT is a config error naming the field', { skip: (REUSE_PORT_SUPPORTED && 'this Node has SO_REUSEPORT') || (!existsSync(BUNDLE) && 'run npm run build first') }, async () => {
  const file = join(dir, 'old-node.yaml');
  writeFileSync(file, `servers:\n  - zones: [cluster.local]\n    port: 5399\n    forward: { to: ["127.0.0.1:9"] }\nworkers: 2\n`);
  daemon = startDaemon(file);
  const [code] = await once(daemon, 'exit');
  assert.equal(code, 1);
  assert.match(logs, /old-node\.yaml:5 workers: workers > 1 needs Node >= 22\.12 \(SO_REUSEPORT\); this is Node 2\d\./);
});

test('two worker threads: shared cache, summed metrics, reload and stop', { skip: (!REUSE_PORT_SUPPORTED && 'needs Node >= 22.12') || (!existsSync(BUNDLE) && 'run npm run build first') }, async (t) => {
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
  daemon = startDaemon(file);
  await waitFor(() => logs.includes('"workers":2') && logs.includes('node-local-dns serving'), 15_000, 'start');
  assert.deepEqual(childPids(daemon.pid!), [], 'workers are threads of one process, not child processes');

  // One pinned client per worker: new local ports until id.server has named both workers.
  const byWorker = new Map<string, PinnedClient>();
  for (let i = 0; i < 64 && byWorker.size < 2; i++) {
    const client = await PinnedClient.open(port);
    const id = await client.worker();
    if (!byWorker.has(id)) byWorker.set(id, client);
  }
  assert.equal(byWorker.size, 2, `workers seen: ${[...byWorker.keys()].join(', ')}`);
  const [[idA, a], [idB, b]] = [...byWorker.entries()];
  assert.equal(await a.worker(), idA, 'a client stays with its worker');
  const processId = idA.length < idB.length ? idA : idB;
  assert.ok((idA + idB).includes(`${processId}/w1`), `one process id, worker 1 suffixed: ${idA}, ${idB}`);

  // A name cached through one worker is a hit through the other, both ways: the cache counters
  // (summed over workers) show a miss per name, then a hit per name from the other worker.
  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  /** The value of the series `name` whose labels include `want`. */
  const series = (text: string, name: string, want: Record<string, string>) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(want).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0; // a counter still at 0 may be absent
  };
  const cache = { server: `dns://127.0.0.1:${port}`, zones: 'cluster.local.' };
  const counts = async () => {
    const text = await scrape();
    return { misses: series(text, 'coredns_cache_misses_total', cache), hits: series(text, 'coredns_cache_hits_total', { ...cache, type: 'success' }) };
  };
  const [one, two] = [fixtures.services[100]!.name, fixtures.services[101]!.name];
  const missA = await a.query(one, 'A');
  const missB = await b.query(two, 'A');
  assert.equal(missA.rcode, 'NOERROR');
  assert.equal(missB.rcode, 'NOERROR');
  assert.deepEqual(await counts(), { misses: 2, hits: 0 });
  await sleep(1000); // fills cross between workers within an event-loop turn; generous margin
  const hitB = await b.query(one, 'A');
  const hitA = await a.query(two, 'A');
  assert.deepEqual(await counts(), { misses: 2, hits: 2 }, 'each name cached through one worker is a hit through the other');
  assert.deepEqual(hitB.answers!.map((r) => (r as { data: string }).data), missA.answers!.map((r) => (r as { data: string }).data));
  assert.deepEqual(hitA.answers!.map((r) => (r as { data: string }).data), missB.answers!.map((r) => (r as { data: string }).data));
  assert.ok((hitB.answers![0] as { ttl: number }).ttl <= (missA.answers![0] as { ttl: number }).ttl, 'the TTL counts down from the same store time');

  // Many clients (random source ports): both workers answer; counters are summed; the shared
  // entries are counted once (each worker holds all 102), not twice.
  const names = fixtures.services.slice(0, 100).map((s) => s.name);
  const replies = await Promise.all(names.map((n) => queryUdp({ host: '127.0.0.1', port }, n, 'A', { timeoutMs: 3000 })));
  for (const r of replies) assert.equal(r.packet.rcode, 'NOERROR');
  const requests = (text: string) => series(text, 'coredns_dns_requests_total', { family: '1', proto: 'udp', server: `dns://127.0.0.1:${port}`, type: 'A', zone: 'cluster.local.' });
  let text = '';
  await waitFor(async () => series((text = await scrape()), 'coredns_cache_entries', { ...cache, type: 'success' }) === 102, 5000, 'shared entries');
  assert.equal(requests(text), 104, 'UDP requests summed over both workers');

  // A reload (SIGUSR1) reaches both workers: each pinned client, and many others, get answers
  // for the zone the reload added.
  writeFileSync(file, yaml('cluster.local, 10.in-addr.arpa'));
  daemon.kill('SIGUSR1');
  const ptr = fixtures.ptrs[0]!;
  await waitFor(async () => (await a.query(ptr.name, 'PTR')).rcode === 'NOERROR' && (await b.query(ptr.name, 'PTR')).rcode === 'NOERROR', 8000, 'reload');
  const rcodes = await Promise.all(Array.from({ length: 40 }, () => queryUdp({ host: '127.0.0.1', port }, ptr.name, 'PTR').then((r) => r.packet.rcode)));
  assert.deepEqual([...new Set(rcodes)], ['NOERROR'], 'every worker reloaded');
  t.diagnostic(`workers answering: ${idA}, ${idB}`);

  daemon.kill('SIGTERM');
  await waitFor(() => daemon!.exitCode !== null, 10_000, 'exit');
  assert.equal(daemon.exitCode, 0);
});

test('a worker thread that crashes is replaced; its counters stay and fills reach the new worker', { skip: !REUSE_PORT_SUPPORTED && 'needs Node >= 22.12' }, async (t) => {
  upstream ??= await startUpstream({ kind: 'bind' });
  const port = await pickFreePort();
  const config = configFromYaml(`servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: ${port}
    cache: {}
    forward: { to: ["${upstream.address}"], forceTCP: true }
workers: 2
`);
  process.env.NLD_TEST_CRASH_MARKER = join(dir, 'crashed');
  const pool = new WorkerPool({ logger: silentLogger, services: [], entry: resolve('test/fixtures/crashing-worker.ts') });
  t.after(() => pool.stop(0));
  await pool.start(config);
  const hits = () => pool.caches().reduce((n, c) => n + c.hits[0], 0);
  const requests = () => pool.caches().reduce((n, c) => n + c.requests, 0);

  // Before the crash: a client pinned to worker 1 gets a hit for a name worker 0 cached.
  const pinned = new Map<string, PinnedClient>();
  for (let i = 0; i < 64 && pinned.size < 2; i++) {
    const client = await PinnedClient.open(port);
    const id = await client.worker();
    if (!pinned.has(id)) pinned.set(id, client);
  }
  const ids = [...pinned.keys()].sort((x, y) => x.length - y.length);
  assert.equal(ids.length, 2, `workers seen: ${ids.join(', ')}`);
  const [main, thread] = [pinned.get(ids[0]!)!, pinned.get(ids[1]!)!];
  await main.query(fixtures.services[0]!.name, 'A');
  await sleep(500);
  await thread.query(fixtures.services[0]!.name, 'A');
  await pool.refreshStats();
  assert.equal(hits(), 1);

  // The injected crash ends the thread; a new worker 1 serves on a fresh socket of the group.
  await waitFor(() => pool.restarts === 1, 10_000, 'the crashed worker replaced');
  let replacement: PinnedClient | undefined;
  await waitFor(async () => (replacement = await clientOf(port, ids[1]!)) !== undefined, 10_000, 'the new worker 1 answering');
  await pool.refreshStats();
  assert.ok(requests() >= 2 && hits() >= 1, `counters of the crashed worker are kept: ${requests()} requests, ${hits()} hits`);

  // Fills from worker 0 reach the new worker 1.
  const before = hits();
  await main.query(fixtures.services[1]!.name, 'A');
  await sleep(500);
  await replacement!.query(fixtures.services[1]!.name, 'A');
  await pool.refreshStats();
  assert.equal(hits(), before + 1, 'a name worker 0 cached after the restart is a hit in the new worker 1');
});
