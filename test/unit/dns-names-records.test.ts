// The text <-> wire helpers the tools use (dns/names, dns/qtypes, dns/records) against dns-packet,
// and resolv.conf parsing with glibc's search order (tools/resolv-conf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { encodeName, readName, reverseName } from '../../src/dns/names.js';
import { className, parseClass, parseType, rcodeName, typeName } from '../../src/dns/qtypes.js';
import { decodeMessage } from '../../src/dns/records.js';
import { parseResolvConf, searchCandidates, searchGoesOn } from '../../src/tools/resolv-conf.js';

test('encodeName: same wire for a.b and a.b., root, and every limit named', () => {
  const ok = (n: string) => {
    const r = encodeName(n);
    assert.ok(r.ok, n);
    return [...r.wire];
  };
  assert.deepEqual(ok('ab.c'), [2, 0x61, 0x62, 1, 0x63, 0]);
  assert.deepEqual(ok('ab.c.'), ok('ab.c'));
  assert.deepEqual(ok('.'), [0]);
  for (const [name, why] of [['', /empty/], ['a..b', /empty label/], [`${'x'.repeat(64)}.a`, /over 63/], [Array(60).fill('abcd').join('.'), /255/], ['bücher.de', /ASCII/], ['a b', /whitespace/]] as const) {
    const r = encodeName(name);
    assert.ok(!r.ok && why.test(r.error), `${name}: ${JSON.stringify(r)}`);
  }
});

test('reverseName: in-addr.arpa and ip6.arpa nibbles', () => {
  assert.equal(reverseName('10.96.0.1'), '1.0.96.10.in-addr.arpa.');
  assert.equal(reverseName('2001:db8::1'), `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa.`);
  assert.equal(reverseName('::ffff:1.2.3.4'), `4.0.3.0.2.0.1.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa.`);
  assert.equal(reverseName('nope'), undefined);
});

test('qtypes: one table for names and codes, RFC 3597 fallbacks', () => {
  assert.equal(parseType('aaaa'), 28);
  assert.equal(parseType('TYPE65'), 65);
  assert.equal(parseType('TYPE70000'), undefined);
  assert.equal(parseType('BOGUS'), undefined);
  assert.equal(typeName(65), 'HTTPS');
  assert.equal(typeName(65534), 'TYPE65534');
  assert.equal(parseClass('ch'), 3);
  assert.equal(className(3), 'CH');
  assert.equal(className(42), 'CLASS42');
  assert.equal(rcodeName(3), 'NXDOMAIN');
  assert.equal(rcodeName(30), '30');
});

test('decodeMessage: records in presentation form, compression followed, OPT apart, unknown types generic', () => {
  const wire = dnsPacket.encode({
    type: 'response',
    id: 7,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED,
    questions: [{ name: 'a.example', type: 'A', class: 'IN' }],
    answers: [
      { name: 'a.example', type: 'CNAME', ttl: 60, data: 'b.example' },
      { name: 'b.example', type: 'A', ttl: 60, data: '192.0.2.1' },
      { name: 'b.example', type: 'AAAA', ttl: 60, data: '2001:db8::1' },
      { name: 'b.example', type: 'MX', ttl: 60, data: { preference: 10, exchange: 'mx.example' } },
      { name: 'b.example', type: 'TXT', ttl: 60, data: ['hello "world"', 'x'] },
      { name: '_s._tcp.example', type: 'SRV', ttl: 60, data: { priority: 1, weight: 2, port: 53, target: 'b.example' } },
      { name: 'b.example', type: 'NULL' as 'A', ttl: 60, data: Buffer.from([0xde, 0xad]) as unknown as string },
    ],
    authorities: [{ name: 'example', type: 'SOA', ttl: 5, data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as dnsPacket.Answer],
  } as dnsPacket.Packet);
  const r = decodeMessage(wire);
  assert.ok(r.ok);
  const m = r.message;
  assert.deepEqual(m.flags, ['qr', 'aa', 'rd']);
  assert.deepEqual(m.questions, [{ name: 'a.example.', qtype: 1, qclass: 1 }]);
  assert.deepEqual(
    m.answer.map((x) => x.data),
    ['b.example.', '192.0.2.1', '2001:db8::1', '10 mx.example.', '"hello \\"world\\"" "x"', '1 2 53 b.example.', '\\# 2 dead'],
  );
  assert.equal(m.authority[0].data, 'ns.example. h.example. 1 2 3 4 5');
  assert.deepEqual(m.additional, []);
  assert.deepEqual(m.edns, { payload: 1232, version: 0, dnssecOk: true });
  assert.equal(decodeMessage(wire.subarray(0, wire.length - 3)).ok, false, 'cut short');
});

test('readName refuses a compression loop', () => {
  const msg = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12]);
  assert.equal(readName(msg, 12), undefined);
});

test('resolv.conf: nameservers (3 at most), last search/domain wins, ndots capped at 15', () => {
  const conf = parseResolvConf('nameserver 10.96.0.10\nnameserver fe80::1%eth0\nnameserver 192.0.2.1\nnameserver 198.51.100.9\ndomain x.local\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:50 timeout:2 attempts:3 edns0 # comment\n');
  assert.deepEqual(conf.nameservers, ['10.96.0.10', 'fe80::1', '192.0.2.1']);
  assert.deepEqual(conf.search, ['ns.svc.cluster.local.', 'svc.cluster.local.', 'cluster.local.']);
  assert.equal(conf.ndots, 15);
  assert.equal(conf.timeoutSeconds, 2);
  assert.equal(conf.attempts, 3);
  assert.deepEqual(parseResolvConf('search a.b\ndomain c.d\n').search, ['c.d.']);
  assert.equal(parseResolvConf('').ndots, 1);
});

test('search order as glibc res_nsearch: ndots, trailing dot, as-is first or last', () => {
  const k8s = { search: ['default.svc.cluster.local.', 'svc.cluster.local.', 'cluster.local.'], ndots: 5 };
  assert.deepEqual(searchCandidates('kubernetes.default', k8s), ['kubernetes.default.default.svc.cluster.local.', 'kubernetes.default.svc.cluster.local.', 'kubernetes.default.cluster.local.', 'kubernetes.default.']);
  assert.deepEqual(searchCandidates('a.b.c.d.e.f', k8s), ['a.b.c.d.e.f.', 'a.b.c.d.e.f.default.svc.cluster.local.', 'a.b.c.d.e.f.svc.cluster.local.', 'a.b.c.d.e.f.cluster.local.']);
  assert.deepEqual(searchCandidates('example.com.', k8s), ['example.com.']);
  assert.deepEqual(searchCandidates('host', { search: [], ndots: 1 }), ['host.']);
  assert.deepEqual(searchCandidates('x', { search: ['.', 'a.'], ndots: 1 }), ['x.', 'x.a.']);
  assert.equal(searchGoesOn(3, 0), true, 'NXDOMAIN');
  assert.equal(searchGoesOn(0, 0), true, 'NODATA');
  assert.equal(searchGoesOn(2, 0), true, 'SERVFAIL');
  assert.equal(searchGoesOn(0, 1), false, 'answer');
  assert.equal(searchGoesOn(5, 0), false, 'REFUSED stops');
});
