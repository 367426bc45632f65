// Every config field the DNS engine is given is read by something at run time: a field that is
// validated and documented but read by nothing (serveStale.mode was, once) fails this test.
// The config is wrapped in a Proxy that records each property path read while the daemon starts,
// answers hits, misses, NXDOMAIN and TCP queries, and stops. Serialisation (JSON.stringify for
// reload comparisons) does not count as a read. The sections cli/run.ts consumes (health, metrics,
// log, workers, reload, node) are covered by the process-level tests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../src/config/types.js';
import { startUpstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryTcp, queryUdp } from '../harness/dns-client.js';
import { configFromYaml, startDaemon } from '../harness/daemon.js';
import { startScriptedUpstream } from '../harness/scripted-upstream.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Wraps `value` so that every property read is added to `read` as a path like servers[].cache.denial.minTTL. */
function recordReads<T>(value: T, read: Set<string>, path = ''): T {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value as object, {
    get(target, prop, receiver) {
      if (prop === 'toJSON') return () => target; // serialising is not using
      const v = Reflect.get(target, prop, receiver);
      if (typeof prop === 'symbol' || typeof v === 'function') return v;
      const isIndex = Array.isArray(target) && /^\d+$/.test(prop);
      if (prop === 'length' && Array.isArray(target)) return v;
      const next = isIndex ? `${path}[]` : path ? `${path}.${prop}` : prop;
      read.add(next);
      return recordReads(v, read, next);
    },
  }) as T;
}

/** Every leaf path of a plain config object (array elements merged as []). */
function leafPaths(value: unknown, path = '', out = new Set<string>()): Set<string> {
  if (value === null || typeof value !== 'object') {
    out.add(path);
    return out;
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || typeof value[0] !== 'object') out.add(path); // a list of scalars is one field
    else for (const v of value) leafPaths(v, `${path}[]`, out);
    return out;
  }
  for (const [k, v] of Object.entries(value)) leafPaths(v, path ? `${path}.${k}` : k, out);
  return out;
}

test('every field of servers[], tcp and udp is read by the engine', async () => {
  const upstream = await startUpstream({ kind: 'bind' });
  cleanups.push(() => upstream.stop());
  // A second upstream for the failure paths: SERVFAIL (servfail TTL) and silence (health checks).
  const failing = await startScriptedUpstream();
  cleanups.push(() => failing.stop());
  failing.behaviour = (q) => (q.questions?.[0]?.name.startsWith('servfail') ? { kind: 'answer', rcode: 'SERVFAIL' } : { kind: 'silent' });
  const yaml = `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: 0
    cache:
      success: { capacity: 100, maxTTL: 30, minTTL: 5 }
      denial: { capacity: 100, maxTTL: 1, minTTL: 1 }
      prefetch: { amount: 2, duration: 1m, percentage: 10 }
      serveStale: { duration: 1h, mode: verify }
      servfail: 5s
    forward:
      to: ["${upstream.address}"]
      forceTCP: false
      preferUDP: false
      policy: round_robin
      maxConcurrent: 100
      maxFails: 2
      healthCheck: 500ms
      expire: 10s
      timeout: 5s
      attemptTimeout: 2s
      maxConnections: 2
      except: [blocked.cluster.local]
    log: { sampleRate: 1 }
    loop: true
  - zones: [fail.test]
    bind: [127.0.0.1]
    port: 0
    cache: { success: { capacity: 10 }, denial: { capacity: 10 }, servfail: 5s }
    forward: { to: ["127.0.0.1:${failing.port}"], timeout: 400ms, attemptTimeout: 200ms }
udp: { receiveBuffer: 1048576, sendBuffer: 1048576 }
tcp: { idleTimeout: 10s, maxConnections: 100, maxQueriesInFlightPerConnection: 10 }
`;
  const config: Config = configFromYaml(yaml);
  const read = new Set<string>();
  const nld = await startDaemon(recordReads(structuredClone(config), read)); // a clone: the loaded config is frozen, and a Proxy of a frozen object must return the very same values
  cleanups.push(() => nld.stop());
  const failServer = nld.server; // both blocks share the one listener (same address and port)
  assert.equal(await nld.daemon.detectLoops(), null); // what cli/run.ts does for blocks with loop
  const svc = fixtures.services[60];
  await queryUdp(nld.server, svc.name, 'A'); // miss
  for (let i = 0; i < 3; i++) await queryUdp(nld.server, svc.name, 'A'); // hits, then a prefetch decision
  await queryTcp(nld.server, svc.name, 'AAAA');
  const nx = `nx-${Date.now()}.cluster.local`;
  await queryUdp(nld.server, nx, 'A'); // denial, expires after 1 s
  await queryUdp(nld.server, 'x.blocked.cluster.local', 'A'); // except
  await queryUdp(failServer, 'servfail.fail.test', 'A'); // an upstream SERVFAIL
  await queryUdp(failServer, 'silent.fail.test', 'A', { timeoutMs: 3000 }); // upstream failure: health checks start
  await new Promise((r) => setTimeout(r, 1300)); // the probe times out (1 s), the next is scheduled
  await queryUdp(nld.server, nx, 'A'); // expired: serve_stale decides
  await nld.stop();

  const engineSections = ['servers', 'tcp', 'udp'];
  const fields = [...leafPaths(config)].filter((p) => engineSections.some((s) => p === s || p.startsWith(`${s}.`) || p.startsWith(`${s}[]`)));
  const unread = fields.filter((f) => !read.has(f));
  assert.ok(fields.length >= 25, `found ${fields.length} fields: ${fields.join(', ')}`);
  assert.deepEqual(unread, [], `fields validated but never read at run time: ${unread.join(', ')}`);
});
