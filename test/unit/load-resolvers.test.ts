// Wire-format tests for the queries the tools write (dns/question.ts, dns/names.ts) and the load
// tool's reply classification, checked against dns-packet (a dev dependency, tests only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { classifyReply, combineOutcomes, outcomeFromLookupError } from '../../src/tools/load/resolvers.js';
import { encodeName as encodeNameResult } from '../../src/dns/names.js';
import { writeQuery } from '../../src/dns/question.js';

function encodeName(name: string): Buffer {
  const r = encodeNameResult(name);
  assert.ok(r.ok);
  return r.wire;
}

/** A query written at offset 2 of a scratch buffer, as the load tool does (bytes 0-1: TCP prefix). */
function query(name: string, qtype: number, id = 0x1234, edns = false): { buf: Buffer; message: Buffer; length: number; qlen: number } {
  const buf = Buffer.alloc(300);
  const wire = encodeName(name);
  const length = writeQuery(buf, 2, { id, name: wire, qtype, edns: edns ? { payload: 1232 } : null });
  return { buf, message: buf.subarray(2), length, qlen: wire.length + 4 };
}

test('writeQuery builds a query dns-packet can decode, at any offset', () => {
  for (const edns of [false, true]) {
    const q = query('Www.Example.COM.', 28, 0xbeef, edns);
    const decoded = dnsPacket.decode(q.buf.subarray(2, 2 + q.length));
    assert.equal(decoded.id, 0xbeef);
    assert.equal(decoded.flags! & 0x0100, 0x0100, 'RD set');
    assert.deepEqual(decoded.questions, [{ name: 'Www.Example.COM', type: 'AAAA', class: 'IN' }]);
    assert.equal(decoded.additionals!.length, edns ? 1 : 0);
    if (edns) {
      assert.equal(decoded.additionals![0].type, 'OPT');
      assert.equal((decoded.additionals![0] as { udpPayloadSize: number }).udpPayloadSize, 1232);
    }
  }
});

test('encodeName treats a trailing dot as optional', () => {
  assert.deepEqual(encodeName('a.b'), encodeName('a.b.'));
  assert.deepEqual([...encodeName('ab.c')], [2, 0x61, 0x62, 1, 0x63, 0]);
});

type Answer = dnsPacket.Answer;

const RCODES: Record<string, number> = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

function reply(
  name: string,
  type: dnsPacket.RecordType,
  opts: { rcode?: string; answers?: Answer[]; tc?: boolean; id?: number; questions?: boolean } = {},
): Buffer {
  const flags =
    (opts.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | dnsPacket.RECURSION_DESIRED | RCODES[opts.rcode ?? 'NOERROR'];
  return dnsPacket.encode({
    type: 'response',
    id: opts.id ?? 0x1234,
    flags,
    questions: opts.questions === false ? [] : [{ name, type, class: 'IN' }],
    answers: opts.answers ?? [],
  } as dnsPacket.Packet);
}

const A: Answer = { name: 'a.test', type: 'A', ttl: 60, data: '192.0.2.1' };

test('classifyReply: outcomes by rcode, answers and flags', () => {
  const q = query('a.test', 1);
  const cases: [string, Buffer, string | null][] = [
    ['answer', reply('a.test', 'A', { answers: [A] }), 'ok'],
    [
      'CNAME then A',
      reply('a.test', 'A', {
        answers: [{ name: 'a.test', type: 'CNAME', ttl: 60, data: 'b.test' }, { ...A, name: 'b.test' }],
      }),
      'ok',
    ],
    ['CNAME only', reply('a.test', 'A', { answers: [{ name: 'a.test', type: 'CNAME', ttl: 60, data: 'b.test' }] }), 'nodata'],
    ['empty NOERROR', reply('a.test', 'A'), 'nodata'],
    ['NXDOMAIN', reply('a.test', 'A', { rcode: 'NXDOMAIN' }), 'nxdomain'],
    ['SERVFAIL', reply('a.test', 'A', { rcode: 'SERVFAIL' }), 'servfail'],
    ['REFUSED', reply('a.test', 'A', { rcode: 'REFUSED' }), 'refused'],
    ['NOTIMP', reply('a.test', 'A', { rcode: 'NOTIMP' }), 'other-rcode'],
    ['REFUSED without question', reply('a.test', 'A', { rcode: 'REFUSED', questions: false }), 'refused'],
    ['truncated', reply('a.test', 'A', { tc: true }), 'truncated'],
    ['question in other case', reply('A.TEST', 'A', { answers: [A] }), 'ok'],
    ['other name', reply('b.test', 'A', { answers: [A] }), null],
    ['other type', reply('a.test', 'AAAA'), null],
    ['NOERROR without question', reply('a.test', 'A', { questions: false }), null],
  ];
  for (const [name, msg, want] of cases) {
    assert.equal(classifyReply(msg, q.message, q.qlen, 1), want, name);
  }
});

test('classifyReply: queries and garbage are ignored, broken answers are malformed', () => {
  const q = query('a.test', 1);
  assert.equal(classifyReply(q.buf.subarray(2, 2 + q.length), q.message, q.qlen, 1), null, 'a query, not a response');
  assert.equal(classifyReply(Buffer.alloc(5), q.message, q.qlen, 1), null);
  const good = reply('a.test', 'A', { answers: [A] });
  assert.equal(classifyReply(good.subarray(0, good.length - 12), q.message, q.qlen, 1), 'malformed');
});

test('classifyReply: ANY accepts any record type', () => {
  const q = query('a.test', 255);
  assert.equal(classifyReply(reply('a.test', 'ANY' as dnsPacket.RecordType, { answers: [A] }), q.message, q.qlen, 255), 'ok');
});

test('combineOutcomes: failures dominate, then ok, then nxdomain, then nodata', () => {
  assert.equal(combineOutcomes('ok', 'nodata'), 'ok');
  assert.equal(combineOutcomes('nodata', 'ok'), 'ok');
  assert.equal(combineOutcomes('nodata', 'nodata'), 'nodata');
  assert.equal(combineOutcomes('nxdomain', 'nodata'), 'nxdomain');
  assert.equal(combineOutcomes('ok', 'timeout'), 'timeout');
  assert.equal(combineOutcomes('servfail', 'timeout'), 'timeout');
  assert.equal(combineOutcomes('network-error', 'timeout'), 'network-error');
});

test('getaddrinfo error codes map to outcomes', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(outcomeFromLookupError(err('ENOTFOUND'), 1), 'nxdomain');
  assert.equal(outcomeFromLookupError(err('EAI_AGAIN'), 3), 'servfail');
  assert.equal(outcomeFromLookupError(err('EAI_AGAIN'), 5000), 'timeout');
  assert.equal(outcomeFromLookupError(err('ETIMEOUT'), 1), 'timeout');
  assert.equal(outcomeFromLookupError(err('EREFUSED'), 1), 'refused');
  assert.equal(outcomeFromLookupError(err('EAI_FAIL'), 1), 'other-rcode');
  assert.equal(outcomeFromLookupError(err('ECONNREFUSED'), 1), 'network-error');
  assert.equal(outcomeFromLookupError(null, 1), 'network-error');
});
