// parseQuery edge cases, table-driven: what is dropped, what is NOTIMP/FORMERR, what EDNS and
// header bits are read, and how the cache key is formed. Valid inputs are encoded with dns-packet
// so the parser is checked against an independent encoder; broken ones are built byte by byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { Packet, RecordType, RecordClass } from 'dns-packet';
import { forwardableQuery, parseQuery, keyToName, keyNameLength, isInternetClass, type ParsedQuery, type QueryProblem } from '../../src/dns/query.js';

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

interface DpOptions {
  id?: number;
  flags?: number; // dns-packet 15-bit flags (opcode bits 11-14, RD 8, Z 6, AD 5, CD 4, rcode 0-3)
  klass?: RecordClass;
  edns?: { payload?: number; do?: boolean; version?: number };
  type?: 'query' | 'response';
}

/** A query encoded by dns-packet. */
function dpQuery(name: string, qtype: RecordType = 'A', o: DpOptions = {}): Buffer {
  const packet: Packet = {
    type: o.type ?? 'query',
    id: o.id ?? 0x1234,
    flags: o.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: qtype, class: o.klass ?? 'IN' }],
  };
  if (o.edns) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: o.edns.payload ?? 1232,
        extendedRcode: 0,
        ednsVersion: o.edns.version ?? 0,
        flags: o.edns.do ? dnsPacket.DNSSEC_OK : 0,
        flag_do: !!o.edns.do,
        options: [],
      },
    ];
  }
  return dnsPacket.encode(packet);
}

interface HeaderFields {
  id?: number;
  b2?: number;
  b3?: number;
  qd?: number;
  an?: number;
  ns?: number;
  ar?: number;
}

function header(h: HeaderFields = {}): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(h.id ?? 0xbeef, 0);
  out[2] = h.b2 ?? 0x01;
  out[3] = h.b3 ?? 0x00;
  out.writeUInt16BE(h.qd ?? 1, 4);
  out.writeUInt16BE(h.an ?? 0, 6);
  out.writeUInt16BE(h.ns ?? 0, 8);
  out.writeUInt16BE(h.ar ?? 0, 10);
  return out;
}

/** Wire name from raw label bytes (no validation: tests build broken names on purpose). */
function wireName(...labels: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = typeof l === 'string' ? Buffer.from(l, 'latin1') : l;
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function typeClass(qtype = 1, qclass = 1): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(qtype, 0);
  b.writeUInt16BE(qclass, 2);
  return b;
}

function optRr(o: { payload?: number; ext?: number; version?: number; flags?: number; rdata?: Buffer; owner?: Buffer } = {}): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(41, 0);
  fixed.writeUInt16BE(o.payload ?? 1232, 2);
  fixed[4] = o.ext ?? 0;
  fixed[5] = o.version ?? 0;
  fixed.writeUInt16BE(o.flags ?? 0, 6);
  const rdata = o.rdata ?? Buffer.alloc(0);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([o.owner ?? Buffer.from([0]), fixed, rdata]);
}

/** An A record owned by the question name (compression pointer to offset 12). */
function aRr(ttl = 30): Buffer {
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1]);
  rr.writeUInt32BE(ttl, 6);
  return rr;
}

/** A label of `n` copies of `ch`. */
const label = (n: number, ch = 'a'): string => ch.repeat(n);

const SVC = wireName('svc', 'cluster', 'local');
const simple = (h: HeaderFields = {}, rest: Buffer[] = [SVC, typeClass()]): Buffer => Buffer.concat([header(h), ...rest]);

// ---------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------

interface RejectCase {
  name: string;
  msg: Buffer;
  problem: QueryProblem;
  id?: number;
  opcode?: number;
  questionEnd?: number;
}

const notifyFlags = 4 << 11;
const updateFlags = 5 << 11;

const rejects: RejectCase[] = [
  { name: 'zero-length packet', msg: Buffer.alloc(0), problem: 'drop-short', id: 0, opcode: 0 },
  { name: 'one byte', msg: Buffer.from([0x12]), problem: 'drop-short', id: 0 },
  { name: '11-byte packet (one short of a header)', msg: header({ id: 0xabcd }).subarray(0, 11), problem: 'drop-short', id: 0xabcd },
  { name: 'QR set: a response is never answered', msg: dpQuery('svc.cluster.local', 'A', { type: 'response' }), problem: 'drop-response', id: 0x1234 },
  { name: 'QR set on a bare header', msg: header({ b2: 0x80 }), problem: 'drop-response' },
  { name: 'opcode NOTIFY', msg: dpQuery('cluster.local', 'SOA', { flags: notifyFlags, id: 7 }), problem: 'notimp', opcode: 4, id: 7 },
  { name: 'opcode UPDATE', msg: dpQuery('cluster.local', 'SOA', { flags: updateFlags }), problem: 'notimp', opcode: 5 },
  { name: 'opcode IQUERY', msg: simple({ b2: 1 << 3 }), problem: 'notimp', opcode: 1 },
  { name: 'opcode STATUS on a bare header (checked before the counts)', msg: header({ b2: 2 << 3, qd: 0 }), problem: 'notimp', opcode: 2 },
  { name: 'QDCOUNT 0', msg: header({ qd: 0 }), problem: 'formerr', questionEnd: 0 },
  {
    name: 'QDCOUNT 2 (dns-packet encoded)',
    msg: dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ name: 'a.cluster.local', type: 'A' }, { name: 'b.cluster.local', type: 'A' }] }),
    problem: 'formerr',
  },
  { name: 'QDCOUNT 1 but no question bytes', msg: header(), problem: 'formerr' },
  { name: 'ANCOUNT 1 but no record', msg: simple({ an: 1 }), problem: 'formerr', questionEnd: 12 + SVC.length + 4 },
  { name: 'NSCOUNT 1 but no record', msg: simple({ ns: 1 }), problem: 'formerr' },
  { name: 'ANCOUNT 2 (miekg/dns accepts at most 1)', msg: simple({ an: 2 }, [SVC, typeClass(), aRr(), aRr()]), problem: 'formerr', questionEnd: 0 },
  { name: 'NSCOUNT 2 (miekg/dns accepts at most 1)', msg: simple({ ns: 2 }, [SVC, typeClass(), aRr(), aRr()]), problem: 'formerr' },
  { name: 'answer record with rdlength past the end', msg: simple({ an: 1 }, [SVC, typeClass(), aRr().subarray(0, 14)]), problem: 'formerr' },
  { name: 'ARCOUNT 3', msg: simple({ ar: 3 }, [SVC, typeClass(), optRr(), optRr(), optRr()]), problem: 'formerr' },
  { name: 'compression pointer as the whole qname', msg: simple({}, [Buffer.from([0xc0, 0x0c]), typeClass()]), problem: 'formerr' },
  { name: 'compression pointer after a label', msg: simple({}, [Buffer.from([3, 0x66, 0x6f, 0x6f, 0xc0, 0x0c]), typeClass()]), problem: 'formerr' },
  { name: 'pointer loop (pointer to itself)', msg: simple({}, [Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), problem: 'formerr' },
  { name: 'pointer loop (two labels pointing at each other)', msg: simple({}, [Buffer.from([0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1])]), problem: 'formerr' },
  { name: 'reserved label type 0x40', msg: simple({}, [Buffer.from([0x41, 0x00]), typeClass()]), problem: 'formerr' },
  { name: 'label of 64 bytes', msg: simple({}, [wireName(label(64), 'local'), typeClass()]), problem: 'formerr' },
  { name: 'name of 256 wire bytes', msg: simple({}, [wireName(label(63), label(63), label(63), label(62)), typeClass()]), problem: 'formerr' },
  { name: 'name of 257 wire bytes', msg: simple({}, [wireName(label(63), label(63), label(63), label(63)), typeClass()]), problem: 'formerr' },
  { name: 'name without its root label', msg: simple({}, [Buffer.from([3, 0x66, 0x6f, 0x6f])]), problem: 'formerr' },
  { name: 'label running past the end', msg: simple({}, [Buffer.from([10, 0x66, 0x6f, 0x6f])]), problem: 'formerr' },
  { name: 'question without type and class', msg: simple({}, [SVC]), problem: 'formerr' },
  { name: 'question with type but no class', msg: simple({}, [SVC, Buffer.from([0, 1])]), problem: 'formerr' },
  { name: 'question missing the last class byte', msg: simple({}, [SVC, Buffer.from([0, 1, 0])]), problem: 'formerr' },
  { name: 'ARCOUNT 1 but no record', msg: simple({ ar: 1 }), problem: 'formerr', questionEnd: 12 + SVC.length + 4 },
  { name: 'truncated OPT (fixed part cut)', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr().subarray(0, 7)]), problem: 'formerr', questionEnd: 12 + SVC.length + 4 },
  { name: 'truncated OPT (one byte short)', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr().subarray(0, 10)]), problem: 'formerr' },
  {
    name: 'OPT rdlength past the end',
    msg: (() => {
      const o = optRr({ rdata: Buffer.from([0, 10, 0, 4, 1, 2, 3, 4]) });
      return simple({ ar: 1 }, [SVC, typeClass(), o.subarray(0, o.length - 2)]);
    })(),
    problem: 'formerr',
  },
  { name: 'two OPT records', msg: simple({ ar: 2 }, [SVC, typeClass(), optRr(), optRr()]), problem: 'formerr', questionEnd: 12 + SVC.length + 4 },
  { name: 'OPT with a non-root owner', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr({ owner: wireName('x') })]), problem: 'formerr' },
  { name: 'dns-packet query with ARCOUNT bumped and nothing added', msg: (() => { const m = dpQuery('svc.cluster.local', 'A', { edns: {} }); m.writeUInt16BE(2, 10); return m; })(), problem: 'formerr' },
];

for (const c of rejects) {
  test(`parseQuery rejects: ${c.name} -> ${c.problem}`, () => {
    const r = parseQuery(c.msg);
    assert.equal(r.ok, false, 'must not parse');
    if (r.ok) return;
    assert.equal(r.problem, c.problem);
    if (c.id !== undefined) assert.equal(r.id, c.id, 'id carried for the error reply');
    if (c.opcode !== undefined) assert.equal(r.opcode, c.opcode);
    if (c.questionEnd !== undefined) assert.equal(r.questionEnd, c.questionEnd);
    assert.ok(r.questionEnd === 0 || (r.questionEnd >= 12 && r.questionEnd <= c.msg.length), 'questionEnd is 0 or within the message');
  });
}

test('rejections report the OPT the query carried, so FORMERR and NOTIMP can carry one back (RFC 6891 §7)', () => {
  const withOpt: [string, Buffer, QueryProblem, boolean][] = [
    ['two OPTs (RFC 6891 §6.1.1), DO from the first', simple({ ar: 2 }, [SVC, typeClass(), optRr({ flags: 0x8000 }), optRr()]), 'formerr', true],
    ['NOTIFY with an OPT', dpQuery('cluster.local', 'SOA', { flags: notifyFlags, edns: {} }), 'notimp', false],
    ['UPDATE with an OPT and DO', dpQuery('cluster.local', 'SOA', { flags: updateFlags, edns: { do: true } }), 'notimp', true],
    ['QDCOUNT 2 with an OPT', (() => {
      const m = dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ name: 'a.local', type: 'A' }, { name: 'b.local', type: 'A' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never] });
      return m;
    })(), 'formerr', false],
    ['ARCOUNT 3: OPT after two other records', simple({ ar: 3 }, [SVC, typeClass(), aRr(), aRr(), optRr({ flags: 0x8000 })]), 'formerr', true],
    ['OPT with a non-root owner', simple({ ar: 1 }, [SVC, typeClass(), optRr({ owner: wireName('x') })]), 'formerr', false],
  ];
  for (const [name, msg, expected, dnssecOk] of withOpt) {
    const r = parseQuery(msg);
    assert.ok(!r.ok, name);
    assert.equal(r.problem, expected, name);
    assert.equal(r.hasEdns, true, `${name}: OPT seen`);
    assert.equal(r.dnssecOk, dnssecOk, `${name}: DO`);
  }
  const without: Buffer[] = [simple({ b2: 1 << 3 }), header({ qd: 0 }), simple({ ar: 1 }, [SVC, typeClass(), optRr().subarray(0, 7)]), simple({}, [Buffer.from([0xc0, 0x0c]), typeClass()])];
  for (const msg of without) {
    const r = parseQuery(msg);
    assert.ok(!r.ok);
    assert.deepEqual([r.hasEdns, r.dnssecOk], [false, false], msg.toString('hex'));
  }
});

// ---------------------------------------------------------------------------
// Accepted queries
// ---------------------------------------------------------------------------

function parseOk(msg: Uint8Array): ParsedQuery {
  const r = parseQuery(msg);
  if (!r.ok) assert.fail(`expected a valid query, got ${r.problem} for ${Buffer.from(msg).toString('hex')}`);
  return r.query;
}

interface AcceptCase {
  name: string;
  msg: Buffer;
  check: (q: ParsedQuery, msg: Buffer) => void;
}

const accepts: AcceptCase[] = [
  {
    name: 'plain A query without EDNS',
    msg: dpQuery('svc.cluster.local', 'A', { id: 0xfeed }),
    check: (q, msg) => {
      assert.equal(q.id, 0xfeed);
      assert.equal(q.opcode, 0);
      assert.equal(q.qtype, 1);
      assert.equal(q.qclass, 1);
      assert.equal(q.hasEdns, false);
      assert.equal(q.udpPayload, 512);
      assert.equal(q.dnssecOk, false);
      assert.equal(q.checkingDisabled, false);
      assert.equal(q.nameEnd, 12 + SVC.length);
      assert.equal(q.questionEnd, msg.length);
      assert.equal(q.flags2, msg[2]);
      assert.equal(q.flags3, msg[3]);
      assert.ok(isInternetClass(q));
    },
  },
  { name: 'EDNS payload 1232', msg: dpQuery('svc.cluster.local', 'A', { edns: { payload: 1232 } }), check: (q) => assert.deepEqual([q.hasEdns, q.udpPayload], [true, 1232]) },
  { name: 'EDNS payload 4096', msg: dpQuery('svc.cluster.local', 'A', { edns: { payload: 4096 } }), check: (q) => assert.equal(q.udpPayload, 4096) },
  { name: 'EDNS payload 65535', msg: dpQuery('svc.cluster.local', 'A', { edns: { payload: 65535 } }), check: (q) => assert.equal(q.udpPayload, 65535) },
  { name: 'EDNS payload 100 is floored to 512', msg: dpQuery('svc.cluster.local', 'A', { edns: { payload: 100 } }), check: (q) => assert.deepEqual([q.hasEdns, q.udpPayload], [true, 512]) },
  { name: 'EDNS payload 0 is floored to 512', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr({ payload: 0 })]), check: (q) => assert.equal(q.udpPayload, 512) },
  { name: 'EDNS payload 511 is floored to 512', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr({ payload: 511 })]), check: (q) => assert.equal(q.udpPayload, 512) },
  { name: 'DO bit', msg: dpQuery('svc.cluster.local', 'A', { edns: { do: true } }), check: (q) => assert.deepEqual([q.dnssecOk, q.checkingDisabled], [true, false]) },
  { name: 'other EDNS flag bits are not DO', msg: simple({ ar: 1 }, [SVC, typeClass(), optRr({ flags: 0x7fff })]), check: (q) => assert.equal(q.dnssecOk, false) },
  { name: 'CD bit', msg: dpQuery('svc.cluster.local', 'A', { flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED }), check: (q) => assert.deepEqual([q.checkingDisabled, q.dnssecOk], [true, false]) },
  { name: 'AD bit in the query is kept in flags3', msg: dpQuery('svc.cluster.local', 'A', { flags: dnsPacket.AUTHENTIC_DATA }), check: (q) => assert.equal(q.flags3 & 0x20, 0x20) },
  { name: 'RD clear', msg: dpQuery('svc.cluster.local', 'A', { flags: 0 }), check: (q) => assert.equal(q.flags2 & 1, 0) },
  { name: 'EDNS version 1 is read (BADVERS is the caller’s call)', msg: dpQuery('svc.cluster.local', 'A', { edns: { version: 1 } }), check: (q) => assert.equal(q.ednsVersion, 1) },
  {
    name: 'OPT with an option (cookie) in its rdata',
    msg: simple({ ar: 1 }, [SVC, typeClass(), optRr({ rdata: Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]), flags: 0x8000 })]),
    check: (q) => assert.deepEqual([q.hasEdns, q.dnssecOk], [true, true]),
  },
  {
    name: 'OPT plus a second non-OPT additional (e.g. TSIG-shaped) record',
    msg: simple({ ar: 2 }, [SVC, typeClass(), optRr(), wireName('key'), Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb])]),
    check: (q) => assert.equal(q.hasEdns, true),
  },
  { name: 'root name "."', msg: dpQuery('.', 'NS'), check: (q) => assert.deepEqual([q.nameEnd, q.qtype, keyToName(q.key)], [13, 2, '.']) },
  { name: 'class CH is parsed (refused later)', msg: dpQuery('version.bind', 'TXT', { klass: 'CH' }), check: (q) => assert.deepEqual([q.qclass, isInternetClass(q)], [3, false]) },
  { name: 'class ANY', msg: dpQuery('svc.cluster.local', 'A', { klass: 'ANY' }), check: (q) => assert.equal(q.qclass, 255) },
  { name: 'qtype 65535', msg: simple({}, [SVC, typeClass(65535, 1)]), check: (q) => assert.equal(q.qtype, 65535) },
  { name: 'qtype 0', msg: simple({}, [SVC, typeClass(0, 1)]), check: (q) => assert.equal(q.qtype, 0) },
  { name: 'label of exactly 63 bytes', msg: simple({}, [wireName(label(63), 'local'), typeClass()]), check: (q) => assert.equal(q.nameEnd, 12 + 1 + 63 + 1 + 5 + 1) },
  {
    name: 'name of exactly 255 wire bytes',
    msg: simple({}, [wireName(label(63), label(63), label(63), label(61)), typeClass()]),
    check: (q) => {
      assert.equal(q.nameEnd - 12, 255);
      assert.equal(keyNameLength(q.key), 255);
      assert.equal(q.key.length, 260);
    },
  },
  { name: 'ID 0 and ID 0xffff', msg: dpQuery('svc.cluster.local', 'A', { id: 0xffff }), check: (q) => assert.equal(q.id, 0xffff) },
  { name: 'labels containing dots and spaces (binary labels)', msg: simple({}, [wireName('a.b', 'c d', 'local'), typeClass()]), check: (q) => assert.equal(keyNameLength(q.key), 1 + 3 + 1 + 3 + 1 + 5 + 1) },
  // What CoreDNS (miekg/dns) accepts and answers; forwarded without the extra parts (forwardableQuery).
  { name: 'Z bit set (ignored, as miekg/dns does)', msg: simple({ b3: 0x40 }), check: (q) => assert.deepEqual([q.plain, q.qtype, q.flags3 & 0x40], [false, 1, 0x40]) },
  {
    name: 'one answer record (miekg/dns accepts ANCOUNT <= 1)',
    msg: simple({ an: 1, ar: 1 }, [SVC, typeClass(), aRr(), optRr({ flags: 0x8000, payload: 4096 })]),
    check: (q, msg) => {
      assert.deepEqual([q.plain, q.hasEdns, q.dnssecOk, q.udpPayload], [false, true, true, 4096]);
      assert.deepEqual([q.optStart, q.optEnd], [12 + SVC.length + 4 + 16, msg.length]);
    },
  },
  { name: 'one authority record', msg: simple({ ns: 1 }, [SVC, typeClass(), aRr()]), check: (q) => assert.deepEqual([q.plain, q.hasEdns, q.optStart], [false, false, -1]) },
  { name: 'answer and authority record', msg: simple({ an: 1, ns: 1 }, [SVC, typeClass(), aRr(), aRr()]), check: (q) => assert.equal(q.plain, false) },
  { name: 'trailing bytes after the question (ignored)', msg: simple({}, [SVC, typeClass(), Buffer.from([0xde, 0xad])]), check: (q) => assert.deepEqual([q.plain, q.questionEnd, q.hasEdns], [false, 12 + SVC.length + 4, false]) },
  { name: 'one trailing zero byte', msg: Buffer.concat([dpQuery('svc.cluster.local'), Buffer.from([0])]), check: (q) => assert.equal(q.plain, false) },
  { name: 'trailing bytes after the OPT', msg: Buffer.concat([dpQuery('svc.cluster.local', 'A', { edns: { do: true } }), Buffer.from([1, 2, 3])]), check: (q) => assert.deepEqual([q.plain, q.hasEdns, q.dnssecOk], [false, true, true]) },
  { name: 'a dns-packet query is plain', msg: dpQuery('svc.cluster.local', 'A', { edns: {} }), check: (q, msg) => assert.deepEqual([q.plain, q.optEnd], [true, msg.length]) },
];

for (const c of accepts) {
  test(`parseQuery accepts: ${c.name}`, () => c.check(parseOk(c.msg), c.msg));
}

test('parsed fields agree with dns-packet decoding for a spread of dns-packet queries', () => {
  const types: RecordType[] = ['A', 'AAAA', 'PTR', 'SRV', 'TXT', 'NS', 'SOA', 'MX', 'CNAME', 'DNSKEY', 'DS', 'ANY' as RecordType, 'AXFR', 'CAA'];
  const names = ['kubernetes.default.svc.cluster.local', 'Svc-1.NS-2.svc.CLUSTER.local', '1.0.96.10.in-addr.arpa', 'x', '_dns._udp.kube-dns.kube-system.svc.cluster.local'];
  let n = 0;
  for (const name of names) {
    for (const t of types) {
      for (const edns of [undefined, { payload: 1232 }, { payload: 4096, do: true }]) {
        for (const flags of [0, dnsPacket.RECURSION_DESIRED, dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED]) {
          const id = (n++ * 7919) & 0xffff;
          const msg = dpQuery(name, t, { id, edns, flags });
          const q = parseOk(msg);
          const d = dnsPacket.decode(msg);
          assert.equal(q.id, d.id);
          assert.equal(q.qtype, msg.readUInt16BE(q.nameEnd));
          assert.equal(q.qtype, typeNumber(d.questions![0].type));
          assert.equal(q.qclass, 1);
          assert.equal(q.checkingDisabled, d.flag_cd);
          assert.equal(q.flags2 & 1, d.flag_rd ? 1 : 0);
          const opt = d.additionals?.find((a) => a.type === 'OPT');
          assert.equal(q.hasEdns, !!opt);
          if (opt && opt.type === 'OPT') {
            assert.equal(q.udpPayload, Math.max(512, opt.udpPayloadSize));
            assert.equal(q.dnssecOk, opt.flag_do);
          } else {
            assert.equal(q.dnssecOk, false);
          }
          assert.equal(keyToName(q.key), `${d.questions![0].name.toLowerCase()}.`);
          assert.equal(q.questionEnd, 12 + dnsPacket.encodingLength({ questions: d.questions }) - 12);
        }
      }
    }
  }
  assert.ok(n > 500);
});

function typeNumber(t: string): number {
  const probe = dnsPacket.encode({ type: 'query', id: 0, questions: [{ name: '.', type: t as RecordType }] });
  return probe.readUInt16BE(13);
}

// ---------------------------------------------------------------------------
// Cache key
// ---------------------------------------------------------------------------

const keyOf = (msg: Buffer): string => parseOk(msg).key;

test('key = lower-cased qname wire bytes + type + class + flags byte (0x30 | DO | CD<<1)', () => {
  const msg = dpQuery('Svc.Cluster.LOCAL', 'AAAA', { edns: { do: true }, flags: dnsPacket.CHECKING_DISABLED });
  const key = keyOf(msg);
  const expectedName = wireName('svc', 'cluster', 'local');
  const expected = Buffer.concat([expectedName, typeClass(28, 1), Buffer.from([0x33])]).toString('latin1');
  assert.equal(key, expected);
  assert.equal(keyToName(key), 'svc.cluster.local.');
  assert.equal(keyNameLength(key), expectedName.length);
});

test('key lower-cases ASCII A-Z only: non-ASCII bytes (Latin-1 capitals, UTF-8) and punctuation are preserved', () => {
  // 0x40 '@' and 0x5b '[' bracket the A-Z range; 0xc0 'À' and 0xde 'Þ' are Latin-1 capitals;
  // 0xc3 0x89 is UTF-8 'É'. None of them may be touched.
  const raw = Buffer.from([0x40, 0x41, 0x5a, 0x5b, 0x60, 0x7b, 0xc0, 0xde, 0xc3, 0x89, 0xff]);
  const msg = simple({}, [wireName(raw, 'LOCAL'), typeClass()]);
  const key = keyOf(msg);
  const keyBytes = Buffer.from(key, 'latin1');
  assert.deepEqual([...keyBytes.subarray(1, 1 + raw.length)], [0x40, 0x61, 0x7a, 0x5b, 0x60, 0x7b, 0xc0, 0xde, 0xc3, 0x89, 0xff]);
  assert.equal(keyBytes.subarray(1 + raw.length, 1 + raw.length + 6).toString('latin1'), '\x05local');
  // Non-ASCII bytes make distinct keys: 'À' (0xc0) is not folded to 'à' (0xe0).
  const lower = simple({}, [wireName(Buffer.from([0xe0]), 'local'), typeClass()]);
  const upper = simple({}, [wireName(Buffer.from([0xc0]), 'local'), typeClass()]);
  assert.notEqual(keyOf(lower), keyOf(upper));
  // The message itself is not modified.
  assert.equal(msg[13], 0x40);
  assert.equal(msg[14], 0x41);
});

test('keys are equal across ID, RD, case, EDNS presence and payload size', () => {
  const base = keyOf(dpQuery('svc.cluster.local', 'A'));
  assert.equal(keyOf(dpQuery('SVC.CLUSTER.LOCAL', 'A', { id: 1 })), base);
  assert.equal(keyOf(dpQuery('sVc.ClUsTeR.lOcAl', 'A', { flags: 0 })), base);
  assert.equal(keyOf(dpQuery('svc.cluster.local', 'A', { edns: { payload: 4096 } })), base);
  assert.equal(keyOf(dpQuery('svc.cluster.local', 'A', { edns: { payload: 512 } })), base);
});

test('keys differ by DO, CD, type, class and name', () => {
  const keys = new Map<string, string>([
    ['base', keyOf(dpQuery('svc.cluster.local', 'A'))],
    ['DO', keyOf(dpQuery('svc.cluster.local', 'A', { edns: { do: true } }))],
    ['CD', keyOf(dpQuery('svc.cluster.local', 'A', { flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED }))],
    ['DO+CD', keyOf(dpQuery('svc.cluster.local', 'A', { edns: { do: true }, flags: dnsPacket.CHECKING_DISABLED }))],
    ['AAAA', keyOf(dpQuery('svc.cluster.local', 'AAAA'))],
    ['type 0x0101', keyOf(simple({}, [SVC, typeClass(0x0101, 1)]))],
    ['CH', keyOf(dpQuery('svc.cluster.local', 'A', { klass: 'CH' }))],
    ['class 0x0101', keyOf(simple({}, [SVC, typeClass(1, 0x0101)]))],
    ['name', keyOf(dpQuery('svd.cluster.local', 'A'))],
    ['longer name', keyOf(dpQuery('svc.cluster.local.x', 'A'))],
  ]);
  assert.equal(new Set(keys.values()).size, keys.size, `all distinct: ${[...keys.keys()].join(', ')}`);
});

test('the parser is reusable: a parse does not leak into the next key (shared scratch buffer)', () => {
  const long = keyOf(dpQuery('a-very-long-name.with.many.labels.svc.cluster.local', 'A'));
  const short = keyOf(dpQuery('x', 'A'));
  assert.equal(short, Buffer.concat([wireName('x'), typeClass(1, 1), Buffer.from([0x30])]).toString('latin1'));
  assert.equal(keyOf(dpQuery('a-very-long-name.with.many.labels.svc.cluster.local', 'A')), long);
});

test('parseQuery accepts a Uint8Array view into a larger buffer', () => {
  const msg = dpQuery('svc.cluster.local', 'A', { edns: { do: true } });
  const big = new Uint8Array(msg.length + 20);
  big.set(msg, 10);
  const q = parseOk(big.subarray(10, 10 + msg.length));
  assert.equal(q.key, keyOf(msg));
  assert.equal(q.dnssecOk, true);
});

test('forwardableQuery: header (Z clear, no answer/authority), question and the OPT; same key; decodable', () => {
  const cases: Buffer[] = [
    simple({ b3: 0x40 | 0x10 }),
    simple({ an: 1, ns: 1, ar: 1 }, [SVC, typeClass(28), aRr(), aRr(), optRr({ flags: 0x8000 })]),
    simple({ ar: 2 }, [SVC, typeClass(), aRr(), optRr(), Buffer.from([9, 9, 9])]),
    Buffer.concat([dpQuery('Svc.Cluster.Local', 'SRV', { id: 0x4321 }), Buffer.from([0])]),
  ];
  for (const msg of cases) {
    const q = parseOk(msg);
    assert.equal(q.plain, false);
    const fwd = forwardableQuery(msg, q);
    const again = parseOk(fwd);
    assert.equal(again.plain, true, fwd.toString('hex'));
    assert.equal(again.key, q.key);
    assert.deepEqual([again.id, again.questionEnd, again.hasEdns, again.dnssecOk, again.flags2, again.flags3], [q.id, q.questionEnd, q.hasEdns, q.dnssecOk, q.flags2, q.flags3 & ~0x40]);
    assert.deepEqual(fwd.subarray(12, q.questionEnd), msg.subarray(12, q.questionEnd), 'question bytes (case) unchanged');
    const d = dnsPacket.decode(fwd);
    assert.equal(d.answers?.length ?? 0, 0);
    assert.equal(d.authorities?.length ?? 0, 0);
    assert.deepEqual((d.additionals ?? []).map((r) => r.type), q.hasEdns ? ['OPT'] : []);
  }
});
