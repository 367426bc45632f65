// Reads just what a decision needs from a client's query: header fields, the question (as raw
// bytes and as a lower-cased cache key), and the EDNS OPT (payload size, DO). Pure: bytes in,
// values out. No sockets, clock, logging or config. Never throws on any input.
import { CLASS_IN, EDNS_DO_BIT, FLAG_CD, FLAG_QR, FLAG_Z, HEADER_SIZE, MAX_NAME_WIRE_LENGTH, OPCODE_QUERY, TYPE } from './constants.js';

/** Why a packet could not be used. `drop` = do not answer at all (too short, or a response). */
export type QueryProblem = 'drop-short' | 'drop-response' | 'notimp' | 'formerr';

/** The EDNS facts an error reply needs (RFC 6891 §7: a query with an OPT gets an OPT back). */
export interface EdnsPresence {
  readonly hasEdns: boolean;
  readonly dnssecOk: boolean;
}

export interface ParsedQuery extends EdnsPresence {
  readonly id: number;
  readonly opcode: number;
  readonly flags2: number; // header byte 2 (QR, opcode, AA, TC, RD)
  readonly flags3: number; // header byte 3 (RA, Z, AD, CD, rcode)
  readonly qtype: number;
  readonly qclass: number;
  readonly questionEnd: number; // offset just past the question
  readonly nameEnd: number; // offset just past the qname
  readonly key: string; // cache/coalescing key: lower-cased qname wire bytes + type + class + DO/CD
  readonly udpPayload: number; // client's advertised size (512 without EDNS)
  readonly checkingDisabled: boolean;
  readonly ednsVersion: number;
  /**
   * The client's OPT record (offsets into the message; -1 without one). With `plain` false, the
   * OPT is what forwardableQuery() keeps of the additional section.
   */
  readonly optStart: number;
  readonly optEnd: number;
  /**
   * True when the message is exactly header, question and additional records with Z clear: the
   * normal case, forwarded as received. False when it also carries what CoreDNS accepts and
   * ignores (Z bit, an answer or authority record, trailing bytes): see forwardableQuery().
   */
  readonly plain: boolean;
}

export interface QueryRejection extends EdnsPresence {
  readonly ok: false;
  readonly problem: QueryProblem;
  readonly id: number;
  readonly opcode: number;
  readonly questionEnd: number; // 0 when the question could not be read (or is not echoed)
}

export type QueryResult = { ok: true; query: ParsedQuery } | QueryRejection;

const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE_LENGTH + 8);

function problem(p: QueryProblem, msg: Uint8Array, questionEnd = 0): QueryRejection {
  const id = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
  const opcode = msg.length >= 3 ? (msg[2] >> 3) & 0x0f : 0;
  const answered = p === 'notimp' || p === 'formerr';
  const optFlags = answered ? findOptFlags(msg) : -1;
  return { ok: false, problem: p, id, opcode, questionEnd, hasEdns: optFlags >= 0, dnssecOk: optFlags >= 0 && (optFlags & EDNS_DO_BIT) !== 0 };
}

/**
 * Reject path only: walks whatever sections can be walked (any opcode, any counts) and returns
 * the flags half of the first OPT's TTL field in the additional section, or -1 when there is no
 * readable OPT. The error reply then carries an OPT too (RFC 6891 §7).
 */
function findOptFlags(msg: Uint8Array): number {
  if (msg.length < HEADER_SIZE) return -1;
  const counts = [(msg[6] << 8) | msg[7], (msg[8] << 8) | msg[9], (msg[10] << 8) | msg[11]];
  let pos = HEADER_SIZE;
  for (let i = (msg[4] << 8) | msg[5]; i > 0; i--) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > msg.length) return -1;
    pos += 4;
  }
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      const afterName = skipName(msg, pos);
      const next = recordEnd(msg, afterName);
      if (next < 0) return -1;
      if (section === 2 && ((msg[afterName] << 8) | msg[afterName + 1]) === TYPE.OPT) return (msg[afterName + 6] << 8) | msg[afterName + 7];
      pos = next;
    }
  }
  return -1;
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

/**
 * Offset just past the resource record whose owner name ends at `afterName` (skipName's result):
 * TYPE, CLASS, TTL, RDLENGTH and RDATA must all be there. -1 when they are not (or afterName is -1).
 */
export function recordEnd(msg: Uint8Array, afterName: number): number {
  if (afterName < 0 || afterName + 10 > msg.length) return -1;
  const next = afterName + 10 + ((msg[afterName + 8] << 8) | msg[afterName + 9]);
  return next > msg.length ? -1 : next;
}

/**
 * Parses a client query. Accepts what CoreDNS (miekg/dns) accepts: at most one answer and one
 * authority record (skipped, never forwarded), at most two additional records, the Z bit, and
 * bytes after the last record (ignored). FORMERR for anything else unreadable, and for two OPTs
 * (RFC 6891 §6.1.1).
 */
export function parseQuery(msg: Uint8Array): QueryResult {
  if (msg.length < HEADER_SIZE) return problem('drop-short', msg);
  const flags2 = msg[2];
  const flags3 = msg[3];
  if (flags2 & FLAG_QR) return problem('drop-response', msg);
  const opcode = (flags2 >> 3) & 0x0f;
  if (opcode !== OPCODE_QUERY) return problem('notimp', msg);
  const qdcount = (msg[4] << 8) | msg[5];
  const otherCount = ((msg[6] << 8) | msg[7]) + ((msg[8] << 8) | msg[9]);
  const arcount = (msg[10] << 8) | msg[11];
  // miekg/dns DefaultMsgAcceptFunc: one question, at most 1 answer (NOTIFY's SOA), 1 authority (IXFR's SOA), 2 additional.
  if (qdcount !== 1 || msg[6] !== 0 || msg[7] > 1 || msg[8] !== 0 || msg[9] > 1 || arcount > 2) return problem('formerr', msg);
  const nameEnd = readQname(msg, HEADER_SIZE);
  if (nameEnd < 0 || nameEnd + 4 > msg.length) return problem('formerr', msg);
  const qtype = (msg[nameEnd] << 8) | msg[nameEnd + 1];
  const qclass = (msg[nameEnd + 2] << 8) | msg[nameEnd + 3];
  const questionEnd = nameEnd + 4;

  let pos = questionEnd;
  for (let i = 0; i < otherCount; i++) {
    pos = recordEnd(msg, skipName(msg, pos));
    if (pos < 0) return problem('formerr', msg, questionEnd);
  }
  let optStart = -1;
  let optEnd = -1;
  for (let i = 0; i < arcount; i++) {
    const afterName = skipName(msg, pos);
    const next = recordEnd(msg, afterName);
    if (next < 0) return problem('formerr', msg, questionEnd);
    if (((msg[afterName] << 8) | msg[afterName + 1]) === TYPE.OPT) {
      if (optStart >= 0 || afterName !== pos + 1) return problem('formerr', msg, questionEnd); // RFC 6891 §6.1.1: one OPT; §6.1.2: root owner
      optStart = pos;
      optEnd = next;
    }
    pos = next;
  }
  const hasEdns = optStart >= 0;
  // OPT fields (RFC 6891 §6.1.2/6.1.3): class = UDP payload size, TTL = extended rcode, version, flags.
  const udpPayload = hasEdns ? Math.max(512, (msg[optStart + 3] << 8) | msg[optStart + 4]) : 512;
  const ednsVersion = hasEdns ? msg[optStart + 6] : 0;
  const dnssecOk = hasEdns && (((msg[optStart + 7] << 8) | msg[optStart + 8]) & EDNS_DO_BIT) !== 0;
  const plain = otherCount === 0 && pos === msg.length && (flags3 & FLAG_Z) === 0;

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
      optStart,
      optEnd,
      plain,
    },
  };
}

/**
 * What is forwarded for a query that is not `plain`: header with Z clear and no answer or
 * authority records, the question, and the client's OPT; trailing bytes dropped. The answer is
 * shared by every client asking the same question (coalescing, cache), so what goes upstream must
 * depend on the question and the OPT only. The ID and question stay at the same offsets.
 */
export function forwardableQuery(msg: Uint8Array, query: ParsedQuery): Buffer {
  const optLength = query.optStart >= 0 ? query.optEnd - query.optStart : 0;
  const out = Buffer.allocUnsafe(query.questionEnd + optLength);
  out.set(msg.subarray(0, query.questionEnd));
  out[3] &= ~FLAG_Z;
  out.fill(0, 6, 10);
  out[10] = 0;
  out[11] = optLength > 0 ? 1 : 0;
  if (optLength > 0) out.set(msg.subarray(query.optStart, query.optEnd), query.questionEnd);
  return out;
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
