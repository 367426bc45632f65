// Reply handling: analyzeReply on dns-packet-built replies (TTLs, SOA negative TTL, OPT, referrals,
// malformed input), replyMatchesQuestion, renderReply (ID/case/TTL patching, OPT, AD, truncation),
// errorReply for every rcode, and queryFromKey/buildQuery round trips through parseQuery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, RecordType } from 'dns-packet';
import { parseQuery, type ParsedQuery } from '../../src/dns/query.js';
import {
  analyzeReply,
  buildQuery,
  clientLimit,
  errorReply,
  queryFromKey,
  renderReply,
  replyMatchesQuestion,
  templateTtlOffsets,
  templateWire,
  toTemplate,
  withId,
  type ReplyAnalysis,
} from '../../src/dns/reply.js';
import { RCODE } from '../../src/dns/constants.js';
import { rng } from '../fuzz/fuzz-long.js';

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

const NAME = 'svc-1.default.svc.cluster.local';
const ZONE = 'cluster.local';
const soa = (ttl: number, minimum: number): Answer => ({
  type: 'SOA',
  name: ZONE,
  ttl,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 2024010101, refresh: 7200, retry: 1800, expire: 86400, minimum },
});
const a = (ttl: number, ip = '10.96.0.1', name = NAME): Answer => ({ type: 'A', name, ttl, data: ip });
const opt = (o: { do?: boolean; payload?: number } = {}): Answer => ({
  type: 'OPT',
  name: '.',
  udpPayloadSize: o.payload ?? 1232,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: o.do ? dnsPacket.DNSSEC_OK : 0,
  flag_do: !!o.do,
  options: [],
});

interface ReplySpec {
  id?: number;
  name?: string;
  qtype?: RecordType;
  rcode?: number;
  flags?: number; // dns-packet flags without rcode (AA, TC, RD, RA, AD, CD)
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

function dpReply(s: ReplySpec = {}): Buffer {
  const packet: Packet = {
    type: 'response',
    id: s.id ?? 0x4242,
    flags: (s.flags ?? dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE) | (s.rcode ?? 0),
    questions: [{ name: s.name ?? NAME, type: s.qtype ?? 'A', class: 'IN' }],
    answers: s.answers ?? [],
    authorities: s.authorities ?? [],
    additionals: s.additionals ?? [],
  };
  return dnsPacket.encode(packet);
}

interface QuerySpec {
  id?: number;
  name?: string;
  qtype?: RecordType;
  flags?: number;
  edns?: { do?: boolean; payload?: number };
}

function dpQuery(s: QuerySpec = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: s.id ?? 0x1111,
    flags: s.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name: s.name ?? NAME, type: s.qtype ?? 'A', class: 'IN' }],
  };
  if (s.edns) packet.additionals = [opt(s.edns)];
  return dnsPacket.encode(packet);
}

function parseOk(msg: Uint8Array): ParsedQuery {
  const r = parseQuery(msg);
  if (!r.ok) assert.fail(`expected a valid query, got ${r.problem}`);
  return r.query;
}

function analyzeOk(msg: Buffer): ReplyAnalysis {
  const r = analyzeReply(msg);
  assert.ok(r, `analyzeReply returned undefined for ${msg.toString('hex')}`);
  return r;
}

const ttlsAt = (msg: Buffer, offsets: readonly number[]): number[] => [...offsets].map((o) => msg.readUInt32BE(o));

/** Every non-OPT record's TTL in wire order, as dns-packet decodes it. */
function decodedTtls(msg: Buffer): number[] {
  const d = dnsPacket.decode(msg);
  return [...(d.answers ?? []), ...(d.authorities ?? []), ...(d.additionals ?? [])].filter((r) => r.type !== 'OPT').map((r) => (r as { ttl: number }).ttl);
}

// ---------------------------------------------------------------------------
// analyzeReply
// ---------------------------------------------------------------------------

test('analyzeReply: answer with several TTLs -> min TTL over all sections, offsets point at every TTL', () => {
  const msg = dpReply({
    answers: [a(300, '10.0.0.1'), a(60, '10.0.0.2'), a(120, '10.0.0.3')],
    authorities: [{ type: 'NS', name: ZONE, ttl: 90, data: `ns.${ZONE}` }],
    additionals: [a(45, '10.0.0.53', `ns.${ZONE}`), opt({ do: true })],
  });
  const r = analyzeOk(msg);
  assert.equal(r.rcode, 0);
  assert.equal(r.truncated, false);
  assert.equal(r.answerCount, 3);
  assert.equal(r.minTtl, 45);
  assert.equal(r.hasNs, true);
  assert.equal(r.hasSoa, false);
  assert.equal(r.soaNegativeTtl, -1);
  assert.deepEqual(ttlsAt(msg, r.ttlOffsets), [300, 60, 120, 90, 45]);
  assert.deepEqual(ttlsAt(msg, r.ttlOffsets), decodedTtls(msg));
  assert.ok(r.optStart > 0);
  assert.equal(r.recordsEnd, msg.length);
  assert.equal(msg.readUInt16BE(r.optStart + 1), 41, 'optStart is the OPT owner byte');
});

test('analyzeReply: the OPT TTL field (extended rcode, version, DO) never counts as a TTL', () => {
  // DO makes the OPT "TTL" 0x00008000 = 32768, ext-rcode/version make it bigger; a tiny value (0)
  // would be the minimum if OPT were included.
  const msg = dpReply({ answers: [a(600)], additionals: [{ ...opt(), flags: 0 } as Answer] });
  const r = analyzeOk(msg);
  assert.equal(r.minTtl, 600);
  assert.equal(r.ttlOffsets.length, 1);
  const optTtlOffset = r.optStart + 1 + 4;
  assert.ok(![...r.ttlOffsets].includes(optTtlOffset));
});

test('analyzeReply: OPT followed by another additional is found but not last', () => {
  const msg = dpReply({ answers: [a(30)], additionals: [opt(), a(20, '10.0.0.9', `x.${ZONE}`)] });
  const r = analyzeOk(msg);
  assert.ok(r.optStart > 0);
  assert.ok(r.recordsEnd === msg.length && r.optStart < r.recordsEnd - 11, 'the OPT is not last');
  assert.equal(r.minTtl, 20);
});

test('analyzeReply: NXDOMAIN with SOA: negative TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', () => {
  for (const [ttl, minimum, expected] of [
    [30, 5, 5],
    [3, 60, 3],
    [3600, 3600, 3600],
    [0, 10, 0],
    [0xffffffff, 7, 7],
  ] as const) {
    const msg = dpReply({ rcode: RCODE.NXDOMAIN, authorities: [soa(ttl, minimum)] });
    const r = analyzeOk(msg);
    assert.equal(r.rcode, RCODE.NXDOMAIN);
    assert.equal(r.hasSoa, true);
    assert.equal(r.soaNegativeTtl, expected, `SOA ttl ${ttl} minimum ${minimum}`);
    assert.equal(r.minTtl, ttl);
    assert.equal(r.answerCount, 0);
  }
});

test('analyzeReply: NODATA with SOA, SOA in the answer section is not a denial SOA', () => {
  const nodata = analyzeOk(dpReply({ qtype: 'AAAA', authorities: [soa(30, 5)] }));
  assert.deepEqual([nodata.rcode, nodata.answerCount, nodata.hasSoa, nodata.soaNegativeTtl], [0, 0, true, 5]);
  const soaAnswer = analyzeOk(dpReply({ qtype: 'SOA', name: ZONE, answers: [soa(30, 5)] }));
  assert.deepEqual([soaAnswer.answerCount, soaAnswer.hasSoa, soaAnswer.soaNegativeTtl, soaAnswer.minTtl], [1, false, -1, 30]);
});

test('analyzeReply: referral (NS in authority, no answer, no SOA) and NS in the answer section', () => {
  const referral = analyzeOk(
    dpReply({
      name: `x.sub.${ZONE}`,
      authorities: [{ type: 'NS', name: `sub.${ZONE}`, ttl: 120, data: `ns1.sub.${ZONE}` }, { type: 'NS', name: `sub.${ZONE}`, ttl: 100, data: `ns2.sub.${ZONE}` }],
      additionals: [a(80, '10.0.0.1', `ns1.sub.${ZONE}`)],
    }),
  );
  assert.deepEqual([referral.answerCount, referral.hasNs, referral.hasSoa, referral.minTtl], [0, true, false, 80]);
  const nsAnswer = analyzeOk(dpReply({ qtype: 'NS', name: ZONE, answers: [{ type: 'NS', name: ZONE, ttl: 50, data: `ns.${ZONE}` }] }));
  assert.equal(nsAnswer.hasNs, false, 'only authority-section NS marks a referral');
});

test('analyzeReply: no records -> minTtl 0xffffffff; TC and rcode read from the header', () => {
  const r = analyzeOk(dpReply({ rcode: RCODE.SERVFAIL, flags: dnsPacket.TRUNCATED_RESPONSE }));
  assert.equal(r.minTtl, 0xffffffff);
  assert.equal(r.ttlOffsets.length, 0);
  assert.equal(r.rcode, RCODE.SERVFAIL);
  assert.equal(r.truncated, true);
  assert.equal(r.optStart, -1);
});

test('analyzeReply: compressed owner names (pointers) are skipped, not followed', () => {
  const q = dpQuery({ id: 9 });
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 0, 0, 1]); // A, TTL 3600
  const msg = Buffer.concat([q, rr, rr]);
  msg[2] |= 0x80;
  msg.writeUInt16BE(2, 6);
  const r = analyzeOk(msg);
  assert.equal(r.answerCount, 2);
  assert.deepEqual(ttlsAt(msg, r.ttlOffsets), [3600, 3600]);
  assert.deepEqual(decodedTtls(msg), [3600, 3600]);
});

test('analyzeReply: SOA with short rdata (< 20 bytes) is an SOA without negative TTL', () => {
  const q = dpQuery();
  const rr = Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 30, 0, 4]), Buffer.from([0, 0, 0, 0])]);
  const msg = Buffer.concat([q, rr]);
  msg[2] |= 0x80;
  msg[3] = 3;
  msg.writeUInt16BE(1, 8);
  const r = analyzeOk(msg);
  assert.deepEqual([r.hasSoa, r.soaNegativeTtl, r.minTtl], [true, -1, 30]);
});

test('analyzeReply: malformed replies return undefined', () => {
  const good = dpReply({ answers: [a(30), a(40, '10.0.0.2')], authorities: [soa(30, 5)], additionals: [opt()] });
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['11 bytes', good.subarray(0, 11)],
    ['question cut', good.subarray(0, 20)],
    ['ANCOUNT larger than present', (() => { const m = Buffer.from(good); m.writeUInt16BE(5, 6); return m; })()],
    ['ARCOUNT larger than present', (() => { const m = Buffer.from(good); m.writeUInt16BE(2, 10); return m; })()],
    ['QDCOUNT 2 with one question', (() => { const m = Buffer.from(good); m.writeUInt16BE(2, 4); return m; })()],
    ['rdlength past the end', (() => { const m = Buffer.from(good); const r = analyzeOk(good); m.writeUInt16BE(0xffff, r.ttlOffsets[0] + 4); return m; })()],
    ['reserved label type in an owner', (() => { const m = Buffer.from(good); const r = analyzeOk(good); m[r.ttlOffsets[0] - 4 - (NAME.length + 2)] = 0x80; return m; })()],
    ['pointer cut in half', Buffer.concat([dpQuery(), Buffer.from([0xc0])]).fill(0, 6, 8).fill(1, 7, 8)],
  ];
  for (const [name, msg] of cases) assert.equal(analyzeReply(msg), undefined, name);
  // Every strict prefix that cuts into a record is rejected.
  for (let len = 0; len < good.length; len++) assert.equal(analyzeReply(good.subarray(0, len)), undefined, `prefix ${len}/${good.length}`);
});


test('analyzeReply: a little fuzz: byte flips never throw and any analysis stays inside the message', () => {
  const corpus = [
    dpReply({ answers: [a(30), a(40, '10.0.0.2')], additionals: [opt({ do: true })] }),
    dpReply({ rcode: RCODE.NXDOMAIN, authorities: [soa(30, 5)], additionals: [opt()] }),
    dpReply({ qtype: 'TXT', answers: [{ type: 'TXT', name: NAME, ttl: 5, data: ['x'.repeat(200), 'y'.repeat(50)] }] }),
    dpReply({ qtype: 'SRV', answers: [{ type: 'SRV', name: NAME, ttl: 5, data: { priority: 0, weight: 10, port: 53, target: `ns.${ZONE}` } }] }),
  ];
  const rand = rng(0xd15ea5e);
  let analyzed = 0;
  for (let i = 0; i < 4000; i++) {
    const msg = Buffer.from(corpus[i % corpus.length]);
    const flips = 1 + Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) msg[Math.floor(rand() * msg.length)] = Math.floor(rand() * 256);
    const cut = rand() < 0.3 ? msg.subarray(0, Math.floor(rand() * msg.length)) : msg;
    const r = analyzeReply(cut);
    if (!r) continue;
    analyzed++;
    for (const o of r.ttlOffsets) assert.ok(o >= 12 && o + 4 <= cut.length, `TTL offset ${o} inside ${cut.length}`);
    assert.ok(r.optStart < cut.length);
    assert.ok(r.minTtl >= 0 && r.minTtl <= 0xffffffff);
  }
  assert.ok(analyzed > 100, `some mutants still analyze (${analyzed})`);
});

// ---------------------------------------------------------------------------
// replyMatchesQuestion
// ---------------------------------------------------------------------------

test('replyMatchesQuestion: same question matches case-insensitively', () => {
  const sent = dpQuery({ name: 'Svc-1.default.svc.cluster.local' });
  const q = parseOk(sent);
  assert.ok(replyMatchesQuestion(dpReply({ name: 'SVC-1.DEFAULT.svc.cluster.local', answers: [a(5)] }), sent, q.questionEnd));
  assert.ok(replyMatchesQuestion(dpReply({ name: 'svc-1.default.svc.cluster.local' }), sent, q.questionEnd));
});

test('replyMatchesQuestion: wrong type, class, name, QR clear, two questions, too short -> false', () => {
  const sent = dpQuery({ name: NAME, qtype: 'A' });
  const qEnd = parseOk(sent).questionEnd;
  assert.equal(replyMatchesQuestion(dpReply({ qtype: 'AAAA' }), sent, qEnd), false, 'wrong type');
  assert.equal(replyMatchesQuestion(dpReply({ name: 'svc-2.default.svc.cluster.local' }), sent, qEnd), false, 'wrong name');
  assert.equal(replyMatchesQuestion(dpReply({ name: 'svc-1.default.svc.cluster.loca' }), sent, qEnd), false, 'shorter name');
  const chaos = dpReply();
  chaos.writeUInt16BE(3, qEnd - 2);
  assert.equal(replyMatchesQuestion(chaos, sent, qEnd), false, 'wrong class');
  const noQr = dpReply();
  noQr[2] &= 0x7f;
  assert.equal(replyMatchesQuestion(noQr, sent, qEnd), false, 'QR clear');
  const two = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: NAME, type: 'A' }, { name: NAME, type: 'AAAA' }] });
  assert.equal(replyMatchesQuestion(two, sent, qEnd), false, 'two questions');
  const none = dnsPacket.encode({ type: 'response', id: 1, questions: [] });
  assert.equal(replyMatchesQuestion(none, sent, qEnd), false, 'no question');
  assert.equal(replyMatchesQuestion(dpReply().subarray(0, qEnd - 1), sent, qEnd), false, 'too short');
});

test('replyMatchesQuestion: type and class bytes are compared exactly (no ASCII case folding outside the name)', () => {
  // HTTPS is type 65 = 0x0041 ('A'); type 97 = 0x0061 ('a') differs only in the 0x20 bit.
  const sent = buildQuery(`${NAME}.`, 65, 1);
  const qEnd = sent.length;
  const reply = Buffer.from(sent);
  reply[2] |= 0x80;
  assert.ok(replyMatchesQuestion(reply, sent, qEnd), 'same type');
  reply.writeUInt16BE(97, qEnd - 4);
  assert.equal(replyMatchesQuestion(reply, sent, qEnd), false, 'type 97 is not type 65');
  // Same with the class: 0x4101 vs 0x6101.
  const sentClass = Buffer.from(sent);
  sentClass.writeUInt16BE(1, qEnd - 4);
  sentClass.writeUInt16BE(0x4101, qEnd - 2);
  const replyClass = Buffer.from(sentClass);
  replyClass[2] |= 0x80;
  replyClass.writeUInt16BE(0x6101, qEnd - 2);
  assert.equal(replyMatchesQuestion(replyClass, sentClass, qEnd), false, 'class differs in bit 0x20');
});

// ---------------------------------------------------------------------------
// toTemplate + renderReply
// ---------------------------------------------------------------------------

function template(reply: Buffer, sentQuestionEnd?: number) {
  const analysis = analyzeOk(reply);
  const qEnd = sentQuestionEnd ?? parseOk(dpQuery()).questionEnd;
  return toTemplate(reply, analysis, qEnd);
}

test('toTemplate strips a trailing OPT and fixes ARCOUNT', () => {
  const reply = dpReply({ answers: [a(30)], additionals: [opt({ do: true })] });
  const tpl = template(reply);
  assert.equal(templateWire(tpl).readUInt16BE(10), 0);
  assert.equal(templateWire(tpl).length, reply.length - 11);
  assert.equal(dnsPacket.decode(templateWire(tpl)).additionals?.length ?? 0, 0);
  assert.notEqual(templateWire(tpl).buffer, reply.buffer, 'a copy');
});

test('toTemplate cuts at an OPT that is not last (no second OPT when ours is added), and drops trailing bytes', () => {
  const glue = a(40, '10.0.0.8', `g.${ZONE}`);
  const inner = dpReply({ answers: [a(30)], additionals: [glue, opt(), a(20, '10.0.0.9', `x.${ZONE}`)] });
  const tpl = template(inner);
  const d = dnsPacket.decode(templateWire(tpl));
  assert.deepEqual([d.answers?.length, (d.additionals ?? []).map((r) => r.name)], [1, [`g.${ZONE}`]]);
  assert.deepEqual(ttlsAt(templateWire(tpl), templateTtlOffsets(tpl)), [30, 40]);
  const q = parseOk(dpQuery({ edns: {} }));
  const out = dnsPacket.decode(renderReply(tpl, dpQuery({ edns: {} }), q, { ttl: 9, authoritative: false, limit: 4096 }));
  assert.deepEqual((out.additionals ?? []).map((r) => r.type), ['A', 'OPT']);
  const trailing = Buffer.concat([dpReply({ answers: [a(30)] }), Buffer.from([0xde, 0xad])]);
  assert.equal(templateWire(template(trailing)).length, trailing.length - 2);
});

test('renderReply: client ID and question case, TTLs patched in every section, AA, RD/CD from the client', () => {
  const upstream = dpReply({
    id: 0x9999,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    answers: [a(300, '10.0.0.1'), a(60, '10.0.0.2')],
    authorities: [{ type: 'NS', name: ZONE, ttl: 90, data: `ns.${ZONE}` }],
    additionals: [a(45, '10.0.0.53', `ns.${ZONE}`), opt()],
  });
  const tpl = template(upstream);
  const clientName = 'SVC-1.Default.SVC.cluster.LOCAL';
  const clientMsg = dpQuery({ id: 0x0102, name: clientName, flags: dnsPacket.CHECKING_DISABLED });
  const q = parseOk(clientMsg);
  const out = renderReply(tpl, clientMsg, q, { ttl: 17, authoritative: true, limit: clientLimit(q, false) });
  const d = dnsPacket.decode(out);
  assert.equal(d.id, 0x0102);
  assert.equal(d.questions![0].name, clientName);
  assert.equal(d.flag_qr, true);
  assert.equal(d.flag_aa, true);
  assert.equal(d.flag_rd, false, 'RD echoed from the client (clear)');
  assert.equal(d.flag_cd, true, 'CD echoed');
  assert.equal(d.flag_ra, true);
  assert.deepEqual(decodedTtls(out), [17, 17, 17, 17]);
  assert.equal(d.answers?.length, 2);
  assert.equal(d.additionals?.some((r) => r.type === 'OPT'), false, 'no OPT for a client without EDNS');
  assert.equal(d.flag_tc, false);
  // The template is not modified.
  assert.equal(templateWire(tpl).readUInt16BE(0), 0x9999);
  assert.deepEqual(ttlsAt(templateWire(tpl), templateTtlOffsets(tpl)), [300, 60, 90, 45]);
});

test('renderReply: ttl -1 leaves TTLs untouched; not authoritative leaves AA clear', () => {
  const tpl = template(dpReply({ answers: [a(300), a(60, '10.0.0.2')] }));
  const clientMsg = dpQuery();
  const q = parseOk(clientMsg);
  const out = renderReply(tpl, clientMsg, q, { ttl: -1, authoritative: false, limit: 512 });
  assert.deepEqual(decodedTtls(out), [300, 60]);
  assert.equal(dnsPacket.decode(out).flag_aa, false);
  const zero = renderReply(tpl, clientMsg, q, { ttl: 0, authoritative: false, limit: 512 });
  assert.deepEqual(decodedTtls(zero), [0, 0]);
});

test('renderReply: OPT appended for EDNS clients with our payload size and DO echoed', () => {
  const tpl = template(dpReply({ answers: [a(30)], additionals: [opt({ do: true, payload: 4096 })] }));
  for (const wantDo of [false, true]) {
    const clientMsg = dpQuery({ edns: { do: wantDo, payload: 4096 } });
    const q = parseOk(clientMsg);
    const out = renderReply(tpl, clientMsg, q, { ttl: 10, authoritative: true, limit: clientLimit(q, false) });
    const d = dnsPacket.decode(out);
    const opts = (d.additionals ?? []).filter((r) => r.type === 'OPT');
    assert.equal(opts.length, 1, 'exactly one OPT');
    const o = opts[0];
    assert.ok(o.type === 'OPT');
    assert.equal(o.flag_do, wantDo);
    assert.equal(o.udpPayloadSize, 1232);
    assert.equal(o.name, '.');
    assert.equal(out.readUInt16BE(10), 1);
    assert.deepEqual(decodedTtls(out), [10]);
  }
});

test('renderReply: AD is cleared for clients that set neither DO nor AD, kept otherwise', () => {
  const tpl = template(dpReply({ flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA | dnsPacket.RECURSION_DESIRED, answers: [a(30)] }));
  const render = (msg: Buffer) => dnsPacket.decode(renderReply(tpl, msg, parseOk(msg), { ttl: 5, authoritative: false, limit: 4096 }));
  assert.equal(render(dpQuery()).flag_ad, false, 'plain client');
  assert.equal(render(dpQuery({ edns: {} })).flag_ad, false, 'EDNS without DO');
  assert.equal(render(dpQuery({ edns: { do: true } })).flag_ad, true, 'DO client');
  assert.equal(render(dpQuery({ flags: dnsPacket.AUTHENTIC_DATA })).flag_ad, true, 'AD in the query (RFC 6840 §5.7)');
  const noAd = template(dpReply({ answers: [a(30)] }));
  assert.equal(dnsPacket.decode(renderReply(noAd, dpQuery({ edns: { do: true } }), parseOk(dpQuery({ edns: { do: true } })), { ttl: 5, authoritative: false, limit: 4096 })).flag_ad, false, 'never set by us');
});

const bigTxt = (): Buffer =>
  dpReply({
    qtype: 'TXT',
    answers: Array.from({ length: 12 }, (_, i) => ({ type: 'TXT', name: NAME, ttl: 30, data: [`${i}`.padEnd(200, 'x')] }) as Answer),
  });

test('renderReply: a reply larger than 512 for a client without EDNS is truncated: TC, the full reply\'s flags, whole records that fit', () => {
  const upstream = bigTxt();
  assert.ok(upstream.length > 2000);
  const tpl = template(upstream, parseOk(dpQuery({ qtype: 'TXT' })).questionEnd);
  const clientMsg = dpQuery({ id: 77, qtype: 'TXT', name: NAME.toUpperCase(), flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED });
  const q = parseOk(clientMsg);
  assert.equal(clientLimit(q, false), 512);
  const out = renderReply(tpl, clientMsg, q, { ttl: 30, authoritative: true, limit: clientLimit(q, false) });
  assert.ok(out.length <= 512);
  const d = dnsPacket.decode(out);
  assert.equal(d.id, 77);
  assert.equal(d.flag_tc, true);
  assert.equal(d.flag_qr, true);
  assert.equal(d.flag_aa, true, 'AA as on the full cache hit');
  assert.equal(d.flag_rd, true);
  assert.equal(d.flag_cd, true);
  assert.equal(d.flag_ra, true);
  assert.equal(d.questions![0].name, NAME.toUpperCase());
  // dns-packet does not compress: each TXT record is 33 (owner) + 10 + 201 bytes; after the 49-byte
  // header + question one fits in 512, two do not.
  assert.equal(d.answers?.length, 1);
  assert.equal(out.length, 49 + 244);
  assert.deepEqual(d.answers!.map((r) => ((r as { data: Buffer[] }).data)[0].toString().slice(0, 1)), ['0'], 'the first record');
  assert.deepEqual(decodedTtls(out), [30]);
  assert.equal(d.additionals?.length ?? 0, 0);
  assert.equal((d as unknown as { rcode: string }).rcode, 'NOERROR');
  // Over TCP the same template is sent whole.
  const tcp = renderReply(tpl, clientMsg, q, { ttl: 30, authoritative: true, limit: clientLimit(q, true) });
  assert.equal(dnsPacket.decode(tcp).answers?.length, 12);
  assert.equal(dnsPacket.decode(tcp).flag_tc, false);
});

/**
 * A headless service's reply as BIND sends it: n A records whose owner is a compression pointer to
 * the question name (16 bytes each), AA set and RA clear like kube-dns (or `flags`).
 */
function headless(n: number, flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED): Buffer {
  const head = dpReply({ flags });
  const records = Array.from({ length: n }, (_, i) => Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 1, i >> 8, i & 0xff]));
  const out = Buffer.concat([head, ...records]);
  out.writeUInt16BE(n, 6);
  return out;
}

test('renderReply truncation as miekg/dns Msg.Truncate: as many whole A records as fit in 512, AA kept and RA clear (not a lame referral for glibc)', () => {
  const tpl = template(headless(40));
  const clientMsg = dpQuery({ id: 9 });
  const q = parseOk(clientMsg);
  const header = q.questionEnd; // 12 + name + 4
  const expected = Math.floor((512 - header) / 16); // each A record: pointer 2 + fixed 10 + 4
  for (const authoritative of [true, false]) {
    const out = renderReply(tpl, clientMsg, q, { ttl: 7, authoritative, limit: 512 });
    const d = dnsPacket.decode(out);
    assert.equal(d.answers?.length, expected);
    assert.equal(out.length, header + expected * 16);
    assert.equal(out.readUInt16BE(6), expected, 'ANCOUNT');
    assert.deepEqual([d.flag_tc, d.flag_aa, d.flag_ra, d.flag_rd], [true, true, false, true], `AA from ${authoritative ? 'the cache hit' : 'the upstream'}`);
    assert.deepEqual(d.answers!.map((r) => (r as { data: string }).data), Array.from({ length: expected }, (_, i) => `10.1.0.${i}`));
    assert.ok(decodedTtls(out).every((t) => t === 7));
  }
  // A reply with RA set (a recursive upstream) keeps RA; AA clear stays clear on a miss.
  const recursive = template(headless(40, dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED));
  const r = dnsPacket.decode(renderReply(recursive, clientMsg, q, { ttl: -1, authoritative: false, limit: 512 }));
  assert.deepEqual([r.flag_tc, r.flag_aa, r.flag_ra, r.answers?.length], [true, false, true, expected]);
});

test('renderReply truncation keeps the client\'s OPT (budget reduced by it) and fills authority and additional only after every answer fits', () => {
  const clientMsg = dpQuery({ edns: { payload: 512, do: true } });
  const q = parseOk(clientMsg);
  const tpl = template(headless(40));
  const out = renderReply(tpl, clientMsg, q, { ttl: 5, authoritative: true, limit: clientLimit(q, false) });
  assert.ok(out.length <= 512);
  const d = dnsPacket.decode(out);
  assert.equal(d.answers?.length, Math.floor((512 - 11 - q.questionEnd) / 16));
  assert.deepEqual((d.additionals ?? []).map((r) => r.type), ['OPT']);
  assert.equal(out.readUInt16BE(10), 1);
  const o = d.additionals![0];
  assert.ok(o.type === 'OPT' && o.flag_do === true);

  // Answers first, then authority, then additional, each only after everything before it fits
  // (dns-packet writes names uncompressed: A 47, NS 15 + 10 + 19, glue 19 + 10 + 4 bytes).
  const ns = (i: number): Answer => ({ type: 'NS', name: ZONE, ttl: 60, data: `ns${i}.${ZONE}` });
  const glue = (i: number): Answer => a(60, `10.2.0.${i}`, `ns${i}.${ZONE}`);
  const mixed = template(dpReply({ answers: [a(30), a(30, '10.0.0.2'), a(30, '10.0.0.3'), a(30, '10.0.0.4'), a(30, '10.0.0.5'), a(30, '10.0.0.6')], authorities: [ns(1), ns(2)], additionals: [glue(1), glue(2), glue(3), glue(4), glue(5)] }));
  const plain = dpQuery();
  const qp = parseOk(plain);
  const full = renderReply(mixed, plain, qp, { ttl: 5, authoritative: true, limit: 65535 });
  const f = dnsPacket.decode(full);
  assert.deepEqual([f.answers?.length, f.authorities?.length, f.additionals?.length, f.flag_tc, full.length], [6, 2, 5, false, 49 + 6 * 47 + 2 * 44 + 5 * 33]);
  // 49 + 282 + 88 = 419 bytes; two glue records (66) fit in 512, the third does not.
  const cut = renderReply(mixed, plain, qp, { ttl: 5, authoritative: true, limit: 512 });
  const c = dnsPacket.decode(cut);
  assert.deepEqual([c.flag_tc, c.answers?.length, c.authorities?.length, c.additionals?.length, cut.length], [true, 6, 2, 2, 485]);
  assert.deepEqual([cut.readUInt16BE(6), cut.readUInt16BE(8), cut.readUInt16BE(10)], [6, 2, 2]);
  assert.deepEqual((c.additionals ?? []).map((r) => r.name), [`ns1.${ZONE}`, `ns2.${ZONE}`]);
  // With room for 4 answers only, nothing of authority and additional is carried (as Truncate).
  const tight = dnsPacket.decode(renderReply(mixed, plain, qp, { ttl: 5, authoritative: true, limit: 49 + 4 * 47 + 46 }));
  assert.deepEqual([tight.flag_tc, tight.answers?.length, tight.authorities?.length ?? 0, tight.additionals?.length ?? 0], [true, 4, 0, 0]);
});

test('renderReply truncation: a first record larger than the limit leaves header + question with TC (and the OPT)', () => {
  const huge = template(dpReply({ qtype: 'TXT', answers: [{ type: 'TXT', name: NAME, ttl: 30, data: ['x'.repeat(255), 'y'.repeat(255)] } as Answer] }), parseOk(dpQuery({ qtype: 'TXT' })).questionEnd);
  for (const edns of [undefined, { payload: 512 }]) {
    const clientMsg = dpQuery({ qtype: 'TXT', edns });
    const q = parseOk(clientMsg);
    const out = renderReply(huge, clientMsg, q, { ttl: 5, authoritative: true, limit: clientLimit(q, false) });
    const d = dnsPacket.decode(out);
    assert.deepEqual([d.flag_tc, d.flag_aa, d.answers?.length ?? 0, out.readUInt16BE(6)], [true, true, 0, 0]);
    assert.equal(out.length, q.questionEnd + (edns ? 11 : 0));
  }
});

test('renderReply: EDNS clients are truncated at their advertised size, with OPT kept', () => {
  const tpl = template(bigTxt(), parseOk(dpQuery({ qtype: 'TXT' })).questionEnd);
  const small = dpQuery({ qtype: 'TXT', edns: { payload: 1232, do: true } });
  const q = parseOk(small);
  const out = renderReply(tpl, small, q, { ttl: 30, authoritative: false, limit: clientLimit(q, false) });
  const d = dnsPacket.decode(out);
  assert.equal(d.flag_tc, true);
  const o = d.additionals?.find((r) => r.type === 'OPT');
  assert.ok(o && o.type === 'OPT' && o.flag_do === true);
  const large = dpQuery({ qtype: 'TXT', edns: { payload: 8192 } });
  const ql = parseOk(large);
  const full = renderReply(tpl, large, ql, { ttl: 30, authoritative: false, limit: clientLimit(ql, false) });
  assert.equal(dnsPacket.decode(full).flag_tc, false);
  assert.equal(full.length, templateWire(tpl).length + 11);
});

test('clientLimit: 512 without EDNS, the advertised size with it, 65535 over TCP', () => {
  assert.equal(clientLimit(parseOk(dpQuery()), false), 512);
  assert.equal(clientLimit(parseOk(dpQuery({ edns: { payload: 100 } })), false), 512);
  assert.equal(clientLimit(parseOk(dpQuery({ edns: { payload: 4096 } })), false), 4096);
  assert.equal(clientLimit(parseOk(dpQuery({ edns: { payload: 4096 } })), true), 65535);
  assert.equal(clientLimit(parseOk(dpQuery()), true), 65535);
});

// ---------------------------------------------------------------------------
// errorReply
// ---------------------------------------------------------------------------

const RCODE_NAMES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

for (const [rcode, rname] of Object.entries(RCODE_NAMES)) {
  test(`errorReply ${rname}: decodes with dns-packet, keeps ID, question, RD, CD; RA set; OPT iff the client sent one`, () => {
    for (const edns of [undefined, { do: false }, { do: true }]) {
      const clientMsg = dpQuery({ id: 0xabc, name: 'Mixed.Case.cluster.local', edns, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED });
      const q = parseOk(clientMsg);
      const out = errorReply(clientMsg, Number(rcode), q.questionEnd, q);
      const d = dnsPacket.decode(out) as ReturnType<typeof dnsPacket.decode> & { rcode: string; opcode: string };
      assert.equal(d.rcode, rname);
      assert.equal(d.id, 0xabc);
      assert.equal(d.flag_qr, true);
      assert.equal(d.flag_ra, true);
      assert.equal(d.flag_rd, true);
      assert.equal(d.flag_cd, true);
      assert.equal(d.flag_aa, false);
      assert.equal(d.opcode, 'QUERY');
      assert.equal(d.questions?.length, 1);
      assert.equal(d.questions![0].name, 'Mixed.Case.cluster.local');
      assert.equal(d.answers?.length ?? 0, 0);
      const o = d.additionals?.find((r) => r.type === 'OPT');
      assert.equal(!!o, !!edns);
      if (o && o.type === 'OPT') assert.equal(o.flag_do, !!edns?.do);
    }
  });
}

test('errorReply for a rejected query: FORMERR and NOTIMP carry one OPT when the query had one (RFC 6891 §7), DO echoed', () => {
  const withOpt = dpQuery({ id: 0x0e0e, edns: { do: true } });
  const twoOpts = Buffer.concat([withOpt, withOpt.subarray(withOpt.length - 11)]);
  twoOpts.writeUInt16BE(2, 10);
  const notify = Buffer.from(withOpt);
  notify[2] = (notify[2] & ~0x78) | (4 << 3);
  for (const [msg, rcode, rname] of [[twoOpts, RCODE.FORMERR, 'FORMERR'], [notify, RCODE.NOTIMP, 'NOTIMP']] as const) {
    const r = parseQuery(msg);
    assert.ok(!r.ok);
    const out = errorReply(msg, rcode, r.problem === 'notimp' ? 12 : r.questionEnd, r);
    const d = dnsPacket.decode(out) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
    assert.equal(d.rcode, rname);
    const opts = (d.additionals ?? []).filter((x) => x.type === 'OPT');
    assert.equal(opts.length, 1, `${rname}: one OPT`);
    assert.ok(opts[0].type === 'OPT' && opts[0].flag_do === true);
    assert.equal(out.readUInt16BE(10), 1);
  }
  // BADVERS: the upper rcode bits go into the OPT (RFC 6891 §6.1.3).
  const q = parseOk(dpQuery({ edns: {} }));
  const badvers = errorReply(dpQuery({ edns: {} }), RCODE.BADVERS, q.questionEnd, q);
  assert.deepEqual([badvers[3] & 0x0f, badvers[q.questionEnd + 5]], [0, 1]);
});

test('errorReply without a readable question: header only, QDCOUNT 0', () => {
  const bare = Buffer.from(dpQuery({ id: 0x55aa }));
  const out = errorReply(bare, RCODE.FORMERR, 0);
  assert.equal(out.length, 12);
  const d = dnsPacket.decode(out) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
  assert.deepEqual([d.id, d.rcode, d.questions?.length ?? 0], [0x55aa, 'FORMERR', 0]);
  // A NOTIFY keeps its opcode.
  const notify = dnsPacket.encode({ type: 'query', id: 3, flags: 4 << 11, questions: [{ name: ZONE, type: 'SOA' }] });
  const n = dnsPacket.decode(errorReply(notify, RCODE.NOTIMP, 12)) as ReturnType<typeof dnsPacket.decode> & { rcode: string; opcode: string };
  assert.deepEqual([n.id, n.rcode, n.opcode], [3, 'NOTIMP', 'NOTIFY']);
  // A questionEnd past the message falls back to the header; shorter than a header does not throw.
  assert.equal(errorReply(bare, RCODE.FORMERR, 10_000).length, 12);
  assert.equal(errorReply(Buffer.from([1, 2, 3]), RCODE.FORMERR, 0).readUInt16BE(0), 0x0102);
  assert.equal(errorReply(Buffer.alloc(0), RCODE.FORMERR, 0).length, 12);
});

// ---------------------------------------------------------------------------
// queryFromKey, buildQuery, withId
// ---------------------------------------------------------------------------

test('queryFromKey round-trips through parseQuery (name, type, class, DO, CD) with OPT and RD', () => {
  const variants: QuerySpec[] = [
    { name: 'Svc-1.Default.svc.cluster.local', qtype: 'A' },
    { name: 'svc-1.default.svc.cluster.local', qtype: 'AAAA', edns: { do: true } },
    { name: '1.0.96.10.in-addr.arpa', qtype: 'PTR', flags: dnsPacket.CHECKING_DISABLED },
    { name: '_dns._udp.kube-dns.kube-system.svc.cluster.local', qtype: 'SRV', edns: { do: true }, flags: dnsPacket.CHECKING_DISABLED },
    { name: '.', qtype: 'NS' },
  ];
  for (const v of variants) {
    const original = parseOk(dpQuery(v));
    const rebuilt = queryFromKey(original.key, 0x7777);
    const q = parseOk(rebuilt);
    assert.equal(q.key, original.key, v.name);
    assert.equal(q.id, 0x7777);
    assert.equal(q.hasEdns, true);
    assert.equal(q.udpPayload, 1232);
    assert.equal(q.flags2 & 1, 1, 'RD set');
    assert.equal(q.questionEnd, 12 + original.key.length - 1);
    const d = dnsPacket.decode(rebuilt);
    assert.equal(d.questions![0].name, v.name === '.' ? '.' : v.name!.toLowerCase());
    assert.equal(d.flag_cd, !!(v.flags && v.flags & dnsPacket.CHECKING_DISABLED));
  }
});

test('buildQuery builds parseable queries; withId copies with a new ID', () => {
  const q = parseOk(buildQuery('kubernetes.default.svc.cluster.local.', 1, 5));
  assert.equal(q.id, 5);
  assert.equal(q.hasEdns, false);
  assert.equal(q.flags2 & 1, 1);
  const root = parseOk(buildQuery('.', 2, 6, false));
  assert.deepEqual([root.nameEnd, root.qtype, root.flags2 & 1], [13, 2, 0]);
  const src = dpQuery({ id: 1 });
  const copy = withId(src, 0xfffe);
  assert.equal(copy.readUInt16BE(0), 0xfffe);
  assert.equal(src.readUInt16BE(0), 1);
  assert.deepEqual(copy.subarray(2), src.subarray(2));
});
