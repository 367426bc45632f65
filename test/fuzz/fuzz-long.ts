// Long fuzz run (`npm run fuzz`), not part of the normal suite.
//
// Phase 1 (parser): the wire properties below with FUZZ_CASES cases in total (default 1,000,000):
// parseQuery / analyzeReply / renderReply / errorReply / FrameReader never throw on arbitrary bytes
// or on mutated real queries and replies, keep their invariants, and agree with dns-packet on valid
// queries. test/unit/wire-fuzz.test.ts runs the same properties with a small case count.
//
// Phase 2 (live): our daemon in-process in front of a real BIND on 127.0.0.1, bombarded with
// FUZZ_PACKETS mutated UDP packets (default 100,000) and FUZZ_TCP_PACKETS mutated TCP frames
// (default 3,000), bounded by FUZZ_SECONDS (default 300). Then a normal query must still be answered
// correctly over UDP and TCP. Loopback only.
//
// Prints one JSON report on stdout (progress goes to stderr); exits 1 if any check failed.
// Env: FUZZ_CASES, FUZZ_PACKETS, FUZZ_TCP_PACKETS, FUZZ_SECONDS, FUZZ_SEED, FUZZ_LIVE=0 (skip phase 2).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, RecordType, RecordClass } from 'dns-packet';
import { parseQuery, type ParsedQuery } from '../../src/dns/query.js';
import { analyzeReply, clientLimit, errorReply, queryFromKey, renderReply, templateTtlOffsets, templateWire, toTemplate, type ReplyTemplate } from '../../src/dns/reply.js';
import { FrameReader, frame } from '../../src/dns/tcp-framing.js';
import { RCODE } from '../../src/dns/constants.js';

// ---------------------------------------------------------------------------
// Corpus (dns-packet encoded)
// ---------------------------------------------------------------------------

export const CORPUS_NAME = 'svc-1.default.svc.cluster.local';
const ZONE = 'cluster.local';
const LONG_NAME = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`; // 255 wire bytes

const optRr = (o: { do?: boolean; payload?: number; version?: number } = {}): Answer => ({
  type: 'OPT',
  name: '.',
  udpPayloadSize: o.payload ?? 1232,
  extendedRcode: 0,
  ednsVersion: o.version ?? 0,
  flags: o.do ? dnsPacket.DNSSEC_OK : 0,
  flag_do: !!o.do,
  options: [],
});

export interface QuerySpec {
  name: string;
  type: RecordType;
  id?: number;
  flags?: number;
  klass?: RecordClass;
  edns?: { do?: boolean; payload?: number; version?: number };
}

export function encodeQuery(q: QuerySpec): Buffer {
  const packet: Packet = { type: 'query', id: q.id ?? 0x2a2a, flags: q.flags ?? dnsPacket.RECURSION_DESIRED, questions: [{ name: q.name, type: q.type, class: q.klass ?? 'IN' }] };
  if (q.edns) packet.additionals = [optRr(q.edns)];
  return dnsPacket.encode(packet);
}

/** Valid queries: a spread of names, types, EDNS sizes, DO/CD, plus a few odd-but-valid shapes. */
export function queryCorpus(names: readonly string[] = [CORPUS_NAME, 'kubernetes.default.svc.cluster.local', '1.0.96.10.in-addr.arpa']): Buffer[] {
  const out: Buffer[] = [];
  const types: RecordType[] = ['A', 'AAAA', 'PTR', 'SRV', 'TXT', 'SOA', 'NS'];
  names.forEach((name, i) => {
    out.push(encodeQuery({ name, type: types[i % types.length] }));
    out.push(encodeQuery({ name, type: 'A', edns: { payload: 1232 } }));
    out.push(encodeQuery({ name: name.toUpperCase(), type: 'AAAA', edns: { payload: 4096, do: true }, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED }));
    out.push(encodeQuery({ name, type: 'TXT', edns: { payload: 512 }, flags: 0 }));
  });
  out.push(encodeQuery({ name: '.', type: 'NS' }));
  out.push(encodeQuery({ name: LONG_NAME, type: 'A', edns: {} }));
  out.push(encodeQuery({ name: 'version.bind', type: 'TXT', klass: 'CH' }));
  out.push(encodeQuery({ name: CORPUS_NAME, type: 'A', edns: { version: 1 } }));
  // OPT + a TSIG-shaped record (ARCOUNT 2).
  const withTsig = Buffer.concat([encodeQuery({ name: CORPUS_NAME, type: 'A', edns: {} }), Buffer.from([3, 0x6b, 0x65, 0x79, 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb])]);
  withTsig.writeUInt16BE(2, 10);
  out.push(withTsig);
  // What the daemon itself sends upstream (queryFromKey).
  const parsed = parseQuery(out[2]);
  if (parsed.ok) out.push(queryFromKey(parsed.query.key, 77));
  return out;
}

const a = (ttl: number, ip = '10.96.0.1', name = CORPUS_NAME): Answer => ({ type: 'A', name, ttl, data: ip });
const soa = (ttl: number, minimum: number): Answer => ({
  type: 'SOA',
  name: ZONE,
  ttl,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 2024010101, refresh: 7200, retry: 1800, expire: 86400, minimum },
});

export interface ReplySample {
  readonly reply: Buffer;
  readonly name: string;
  readonly type: RecordType;
}

function reply(type: RecordType, flagsAndRcode: number, sections: { answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] }, name = CORPUS_NAME): ReplySample {
  const packet: Packet = {
    type: 'response',
    id: 0x5151,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | flagsAndRcode,
    questions: [{ name, type, class: 'IN' }],
    answers: sections.answers ?? [],
    authorities: sections.authorities ?? [],
    additionals: sections.additionals ?? [],
  };
  return { reply: dnsPacket.encode(packet), name, type };
}

/** Upstream-like replies of every shape the cache handles, small to larger than 1232 bytes. */
export function replyCorpus(): ReplySample[] {
  const txt = (n: number, len: number): Answer[] => Array.from({ length: n }, (_, i) => ({ type: 'TXT', name: CORPUS_NAME, ttl: 30, data: [`${i}`.padEnd(len, 'x')] }) as Answer);
  const samples: ReplySample[] = [
    reply('A', 0, { answers: [a(30), a(60, '10.96.0.2')], additionals: [optRr({ do: true })] }),
    reply('A', dnsPacket.AUTHENTIC_DATA, { answers: [a(300)], authorities: [{ type: 'NS', name: ZONE, ttl: 90, data: `ns.${ZONE}` }], additionals: [a(45, '10.0.0.53', `ns.${ZONE}`), optRr()] }),
    reply('A', RCODE.NXDOMAIN, { authorities: [soa(30, 5)], additionals: [optRr()] }),
    reply('AAAA', 0, { authorities: [soa(30, 5)] }),
    reply('A', 0, { authorities: [{ type: 'NS', name: `sub.${ZONE}`, ttl: 120, data: `ns1.sub.${ZONE}` }], additionals: [a(80, '10.0.0.1', `ns1.sub.${ZONE}`)] }, `x.sub.${ZONE}`),
    reply('CNAME', 0, { answers: [{ type: 'CNAME', name: CORPUS_NAME, ttl: 10, data: `target.${ZONE}` }, a(20, '10.1.1.1', `target.${ZONE}`)] }),
    reply('SRV', 0, { answers: [{ type: 'SRV', name: CORPUS_NAME, ttl: 5, data: { priority: 0, weight: 10, port: 53, target: `ns.${ZONE}` } }], additionals: [a(5, '10.0.0.53', `ns.${ZONE}`)] }),
    reply('TXT', 0, { answers: txt(4, 200) }),
    reply('TXT', 0, { answers: txt(12, 200), additionals: [optRr({ payload: 4096 })] }),
    reply('A', RCODE.SERVFAIL, {}),
    reply('A', dnsPacket.TRUNCATED_RESPONSE, {}),
    reply('A', 0, { answers: [a(30, '10.2.2.2', LONG_NAME)] }, LONG_NAME),
  ];
  // A reply with compressed owner names (pointers to the question), as real servers send.
  const q = encodeQuery({ name: CORPUS_NAME, type: 'A' });
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 0, 0, 1]);
  const compressed = Buffer.concat([q, rr, rr]);
  compressed[2] |= 0x80;
  compressed[3] |= 0x80;
  compressed.writeUInt16BE(2, 6);
  samples.push({ reply: compressed, name: CORPUS_NAME, type: 'A' });
  return samples;
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------

export type MutationOp =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'set'; pos: number; value: number }
  | { kind: 'truncate'; pos: number }
  | { kind: 'insert'; pos: number; bytes: Uint8Array }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'duplicate'; pos: number; len: number }
  | { kind: 'field'; field: number; value: number }; // header u16: 0 id, 1 flags, 2 QD, 3 AN, 4 NS, 5 AR

/** Applies mutations to a copy of `base`; positions wrap around the current length. */
export function applyMutations(base: Uint8Array, ops: readonly MutationOp[]): Buffer {
  let buf = Buffer.from(base);
  for (const op of ops) {
    const n = buf.length;
    switch (op.kind) {
      case 'flip':
        if (n > 0) buf[op.pos % n] ^= 1 << op.bit;
        break;
      case 'set':
        if (n > 0) buf[op.pos % n] = op.value;
        break;
      case 'truncate':
        buf = buf.subarray(0, op.pos % (n + 1));
        break;
      case 'insert': {
        const p = op.pos % (n + 1);
        buf = Buffer.concat([buf.subarray(0, p), op.bytes, buf.subarray(p)]);
        break;
      }
      case 'delete': {
        if (n === 0) break;
        const p = op.pos % n;
        buf = Buffer.concat([buf.subarray(0, p), buf.subarray(p + op.len)]);
        break;
      }
      case 'duplicate': {
        if (n === 0) break;
        const p = op.pos % n;
        buf = Buffer.concat([buf.subarray(0, Math.min(n, p + op.len)), buf.subarray(p)]);
        break;
      }
      case 'field':
        if (n >= 12) buf.writeUInt16BE(op.value & 0xffff, op.field * 2);
        break;
    }
  }
  return buf;
}

const interestingU16 = [0, 1, 2, 3, 0x7fff, 0x8000, 0xffff];

export const mutationOpArb: fc.Arbitrary<MutationOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), value: fc.oneof(fc.constantFrom(0, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff), fc.integer({ min: 0, max: 255 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('field' as const), field: fc.integer({ min: 0, max: 5 }), value: fc.oneof(fc.constantFrom(...interestingU16), fc.integer({ min: 0, max: 0xffff })) }) },
);

const mutationsArb = fc.array(mutationOpArb, { minLength: 1, maxLength: 6, size: 'max' });

/** Deterministic PRNG (mulberry32) for the live phase. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same mutation vocabulary drawn from a seeded PRNG (cheaper than fast-check for packet floods). */
export function randomMutations(rand: () => number): MutationOp[] {
  const int = (n: number) => Math.floor(rand() * n);
  const ops: MutationOp[] = [];
  const count = 1 + int(4);
  for (let i = 0; i < count; i++) {
    const r = int(15);
    const pos = int(0x10000);
    if (r < 5) ops.push({ kind: 'flip', pos, bit: int(8) });
    else if (r < 8) ops.push({ kind: 'set', pos, value: int(256) });
    else if (r < 10) ops.push({ kind: 'truncate', pos });
    else if (r < 11) ops.push({ kind: 'insert', pos, bytes: Uint8Array.from({ length: 1 + int(16) }, () => int(256)) });
    else if (r < 12) ops.push({ kind: 'delete', pos, len: 1 + int(16) });
    else if (r < 13) ops.push({ kind: 'duplicate', pos, len: 1 + int(32) });
    else ops.push({ kind: 'field', field: int(6), value: rand() < 0.5 ? interestingU16[int(interestingU16.length)] : int(0x10000) });
  }
  return ops;
}

// ---------------------------------------------------------------------------
// Checks shared by the properties
// ---------------------------------------------------------------------------

function fail(msg: string): never {
  throw new Error(msg);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface DecodedWithRcode {
  id: number;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  flag_cd: boolean;
  flag_ad: boolean;
  questions?: { name: string; type: string }[];
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

const RCODE_NAME: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

function decodeStrict(out: Buffer, what: string): DecodedWithRcode {
  try {
    return dnsPacket.decode(out) as unknown as DecodedWithRcode;
  } catch (err) {
    return fail(`${what} is not decodable (${(err as Error).message}): ${hex(out)}`);
  }
}

/** parseQuery on any bytes: no throw; a parsed query obeys its invariants; rejections yield decodable error replies. */
export function checkQueryBytes(bytes: Uint8Array): ParsedQuery | undefined {
  const r = parseQuery(bytes);
  if (!r.ok) {
    if (r.problem === 'drop-short' && bytes.length >= 12) fail(`drop-short for ${bytes.length} bytes`);
    if (r.problem === 'drop-response' && !(bytes[2] & 0x80)) fail('drop-response without QR');
    if (r.problem === 'drop-short' || r.problem === 'drop-response') return undefined;
    const rcode = r.problem === 'notimp' ? RCODE.NOTIMP : RCODE.FORMERR;
    const out = errorReply(bytes, rcode, r.problem === 'notimp' ? 12 : r.questionEnd, r);
    const d = decodeStrict(out, `${r.problem} reply`);
    if (!d.flag_qr || d.rcode !== RCODE_NAME[rcode] || d.id !== r.id) fail(`bad ${r.problem} reply ${hex(out)}`);
    if (r.hasEdns !== !!d.additionals?.some((x) => x.type === 'OPT')) fail(`${r.problem} reply OPT (RFC 6891 §7) for ${hex(bytes)}`);
    return undefined;
  }
  const q = r.query;
  if (bytes.length < 12 || bytes[2] & 0x80 || q.opcode !== 0) fail('accepted a non-query');
  if (!(q.nameEnd > 12 && q.nameEnd + 4 === q.questionEnd && q.questionEnd <= bytes.length)) fail(`bad offsets ${q.nameEnd}/${q.questionEnd}/${bytes.length}`);
  if (q.nameEnd - 12 > 255) fail('name longer than 255');
  for (let pos = 12; bytes[pos] !== 0; pos += 1 + bytes[pos]) {
    if (bytes[pos] > 63 || pos >= q.nameEnd) fail(`accepted label length ${bytes[pos]} at ${pos}`);
  }
  if (q.key.length !== q.nameEnd - 12 + 5) fail('key length');
  for (let i = 0; i < q.nameEnd - 12; i++) {
    const c = q.key.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) fail(`upper-case byte left in key at ${i}`);
    if (c !== bytes[12 + i] && c !== (bytes[12 + i] | 0x20)) fail(`key byte ${i} not from the name`);
  }
  const flags = q.key.charCodeAt(q.key.length - 1);
  if ((flags & 0xf0) !== 0x30 || (flags & 1) !== (q.dnssecOk ? 1 : 0) || ((flags >> 1) & 1) !== (q.checkingDisabled ? 1 : 0)) fail('key flags');
  if (q.udpPayload < 512 || (!q.hasEdns && (q.udpPayload !== 512 || q.dnssecOk))) fail('EDNS fields');
  if (q.qtype !== ((bytes[q.nameEnd] << 8) | bytes[q.nameEnd + 1]) || q.qclass !== ((bytes[q.nameEnd + 2] << 8) | bytes[q.nameEnd + 3])) fail('type/class');
  // What we would send upstream for a refresh parses back to the same key.
  const again = parseQuery(queryFromKey(q.key, 1));
  if (!again.ok || again.query.key !== q.key) fail(`queryFromKey round trip for ${hex(bytes)}`);
  const refused = errorReply(bytes, RCODE.REFUSED, q.questionEnd, q);
  const d = decodeStrict(refused, 'REFUSED reply');
  if (d.rcode !== 'REFUSED' || d.id !== q.id || d.questions?.length !== 1) fail('bad REFUSED reply');
  if (q.hasEdns !== !!d.additionals?.some((x) => x.type === 'OPT')) fail('REFUSED reply OPT');
  return q;
}

const renderClients = (() => {
  const plain = parseQuery(encodeQuery({ name: CORPUS_NAME, type: 'A' }));
  const edns = parseQuery(encodeQuery({ name: CORPUS_NAME, type: 'A', edns: { payload: 1232, do: true } }));
  if (!plain.ok || !edns.ok) throw new Error('corpus client queries must parse');
  return [
    { msg: encodeQuery({ name: CORPUS_NAME, type: 'A' }), q: plain.query },
    { msg: encodeQuery({ name: CORPUS_NAME, type: 'A', edns: { payload: 1232, do: true } }), q: edns.query },
  ];
})();

/** analyzeReply on any bytes: no throw; offsets inside the message; template + render never throw and respect the limit. */
export function checkReplyBytes(bytes: Uint8Array): void {
  const r = analyzeReply(bytes);
  if (!r) return;
  let last = 0;
  for (const o of r.ttlOffsets) {
    if (o < 12 || o + 4 > bytes.length || o <= last) fail(`TTL offset ${o} out of order/bounds (${bytes.length}) in ${hex(bytes)}`);
    last = o;
  }
  if (r.optStart >= bytes.length || (r.optStart >= 0 && r.optStart < 12)) fail('optStart out of bounds');
  if (r.soaNegativeTtl < -1 || (r.soaNegativeTtl >= 0 && !r.hasSoa)) fail('negative TTL without SOA');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (const c of renderClients) {
    const tpl = toTemplate(buf, r, c.q.questionEnd);
    for (const tcp of [false, true]) {
      const limit = clientLimit(c.q, tcp);
      const out = renderReply(tpl, c.msg, c.q, { ttl: 7, authoritative: true, limit });
      if (out.length > limit) fail(`rendered ${out.length} > limit ${limit}`);
      if (out[0] !== c.msg[0] || out[1] !== c.msg[1]) fail('rendered reply lost the client ID');
    }
  }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

export interface WireProperty {
  readonly name: string;
  /** Fraction of the total case budget. */
  readonly share: number;
  run(numRuns: number, seed?: number): void;
}

const labelChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'.split('');
const labelArb = fc.oneof(fc.string({ unit: fc.constantFrom(...labelChars), minLength: 1, maxLength: 63, size: 'max' }), fc.string({ unit: fc.constantFrom(...labelChars), minLength: 1, maxLength: 12 }));
const nameArb = fc
  .array(labelArb, { minLength: 0, maxLength: 8, size: 'max' })
  .filter((labels) => labels.reduce((n, l) => n + 1 + l.length, 1) <= 255);
const qtypeArb = fc.oneof(fc.constantFrom(1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 46, 48, 65, 255), fc.integer({ min: 1, max: 65535 }));
const classArb = fc.constantFrom<[RecordClass, number][]>(['IN', 1], ['CS', 2], ['CH', 3], ['HS', 4], ['ANY', 255]);

function wireNameLower(labels: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l.toLowerCase(), 'latin1'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

interface AdditionalSpec {
  owner: 'root' | 'pointer' | 'name';
  type: number;
  payload: number;
  ext: number;
  version: number;
  flags: number;
  rdata: Uint8Array;
  rdlenDelta: number; // 0 = consistent rdlength
}

const additionalArb: fc.Arbitrary<AdditionalSpec> = fc.record({
  owner: fc.constantFrom<AdditionalSpec['owner'][]>('root', 'root', 'root', 'pointer', 'name'),
  type: fc.constantFrom(41, 41, 41, 1, 250),
  payload: fc.oneof(fc.constantFrom(0, 511, 512, 1232, 4096, 65535), fc.integer({ min: 0, max: 0xffff })),
  ext: fc.integer({ min: 0, max: 255 }),
  version: fc.constantFrom(0, 0, 1, 255),
  flags: fc.constantFrom(0, 0x8000, 0x7fff, 0xffff),
  rdata: fc.uint8Array({ maxLength: 40 }),
  rdlenDelta: fc.constantFrom(0, 0, 0, 0, 1, -1, 100),
});

function encodeAdditional(x: AdditionalSpec): Buffer {
  const owner = x.owner === 'root' ? Buffer.from([0]) : x.owner === 'pointer' ? Buffer.from([0xc0, 0x0c]) : Buffer.from([1, 0x78, 0]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(x.type, 0);
  fixed.writeUInt16BE(x.payload, 2);
  fixed[4] = x.ext;
  fixed[5] = x.version;
  fixed.writeUInt16BE(x.flags, 6);
  fixed.writeUInt16BE(Math.max(0, Math.min(0xffff, x.rdata.length + x.rdlenDelta)), 8);
  return Buffer.concat([owner, fixed, x.rdata]);
}

/** Builds all properties (corpora are built once per call). */
export function wireProperties(): WireProperty[] {
  const queries = queryCorpus();
  const replies = replyCorpus();
  const templates = replies
    .map((s) => {
      const client = parseQuery(encodeQuery({ name: s.name, type: s.type }));
      const analysis = analyzeReply(s.reply);
      if (!client.ok || !analysis) throw new Error('corpus must parse');
      return { sample: s, analysis, tpl: toTemplate(s.reply, analysis, client.query.questionEnd) as ReplyTemplate };
    })
    .filter((t) => (t.sample.reply[2] & 0x02) === 0);

  const prop = <Ts extends [unknown, ...unknown[]]>(name: string, share: number, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, check: (...args: Ts) => void): WireProperty => ({
    name,
    share,
    run(numRuns, seed) {
      fc.assert(fc.property(...arbs, (...args: Ts) => check(...args)), { numRuns, seed });
    },
  });

  return [
    prop<[Uint8Array]>('parseQuery never throws on arbitrary bytes; rejections get decodable error replies', 0.12, [fc.uint8Array({ maxLength: 600, size: 'max' })], (b) => {
      checkQueryBytes(b);
    }),
    prop<[number, number, Uint8Array[], number, number, AdditionalSpec[], number | null, Uint8Array]>(
      'parseQuery on structured packets: random labels (some invalid), type/class, OPT-like additionals, counts, trailing bytes',
      0.1,
      [
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0x00, 0x01, 0x10, 0x20, 0x30, 0xb0, 0x40),
        fc.array(fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 63, size: 'max' }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 70, size: 'max' }) }), { maxLength: 6, size: 'max' }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
        fc.array(additionalArb, { maxLength: 3, size: 'max' }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), // ARCOUNT override
        fc.oneof({ weight: 5, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
      ],
      (id, flags3, labels, qtype, qclass, additionals, arOverride, trailing) => {
        const h = Buffer.from([id >> 8, id & 0xff, 0x01, flags3, 0, 1, 0, 0, 0, 0, 0, arOverride ?? additionals.length]);
        const name = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), l])), Buffer.from([0])]);
        const tc = Buffer.from([qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff]);
        const msg = Buffer.concat([h, name, tc, ...additionals.map(encodeAdditional), trailing]);
        const q = checkQueryBytes(msg);
        checkReplyBytes(msg);
        // Cross-check the structural verdict: a well-formed packet of this shape must parse, and one
        // broken in a known way must not. Inconsistent rdlengths and empty labels re-align the bytes into
        // some other packet, so those get no verdict.
        const verdictKnown = labels.every((l) => l.length > 0) && additionals.every((x) => Math.max(0, Math.min(0xffff, x.rdata.length + x.rdlenDelta)) === x.rdata.length);
        // Records beyond ARCOUNT, like any bytes after the last record, are ignored (as miekg/dns does); the Z bit too.
        const counted = additionals.slice(0, arOverride ?? additionals.length);
        const wellFormed =
          labels.every((l) => l.length <= 63) &&
          name.length <= 255 &&
          (arOverride === null || arOverride <= additionals.length) &&
          counted.length <= 2 && // miekg/dns pre-check: at most 2 additional records
          counted.filter((x) => x.type === 41).length <= 1 && // RFC 6891 §6.1.1
          counted.every((x) => x.type !== 41 || x.owner === 'root');
        if (verdictKnown && wellFormed !== (q !== undefined)) fail(`well-formed ${wellFormed} but parsed ${q !== undefined}: ${hex(msg)}`);
        if (q && verdictKnown && q.plain !== (flags3 !== 0x40 && counted.length === additionals.length && trailing.length === 0)) fail(`plain ${q.plain}: ${hex(msg)}`);
        if (q && verdictKnown) {
          const opt = counted.find((x) => x.type === 41);
          if (q.hasEdns !== !!opt) fail('hasEdns');
          if (opt && (q.udpPayload !== Math.max(512, opt.payload) || q.dnssecOk !== (opt.flags & 0x8000) > 0 || q.ednsVersion !== opt.version)) fail('OPT fields');
        }
      },
    ),
    prop<[number, MutationOp[]]>('mutated real queries (bit flips, truncations, splices, header fields) never throw', 0.2, [fc.integer({ min: 0, max: queries.length - 1 }), mutationsArb], (i, ops) => {
      const m = applyMutations(queries[i], ops);
      checkQueryBytes(m);
      checkReplyBytes(m);
    }),
    prop<[Uint8Array]>('analyzeReply/renderReply never throw on arbitrary bytes; analyses stay inside the message', 0.1, [fc.uint8Array({ maxLength: 1500, size: 'max' })], (b) => {
      checkReplyBytes(b);
      if (b.length >= 12) {
        // Same bytes with a small QDCOUNT so the walk gets past the header more often.
        const c = Buffer.from(b);
        c[4] = 0;
        c[5] = b[5] & 1;
        checkReplyBytes(c);
      }
    }),
    prop<[number, MutationOp[]]>('mutated real replies never throw (analyzeReply, toTemplate, renderReply, parseQuery)', 0.15, [fc.integer({ min: 0, max: replies.length - 1 }), mutationsArb], (i, ops) => {
      const m = applyMutations(replies[i].reply, ops);
      checkReplyBytes(m);
      checkQueryBytes(m);
    }),
    prop<[number, number, number, number, boolean, boolean, boolean, boolean, number, boolean, boolean]>(
      'renderReply on real templates: decodable, client ID and case, TTLs, OPT/DO, AD, TC iff too big',
      0.06,
      [
        fc.integer({ min: 0, max: templates.length - 1 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0x7fffffff }), // case mask
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 65535 })), // 0 = no EDNS, else payload
        fc.boolean(), // DO
        fc.boolean(), // CD
        fc.boolean(), // RD
        fc.boolean(), // AD in the query
        fc.integer({ min: -1, max: 100000 }),
        fc.boolean(), // tcp
        fc.boolean(), // authoritative
      ],
      (ti, id, caseMask, payload, dnssecOk, cd, rd, ad, ttl, tcp, authoritative) => {
        const t = templates[ti];
        const name = [...t.sample.name].map((ch, i) => ((caseMask >> (i % 31)) & 1 ? ch.toUpperCase() : ch)).join('');
        const flags = (rd ? dnsPacket.RECURSION_DESIRED : 0) | (cd ? dnsPacket.CHECKING_DISABLED : 0) | (ad ? dnsPacket.AUTHENTIC_DATA : 0);
        const msg = encodeQuery({ name, type: t.sample.type, id, flags, edns: payload ? { payload, do: dnssecOk } : undefined });
        const parsed = parseQuery(msg);
        if (!parsed.ok) return fail('client query must parse');
        const q = parsed.query;
        const limit = clientLimit(q, tcp);
        const out = renderReply(t.tpl, msg, q, { ttl, authoritative, limit });
        if (out.length > limit) fail(`${out.length} > ${limit}`);
        const d = decodeStrict(out, 'rendered reply');
        if (d.id !== id || d.questions?.[0]?.name !== name) fail(`id/name ${d.id}/${d.questions?.[0]?.name} vs ${id}/${name}`);
        if (!d.flag_qr || d.flag_rd !== rd || d.flag_cd !== cd) fail('QR/RD/CD');
        if (d.flag_ad && !(q.dnssecOk || ad)) fail('AD leaked to a client that did not ask');
        const opts = (d.additionals ?? []).filter((x) => x.type === 'OPT');
        if (opts.length !== (q.hasEdns ? 1 : 0)) fail(`OPT count ${opts.length}`);
        const o = opts[0];
        if (o && o.type === 'OPT' && o.flag_do !== q.dnssecOk) fail('DO not echoed');
        const optSize = q.hasEdns ? 11 : 0;
        const tooBig = t.tpl.wireLength + optSize > limit;
        if (d.flag_tc !== tooBig) fail(`TC ${d.flag_tc} but too big ${tooBig}`);
        if (d.flag_aa !== (authoritative || (templateWire(t.tpl)[2] & 0x04) !== 0) || d.flag_ra !== ((templateWire(t.tpl)[3] & 0x80) !== 0)) fail('AA/RA are the full reply\'s, truncated or not');
        const records = [...(d.answers ?? []), ...(d.authorities ?? []), ...(d.additionals ?? [])].filter((rr) => rr.type !== 'OPT');
        if (tooBig) {
          // miekg/dns Truncate: a prefix of whole records (answer, authority, additional), as many as fit.
          const offsets = templateTtlOffsets(t.tpl);
          if (records.length >= offsets.length || (d.answers?.length ?? 0) > t.analysis.answerCount) fail('truncated reply carries every record');
          const o = offsets[records.length];
          const nextEnd = o + 6 + templateWire(t.tpl).readUInt16BE(o + 4);
          if (nextEnd + optSize <= limit) fail(`record ${records.length} would have fit (${nextEnd} + ${optSize} <= ${limit})`);
        } else if ((d.answers?.length ?? 0) !== t.analysis.answerCount) fail('answer count');
        if (ttl >= 0) {
          for (const rr of records) {
            if ((rr as { ttl?: number }).ttl !== ttl) fail(`TTL ${(rr as { ttl?: number }).ttl} != ${ttl}`);
          }
        }
      },
    ),
    prop<[Uint8Array[]]>('FrameReader never throws on arbitrary chunks and accounts for every byte', 0.05, [fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 20, size: 'max' })], (chunks) => {
      const reader = new FrameReader();
      let consumed = 0;
      let total = 0;
      for (const c of chunks) {
        total += c.length;
        reader.push(Buffer.from(c), (m) => {
          consumed += 2 + m.length;
        });
      }
      if (consumed + reader.bufferedBytes !== total) fail(`consumed ${consumed} + buffered ${reader.bufferedBytes} != ${total}`);
      if (reader.bufferedBytes > 65536) fail('buffered more than one frame');
    }),
    prop<[Uint8Array[], number[]]>(
      'FrameReader reassembles frames split anywhere, even when the caller reuses its chunk buffers',
      0.05,
      [fc.array(fc.oneof(fc.uint8Array({ maxLength: 700, size: 'max' }), fc.uint8Array({ maxLength: 4 })), { maxLength: 10, size: 'max' }), fc.array(fc.nat(), { maxLength: 12, size: 'max' })],
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => frame(m)));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
        const reader = new FrameReader();
        const got: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          const chunk = Buffer.from(stream.subarray(prev, p));
          reader.push(chunk, (m) => got.push(Buffer.from(m)));
          chunk.fill(0xee); // the socket may reuse its buffer
          prev = p;
        }
        if (got.length !== messages.length) fail(`got ${got.length} of ${messages.length} messages`);
        messages.forEach((m, i) => {
          if (!got[i].equals(Buffer.from(m))) fail(`message ${i} differs`);
        });
        if (reader.bufferedBytes !== 0) fail('left-over bytes');
      },
    ),
    prop<[string[], number, [RecordClass, number], number, number, { payload: number; do: boolean; version: number } | null, boolean]>(
      'parseQuery agrees with dns-packet on valid queries (type, class, EDNS, DO, CD, key)',
      0.17,
      [
        nameArb,
        qtypeArb,
        classArb,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 7 }), // RD, CD, AD bits
        fc.option(fc.record({ payload: fc.integer({ min: 1, max: 65535 }), do: fc.boolean(), version: fc.integer({ min: 0, max: 255 }) }), { nil: null }),
        fc.boolean(),
      ],
      (labels, qtype, [className, classValue], id, bits, edns, viaDecode) => {
        const name = labels.length === 0 ? '.' : labels.join('.');
        const flags = (bits & 1 ? dnsPacket.RECURSION_DESIRED : 0) | (bits & 2 ? dnsPacket.CHECKING_DISABLED : 0) | (bits & 4 ? dnsPacket.AUTHENTIC_DATA : 0);
        const msg = encodeQuery({ name, type: `UNKNOWN_${qtype}` as RecordType, klass: className, id, flags, edns: edns ?? undefined });
        const q = checkQueryBytes(msg);
        if (!q) return fail(`valid query rejected: ${hex(msg)}`);
        if (q.id !== id || q.qtype !== qtype || q.qclass !== classValue) fail('id/type/class');
        if (q.checkingDisabled !== !!(bits & 2) || (q.flags2 & 1) !== (bits & 1)) fail('CD/RD');
        if (q.hasEdns !== !!edns) fail('hasEdns');
        if (edns && (q.udpPayload !== Math.max(512, edns.payload) || q.dnssecOk !== edns.do || q.ednsVersion !== edns.version)) fail('EDNS fields');
        if (!edns && q.dnssecOk) fail('DO without EDNS');
        const expectedKey = Buffer.concat([wireNameLower(labels), Buffer.from([qtype >> 8, qtype & 0xff, classValue >> 8, classValue & 0xff, 0x30 | (q.dnssecOk ? 1 : 0) | (q.checkingDisabled ? 2 : 0)])]);
        if (q.key !== expectedKey.toString('latin1')) fail('key');
        if (viaDecode) {
          const d = decodeStrict(msg, 'dns-packet query');
          if (d.questions?.[0]?.name !== name) fail('dns-packet name');
          if (q.questionEnd !== dnsPacket.encodingLength({ questions: [{ name, type: 'A' }] })) fail('questionEnd');
        }
      },
    ),
  ];
}

// ---------------------------------------------------------------------------
// Phase 1: parser
// ---------------------------------------------------------------------------

interface ParserReport {
  cases: number;
  seconds: number;
  casesPerSecond: number;
  seed: number;
  properties: { name: string; cases: number; seconds: number; casesPerSecond: number }[];
}

function parserPhase(totalCases: number, seed: number): ParserReport {
  const props = wireProperties();
  const report: ParserReport = { cases: 0, seconds: 0, casesPerSecond: 0, seed, properties: [] };
  const started = performance.now();
  for (const p of props) {
    const cases = Math.max(1, Math.round(p.share * totalCases));
    const t0 = performance.now();
    process.stderr.write(`[fuzz] ${p.name}: ${cases} cases ... `);
    p.run(cases, seed);
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${seconds.toFixed(1)} s\n`);
    report.properties.push({ name: p.name, cases, seconds: round(seconds), casesPerSecond: Math.round(cases / seconds) });
    report.cases += cases;
  }
  report.seconds = round((performance.now() - started) / 1000);
  report.casesPerSecond = Math.round(report.cases / report.seconds);
  return report;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

// ---------------------------------------------------------------------------
// Phase 2: live daemon
// ---------------------------------------------------------------------------

interface LiveOptions {
  packets: number;
  tcpPackets: number;
  seconds: number;
  seed: number;
}

interface TransportReport {
  sent: number;
  expectedDrops: number; // by our own parser: too short or QR set
  replies: number;
  noReply: number;
  byRcode: Record<string, number>;
  unexpectedReplies: number; // replies to packets that must be dropped (reflection)
  malformedReplies: number; // replies our analyzer or dns-packet cannot read
  seconds: number;
}

const emptyTransport = (): TransportReport => ({ sent: 0, expectedDrops: 0, replies: 0, noReply: 0, byRcode: {}, unexpectedReplies: 0, malformedReplies: 0, seconds: 0 });

function countReply(report: TransportReport, msg: Buffer): void {
  report.replies++;
  const rcode = msg.length >= 4 ? msg[3] & 0x0f : -1;
  const label = RCODE_NAME[rcode] ?? String(rcode);
  report.byRcode[label] = (report.byRcode[label] ?? 0) + 1;
  let readable = analyzeReply(msg) !== undefined && (msg[2] & 0x80) !== 0;
  if (readable) {
    try {
      dnsPacket.decode(msg);
    } catch {
      readable = false;
    }
  }
  if (!readable) report.malformedReplies++;
}

async function livePhase(o: LiveOptions): Promise<{ report: Record<string, unknown>; ok: boolean; problems: string[] }> {
  const dgram = await import('node:dgram');
  const net = await import('node:net');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const { startUpstream } = await import('../harness/upstream.js');
  const { startDaemon, clusterConfigYaml } = await import('../harness/daemon.js');
  const { queryUdp, queryTcp, answerData } = await import('../harness/dns-client.js');
  const { fixtures } = await import('../harness/zone.js');

  const problems: string[] = [];
  const rssBefore = process.memoryUsage().rss;
  const upstream = await startUpstream({ kind: 'bind', queryLog: false });
  const nld = await startDaemon(clusterConfigYaml(upstream.address, { top: 'tcp:\n  idleTimeout: 1s' }));
  const server = nld.server;
  const rssDaemonStarted = process.memoryUsage().rss;
  const malformedBefore = { ...nld.daemon.dnsStats.malformed };
  const deadline = Date.now() + o.seconds * 1000;
  const rand = rng(o.seed);

  const names = [...fixtures.services.slice(0, 20).map((s) => s.name), fixtures.nxdomain.name, fixtures.nodata.name, fixtures.cnameChain.names[0], fixtures.srv.name, fixtures.ptrs[0].name, fixtures.bigTxt.name, fixtures.outOfZone.name];
  const corpus = [...queryCorpus(names), ...replyCorpus().map((s) => s.reply)];
  const mutant = () => (rand() < 0.05 ? corpus[Math.floor(rand() * corpus.length)] : applyMutations(corpus[Math.floor(rand() * corpus.length)], randomMutations(rand)));

  // --- UDP ---
  const udp = emptyTransport();
  const udpStarted = performance.now();
  const expectDrop = new Uint8Array(65536); // by ID: 1 = must not be answered, 2 = answer expected
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  let batchReplies = 0;
  sock.on('message', (msg) => {
    batchReplies++;
    countReply(udp, msg);
    if (msg.length >= 2 && expectDrop[msg.readUInt16BE(0)] === 1) udp.unexpectedReplies++;
  });
  const BATCH = 200;
  let seq = 0;
  while (udp.sent < o.packets && Date.now() < deadline) {
    const n = Math.min(BATCH, o.packets - udp.sent);
    let expectedAnswers = 0;
    batchReplies = 0;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const pkt = mutant();
      if (pkt.length >= 2) pkt.writeUInt16BE(seq++ & 0xffff, 0);
      const r = parseQuery(pkt);
      const drop = !r.ok && (r.problem === 'drop-short' || r.problem === 'drop-response');
      if (drop) udp.expectedDrops++;
      else expectedAnswers++;
      if (pkt.length >= 2) expectDrop[pkt.readUInt16BE(0)] = drop ? 1 : 2;
      sends.push(new Promise((res) => sock.send(pkt, server.port, server.host, () => res())));
      udp.sent++;
    }
    await Promise.all(sends);
    const waitUntil = Date.now() + 250;
    while (batchReplies < expectedAnswers && Date.now() < waitUntil) await sleep(2);
    if (udp.sent % 10_000 < BATCH) process.stderr.write(`[fuzz] udp ${udp.sent}/${o.packets} sent, ${udp.replies} replies\n`);
  }
  await sleep(300);
  sock.close();
  udp.noReply = udp.sent - udp.replies;
  udp.seconds = round((performance.now() - udpStarted) / 1000);

  // --- TCP ---
  const tcp = { ...emptyTransport(), connections: 0, closedByServer: 0 };
  const tcpStarted = performance.now();
  const PER_CONNECTION = 100;
  let shortReplies = 0; // connections without short frames that got fewer replies than expected
  const runConnection = (frames: Buffer[], expected: number, mustAnswerAll: boolean) =>
    new Promise<void>((res) => {
      const s = net.connect({ host: server.host, port: server.port });
      let buffered = Buffer.alloc(0);
      let got = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        if (mustAnswerAll && got < expected) shortReplies++;
        res();
      };
      const timer = setTimeout(finish, expected === 0 ? 300 : 3000);
      s.on('error', () => undefined);
      s.on('connect', () => {
        // Random chunking so partial frames reach the server's FrameReader.
        const stream = Buffer.concat(frames);
        let pos = 0;
        while (pos < stream.length) {
          const len = 1 + Math.floor(rand() * 700);
          s.write(stream.subarray(pos, pos + len));
          pos += len;
        }
      });
      s.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + msg.length);
          countReply(tcp, Buffer.from(msg));
          if (expectDrop[msg.readUInt16BE(0)] === 1) tcp.unexpectedReplies++;
          if (++got >= expected) finish();
        }
      });
      s.on('close', () => {
        if (!done) tcp.closedByServer++;
        finish();
      });
    });
  const PARALLEL = 4;
  while (tcp.sent < o.tcpPackets && Date.now() < deadline) {
    const batch: Promise<void>[] = [];
    for (let c = 0; c < PARALLEL && tcp.sent < o.tcpPackets; c++) {
      const frames: Buffer[] = [];
      let expected = 0;
      let closes = false;
      // One connection in ten may carry frames shorter than a header (which end the stream).
      const allowShort = rand() < 0.1;
      const count = Math.min(PER_CONNECTION, o.tcpPackets - tcp.sent);
      for (let i = 0; i < count; i++) {
        let pkt = mutant();
        while (!allowShort && pkt.length < 12) pkt = mutant();
        if (pkt.length >= 2) pkt.writeUInt16BE(seq++ & 0xffff, 0);
        if (pkt.length > 65535) pkt = pkt.subarray(0, 65535);
        const r = parseQuery(pkt);
        const drop = !r.ok && (r.problem === 'drop-short' || r.problem === 'drop-response');
        if (pkt.length >= 2) expectDrop[pkt.readUInt16BE(0)] = drop ? 1 : 2;
        tcp.sent++;
        if (drop) tcp.expectedDrops++;
        else if (!closes) expected++;
        if (pkt.length < 12) closes = true; // the server closes the stream at the first frame shorter than a header
        frames.push(frame(pkt));
      }
      tcp.connections++;
      batch.push(runConnection(frames, expected, !closes));
    }
    await Promise.all(batch);
  }
  tcp.noReply = tcp.sent - tcp.replies;
  tcp.seconds = round((performance.now() - tcpStarted) / 1000);

  // --- still healthy? ---
  const svc = fixtures.services[3];
  const finalCheck: Record<string, unknown> = {};
  try {
    const u = await queryUdp(server, svc.name, 'A', { timeoutMs: 3000 });
    const t = await queryTcp(server, svc.name.toUpperCase(), 'A', { timeoutMs: 3000, edns: { do: true } });
    const okUdp = u.packet.rcode === 'NOERROR' && answerData(u.packet, 'A')[0] === svc.ipv4;
    const okTcp = t.packet.rcode === 'NOERROR' && answerData(t.packet, 'A')[0] === svc.ipv4 && t.packet.questions[0].name === svc.name.toUpperCase();
    Object.assign(finalCheck, { udp: okUdp, tcp: okTcp });
    if (!okUdp || !okTcp) problems.push(`final query wrong: udp ${JSON.stringify(u.packet.answers)} tcp ${JSON.stringify(t.packet.answers)}`);
  } catch (err) {
    problems.push(`final query failed: ${(err as Error).message}`);
    finalCheck.error = (err as Error).message;
  }
  if (!nld.daemon.running) problems.push('daemon not running');
  if (udp.unexpectedReplies + tcp.unexpectedReplies > 0) problems.push(`answered packets that must be dropped: udp ${udp.unexpectedReplies}, tcp ${tcp.unexpectedReplies}`);
  if (shortReplies > 0) problems.push(`${shortReplies} TCP connections got fewer replies than answerable frames`);
  if (udp.malformedReplies + tcp.malformedReplies > 0) problems.push(`unreadable replies: udp ${udp.malformedReplies}, tcp ${tcp.malformedReplies}`);
  if (nld.daemon.dnsStats.panics > 0) problems.push(`internal errors: ${nld.daemon.dnsStats.panics}`);
  const m = nld.daemon.dnsStats.malformed;
  const malformed = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v - malformedBefore[k as keyof typeof m]]));
  const rssAfter = process.memoryUsage().rss;
  await nld.stop();
  await upstream.stop();
  return {
    ok: problems.length === 0,
    problems,
    report: {
      udp: { ...udp, packetsPerSecond: Math.round(udp.sent / udp.seconds) },
      tcp: { ...tcp, packetsPerSecond: Math.round(tcp.sent / tcp.seconds) },
      malformedCounters: malformed,
      panics: nld.daemon.dnsStats.panics,
      tcpConnectionsMissingReplies: shortReplies,
      finalCheck,
      rss: { beforeMiB: mib(rssBefore), daemonStartedMiB: mib(rssDaemonStarted), afterMiB: mib(rssAfter) },
    },
  };
}

const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return Math.floor(n);
}

async function main(): Promise<void> {
  const seed = envInt('FUZZ_SEED', Date.now() % 0x7fffffff);
  const cases = envInt('FUZZ_CASES', 1_000_000);
  const live = process.env.FUZZ_LIVE !== '0';
  process.stderr.write(`[fuzz] seed ${seed} (FUZZ_SEED=${seed} reproduces this run)\n`);
  const result: Record<string, unknown> = { seed };
  const problems: string[] = [];
  try {
    result.parser = parserPhase(cases, seed);
  } catch (err) {
    problems.push(`parser property failed: ${(err as Error).message}`);
  }
  if (live) {
    try {
      const l = await livePhase({ packets: envInt('FUZZ_PACKETS', 100_000), tcpPackets: envInt('FUZZ_TCP_PACKETS', 3_000), seconds: envInt('FUZZ_SECONDS', 300), seed });
      result.live = l.report;
      problems.push(...l.problems);
    } catch (err) {
      problems.push(`live phase failed: ${(err as Error).stack ?? String(err)}`);
    }
  }
  result.ok = problems.length === 0;
  result.problems = problems;
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(problems.length === 0 ? 0 : 1);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) await main();
