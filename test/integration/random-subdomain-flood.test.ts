// A random-subdomain flood (every query a new name) must not take DNS away from the names pods
// really use (issue 10, item 4). A working set of service names is cached and used, then a flood
// of one-shot names saturates maxConcurrent while the working set keeps being asked; its entries
// expire during the flood (maxTTL 2 s), so they need the upstream too. Three runs against a real
// BIND9: upstream healthy; upstream black-holed mid-flood (SIGSTOP) with serve_stale (immediate,
// and verify with more names than the reserve, so some are refused and must fall back to stale);
// the same without serve_stale. For the working set: never REFUSED; with a healthy upstream or serve_stale
// never SERVFAIL either (stale answers instead). Loopback only; every load bounded in time and count.
import { test, before, after } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type Upstream as Bind } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { buildQuery, queryUdp, answerData, type DnsServer } from '../harness/dns-client.js';
import { parseQuery } from '../../src/dns/query.js';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';
import { udpFlood, type FloodResult } from '../harness/flood.js';

const MAX_CONCURRENT = 100;
const CAPACITY = 300; // success store: the flood writes many times this many names
const FLOOD_MS = 3500;
const HEALTHY_MS = 1000; // flood with a healthy upstream before the black hole (when there is one)
const FLOOD_WINDOW = 400; // flood queries outstanding: more than maxConcurrent, so the limit is hit
const TIMEOUT_MS = 1500;
const WORKING_SET_SIZE = 20;

let bind: Bind;
const cleanups: (() => Promise<void>)[] = [];
before(async () => {
  bind = await startUpstream({ kind: 'bind', queryLog: false });
  cleanups.push(() => bind.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The cache key of an `A` query for `name` without EDNS (what the working-set clients send). */
function keyOf(name: string): string {
  const parsed = parseQuery(buildQuery(name, 'A').wire);
  assert.ok(parsed.ok);
  return parsed.query.key;
}

interface Legit {
  asked: number;
  rcodes: Record<string, number>; // NOERROR, REFUSED, SERVFAIL, ..., LOST (no reply in time)
  stale: number; // NOERROR with TTL 0
  wrong: number; // NOERROR with an address other than the service's
}

/** Asks every working-set name, in rounds, until `untilMs` (performance.now()); at most 2,000 rounds. */
async function askWorkingSet(server: DnsServer, workingSet: typeof fixtures.services, untilMs: number): Promise<Legit> {
  const out: Legit = { asked: 0, rcodes: {}, stale: 0, wrong: 0 };
  for (let round = 0; round < 2000 && performance.now() < untilMs; round++) {
    await Promise.all(
      workingSet.map(async (svc) => {
        out.asked++;
        try {
          const r = await queryUdp(server, svc.name, 'A', { timeoutMs: TIMEOUT_MS + 1500 });
          out.rcodes[r.packet.rcode] = (out.rcodes[r.packet.rcode] ?? 0) + 1;
          if (r.packet.rcode !== 'NOERROR') return;
          if (r.packet.answers[0]?.ttl === 0) out.stale++;
          if (answerData<string>(r.packet, 'A')[0] !== svc.ipv4) out.wrong++;
        } catch {
          out.rcodes.LOST = (out.rcodes.LOST ?? 0) + 1;
        }
      }),
    );
    await sleep(50);
  }
  return out;
}

interface Run {
  legit: Legit;
  flood: FloodResult;
  rejects: number;
  evictions: number;
  cachedAfter: number;
  workingSet: number;
}

async function floodRun(opts: { serveStale: false | 'immediate' | 'verify'; blackhole: boolean; workingSet?: number }): Promise<Run> {
  const workingSet = fixtures.services.slice(0, opts.workingSet ?? WORKING_SET_SIZE);
  const nld: RunningDaemon = await startDaemon(
    clusterConfigYaml(bind.address, {
      success: `{ capacity: ${CAPACITY}, maxTTL: 2, minTTL: 1 }`,
      cache: opts.serveStale ? `      serveStale: { duration: 1h, mode: ${opts.serveStale} }` : '',
      forward: [`      maxConcurrent: ${MAX_CONCURRENT}`, `      timeout: ${TIMEOUT_MS}ms`, '      attemptTimeout: 500ms', '      healthCheck: 200ms'].join('\n'),
    }),
  );
  cleanups.push(() => nld.stop());
  let paused: NodeJS.Timeout | undefined;
  try {
    // The working set: cached and used (three lookups each), as pods do.
    for (let round = 0; round < 3; round++) {
      for (const svc of workingSet) assert.equal((await queryUdp(nld.server, svc.name, 'A')).packet.rcode, 'NOERROR');
    }
    const started = performance.now();
    if (opts.blackhole) paused = setTimeout(() => bind.pause(), HEALTHY_MS);
    const prefix = `f${randomInt(1e9).toString(36)}`;
    const [flood, legit] = await Promise.all([
      udpFlood(nld.server, { ms: FLOOD_MS, window: FLOOD_WINDOW, maxQueries: 400_000, name: (i) => `${prefix}-${i}.${fixtures.wildcard.suffix}`, resendAfterMs: TIMEOUT_MS + 1000, settleMs: 500 }),
      askWorkingSet(nld.server, workingSet, started + FLOOD_MS),
    ]);
    const cache = nld.daemon.blockRuntimes()[0]!.cache!;
    const cachedAfter = workingSet.filter((svc) => cache.peek(keyOf(svc.name)) !== undefined).length;
    return { legit, flood, rejects: nld.daemon.forwarders()[0]!.maxConcurrentRejects, evictions: cache.stats.evictions[0]!, cachedAfter, workingSet: workingSet.length };
  } finally {
    clearTimeout(paused);
    if (bind.paused) bind.resume();
    await nld.stop();
  }
}

function report(t: TestContext, label: string, r: Run): void {
  const l = r.legit;
  t.diagnostic(
    `${label}: working set ${l.asked} lookups ${JSON.stringify(l.rcodes)}, stale ${l.stale}; ` +
      `flood ${r.flood.sent} queries ${JSON.stringify(r.flood.rcodes)}, maxConcurrent rejects ${r.rejects}, evictions ${r.evictions}; working set cached after: ${r.cachedAfter}/${r.workingSet}`,
  );
}

test('healthy upstream: the working set is never REFUSED or SERVFAIL during a flood that saturates maxConcurrent', async (t) => {
  const r = await floodRun({ serveStale: false, blackhole: false });
  report(t, 'healthy', r);
  assert.ok(r.rejects > 0, 'the flood reached maxConcurrent (otherwise this run proves nothing)');
  assert.ok(r.evictions > CAPACITY, 'the flood filled the cache more than once');
  assert.deepEqual(r.legit.rcodes, { NOERROR: r.legit.asked }, 'every lookup answered NOERROR (none REFUSED, SERVFAIL or lost)');
  assert.equal(r.legit.wrong, 0);
  assert.equal(r.cachedAfter, r.workingSet, 'the working set is still cached');
});

test('upstream black-holed mid-flood with serve_stale: the working set gets (stale) answers, never REFUSED or SERVFAIL', async (t) => {
  const r = await floodRun({ serveStale: 'immediate', blackhole: true });
  report(t, 'black hole + serve_stale', r);
  assert.ok(r.rejects > 0, 'the flood reached maxConcurrent');
  assert.deepEqual(r.legit.rcodes, { NOERROR: r.legit.asked }, 'every lookup answered NOERROR (none REFUSED, SERVFAIL or lost)');
  assert.ok(r.legit.stale > 0, 'entries expired during the black hole were served stale');
  assert.equal(r.legit.wrong, 0);
});

test('serve_stale verify, black hole, more names than the reserve: a max_concurrent REFUSED falls back to the stale answer', async (t) => {
  // verify asks the upstream before serving stale, so 40 expired names compete for the 25 reserved
  // slots; those refused must still get their stale answer (pipeline answerMiss), not REFUSED.
  const r = await floodRun({ serveStale: 'verify', blackhole: true, workingSet: 40 });
  report(t, 'black hole + serve_stale verify, 40 names', r);
  assert.ok(r.rejects > (r.flood.rcodes.REFUSED ?? 0), 'some working-set misses were refused by maxConcurrent (the path under test)');
  assert.equal(r.legit.rcodes.REFUSED ?? 0, 0, JSON.stringify(r.legit.rcodes));
  assert.equal(r.legit.rcodes.SERVFAIL ?? 0, 0, JSON.stringify(r.legit.rcodes));
  assert.ok(r.legit.stale > 0, 'expired entries were served stale');
  assert.equal(r.legit.wrong, 0);
});

test('upstream black-holed mid-flood without serve_stale: the working set is never REFUSED (SERVFAIL once expired)', async (t) => {
  const r = await floodRun({ serveStale: false, blackhole: true });
  report(t, 'black hole', r);
  assert.ok(r.rejects > 0, 'the flood reached maxConcurrent');
  assert.equal(r.legit.rcodes.REFUSED ?? 0, 0, JSON.stringify(r.legit.rcodes));
  assert.equal(r.legit.wrong, 0);
});
