// ZoneRouter: longest-suffix match on the wire-format name at the start of the cache key, root
// zone, case-insensitivity (keys are lower-cased by parseQuery, zones by the config), no match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { WireZones, ZoneRouter, zoneToWire } from '../../src/server/zone-router.js';
import type { BlockRuntime } from '../../src/server/block.js';
import { DnsStats } from '../../src/metrics/dns-stats.js';
import { parseQuery } from '../../src/dns/query.js';
import { normalizeZone } from '../../src/config/values.js';

const SERVER = 'dns://127.0.0.1:53';

/** The router only reads `config.zones` from a block. */
function block(name: string, zones: string[]): BlockRuntime {
  const normalized = zones.map((z) => {
    const r = normalizeZone(z);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  });
  return { name, config: { zones: normalized } } as unknown as BlockRuntime;
}

function keyFor(name: string, type: 'A' | 'PTR' | 'NS' = 'A'): string {
  const r = parseQuery(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name, type }] }));
  assert.ok(r.ok);
  return r.query.key;
}

const blockName = (b: BlockRuntime | undefined): string | undefined => (b as unknown as { name: string } | undefined)?.name;

const root = block('root', ['.']);
const cluster = block('cluster', ['cluster.local', 'in-addr.arpa']);
const svc = block('svc', ['svc.cluster.local.']);
const ip6 = block('ip6', ['ip6.arpa']);

test('zoneToWire: presentation to wire form', () => {
  assert.equal(zoneToWire('.'), '\x00');
  assert.equal(zoneToWire('cluster.local.'), '\x07cluster\x05local\x00');
  assert.equal(zoneToWire('a.'), '\x01a\x00');
});

test('longest suffix wins', () => {
  const router = new ZoneRouter(SERVER, [root, cluster, svc, ip6], new DnsStats());
  const cases: [string, string][] = [
    ['kubernetes.default.svc.cluster.local', 'svc'],
    ['svc.cluster.local', 'svc'],
    ['a.b.c.svc.cluster.local', 'svc'],
    ['pod.cluster.local', 'cluster'],
    ['cluster.local', 'cluster'],
    ['svc.cluster.local.example.com', 'root'],
    ['xsvc.cluster.local', 'cluster'],
    ['1.0.96.10.in-addr.arpa', 'cluster'],
    ['b.a.ip6.arpa', 'ip6'],
    ['arpa', 'root'],
    ['local', 'root'],
    ['example.com', 'root'],
    ['.', 'root'],
  ];
  for (const [name, expected] of cases) {
    const route = router.match(keyFor(name));
    assert.equal(blockName(route?.block), expected, name);
  }
  const route = router.match(keyFor('x.svc.cluster.local'))!;
  assert.equal(route.zone, 'svc.cluster.local.');
  assert.equal(route.stats.zone, 'svc.cluster.local.');
  assert.equal(route.stats.server, SERVER);
  assert.equal(router.match(keyFor('x.in-addr.arpa', 'PTR'))?.zone, 'in-addr.arpa.');
});

test('root zone catches everything, including the root name itself', () => {
  const router = new ZoneRouter(SERVER, [root], new DnsStats());
  for (const name of ['.', 'com', 'a.b.c.d.e.f.g', 'cluster.local']) assert.equal(blockName(router.match(keyFor(name, 'NS'))?.block), 'root', name);
  assert.equal(router.match(keyFor('com'))?.zone, '.');
});

test('case-insensitive: mixed-case queries and mixed-case configured zones match', () => {
  const upper = block('upper', ['Cluster.LOCAL']);
  const router = new ZoneRouter(SERVER, [upper], new DnsStats());
  for (const name of ['SVC.CLUSTER.LOCAL', 'Svc.Cluster.Local', 'svc.cluster.local', 'CLUSTER.local']) {
    assert.equal(blockName(router.match(keyFor(name))?.block), 'upper', name);
  }
});

test('no match without a root zone: REFUSED territory', () => {
  const router = new ZoneRouter(SERVER, [cluster, svc], new DnsStats());
  for (const name of ['example.com', 'local', 'notcluster.local', 'cluster.localx', '.', 'arpa']) {
    assert.equal(router.match(keyFor(name)), undefined, name);
  }
  assert.equal(router.dropped.zone, 'dropped');
});

test('label boundaries are respected: "ster.local" does not match "cluster.local"', () => {
  const router = new ZoneRouter(SERVER, [block('ster', ['ster.local'])], new DnsStats());
  assert.equal(router.match(keyFor('cluster.local')), undefined);
  assert.equal(blockName(router.match(keyFor('a.ster.local'))?.block), 'ster');
});

test('blocks lists each block once; stats objects are shared per (server, zone)', () => {
  const stats = new DnsStats();
  const router = new ZoneRouter(SERVER, [cluster, svc], stats);
  assert.deepEqual(router.blocks.map(blockName).sort(), ['cluster', 'svc']);
  assert.equal(router.match(keyFor('a.cluster.local'))?.stats, stats.zone(SERVER, 'cluster.local.'));
  assert.equal(router.dropped, stats.zone(SERVER, 'dropped'));
});

test('WireZones (forward except): the zone and names under it, the root covers all, a dot inside a label is no boundary', () => {
  const except = new WireZones([
    ['blocked.cluster.local.', 'blocked'],
    ['in-addr.arpa.', 'reverse'],
  ] as const);
  assert.equal(except.match(keyFor('blocked.cluster.local')), 'blocked');
  assert.equal(except.match(keyFor('X.Blocked.Cluster.Local')), 'blocked');
  assert.equal(except.match(keyFor('1.0.96.10.in-addr.arpa', 'PTR')), 'reverse');
  assert.equal(except.match(keyFor('svc.cluster.local')), undefined);
  assert.equal(except.match(keyFor('notblocked.cluster.local')), undefined);
  // One label "a.blocked" under cluster.local: its text ends with ".blocked.cluster.local." but it is not under that zone.
  const msg = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'x.cluster.local', type: 'A' }] });
  const forged = Buffer.concat([msg.subarray(0, 12), Buffer.from('\x09a.blocked\x07cluster\x05local\x00', 'latin1'), msg.subarray(msg.length - 4)]);
  const parsed = parseQuery(forged);
  assert.ok(parsed.ok);
  assert.equal(except.match(parsed.query.key), undefined);
  const everything = new WireZones([['.', true]] as const);
  assert.equal(everything.match(keyFor('anything.example')), true);
  assert.equal(everything.match(keyFor('.', 'NS')), true);
});
