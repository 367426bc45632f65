// Writes a query message (header, one question, optional EDNS OPT) for the tools and probes that
// ask their own questions (reply.buildQuery wraps it for the daemon's probes). The daemon's
// upstream queries are the clients' bytes with a new ID (reply.withId) or built from a cache key
// (reply.queryFromKey). Also the one OPT writer (writeOpt), for queries and replies.
import { CLASS_IN, EDNS_DO_BIT, FLAG_RD, HEADER_SIZE, OPT_RR_SIZE, TYPE } from './constants.js';

export interface QuestionFields {
  readonly id: number;
  readonly name: Uint8Array; // wire form (names.encodeName)
  readonly qtype: number;
  readonly qclass?: number; // default IN
  readonly recursionDesired?: boolean; // default true, as stub resolvers send
  readonly edns?: { readonly payload: number; readonly dnssecOk?: boolean } | null; // default none
}

/** Bytes writeQuery() needs for these fields. */
export const queryLength = (q: QuestionFields): number => HEADER_SIZE + q.name.length + 4 + (q.edns ? OPT_RR_SIZE : 0);

/** Writes the query at `offset` (room for queryLength(q) bytes); returns its length. */
export function writeQuery(buf: Buffer, offset: number, q: QuestionFields): number {
  let at = offset;
  buf.writeUInt16BE(q.id & 0xffff, at);
  buf[at + 2] = q.recursionDesired === false ? 0 : FLAG_RD;
  buf[at + 3] = 0;
  buf.writeUInt16BE(1, at + 4); // QDCOUNT
  buf.writeUInt32BE(0, at + 6); // ANCOUNT, NSCOUNT
  buf.writeUInt16BE(q.edns ? 1 : 0, at + 10); // ARCOUNT
  at += HEADER_SIZE;
  buf.set(q.name, at);
  at += q.name.length;
  buf.writeUInt16BE(q.qtype, at);
  buf.writeUInt16BE(q.qclass ?? CLASS_IN, at + 2);
  at += 4;
  if (q.edns) {
    writeOpt(buf, at, q.edns.payload, q.edns.dnssecOk === true);
    at += OPT_RR_SIZE;
  }
  return at - offset;
}

/** Writes an OPT record without options at `at` (OPT_RR_SIZE bytes): version 0, DO as given. */
export function writeOpt(out: Buffer, at: number, payload: number, dnssecOk: boolean, extendedRcode = 0): void {
  out[at] = 0; // root owner
  out.writeUInt16BE(TYPE.OPT, at + 1);
  out.writeUInt16BE(payload, at + 3);
  out[at + 5] = extendedRcode; // upper 8 bits of a 12-bit rcode (RFC 6891 §6.1.3)
  out[at + 6] = 0; // version
  out.writeUInt16BE(dnssecOk ? EDNS_DO_BIT : 0, at + 7);
  out.writeUInt16BE(0, at + 9); // rdlength
}

/** A new buffer holding the query. */
export function encodeQuery(q: QuestionFields): Buffer {
  const buf = Buffer.alloc(queryLength(q));
  writeQuery(buf, 0, q);
  return buf;
}
