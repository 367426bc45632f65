// The upstream fault matrix (issue 6, item 3; memory under outage from item 7): a fault relay
// (test/harness/fault-relay.ts) sits between the daemon and a real BIND9, and each row switches it
// to one fault while 50 concurrent clients ask distinct names. For every row: every client gets an
// answer within the query deadline (+ slack), only the rcodes the fault allows, never the
// attacker's address, nothing from a bad reply is cached, and once the relay passes again the
// service answers within one health-check interval and the upstream is marked up again; names
// asked during the fault then resolve correctly. Rows run over a force_tcp and a UDP upstream
// where the transport matters. The matrix (mode -> outcome, latency) is printed as diagnostics.
import { test, before, after } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type Upstream as Bind } from '../harness/upstream.js';
import { startFaultRelay, type FaultMode, type FaultOptions, type FaultRelay } from '../harness/fault-relay.js';
import { fixtures } from '../harness/zone.js';
import { queryTcp, queryUdp, answerData, type DnsServer } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';
import { udpFlood } from '../harness/flood.js';
import { ConcurrencyLimit } from '../../src/forward/concurrency.js';

const TIMEOUT_MS = 1500; // forward.timeout: the whole-query deadline
const ATTEMPT_MS = 500; // forward.attemptTimeout
const HEALTH_MS = 200; // forward.healthCheck
const SLACK_MS = 400; // scheduling slack on a loaded test machine
const CLIENTS = 50;
const ATTACKER_IP = '192.0.2.66';
const POISON_NAME = `poisoned.${fixtures.origin}`;
const WILD_IP = fixtures.wildcard.ipv4;
const PROBE_TIMEOUT_MS = 1000; // src/forward/upstream.ts: a health probe waits this long (CoreDNS: 1 s)

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** Heap in use after a full collection (what is retained, unlike RSS). */
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Transport = 'tcp' | 'udp';

interface Answered {
  name: string;
  via: Transport;
  rcode: string; // NOERROR, SERVFAIL, ..., or TIMEOUT/ERROR when the client got nothing
  rtt: number;
  ips: string[];
  ttls: number[];
  size: number;
  limit: number; // the most this client can take (UDP 512 without EDNS, else its size; TCP 65535)
}

interface MatrixRow {
  mode: string;
  transport: string;
  outcome: string;
  p50: number;
  max: number;
  recoveryMs: number;
  upMs: number;
  note?: string;
}

const matrix: MatrixRow[] = [];
const cleanups: (() => Promise<void>)[] = [];
let bind: Bind;

before(async () => {
  bind = await startUpstream({ kind: 'bind', queryLog: false });
  cleanups.push(() => bind.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const wild = (label: string) => `${label}.${fixtures.wildcard.suffix}`;
const uniq = () => `${Date.now().toString(36)}${randomInt(1e6).toString(36)}`;

async function ask(server: DnsServer, name: string, via: Transport, edns = false, timeoutMs = TIMEOUT_MS + 2500): Promise<Answered> {
  const started = performance.now();
  const limit = via === 'tcp' ? 65535 : edns ? 1232 : 512;
  try {
    const opts = { timeoutMs, ...(edns ? { edns: { udpSize: 1232 } } : {}) };
    const r = via === 'tcp' ? await queryTcp(server, name, 'A', opts) : await queryUdp(server, name, 'A', opts);
    const ips = answerData<string>(r.packet, 'A');
    return { name, via, rcode: r.packet.rcode, rtt: r.rtt, ips, ttls: r.packet.answers.map((a) => a.ttl ?? -1), size: r.raw.length, limit };
  } catch (err) {
    const timedOut = /timed out/.test((err as Error).message);
    return { name, via, rcode: timedOut ? 'TIMEOUT' : 'ERROR', rtt: performance.now() - started, ips: [], ttls: [], size: 0, limit };
  }
}

/** `names.length` concurrent clients; over a TCP upstream half of them ask over TCP, some with EDNS. */
function burst(server: DnsServer, names: string[], transport: Transport): Promise<Answered[]> {
  return Promise.all(names.map((n, i) => ask(server, n, transport === 'tcp' && i % 2 === 1 ? 'tcp' : 'udp', i % 3 === 0)));
}

const mib = (bytes: number) => `${bytes >= 0 ? '+' : ''}${(bytes / 1048576).toFixed(1)} MiB`;

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function countBy(results: Answered[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.rcode] = (out[r.rcode] ?? 0) + 1;
  return out;
}

const outcome = (results: Answered[]) =>
  Object.entries(countBy(results))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function forwardYaml(transport: Transport, extra = ''): string {
  return [`      forceTCP: ${transport === 'tcp'}`, `      timeout: ${TIMEOUT_MS}ms`, `      attemptTimeout: ${ATTEMPT_MS}ms`, `      healthCheck: ${HEALTH_MS}ms`, extra].filter(Boolean).join('\n');
}

interface Rig {
  transport: Transport;
  relay: FaultRelay;
  nld: RunningDaemon;
}

async function rig(transport: Transport, opts: { forward?: string; cache?: string; success?: string } = {}): Promise<Rig> {
  const relay = await startFaultRelay({ host: bind.host, port: bind.port });
  cleanups.push(() => relay.stop());
  // clusterConfigYaml always writes `forceTCP: true`; drop it (a duplicate key is an error) and set it per transport.
  const yaml = clusterConfigYaml(relay.address, { forward: forwardYaml(transport, opts.forward), cache: opts.cache, success: opts.success }).replace(
    '      forceTCP: true\n',
    '',
  );
  const nld = await startDaemon(yaml);
  cleanups.push(() => nld.stop());
  return { transport, relay, nld };
}

const block = (r: Rig) => r.nld.daemon.blockRuntimes()[0]!;
const cacheSize = (r: Rig) => {
  const s = block(r).cache!.size;
  return s.success + s.denial;
};
const upstreamOf = (r: Rig) => block(r).forwarder!.upstreams[0]!;

async function stopRig(r: Rig): Promise<void> {
  await r.nld.stop();
  await r.relay.stop();
}

/** Asks fresh names until one is answered NOERROR; returns ms from `since` (Infinity if not within 5 s). */
async function recoveryTime(r: Rig, since: number): Promise<number> {
  const via: Transport = r.transport;
  for (let i = 0; i < 50 && performance.now() - since < 5000; i++) {
    const a = await ask(r.nld.server, wild(`recover-${uniq()}`), via, false, TIMEOUT_MS + 1000);
    if (a.rcode === 'NOERROR' && a.ips[0] === WILD_IP) return performance.now() - since;
    await sleep(10);
  }
  return Infinity;
}

/** ms from `since` until the upstream is no longer marked down (polled every 10 ms, at most 5 s). */
async function upTime(r: Rig, since: number): Promise<number> {
  const u = upstreamOf(r);
  while (u.down && performance.now() - since < 5000) await sleep(10);
  return u.down ? Infinity : performance.now() - since;
}

function assertAnswers(results: Answered[], allowed: string[], label: string): void {
  const bad = results.filter((r) => !allowed.includes(r.rcode));
  assert.equal(bad.length, 0, `${label}: unexpected outcomes ${JSON.stringify(bad.slice(0, 5))}; all: ${outcome(results)}`);
  const late = results.filter((r) => r.rtt > TIMEOUT_MS + SLACK_MS);
  assert.equal(late.length, 0, `${label}: answers after the deadline: ${late.map((r) => `${r.name} ${Math.round(r.rtt)} ms`).join(', ')}`);
  for (const r of results) {
    assert.ok(!r.ips.includes(ATTACKER_IP), `${label}: attacker address sent to a client for ${r.name}`);
    assert.ok(r.size <= r.limit, `${label}: ${r.size}-byte reply over ${r.via} exceeds the client's ${r.limit}`);
    if (r.rcode === 'NOERROR' && r.ips.length > 0) assert.deepEqual(r.ips, [WILD_IP], `${label}: wrong answer for ${r.name}`);
  }
}

interface RowSpec {
  mode: FaultMode;
  opts?: FaultOptions;
  label?: string;
  transports: Transport[];
  /** rcodes allowed while the fault is on (per transport). */
  allowed: (t: Transport) => string[];
  note?: string;
  /** keep the fault on until the health probes mark the upstream down, then check answers while down */
  holdUntilDown?: boolean;
  /** extra checks on the results while the fault was on */
  check?: (results: Answered[], r: Rig) => void | Promise<void>;
}

/** One matrix row: per transport (in parallel), warm up, fault on, 50 clients, fault off, recovery, re-ask. */
async function runRow(t: TestContext, spec: RowSpec): Promise<void> {
  const label = spec.label ?? spec.mode;
  await Promise.all(
    spec.transports.map(async (transport) => {
      const r = await rig(transport);
      try {
        // A working pool before the fault, as in production.
        const warm = await ask(r.nld.server, fixtures.kubernetes.name, transport);
        assert.equal(warm.rcode, 'NOERROR', `${label}/${transport}: warm-up`);
        const before = cacheSize(r);
        await r.relay.setMode(spec.mode, { attackerIp: ATTACKER_IP, poisonName: POISON_NAME, ...spec.opts });
        const names = Array.from({ length: CLIENTS }, (_, i) => wild(`${label}-${transport}-${i}-${uniq()}`));
        const results = await burst(r.nld.server, names, transport);
        const rowLabel = `${label}/${transport}`;
        assertAnswers(results, spec.allowed(transport), rowLabel);
        // Nothing from a bad reply is cached: the cache grew by exactly the names answered NOERROR.
        const goodNames = new Set(results.filter((x) => x.rcode === 'NOERROR').map((x) => x.name));
        assert.equal(cacheSize(r) - before, goodNames.size, `${rowLabel}: cache grew by ${cacheSize(r) - before}, ${goodNames.size} good answers`);
        await spec.check?.(results, r);
        let downAfterMs = -1;
        if (spec.holdUntilDown) {
          const t0 = performance.now();
          while (!upstreamOf(r).down && performance.now() - t0 < 8000) await sleep(20);
          assert.ok(upstreamOf(r).down, `${rowLabel}: health checks never marked the upstream down`);
          downAfterMs = Math.round(performance.now() - t0);
          // Down, yet with a single upstream it is still tried: clients get SERVFAIL in time, not silence.
          const whileDown = await burst(r.nld.server, names.slice(0, 10).map((n) => `down-${n}`), transport);
          assertAnswers(whileDown, ['SERVFAIL'], `${rowLabel} (marked down)`);
        }

        await r.relay.setMode('pass');
        const since = performance.now();
        const [recoveryMs, upMs] = await Promise.all([recoveryTime(r, since), upTime(r, since)]);
        // Service (answers) is back within one health-check interval; the down mark is cleared by the
        // next successful probe, which may first have to wait out one probe sent into the fault.
        assert.ok(recoveryMs <= HEALTH_MS + SLACK_MS, `${rowLabel}: answers again only after ${Math.round(recoveryMs)} ms`);
        assert.ok(upMs <= PROBE_TIMEOUT_MS + HEALTH_MS + SLACK_MS, `${rowLabel}: upstream marked up only after ${Math.round(upMs)} ms`);
        // Names asked during the fault now resolve correctly (no bad or failed answer was kept).
        const again = await Promise.all(names.slice(0, 20).map((n) => ask(r.nld.server, n, transport)));
        for (const a of again) {
          assert.equal(a.rcode, 'NOERROR', `${rowLabel}: ${a.name} after recovery`);
          assert.deepEqual(a.ips, [WILD_IP], `${rowLabel}: ${a.name} after recovery`);
        }
        const row: MatrixRow = {
          mode: label,
          transport,
          outcome: outcome(results),
          p50: Math.round(quantile(results.map((x) => x.rtt), 0.5)),
          max: Math.round(Math.max(...results.map((x) => x.rtt))),
          recoveryMs: Math.round(recoveryMs),
          upMs: Math.round(upMs),
          ...(spec.note || downAfterMs >= 0 ? { note: [spec.note, downAfterMs >= 0 ? `marked down after ${downAfterMs} ms more` : ''].filter(Boolean).join('; ') } : {}),
        };
        matrix.push(row);
        t.diagnostic(`${row.mode} over ${transport}: ${row.outcome}; p50 ${row.p50} ms, max ${row.max} ms; recovery ${row.recoveryMs} ms, upstream up after ${row.upMs} ms${row.note ? `; ${row.note}` : ''}`);
      } finally {
        await stopRig(r);
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

test('pass (baseline): every client answered correctly', async (t) => {
  await runRow(t, { mode: 'pass', transports: ['tcp', 'udp'], allowed: () => ['NOERROR'] });
});

test('blackhole: SERVFAIL within the deadline', async (t) => {
  await runRow(t, { mode: 'blackhole', transports: ['tcp', 'udp'], allowed: () => ['SERVFAIL'] });
});

test('blackhole until health checks mark the upstream down: still answered in time, back up after it returns', async (t) => {
  await runRow(t, { mode: 'blackhole', label: 'blackhole-until-down', transports: ['tcp', 'udp'], allowed: () => ['SERVFAIL'], holdUntilDown: true });
});

test('slow, under the attempt timeout: answered', async (t) => {
  await runRow(t, { mode: 'slow', label: 'slow-300ms', opts: { delayMs: 300 }, transports: ['tcp', 'udp'], allowed: () => ['NOERROR'] });
});

test('slow, over the attempt timeout: SERVFAIL within the deadline, late replies dropped', async (t) => {
  await runRow(t, {
    mode: 'slow',
    label: 'slow-800ms',
    opts: { delayMs: 800 },
    transports: ['tcp', 'udp'],
    allowed: () => ['SERVFAIL'],
  });
});

test('reset on every query (TCP): SERVFAIL fast', async (t) => {
  await runRow(t, {
    mode: 'reset',
    transports: ['tcp'],
    allowed: () => ['SERVFAIL'],
    check: (results) => assert.ok(quantile(results.map((x) => x.rtt), 0.5) < ATTEMPT_MS, 'resets must fail fast, not by timeout'),
  });
});

test('close after 5 queries (TCP): answered or SERVFAIL, never hanging', async (t) => {
  await runRow(t, {
    mode: 'close-after',
    opts: { closeAfter: 5 },
    transports: ['tcp'],
    allowed: () => ['NOERROR', 'SERVFAIL'],
    check: (results) => assert.ok(results.filter((x) => x.rcode === 'NOERROR').length >= 5, outcome(results)),
  });
});

test('garbage replies: dropped, SERVFAIL', async (t) => {
  await runRow(t, { mode: 'garbage', transports: ['tcp', 'udp'], allowed: () => ['SERVFAIL'] });
});

test('garbage that breaks TCP framing: SERVFAIL, and the desynchronised connection is not reused', async (t) => {
  await runRow(t, { mode: 'garbage', label: 'garbage-unframed', opts: { unframed: true }, transports: ['tcp'], allowed: () => ['SERVFAIL'] });
});

test('wrong ID: dropped, SERVFAIL', async (t) => {
  await runRow(t, { mode: 'wrong-id', transports: ['tcp', 'udp'], allowed: () => ['SERVFAIL'] });
});

test('wrong question (poisoning attempt): dropped, SERVFAIL, nothing cached', async (t) => {
  await runRow(t, {
    mode: 'wrong-question',
    transports: ['tcp', 'udp'],
    allowed: () => ['SERVFAIL'],
    check: async (_results, r) => {
      assert.ok(r.relay.stats.forged > 0, 'the relay forged replies');
      // The forged question's name was not cached either: asked later it is NXDOMAIN from BIND.
      await r.relay.setMode('pass');
      const p = await ask(r.nld.server, POISON_NAME, 'udp');
      assert.equal(p.rcode, 'NXDOMAIN');
      assert.deepEqual(p.ips, []);
    },
  });
});

test('oversized replies: never passed on beyond the client limit', async (t) => {
  await runRow(t, {
    mode: 'oversized',
    transports: ['tcp', 'udp'],
    // UDP: a valid 60 KB reply (padding) may be used, trimmed to the client; TCP: 64 KB of garbage.
    allowed: (tr) => (tr === 'udp' ? ['NOERROR', 'SERVFAIL'] : ['SERVFAIL']),
    note: 'udp: 60 KB padded genuine reply; tcp: 65535-byte garbage frame with the right ID and question',
  });
});

test('upstream killed mid-load and restarted on the same port, serve_stale for cached names', async (t) => {
  await Promise.all(
    (['tcp', 'udp'] as Transport[]).map(async (transport) => {
      const r = await rig(transport, { cache: '      serveStale: { duration: 1h, mode: immediate }', success: '{ capacity: 1000, maxTTL: 1, minTTL: 1 }' });
      try {
        const cached = Array.from({ length: 10 }, (_, i) => wild(`stale-${transport}-${i}-${uniq()}`));
        for (const a of await burst(r.nld.server, cached, transport)) assert.equal(a.rcode, 'NOERROR');
        await sleep(1100); // expire them: they are now stale
        const fresh = Array.from({ length: CLIENTS - cached.length }, (_, i) => wild(`kill-${transport}-${i}-${uniq()}`));
        const names = [...cached, ...fresh];
        // Clients start over 200 ms; the relay dies 50 ms in.
        const load = Promise.all(names.map(async (n, i) => (await sleep(i * 4), ask(r.nld.server, n, transport === 'tcp' && i % 2 ? 'tcp' : 'udp'))));
        await sleep(50);
        await r.relay.setMode('kill');
        const results = await load;
        const label = `kill/${transport}`;
        assertAnswers(results, ['NOERROR', 'SERVFAIL'], label);
        for (const a of results.slice(0, cached.length)) {
          assert.equal(a.rcode, 'NOERROR', `${label}: stale answer for ${a.name}`);
          assert.deepEqual(a.ttls, [0], `${label}: stale answers carry TTL 0`);
        }
        const killedAt = results.slice(cached.length);
        assert.ok(killedAt.filter((a) => a.rcode === 'SERVFAIL').length > 0, `${label}: some fresh names fail while the upstream is gone: ${outcome(killedAt)}`);
        await sleep(300); // down for a while, health checks failing
        await r.relay.setMode('pass'); // listens again on the same port
        const since = performance.now();
        const [recoveryMs, upMs] = await Promise.all([recoveryTime(r, since), upTime(r, since)]);
        assert.ok(recoveryMs <= HEALTH_MS + SLACK_MS, `${label}: answers again only after ${Math.round(recoveryMs)} ms`);
        assert.ok(upMs <= PROBE_TIMEOUT_MS + HEALTH_MS + SLACK_MS, `${label}: upstream marked up only after ${Math.round(upMs)} ms`);
        const row: MatrixRow = {
          mode: 'kill+restart',
          transport,
          outcome: `stale ${cached.length}/${cached.length} TTL 0; fresh: ${outcome(killedAt)}`,
          p50: Math.round(quantile(results.map((x) => x.rtt), 0.5)),
          max: Math.round(Math.max(...results.map((x) => x.rtt))),
          recoveryMs: Math.round(recoveryMs),
          upMs: Math.round(upMs),
        };
        matrix.push(row);
        t.diagnostic(`${row.mode} over ${transport}: ${row.outcome}; p50 ${row.p50} ms, max ${row.max} ms; recovery ${row.recoveryMs} ms, upstream up after ${row.upMs} ms`);
      } finally {
        await stopRig(r);
      }
    }),
  );
});

test('UDP upstream replies with TC: retried over TCP, full answer', async (t) => {
  const r = await rig('udp');
  try {
    await r.relay.setMode('truncate');
    const names = Array.from({ length: 20 }, (_, i) => wild(`tc-${i}-${uniq()}`));
    const results = await burst(r.nld.server, names, 'udp');
    assertAnswers(results, ['NOERROR'], 'truncate/udp');
    for (const a of results) assert.deepEqual(a.ips, [WILD_IP]);
    assert.ok(r.relay.stats.udpQueries >= names.length, 'asked over UDP first');
    assert.ok(r.relay.stats.tcpQueries >= names.length, `retried over TCP (${r.relay.stats.tcpQueries} TCP queries)`);
    const row: MatrixRow = {
      mode: 'truncate (TC)',
      transport: 'udp',
      outcome: `${outcome(results)}; relay saw ${r.relay.stats.udpQueries} UDP + ${r.relay.stats.tcpQueries} TCP`,
      p50: Math.round(quantile(results.map((x) => x.rtt), 0.5)),
      max: Math.round(Math.max(...results.map((x) => x.rtt))),
      recoveryMs: 0,
      upMs: 0,
    };
    matrix.push(row);
    t.diagnostic(`${row.mode}: ${row.outcome}; p50 ${row.p50} ms, max ${row.max} ms`);
  } finally {
    await stopRig(r);
  }
});

test('maxConcurrent 20, 200 new names while black-holed: all but the unreserved 15 REFUSED fast, in-flight never above 20', async (t) => {
  const r = await rig('tcp', { forward: '      maxConcurrent: 20' });
  try {
    const forwarder = block(r).forwarder!;
    await r.relay.setMode('blackhole');
    const heapBefore = heapAfterGc();
    const rssBefore = process.memoryUsage().rss;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, forwarder.inFlight)), 2);
    let results: Answered[];
    try {
      const names = Array.from({ length: 200 }, (_, i) => wild(`mc-${i}-${uniq()}`));
      results = await Promise.all(names.map((n) => ask(r.nld.server, n, 'udp')));
    } finally {
      clearInterval(sampler);
    }
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    const heapGrowth = heapAfterGc() - heapBefore;
    const counts = countBy(results);
    // Names nobody asked before may use maxConcurrent minus the share reserved for known names.
    const unreserved = new ConcurrencyLimit(20).unseenLimit;
    assert.equal(unreserved, 15);
    assert.equal(counts.REFUSED, 200 - unreserved, outcome(results));
    assert.equal(counts.SERVFAIL, unreserved, outcome(results));
    assert.equal(r.nld.daemon.forwarders()[0]!.maxConcurrentRejects, 200 - unreserved);
    const refused = results.filter((x) => x.rcode === 'REFUSED').map((x) => x.rtt);
    assert.ok(quantile(refused, 0.99) < 250, `REFUSED p99 ${Math.round(quantile(refused, 0.99))} ms`);
    assert.ok(peak <= 20, `forwarder in flight peaked at ${peak}`);
    assert.ok(heapGrowth < 8 * 1048576, `retained heap grew by ${(heapGrowth / 1048576).toFixed(1)} MiB`);
    assert.ok(rssGrowth < 128 * 1048576, `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MiB`);
    assert.equal(cacheSize(r), 0, 'nothing cached');
    const row: MatrixRow = {
      mode: 'maxConcurrent=20, blackhole',
      transport: 'tcp',
      outcome: `${outcome(results)}; REFUSED p99 ${Math.round(quantile(refused, 0.99))} ms; inFlight peak ${peak}; heap after GC ${mib(heapGrowth)}, RSS ${mib(rssGrowth)}`,
      p50: Math.round(quantile(results.map((x) => x.rtt), 0.5)),
      max: Math.round(Math.max(...results.map((x) => x.rtt))),
      recoveryMs: 0,
      upMs: 0,
    };
    matrix.push(row);
    t.diagnostic(`${row.mode}: ${row.outcome}; max ${row.max} ms`);
  } finally {
    await stopRig(r);
  }
});

/** The flood of the outage test: distinct wildcard names, lost queries replaced after the deadline. */
const floodOf = (server: DnsServer, ms: number, window: number, maxQueries: number) =>
  udpFlood(server, { ms, window, maxQueries, name: (i) => wild(`flood-${i}-${uniq()}`), resendAfterMs: TIMEOUT_MS + 1000, settleMs: TIMEOUT_MS + SLACK_MS });

test('outage at a high query rate: in-flight bounded by maxConcurrent, memory flat, recovery', async (t) => {
  const r = await rig('tcp', { forward: '      maxConcurrent: 100' });
  try {
    const forwarder = block(r).forwarder!;
    await r.relay.setMode('blackhole');
    // Warm up the allocator with a short flood first, then measure a longer one.
    await floodOf(r.nld.server, 300, 200, 20_000);
    const heapBefore = heapAfterGc();
    const rssBefore = process.memoryUsage().rss;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, forwarder.inFlight)), 2);
    let flood: Awaited<ReturnType<typeof floodOf>>;
    try {
      flood = await floodOf(r.nld.server, 3000, 300, 300_000);
    } finally {
      clearInterval(sampler);
    }
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    const heapGrowth = heapAfterGc() - heapBefore;
    assert.ok(peak <= 100, `in flight peaked at ${peak}`);
    assert.equal(flood.unanswered, 0, `${flood.unanswered} queries never answered`);
    assert.deepEqual(Object.keys(flood.rcodes).sort(), ['REFUSED', 'SERVFAIL'], JSON.stringify(flood.rcodes));
    // Retained memory is what a leak shows up in; RSS (this process also runs the clients) only as a sanity bound.
    assert.ok(heapGrowth < 8 * 1048576, `retained heap grew by ${mib(heapGrowth)}`);
    assert.ok(rssGrowth < 128 * 1048576, `RSS grew by ${mib(rssGrowth)}`);
    assert.equal(cacheSize(r), 0);
    await r.relay.setMode('pass');
    const since = performance.now();
    const recoveryMs = await recoveryTime(r, since);
    assert.ok(recoveryMs <= HEALTH_MS + SLACK_MS, `answers again only after ${Math.round(recoveryMs)} ms`);
    const row: MatrixRow = {
      mode: 'outage flood (maxConcurrent=100)',
      transport: 'tcp',
      outcome: `${flood.sent} queries in 3 s (${Math.round(flood.sent / 3)}/s): ${JSON.stringify(flood.rcodes)}; inFlight peak ${peak}; heap after GC ${mib(heapGrowth)}, RSS ${mib(rssGrowth)}`,
      p50: 0,
      max: 0,
      recoveryMs: Math.round(recoveryMs),
      upMs: 0,
    };
    matrix.push(row);
    t.diagnostic(`${row.mode}: ${row.outcome}; recovery ${row.recoveryMs} ms`);
  } finally {
    await stopRig(r);
  }
});

test('fault matrix', (t) => {
  t.diagnostic('mode | transport | outcome | p50 ms | max ms | recovery ms | upstream up ms');
  for (const row of matrix) {
    t.diagnostic(`${row.mode} | ${row.transport} | ${row.outcome} | ${row.p50} | ${row.max} | ${row.recoveryMs} | ${row.upMs}${row.note ? ` | ${row.note}` : ''}`);
  }
  assert.ok(matrix.length >= 20, `${matrix.length} rows`);
});
