// The wire helpers behind the plugins, checked against dns-packet (an independent codec):
// message decode/encode round trips, RFC 1035 record text, Go templates, MX/A shuffling, the
// RFC 6052 address embedding, reverse names, and ECS/OPT editing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { decodeMessage, encodeMessage, nameLabels, nameToWire } from '../../src/plugins/message.js';
import { parseRr } from '../../src/plugins/rr-text.js';
import { compileGoTemplate } from '../../src/plugins/go-template.js';
import { roundRobin } from '../../src/plugins/loadbalance.js';
import { embed } from '../../src/plugins/dns64.js';
import { reverseNameToKey, parseHostsText } from '../../src/plugins/hosts.js';
import { readEdns, writeEdns, applyEdns0 } from '../../src/plugins/rewrite-edns0.js';
import { goRegExp, matchZone } from '../../src/plugins/common.js';

const reply = (answers: dnsPacket.Answer[], extra: dnsPacket.Answer[] = []): Buffer =>
  dnsPacket.encode({ type: 'response', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'a.example' }], answers, additionals: extra });

test('decode → encode keeps every record dns-packet can read, with compression', () => {
  const wire = reply(
    [
      { type: 'CNAME', name: 'a.example', ttl: 60, data: 'b.example' },
      { type: 'A', name: 'b.example', ttl: 30, data: '192.0.2.1' },
      { type: 'MX', name: 'a.example', ttl: 5, data: { preference: 10, exchange: 'mx.b.example' } },
      { type: 'SRV', name: '_x._tcp.a.example', ttl: 5, data: { priority: 1, weight: 2, port: 53, target: 'b.example' } },
      { type: 'TXT', name: 'a.example', ttl: 5, data: ['hello', 'world'] },
      { type: 'AAAA', name: 'b.example', ttl: 30, data: '2001:db8::1' },
    ],
    [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer],
  );
  const m = decodeMessage(wire)!;
  assert.equal(m.answer.length, 6);
  const again = encodeMessage(m)!;
  const a = dnsPacket.decode(wire);
  const b = dnsPacket.decode(again);
  assert.deepEqual(b.answers, a.answers);
  assert.deepEqual(b.additionals, a.additionals);
  assert.ok(again.length <= wire.length + 4, 'names compressed');
});

test('names: escapes round-trip; too long labels and names are refused', () => {
  assert.deepEqual(nameLabels('a\\.b.c\\092d.'), ['a.b', 'c\\d']);
  assert.deepEqual([...nameToWire('a\\.b.')!], [3, 0x61, 0x2e, 0x62, 0]);
  assert.equal(nameToWire(`${'x'.repeat(64)}.example.`), null);
  assert.equal(nameToWire(`${Array(60).fill('abcd').join('.')}.`), null);
});

test('record text: TTL and class in either order, defaults, parentheses, RFC 3597', () => {
  const cases: [string, dnsPacket.Answer][] = [
    ['a.example. 60 IN A 192.0.2.1', { type: 'A', name: 'a.example', ttl: 60, class: 'IN', flush: false, data: '192.0.2.1' }],
    ['a.example IN 60 AAAA ::ffff:192.0.2.1', { type: 'AAAA', name: 'a.example', ttl: 60, class: 'IN', flush: false, data: '::ffff:c000:201' }],
    ['a.example. A 192.0.2.2', { type: 'A', name: 'a.example', ttl: 3600, class: 'IN', flush: false, data: '192.0.2.2' }],
    ['a. 1 IN SOA ns.a. host.a. (1 60 60 60 60)', { type: 'SOA', name: 'a', ttl: 1, class: 'IN', flush: false, data: { mname: 'ns.a', rname: 'host.a', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60 } }],
    ['a. 1 IN TXT "x y" z', { type: 'TXT', name: 'a', ttl: 1, class: 'IN', flush: false, data: [Buffer.from('x y'), Buffer.from('z')] }],
    ['a. 1 IN TYPE65 \\# 3 010203', { type: 'HTTPS' as never, name: 'a', ttl: 1, class: 'IN', flush: false, data: Buffer.from([1, 2, 3]) } as never],
  ];
  for (const [text, want] of cases) {
    const r = parseRr(text);
    assert.ok(r.ok, `${text}: ${JSON.stringify(r)}`);
    const wire = encodeMessage({ id: 0, flags: 0x8000, questions: [], answer: [r.record], authority: [], additional: [] })!;
    const got = dnsPacket.decode(wire).answers![0] as unknown;
    if (want.type === ('HTTPS' as never)) assert.deepEqual(Buffer.from(wire.subarray(wire.length - 3)), Buffer.from([1, 2, 3]));
    else assert.deepEqual(got, want, text);
  }
  for (const bad of ['a. 60 IN A 300.1.1.1', 'a. 60 IN MX x', 'a. 60 IN NOPE x', 'a.', 'a. 1 IN HINFO a b']) assert.equal(parseRr(bad).ok, false, bad);
});

test('Go templates: fields, index, groups, trimming; unsupported actions named', () => {
  const t = compileGoTemplate('{{ .Name }} {{- " " -}} {{ index .Match 1 }} {{ .Group.host }} {{ index .Group "host" }} {{ .Type }}/{{ .Class }}@{{ .Zone }}');
  assert.equal(typeof t, 'string', 'a string literal action is not supported');
  const ok = compileGoTemplate('{{ .Name }} {{- /* c */ -}} x {{ index .Match 1 }} {{ .Group.host }} {{ index .Group "host" }} {{ .Type }}/{{ .Class }}@{{ .Zone }} {{ .Match }}');
  assert.equal(typeof ok, 'function');
  const out = (ok as Exclude<typeof ok, string>)({ Name: 'w.e.', Zone: 'e.', Class: 'IN', Type: 'A', Regex: '', Match: ['w.e.', 'w'], Group: { host: 'w', '0': 'w.e.', '1': 'w' } });
  assert.equal(out, 'w.e.x w w w A/IN@e. [w.e. w]');
  assert.match(compileGoTemplate('{{ if .Name }}x{{ end }}') as string, /unsupported template action \{\{ if \.Name \}\}/);
  assert.match(compileGoTemplate('{{ .Remote }}') as string, /unsupported/);
});

test('Go regexes: named groups, (?i), \\A and \\z', () => {
  const re = goRegExp('(?i)\\A(?P<host>[a-z]+)\\.example\\.\\z') as RegExp;
  assert.equal(re.exec('WWW.example.')?.groups?.host, 'WWW');
  assert.match(goRegExp('(unclosed') as string, /invalid regular expression/);
  assert.equal(matchZone('a.b.example.', ['example.', 'b.example.', '.']), 'b.example.');
  assert.equal(matchZone('example.org.', ['example.']), undefined);
});

test('round_robin: A records keep their set and owner, MX records are reshuffled, errors untouched', () => {
  const ips = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
  const wire = reply([{ type: 'CNAME', name: 'a.example', ttl: 60, data: 'b.example' }, ...ips.map((data) => ({ type: 'A' as const, name: 'b.example', ttl: 30, data }))]);
  const orders = new Set<string>();
  for (let i = 0; i < 50 && orders.size < 2; i++) {
    const d = dnsPacket.decode(roundRobin(Buffer.from(wire)));
    assert.equal(d.answers![0].type, 'CNAME');
    const a = d.answers!.slice(1) as { name: string; data: string }[];
    assert.ok(a.every((r) => r.name === 'b.example'));
    assert.deepEqual(a.map((r) => r.data).sort(), ips);
    orders.add(a.map((r) => r.data).join());
  }
  assert.ok(orders.size >= 2);
  const mx = reply([1, 2, 3, 4].map((p) => ({ type: 'MX' as const, name: 'a.example', ttl: 5, data: { preference: p, exchange: `mx${p}.a.example` } })));
  const mxOrders = new Set<string>();
  for (let i = 0; i < 50 && mxOrders.size < 2; i++) {
    const d = dnsPacket.decode(roundRobin(Buffer.from(mx)));
    const records = d.answers!.map((r) => (r as unknown as { data: { preference: number; exchange: string } }).data);
    const prefs = records.map((r) => r.preference);
    assert.deepEqual([...prefs].sort(), [1, 2, 3, 4]);
    assert.ok(records.every((r) => r.exchange === `mx${r.preference}.a.example`));
    mxOrders.add(prefs.join());
  }
  assert.ok(mxOrders.size >= 2);
  const nx = Buffer.from(wire);
  nx[3] = (nx[3] & 0xf0) | 3;
  assert.deepEqual(roundRobin(Buffer.from(nx)), nx);
});

test('dns64 embedding follows RFC 6052 §2.2 for every prefix length', () => {
  const v4 = Buffer.from([192, 0, 2, 33]);
  const prefix = Buffer.from('20010db8012234560000000000000000', 'hex');
  const hex = (n: number) => embed(prefix, n, v4).toString('hex');
  // The RFC's table for 2001:db8:122:344::/n and 192.0.2.33 (byte 8 always zero).
  assert.equal(hex(32), '20010db8c000022100' + '00000000000000');
  assert.equal(hex(40), '20010db801c0000200' + '21000000000000');
  assert.equal(hex(48), '20010db80122c00000' + '02210000000000');
  assert.equal(hex(56), '20010db8012234c000' + '00022100000000');
  assert.equal(hex(64), '20010db80122345600' + 'c0000221000000');
  assert.equal(hex(96), '20010db8012234560000000000000000'.slice(0, 24) + 'c0000221');
});

test('hosts text: comments, IPv4-mapped addresses, names outside the zones skipped; reverse names', () => {
  const map = parseHostsText('# c\n10.0.0.1 a.example b.example # x\n::ffff:10.0.0.2 c.example\nbad line\n10.0.0.3 other.org\n', ['example.'], true);
  assert.equal(map.entries, 3);
  assert.deepEqual([...map.v4.keys()], ['a.example.', 'b.example.', 'c.example.']);
  assert.deepEqual(map.names.get('0a000001'), ['a.example.', 'b.example.']);
  assert.equal(reverseNameToKey('1.0.0.10.in-addr.arpa.'), '0a000001');
  assert.equal(reverseNameToKey(`1.${'0.'.repeat(31)}ip6.arpa.`), `${'0'.repeat(31)}1`);
  assert.equal(reverseNameToKey('0.10.in-addr.arpa.'), undefined);
});

test('EDNS0 edits: OPT added to a query without one, options set/replaced/removed, decoded by dns-packet', () => {
  const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.example' }] });
  const qEnd = q.length;
  const state = readEdns(q, qEnd);
  assert.equal(state.present, false);
  const client = { address: Buffer.from([10, 1, 2, 3]), port: 5353, tcp: false };
  const local = { option: 'local' as const, action: 'set' as const, code: 0xffee, data: '6162', variable: null, v4Bits: 0, v6Bits: 0 };
  assert.equal(applyEdns0(local, state, 'a.example.', 1, client), true);
  assert.equal(applyEdns0({ ...local, action: 'append', data: '00' }, state, 'a.example.', 1, client), false, 'append: one exists');
  assert.equal(applyEdns0({ ...local, option: 'subnet', code: 8, v4Bits: 20 }, state, 'a.example.', 1, client), true);
  const out = writeEdns(q, qEnd, state);
  const opt = dnsPacket.decode(out).additionals![0] as unknown as { type: string; udpPayloadSize: number; options: { code: number; data?: Buffer; sourcePrefixLength?: number; ip?: string }[] };
  assert.equal(opt.type, 'OPT');
  assert.equal(opt.udpPayloadSize, 4096);
  assert.equal(opt.options[0].code, 0xffee);
  assert.equal(opt.options[0].data!.toString(), 'ab');
  assert.equal(opt.options[1].sourcePrefixLength, 20);
  assert.equal(opt.options[1].ip, '10.1.0.0');
  const again = readEdns(out, qEnd);
  assert.equal(applyEdns0({ ...local, action: 'unset' }, again, 'a.example.', 1, client), true);
  assert.deepEqual(again.options.map((o) => o.code), [8]);
});
