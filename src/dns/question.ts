// Writes a query message (header, one question, optional EDNS OPT) for the tools and probes that
// ask their own questions. The daemon's own upstream queries are the clients' bytes with a new ID
// (reply.withId) or built from a cache key (reply.queryFromKey); this is for names typed by people.
import { CLASS_IN, EDNS_DO_BIT, FLAG_RD, HEADER_SIZE, TYPE } from './constants.js';

export interface QuestionFields {
  readonly id: number;
  readonly name: Uint8Array; // wire form (names.encodeName)
  readonly qtype: number;
  readonly qclass?: number; // default IN
  readonly recursionDesired?: boolean; // default true, as stub resolvers send
  readonly edns?: { readonly payload: number; readonly dnssecOk?: boolean } | null; // default none
}

const OPT_SIZE = 11;

/** Bytes writeQuery() needs for these fields. */
export const queryLength = (q: QuestionFields): number => HEADER_SIZE + q.name.length + 4 + (q.edns ? OPT_SIZE : 0);

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
    buf[at] = 0; // root owner
    buf.writeUInt16BE(TYPE.OPT, at + 1);
    buf.writeUInt16BE(q.edns.payload, at + 3);
    buf.writeUInt16BE(0, at + 5); // extended rcode, version 0
    buf.writeUInt16BE(q.edns.dnssecOk ? EDNS_DO_BIT : 0, at + 7);
    buf.writeUInt16BE(0, at + 9); // rdlength
    at += OPT_SIZE;
  }
  return at - offset;
}

/** A new buffer holding the query. */
export function encodeQuery(q: QuestionFields): Buffer {
  const buf = Buffer.alloc(queryLength(q));
  writeQuery(buf, 0, q);
  return buf;
}
