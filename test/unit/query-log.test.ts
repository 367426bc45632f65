// The query log line in CoreDNS's format, with names escaped as miekg/dns prints them: a label
// carrying a quote, spaces, a dot, a backslash, control or high bytes cannot add, shift or end a
// field (parsers split the quoted request on spaces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery } from '../../src/dns/query.js';
import { formatQueryLine } from '../../src/server/query-log.js';
import { keyToPresentationName } from '../../src/dns/presentation.js';

/** A query for the given raw labels (bytes as they go on the wire), type A, class IN. */
function queryFor(labels: Buffer[], id = 0x1234): Buffer {
  const name = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
  return Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
}

function logged(labels: Buffer[]): { line: string; name: string } {
  const msg = queryFor(labels);
  const parsed = parseQuery(msg);
  assert.ok(parsed.ok, 'the forged name is a valid query');
  const reply = Buffer.from(msg);
  reply[2] |= 0x80;
  const line = formatQueryLine('10.0.0.5:41234', parsed.query, false, msg.length, reply, 0.0021);
  return { line, name: keyToPresentationName(parsed.query.key) };
}

test('a label with a quote and spaces cannot forge fields', () => {
  const { line, name } = logged([Buffer.from('x" NOERROR qr 1 0.1s "A IN evil'), Buffer.from('cluster'), Buffer.from('local')]);
  assert.equal(name, 'x\\"\\ noerror\\ qr\\ 1\\ 0\\.1s\\ \\"a\\ in\\ evil.cluster.local.');
  // A parser reads the quoted request up to the first unescaped quote and splits it on unescaped spaces.
  const request = /^[^"]*"((?:[^"\\]|\\.)*)"/.exec(line)![1];
  assert.deepEqual(request.split(/(?<!\\) /).length, 7, `type class name proto size do bufsize: ${line}`);
  assert.ok(line.startsWith(`10.0.0.5:41234 - 4660 "A IN ${name} udp `), line);
  assert.match(line, /" NOERROR qr,rd \d+ 0\.002100s$/);
});

test('a dot inside a label, a backslash and the other specials are escaped with a backslash', () => {
  assert.equal(logged([Buffer.from('a.b'), Buffer.from('svc')]).name, 'a\\.b.svc.');
  assert.equal(logged([Buffer.from('back\\slash')]).name, 'back\\\\slash.');
  assert.equal(logged([Buffer.from("q'@;()")]).name, "q\\'\\@\\;\\(\\).");
});

test('bytes outside printable ASCII are written \\DDD', () => {
  assert.equal(logged([Buffer.from([0x00, 0x01, 0x1f, 0x41, 0x7e, 0x7f, 0xff]), Buffer.from('x')]).name, '\\000\\001\\031a~\\127\\255.x.');
  const { line } = logged([Buffer.from('line\nbreak\r')]);
  assert.ok(!/[\n\r]/.test(line), 'no raw control characters in the log line');
  assert.match(line, / line\\010break\\013\. udp /);
});

test('ordinary names and the root are unchanged', () => {
  assert.equal(logged([Buffer.from('svc-1'), Buffer.from('default'), Buffer.from('svc'), Buffer.from('cluster'), Buffer.from('local')]).name, 'svc-1.default.svc.cluster.local.');
  assert.equal(logged([]).name, '.');
});

test('types, classes and rcodes are spelled as miekg/dns prints them, not from the metrics label list', () => {
  const line = (qtype: number, qclass: number, rcode: number): string => {
    const msg = queryFor([Buffer.from('svc'), Buffer.from('local')]);
    msg.writeUInt16BE(qtype, msg.length - 4);
    msg.writeUInt16BE(qclass, msg.length - 2);
    const parsed = parseQuery(msg);
    assert.ok(parsed.ok);
    const reply = Buffer.from(msg);
    reply[2] |= 0x80;
    reply[3] = (reply[3] & 0xf0) | rcode;
    return formatQueryLine('127.0.0.1:5353', parsed.query, true, msg.length, reply, 0.001);
  };
  assert.match(line(35, 1, 0), /"NAPTR IN svc\.local\. tcp /, 'NAPTR is not in the metrics type list');
  assert.match(line(13, 3, 5), /"HINFO CH svc\.local\. tcp .*" REFUSED qr,rd /);
  assert.match(line(65280, 254, 3), /"TYPE65280 NONE svc\.local\. tcp .*" NXDOMAIN /);
  assert.match(line(1, 42, 2), /"A CLASS42 svc\.local\. tcp .*" SERVFAIL /);
});
