// Reads upstream replies (one walk over the records: rcode, flags, TTL field offsets, minimum TTL,
// SOA negative TTL, OPT position) and writes replies for clients: cached/forwarded replies patched
// with the client's ID, question bytes and TTLs, truncated to the client's size, and the error
// replies the server itself writes. Pure: bytes in, bytes out.
import { recordEnd, skipName } from './query.js';
import { encodeName } from './names.js';
import { encodeQuery, writeOpt } from './question.js';
import type { EdnsPresence, ParsedQuery } from './query.js';
import { FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_SIZE, MAX_TCP_MESSAGE, OPT_RR_SIZE, OUR_EDNS_PAYLOAD, TYPE } from './constants.js';

/** What one walk over an upstream reply found. */
export interface ReplyAnalysis {
  readonly rcode: number;
  readonly truncated: boolean;
  readonly answerCount: number;
  readonly hasSoa: boolean; // SOA in the authority section
  readonly hasNs: boolean; // NS in the authority section (referral)
  readonly minTtl: number; // over all RRs except OPT; 0xffffffff when there are none
  readonly soaNegativeTtl: number; // RFC 2308 §5: min(SOA TTL, SOA MINIMUM); -1 without SOA
  readonly ttlOffsets: readonly number[]; // offsets of every TTL field except OPT's (a plain array: smaller than a typed array per cache entry)
  readonly optStart: number; // offset of the first OPT RR, or -1
  readonly recordsEnd: number; // offset just past the last record (bytes after it are not part of the reply)
}

const readU16 = (m: Uint8Array, o: number): number => (m[o] << 8) | m[o + 1];
const readU32 = (m: Uint8Array, o: number): number => ((m[o] << 24) | (m[o + 1] << 16) | (m[o + 2] << 8) | m[o + 3]) >>> 0;

/** Walks the reply once; returns undefined when it is malformed. */
export function analyzeReply(msg: Uint8Array): ReplyAnalysis | undefined {
  if (msg.length < HEADER_SIZE) return undefined;
  const qdcount = readU16(msg, 4);
  const counts = [readU16(msg, 6), readU16(msg, 8), readU16(msg, 10)];
  let pos = HEADER_SIZE;
  for (let i = 0; i < qdcount; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > msg.length) return undefined;
    pos += 4;
  }
  const offsets: number[] = [];
  let minTtl = 0xffffffff;
  let soaNegativeTtl = -1;
  let hasSoa = false;
  let hasNs = false;
  let optStart = -1;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      const start = pos;
      const afterName = skipName(msg, pos);
      const next = recordEnd(msg, afterName);
      if (next < 0) return undefined;
      const type = readU16(msg, afterName);
      const rdlength = next - afterName - 10;
      if (type === TYPE.OPT) {
        if (optStart < 0) optStart = start;
      } else {
        const ttl = readU32(msg, afterName + 4);
        offsets.push(afterName + 4);
        if (ttl < minTtl) minTtl = ttl;
        if (section === 1 && type === TYPE.SOA) {
          hasSoa = true;
          if (rdlength >= 20) {
            const minimum = readU32(msg, next - 4);
            soaNegativeTtl = Math.min(ttl, minimum);
          }
        }
        if (section === 1 && type === TYPE.NS) hasNs = true;
      }
      pos = next;
    }
  }
  return {
    rcode: msg[3] & 0x0f,
    truncated: (msg[2] & FLAG_TC) !== 0,
    answerCount: counts[0],
    hasSoa,
    hasNs,
    minTtl,
    soaNegativeTtl,
    ttlOffsets: offsets,
    optStart,
    recordsEnd: pos,
  };
}

/**
 * Checks that an upstream reply answers exactly the question we sent: QR set, one question, same
 * name (case-insensitive), type and class. `sent` is our query; both questions start at byte 12.
 */
export function replyMatchesQuestion(reply: Uint8Array, sent: Uint8Array, sentQuestionEnd: number): boolean {
  if (reply.length < sentQuestionEnd || !(reply[2] & FLAG_QR) || readU16(reply, 4) !== 1) return false;
  const nameEnd = sentQuestionEnd - 4; // type and class are compared exactly, only the name ignores case
  for (let i = HEADER_SIZE; i < sentQuestionEnd; i++) {
    let a = reply[i];
    let b = sent[i];
    if (a === b) continue;
    if (i >= nameEnd) return false;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}

/**
 * A reply template: wire bytes without OPT, ready to be patched for any client asking the same
 * question. Every record has its TTL offset, in wire order, and the section counts in the header
 * match them: renderReply finds record boundaries from these offsets alone.
 *
 * Packed into one latin1 string, the wire bytes followed by each TTL offset as two chars (big
 * endian): a string is a single heap object with its bytes inline, where a Buffer is a view object
 * plus a slice of a shared 8 KiB pool slab that any live slice keeps alive. A cached answer then
 * costs its bytes plus a few dozen bytes (see README "Memory sizing").
 */
export interface ReplyTemplate {
  readonly packed: string;
  readonly wireLength: number;
  readonly questionEnd: number;
}

/** Packs `wire[0, wireLength)` and its TTL offsets (the first `records` of them) into a template. */
export function packTemplate(wire: Uint8Array, wireLength: number, ttlOffsets: readonly number[], questionEnd: number, records = ttlOffsets.length): ReplyTemplate {
  return { packed: packBytes(wire, wireLength, ttlOffsets, records).toString('latin1'), wireLength, questionEnd };
}

function packBytes(wire: Uint8Array, wireLength: number, ttlOffsets: readonly number[], records: number): Buffer {
  const bytes = Buffer.allocUnsafe(wireLength + 2 * records);
  bytes.set(wire.subarray(0, wireLength), 0);
  for (let i = 0; i < records; i++) bytes.writeUInt16BE(ttlOffsets[i], wireLength + 2 * i);
  return bytes;
}

/** The template's wire bytes as a new Buffer (for paths off the hot path: snapshots, sharing). */
export function templateWire(tpl: ReplyTemplate): Buffer {
  return Buffer.from(tpl.packed.slice(0, tpl.wireLength), 'latin1');
}

/** The template's TTL offsets, in wire order. */
export function templateTtlOffsets(tpl: ReplyTemplate): number[] {
  const out: number[] = [];
  for (let at = tpl.wireLength; at + 1 < tpl.packed.length; at += 2) out.push(packedU16(tpl.packed, at));
  return out;
}

const packedU16 = (packed: string, at: number): number => (packed.charCodeAt(at) << 8) | packed.charCodeAt(at + 1);

/**
 * The upstream reply without its OPT (ours is rebuilt per client, as CoreDNS does) and without
 * bytes after the last record. The wire is cut at the OPT: upstreams put it last, and whatever
 * would follow it can only be additional data (cut rather than spliced, so that no compression
 * pointer can end up pointing at moved bytes).
 */
export function toTemplate(reply: Buffer, analysis: ReplyAnalysis, questionEnd: number): ReplyTemplate {
  const offsets = analysis.ttlOffsets;
  if (analysis.optStart < 0) return packTemplate(reply, analysis.recordsEnd, offsets, questionEnd);
  let kept = 0;
  while (kept < offsets.length && offsets[kept] < analysis.optStart) kept++;
  const bytes = packBytes(reply, analysis.optStart, offsets, kept);
  setSectionCounts(bytes, readU16(bytes, 6), readU16(bytes, 8), kept); // without the OPT
  return { packed: bytes.toString('latin1'), wireLength: analysis.optStart, questionEnd };
}

/** Sets ANCOUNT/NSCOUNT/ARCOUNT for the first `records` records, in section order. */
function setSectionCounts(out: Buffer, ancount: number, nscount: number, records: number): void {
  const an = Math.min(records, ancount);
  const ns = Math.min(records - an, nscount);
  const ar = records - an - ns;
  out[6] = an >> 8;
  out[7] = an & 0xff;
  out[8] = ns >> 8;
  out[9] = ns & 0xff;
  out[10] = ar >> 8;
  out[11] = ar & 0xff;
}

/** Our OPT for a client: payload 1232, DO echoed (RFC 3225), no options. */
const writeOurOpt = (out: Buffer, at: number, dnssecOk: boolean, extendedRcode = 0): void => writeOpt(out, at, OUR_EDNS_PAYLOAD, dnssecOk, extendedRcode);

/** The most a client can take: UDP 512 without EDNS, else its advertised size; TCP 65535. */
export function clientLimit(query: ParsedQuery, tcp: boolean): number {
  if (tcp) return MAX_TCP_MESSAGE;
  return query.hasEdns ? Math.min(query.udpPayload, MAX_TCP_MESSAGE) : 512;
}

export interface RenderOptions {
  readonly ttl: number; // TTL written into every RR; -1 leaves TTLs untouched
  readonly authoritative: boolean; // set AA (CoreDNS does on cache hits)
  readonly limit: number; // client size limit
}

/**
 * Builds the reply for one client from a template: copy, client's ID and question bytes (case
 * preserved), RD/CD from the client, TTLs patched, OPT rebuilt if the client sent one. Larger
 * than the client's limit: truncated as miekg/dns Msg.Truncate does for CoreDNS, i.e. the same
 * header flags with TC set, and as many whole records as fit (answer, then authority, then
 * additional), the OPT always kept. Resolvers that do not retry over TCP (musl before 1.2.4) use
 * those records, and glibc retries only when the reply does not look like a lame referral
 * (no answer, AA and RA clear): header + question alone would fail for them.
 */
export function renderReply(tpl: ReplyTemplate, clientMsg: Uint8Array, query: ParsedQuery, opts: RenderOptions): Buffer {
  const optSize = query.hasEdns ? OPT_RR_SIZE : 0;
  const packed = tpl.packed;
  const wireLength = tpl.wireLength;
  const records = (packed.length - wireLength) >> 1; // one TTL offset per record
  let end = wireLength;
  let copied = records;
  const truncated = end + optSize > opts.limit;
  if (truncated) {
    // Record boundaries from the TTL offsets: a record ends 6 bytes (TTL, RDLENGTH) plus its RDLENGTH after its TTL.
    const budget = opts.limit - optSize;
    end = tpl.questionEnd;
    copied = 0;
    while (copied < records) {
      const o = packedU16(packed, wireLength + 2 * copied);
      const recordEnd = o + 6 + packedU16(packed, o + 4);
      if (recordEnd > budget) break;
      end = recordEnd;
      copied++;
    }
  }
  const out = Buffer.allocUnsafe(end + optSize);
  out.write(packed, 0, end, 'latin1');
  out[0] = clientMsg[0];
  out[1] = clientMsg[1];
  // The client's question bytes (its 0x20 case) replace the stored ones; same length by key equality.
  for (let i = HEADER_SIZE; i < query.questionEnd; i++) out[i] = clientMsg[i];
  out[2] = (out[2] & ~FLAG_RD) | (query.flags2 & FLAG_RD) | (opts.authoritative ? FLAG_AA : 0) | (truncated ? FLAG_TC : 0);
  // AD only for clients that asked for DNSSEC data (RFC 6840 §5.8), CD echoed.
  let f3 = (out[3] & ~FLAG_CD) | (query.flags3 & FLAG_CD);
  if (!query.dnssecOk && !(query.flags3 & FLAG_AD)) f3 &= ~FLAG_AD;
  out[3] = f3;
  if (opts.ttl >= 0) {
    const t = opts.ttl >>> 0;
    for (let i = 0; i < copied; i++) {
      const o = packedU16(packed, wireLength + 2 * i);
      out[o] = t >>> 24;
      out[o + 1] = (t >>> 16) & 0xff;
      out[o + 2] = (t >>> 8) & 0xff;
      out[o + 3] = t & 0xff;
    }
  }
  if (truncated) setSectionCounts(out, packedU16(packed, 6), packedU16(packed, 8), copied);
  if (optSize > 0) writeClientOpt(out, end, query);
  return out;
}

/**
 * Writes our OPT at `at` (the end of `out`, which has OPT_RR_SIZE bytes left) and counts it in
 * ARCOUNT. For replies built elsewhere (e.g. CH id.server) to a query that carried an OPT.
 */
export function writeClientOpt(out: Buffer, at: number, edns: EdnsPresence, extendedRcode = 0): void {
  writeOurOpt(out, at, edns.dnssecOk, extendedRcode);
  const arcount = readU16(out, 10) + 1;
  out[10] = arcount >> 8;
  out[11] = arcount & 0xff;
}

/**
 * An error reply the server writes itself (FORMERR, SERVFAIL, REFUSED, NOTIMP, BADVERS): the
 * client's header and question (when it could be read), RA set, no records, and an OPT when the
 * client sent one (RFC 6891 §7; `edns` is the parsed query, or what a rejected one carried).
 */
export function errorReply(clientMsg: Uint8Array, rcode: number, questionEnd: number, edns?: EdnsPresence): Buffer {
  const qEnd = questionEnd >= HEADER_SIZE && questionEnd <= clientMsg.length ? questionEnd : HEADER_SIZE;
  const withOpt = edns?.hasEdns === true;
  const out = Buffer.alloc(qEnd + (withOpt ? OPT_RR_SIZE : 0));
  if (clientMsg.length >= HEADER_SIZE) Buffer.from(clientMsg.buffer, clientMsg.byteOffset, qEnd).copy(out, 0);
  else Buffer.from(clientMsg.buffer, clientMsg.byteOffset, Math.min(2, clientMsg.length)).copy(out, 0);
  out[2] = FLAG_QR | (out[2] & 0x79); // keep opcode and RD
  out[3] = FLAG_RA | (out[3] & FLAG_CD) | (rcode & 0x0f);
  out.writeUInt16BE(qEnd > HEADER_SIZE ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  if (withOpt) writeClientOpt(out, qEnd, edns, rcode >> 4);
  return out;
}

/** Copies a query with a new ID (what we send upstream). */
export function withId(msg: Uint8Array, id: number): Buffer {
  const out = Buffer.allocUnsafe(msg.length);
  out.set(msg);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  return out;
}

/** Builds a query from a cache key (lower-cased name + type + class + DO/CD flags), RD set. */
export function queryFromKey(key: string, id: number): Buffer {
  const flagsChar = key.charCodeAt(key.length - 1);
  const dnssecOk = (flagsChar & 1) !== 0;
  const checkingDisabled = (flagsChar & 2) !== 0;
  const questionLength = key.length - 1; // qname + type + class
  const out = Buffer.alloc(HEADER_SIZE + questionLength + OPT_RR_SIZE);
  out.writeUInt16BE(id, 0);
  out[2] = FLAG_RD;
  out[3] = checkingDisabled ? FLAG_CD : 0;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 10);
  out.write(key.slice(0, questionLength), HEADER_SIZE, 'latin1');
  writeOurOpt(out, HEADER_SIZE + questionLength, dnssecOk);
  return out;
}

/**
 * A query for NAME/TYPE, class IN, no OPT (health probes, the instance check): for names the code
 * itself writes, so an invalid one is a bug and throws.
 */
export function buildQuery(name: string, qtype: number, id: number, recursionDesired = true): Buffer {
  const wire = encodeName(name);
  if (!wire.ok) throw new Error(`buildQuery: ${wire.error}`);
  return encodeQuery({ id, name: wire.wire, qtype, recursionDesired });
}
