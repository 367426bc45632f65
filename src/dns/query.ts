// Reads just what a decision needs from a client's query: header fields, the question (as raw
// bytes and as a lower-cased cache key), and the EDNS OPT (payload size, DO). Pure: bytes in,
// values out. No sockets, clock, logging or config. Never throws on any input.
import { CLASS_IN, EDNS_DO_BIT, FLAG_CD, FLAG_QR, FLAG_Z, HEADER_SIZE, MAX_NAME_WIRE_LENGTH, OPCODE_QUERY, TYPE } from './constants.js';

/** Why a packet could not be used. `drop` = do not answer at all (too short, or a response). */
export type QueryProblem = 'drop-short' | 'drop-response' | 'notimp' | 'formerr';

export interface ParsedQuery {
  readonly id: number;
  readonly opcode: number;
  readonly flags2: number; // header byte 2 (QR, opcode, AA, TC, RD)
  readonly flags3: number; // header byte 3 (RA, Z, AD, CD, rcode)
  readonly qtype: number;
  readonly qclass: number;
  readonly questionEnd: number; // offset just past the question
  readonly nameEnd: number; // offset just past the qname
  readonly key: string; // cache/coalescing key: lower-cased qname wire bytes + type + class + DO/CD
  readonly hasEdns: boolean;
  readonly udpPayload: number; // client's advertised size (512 without EDNS)
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
  readonly ednsVersion: number;
}

export type QueryResult = { ok: true; query: ParsedQuery } | { ok: false; problem: QueryProblem; id: number; opcode: number; questionEnd: number };

const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE_LENGTH + 8);

function problem(p: QueryProblem, msg: Uint8Array, questionEnd = 0): QueryResult {
  const id = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
  const opcode = msg.length >= 3 ? (msg[2] >> 3) & 0x0f : 0;
  return { ok: false, problem: p, id, opcode, questionEnd };
}

/**
 * Walks an uncompressed qname starting at `offset`, lower-casing it into `scratch`.
 * Queries must not use compression in the question (nothing precedes it to point to).
 * Returns the offset after the name, or -1 if malformed.
 */
function readQname(msg: Uint8Array, offset: number): number {
  let pos = offset;
  let out = 0;
  for (;;) {
    if (pos >= msg.length) return -1;
    const len = msg[pos];
    if (len === 0) {
      scratch[out++] = 0;
      return pos + 1;
    }
    if (len > 63) return -1; // compression pointer or reserved label type: invalid in a question
    if (pos + 1 + len > msg.length) return -1;
    if (out + 1 + len + 1 > MAX_NAME_WIRE_LENGTH) return -1;
    scratch[out++] = len;
    for (let i = 1; i <= len; i++) {
      const c = msg[pos + i];
      scratch[out++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    pos += 1 + len;
  }
}

/** Skips a possibly compressed name in a record section; returns the offset after it or -1. */
export function skipName(msg: Uint8Array, offset: number): number {
  let pos = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (pos >= msg.length) return -1;
    const len = msg[pos];
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= msg.length ? pos + 2 : -1;
    if (len > 63) return -1;
    pos += 1 + len;
  }
  return -1;
}

/** Parses a client query. */
export function parseQuery(msg: Uint8Array): QueryResult {
  if (msg.length < HEADER_SIZE) return problem('drop-short', msg);
  const flags2 = msg[2];
  const flags3 = msg[3];
  if (flags2 & FLAG_QR) return problem('drop-response', msg);
  const opcode = (flags2 >> 3) & 0x0f;
  if (opcode !== OPCODE_QUERY) return problem('notimp', msg);
  const qdcount = (msg[4] << 8) | msg[5];
  const ancount = (msg[6] << 8) | msg[7];
  const nscount = (msg[8] << 8) | msg[9];
  const arcount = (msg[10] << 8) | msg[11];
  // Same pre-checks as miekg/dns: exactly one question, no answers or authority, at most 2 additional, Z clear.
  if (qdcount !== 1 || ancount !== 0 || nscount !== 0 || arcount > 2 || flags3 & FLAG_Z) return problem('formerr', msg);
  const nameEnd = readQname(msg, HEADER_SIZE);
  if (nameEnd < 0 || nameEnd + 4 > msg.length) return problem('formerr', msg);
  const qtype = (msg[nameEnd] << 8) | msg[nameEnd + 1];
  const qclass = (msg[nameEnd + 2] << 8) | msg[nameEnd + 3];
  const questionEnd = nameEnd + 4;

  let hasEdns = false;
  let udpPayload = 512;
  let dnssecOk = false;
  let ednsVersion = 0;
  let pos = questionEnd;
  for (let i = 0; i < arcount; i++) {
    const afterName = skipName(msg, pos);
    if (afterName < 0 || afterName + 10 > msg.length) return problem('formerr', msg, questionEnd);
    const type = (msg[afterName] << 8) | msg[afterName + 1];
    const rdlength = (msg[afterName + 8] << 8) | msg[afterName + 9];
    const next = afterName + 10 + rdlength;
    if (next > msg.length) return problem('formerr', msg, questionEnd);
    if (type === TYPE.OPT) {
      if (hasEdns || msg[pos] !== 0) return problem('formerr', msg, questionEnd); // RFC 6891 6.1.1: one OPT, root owner
      hasEdns = true;
      udpPayload = Math.max(512, (msg[afterName + 2] << 8) | msg[afterName + 3]);
      ednsVersion = msg[afterName + 5];
      dnssecOk = (((msg[afterName + 6] << 8) | msg[afterName + 7]) & EDNS_DO_BIT) !== 0;
    }
    pos = next;
  }
  if (pos !== msg.length) return problem('formerr', msg, questionEnd); // trailing garbage

  const checkingDisabled = (flags3 & FLAG_CD) !== 0;
  const nameLength = nameEnd - HEADER_SIZE;
  scratch[nameLength] = msg[nameEnd];
  scratch[nameLength + 1] = msg[nameEnd + 1];
  scratch[nameLength + 2] = msg[nameEnd + 2];
  scratch[nameLength + 3] = msg[nameEnd + 3];
  scratch[nameLength + 4] = 0x30 | (dnssecOk ? 1 : 0) | (checkingDisabled ? 2 : 0);
  const key = scratch.toString('latin1', 0, nameLength + 5);
  return {
    ok: true,
    query: {
      id: (msg[0] << 8) | msg[1],
      opcode,
      flags2,
      flags3,
      qtype,
      qclass,
      questionEnd,
      nameEnd,
      key,
      hasEdns,
      udpPayload,
      dnssecOk,
      checkingDisabled,
      ednsVersion,
    },
  };
}

/** The question class must be IN for us to serve it (CoreDNS refuses other classes). */
export const isInternetClass = (q: ParsedQuery): boolean => q.qclass === CLASS_IN;

/** Lower-case presentation form of the qname from a cache key ("svc.cluster.local."). */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let pos = 0;
  while (pos < key.length) {
    const len = key.charCodeAt(pos);
    if (len === 0) break;
    labels.push(key.slice(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return labels.length === 0 ? '.' : `${labels.join('.')}.`;
}

/** Wire length of the qname encoded at the start of a key. */
export function keyNameLength(key: string): number {
  let pos = 0;
  while (pos < key.length && key.charCodeAt(pos) !== 0) pos += 1 + key.charCodeAt(pos);
  return pos + 1;
}
