// Answers `id.server. CH TXT` (RFC 4892) and `hostname.bind. CH TXT` with this process's instance
// id, like CoreDNS's `chaos` plugin. Besides debugging ("which cache answered?"), it lets a
// shutting-down instance see that another instance already serves the same address (rollout with
// SO_REUSEPORT), so it must not remove the shared iptables rules and addresses.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ParsedQuery } from '../dns/query.js';
import { workerThreadData } from '../cluster/thread-data.js';
import { OPT_RR_SIZE, writeClientOpt } from '../dns/reply.js';
import { FLAG_AA, FLAG_QR, FLAG_RD, HEADER_SIZE, TYPE } from '../dns/constants.js';

export const CLASS_CH = 3;
/** This process's id; worker threads (`workers` > 1) get the main thread's. */
export const INSTANCE_ID = workerThreadData?.instanceId ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
/** What this thread answers: the process id, plus `/wN` in worker thread N (which worker answered). */
export const ANSWER_ID = workerThreadData ? `${INSTANCE_ID}/w${workerThreadData.index}` : INSTANCE_ID;

/** True for an id.server answer from this process (any of its worker threads). */
export const isOwnInstance = (id: string): boolean => id === INSTANCE_ID || id.startsWith(`${INSTANCE_ID}/w`);

// Keys (lower-case wire name + type + class) we answer; the last key byte (DO/CD flags) is ignored.
const CHAOS_NAMES = ['\x02id\x06server\x00', '\x08hostname\x04bind\x00'].map((n) => `${n}\x00\x10\x00\x03`);

export function isChaosIdQuery(query: ParsedQuery): boolean {
  if (query.qclass !== CLASS_CH || query.qtype !== TYPE.TXT) return false;
  const question = query.key.slice(0, -1);
  return CHAOS_NAMES.includes(question);
}

/** Builds the TXT reply carrying `id` for a chaos id query. */
export function chaosReply(clientMsg: Uint8Array, query: ParsedQuery, id = ANSWER_ID): Buffer {
  const text = Buffer.from(id.slice(0, 255), 'utf8');
  const qEnd = query.questionEnd;
  const rdata = 1 + text.length;
  const out = Buffer.alloc(qEnd + 2 + 10 + rdata + (query.hasEdns ? OPT_RR_SIZE : 0));
  Buffer.from(clientMsg.buffer, clientMsg.byteOffset, qEnd).copy(out, 0);
  out[2] = FLAG_QR | FLAG_AA | (clientMsg[2] & FLAG_RD);
  out[3] = 0;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 6);
  out.writeUInt32BE(0, 8);
  let pos = qEnd;
  out.writeUInt16BE(0xc000 | HEADER_SIZE, pos); // owner: pointer to the question name
  out.writeUInt16BE(TYPE.TXT, pos + 2);
  out.writeUInt16BE(CLASS_CH, pos + 4);
  out.writeUInt32BE(0, pos + 6);
  out.writeUInt16BE(rdata, pos + 10);
  pos += 12;
  out[pos] = text.length;
  text.copy(out, pos + 1);
  if (query.hasEdns) writeClientOpt(out, pos + 1 + text.length, query); // RFC 6891 §7
  return out;
}
