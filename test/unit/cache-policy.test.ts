// classifyReply: which store a reply goes to and for how long (CoreDNS cache semantics, RFC 2308
// negative TTLs), table-driven over replies built with dns-packet and analyzed by analyzeReply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { analyzeReply, type ReplyAnalysis } from '../../src/dns/reply.js';
import { classifyReply } from '../../src/cache/policy.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from '../../src/cache/stats.js';
import type { CacheConfig } from '../../src/config/types.js';
import { RCODE } from '../../src/dns/constants.js';

const NAME = 'svc.default.svc.cluster.local';
const ZONE = 'cluster.local';

function config(o: { servfail?: number; successMin?: number; successMax?: number; denialMin?: number; denialMax?: number } = {}): CacheConfig {
  return {
    success: { capacity: 100, minTtlSeconds: o.successMin ?? 5, maxTtlSeconds: o.successMax ?? 3600 },
    denial: { capacity: 100, minTtlSeconds: o.denialMin ?? 5, maxTtlSeconds: o.denialMax ?? 1800 },
    prefetch: null,
    serveStale: null,
    servfailTtlSeconds: o.servfail ?? 5,
  };
}

const a = (ttl: number): Answer => ({ type: 'A', name: NAME, ttl, data: '10.96.0.1' });
const soa = (ttl: number, minimum: number): Answer => ({
  type: 'SOA',
  name: ZONE,
  ttl,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum },
});
const ns = (ttl: number): Answer => ({ type: 'NS', name: `sub.${ZONE}`, ttl, data: `ns.sub.${ZONE}` });

function analyze(o: { rcode?: number; tc?: boolean; answers?: Answer[]; authorities?: Answer[] }): ReplyAnalysis {
  const packet: Packet = {
    type: 'response',
    id: 1,
    flags: dnsPacket.RECURSION_AVAILABLE | (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | (o.rcode ?? 0),
    questions: [{ name: NAME, type: 'A' }],
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
  };
  const r = analyzeReply(dnsPacket.encode(packet));
  assert.ok(r);
  return r;
}

type Expect = { store: 'success' | 'denial'; ttl: number } | { store: 'none'; reason?: RegExp };

interface Case {
  name: string;
  reply: ReplyAnalysis;
  config?: CacheConfig;
  expect: Expect;
}

const cases: Case[] = [
  { name: 'NOERROR with an answer: TTL = smallest TTL', reply: analyze({ answers: [a(300), a(120)], authorities: [ns(600)] }), expect: { store: 'success', ttl: 120 } },
  { name: 'NOERROR answer TTL below min is raised to min', reply: analyze({ answers: [a(2)] }), expect: { store: 'success', ttl: 5 } },
  { name: 'NOERROR answer TTL above max is capped', reply: analyze({ answers: [a(86400)] }), expect: { store: 'success', ttl: 3600 } },
  { name: 'NOERROR answer TTL 0 is raised to min', reply: analyze({ answers: [a(0)] }), expect: { store: 'success', ttl: 5 } },
  { name: 'NOERROR answer TTL 0 with min 0 is not cached', reply: analyze({ answers: [a(0)] }), config: config({ successMin: 0 }), expect: { store: 'none', reason: /ttl 0/ } },
  { name: 'NOERROR answer TTL 2^31-1 (largest valid, RFC 2181 §8) is capped', reply: analyze({ answers: [a(0x7fffffff)] }), expect: { store: 'success', ttl: 3600 } },
  { name: 'custom success clamp (min 10, max 30)', reply: analyze({ answers: [a(60)] }), config: config({ successMin: 10, successMax: 30 }), expect: { store: 'success', ttl: 30 } },
  { name: 'referral (NS in authority, no SOA) is a success', reply: analyze({ authorities: [ns(120)] }), expect: { store: 'success', ttl: 120 } },
  { name: 'NS plus SOA in authority without answer is NODATA, not a referral', reply: analyze({ authorities: [soa(60, 30), ns(120)] }), expect: { store: 'denial', ttl: 30 } },
  { name: 'NODATA with SOA: min(SOA TTL, MINIMUM)', reply: analyze({ authorities: [soa(60, 10)] }), expect: { store: 'denial', ttl: 10 } },
  { name: 'NODATA with SOA TTL below MINIMUM', reply: analyze({ authorities: [soa(8, 60)] }), expect: { store: 'denial', ttl: 8 } },
  { name: 'NODATA negative TTL below denial min is raised', reply: analyze({ authorities: [soa(60, 1)] }), expect: { store: 'denial', ttl: 5 } },
  { name: 'NODATA negative TTL above denial max is capped', reply: analyze({ authorities: [soa(86400, 86400)] }), expect: { store: 'denial', ttl: 1800 } },
  { name: 'NODATA with SOA TTL 0 and denial min 0 is not cached', reply: analyze({ authorities: [soa(0, 30)] }), config: config({ denialMin: 0 }), expect: { store: 'none', reason: /ttl 0/ } },
  { name: 'NOERROR with nothing (no answer, SOA or NS) is not cached', reply: analyze({}), expect: { store: 'none', reason: /without answer/ } },
  { name: 'NXDOMAIN with SOA', reply: analyze({ rcode: RCODE.NXDOMAIN, authorities: [soa(30, 15)] }), expect: { store: 'denial', ttl: 15 } },
  { name: 'NXDOMAIN with SOA, custom denial clamp', reply: analyze({ rcode: RCODE.NXDOMAIN, authorities: [soa(3600, 3600)] }), config: config({ denialMax: 5 }), expect: { store: 'denial', ttl: 5 } },
  { name: 'NXDOMAIN without SOA is not cached (no negative TTL)', reply: analyze({ rcode: RCODE.NXDOMAIN }), expect: { store: 'none', reason: /NXDOMAIN without SOA/ } },
  { name: 'NXDOMAIN with only an NS is not cached', reply: analyze({ rcode: RCODE.NXDOMAIN, authorities: [ns(60)] }), expect: { store: 'none' } },
  { name: 'SERVFAIL with servfail 5 s -> denial 5 s', reply: analyze({ rcode: RCODE.SERVFAIL }), expect: { store: 'denial', ttl: 5 } },
  { name: 'SERVFAIL with servfail 30 s -> denial 30 s (not clamped by denial max)', reply: analyze({ rcode: RCODE.SERVFAIL }), config: config({ servfail: 30, denialMax: 5 }), expect: { store: 'denial', ttl: 30 } },
  { name: 'SERVFAIL with servfail 0 is not cached', reply: analyze({ rcode: RCODE.SERVFAIL }), config: config({ servfail: 0 }), expect: { store: 'none', reason: /servfail/ } },
  { name: 'NOTIMP is a server error like SERVFAIL', reply: analyze({ rcode: RCODE.NOTIMP }), expect: { store: 'denial', ttl: 5 } },
  { name: 'REFUSED is not cached', reply: analyze({ rcode: RCODE.REFUSED }), expect: { store: 'none', reason: /rcode 5/ } },
  { name: 'REFUSED with an SOA is still not cached', reply: analyze({ rcode: RCODE.REFUSED, authorities: [soa(60, 60)] }), expect: { store: 'none' } },
  { name: 'FORMERR is not cached', reply: analyze({ rcode: RCODE.FORMERR }), expect: { store: 'none', reason: /rcode 1/ } },
  { name: 'YXDOMAIN (6) is not cached', reply: analyze({ rcode: 6 }), expect: { store: 'none' } },
  { name: 'TC with answers is not cached', reply: analyze({ tc: true, answers: [a(300)] }), expect: { store: 'none', reason: /truncated/ } },
  { name: 'TC NXDOMAIN is not cached', reply: analyze({ tc: true, rcode: RCODE.NXDOMAIN, authorities: [soa(60, 60)] }), expect: { store: 'none', reason: /truncated/ } },
  { name: 'TC SERVFAIL is not cached', reply: analyze({ tc: true, rcode: RCODE.SERVFAIL }), expect: { store: 'none', reason: /truncated/ } },
];

for (const c of cases) {
  test(`classifyReply: ${c.name}`, () => {
    const got = classifyReply(c.reply, c.config ?? config());
    if (c.expect.store === 'none') {
      assert.equal(got.store, -1, `expected uncacheable, got store ${got.store} ttl ${got.ttlSeconds}`);
      assert.equal(got.ttlSeconds, -1);
      assert.ok('reason' in got && typeof got.reason === 'string' && got.reason.length > 0);
      if (c.expect.reason) assert.match((got as { reason: string }).reason, c.expect.reason);
      return;
    }
    assert.equal(got.store, c.expect.store === 'success' ? CACHE_SUCCESS : CACHE_DENIAL);
    assert.equal(got.ttlSeconds, c.expect.ttl);
  });
}

test('classifyReply: a denial whose SOA has no usable MINIMUM falls back to the smallest TTL', () => {
  const reply: ReplyAnalysis = { ...analyze({ rcode: RCODE.NXDOMAIN, authorities: [soa(40, 20)] }), soaNegativeTtl: -1 };
  assert.deepEqual(classifyReply(reply, config()), { store: CACHE_DENIAL, ttlSeconds: 40 });
});

test('classifyReply: every cacheable TTL is within the configured clamp (sweep)', () => {
  const cfg = config({ successMin: 7, successMax: 70, denialMin: 3, denialMax: 30 });
  for (const ttl of [0, 1, 2, 3, 6, 7, 8, 29, 30, 31, 69, 70, 71, 1e6]) {
    const s = classifyReply(analyze({ answers: [a(ttl)] }), cfg);
    assert.equal(s.store, CACHE_SUCCESS);
    assert.equal(s.ttlSeconds, Math.min(70, Math.max(7, ttl)));
    const d = classifyReply(analyze({ rcode: RCODE.NXDOMAIN, authorities: [soa(ttl, ttl)] }), cfg);
    assert.equal(d.store, CACHE_DENIAL);
    assert.equal(d.ttlSeconds, Math.min(30, Math.max(3, ttl)));
  }
});
