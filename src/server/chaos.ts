// CH-class TXT queries about this instance, answered only to clients on this node (loopback or
// one of the node's own addresses); every other client gets REFUSED, as for any non-IN class.
//
// - `id.server.` / `hostname.bind.` (RFC 4892): hostname/pid/random, for operators debugging on
//   the node ("which cache answered?"). node-cache's Corefile loads no `chaos` plugin, so pods
//   never learned the node's hostname or a PID from it; neither do they from us.
// - `<nonce>.instance-check.node-local-dns.`: the shutdown instance check (node-setup/instance-probe.ts).
//   The answer proves it came from node-local-dns (a value derived from the nonce, which a stray
//   server answering anything cannot produce), names the instance with a token (the same in
//   every worker thread of one instance, and neither hostname nor PID) and says whether that instance is serving or stopping.
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ParsedQuery } from '../dns/query.js';
import { workerThreadData } from '../util/thread-data.js';
import { CHECK_SUFFIX, INSTANCE_ID, NONCE_CHARS, instanceCheckText } from '../util/instance-identity.js';
import { writeClientOpt } from '../dns/reply.js';
import { zoneToWire } from './zone-router.js';
import { CLASS_CH, FLAG_AA, FLAG_QR, FLAG_RD, HEADER_SIZE, OPT_RR_SIZE, TYPE } from '../dns/constants.js';

/** What this thread answers: the process id, plus `/wN` in worker thread N (which worker answered). */
const ANSWER_ID = workerThreadData ? `${INSTANCE_ID}/w${workerThreadData.index}` : INSTANCE_ID;

export const NOT_CHAOS = 0;
const CHAOS_ID = 1;
const CHAOS_INSTANCE_CHECK = 2;
export type ChaosKind = typeof NOT_CHAOS | typeof CHAOS_ID | typeof CHAOS_INSTANCE_CHECK;

// Key = lower-case wire name + type + class + DO/CD byte (ignored here).
const TXT_CH = '\x00\x10\x00\x03';
const ID_QUESTIONS = ['\x02id\x06server\x00', '\x08hostname\x04bind\x00'].map((n) => `${n}${TXT_CH}`);
const CHECK_QUESTION_TAIL = `${zoneToWire(CHECK_SUFFIX)}${TXT_CH}`;

/** Which CH TXT query about this instance `query` is, if any. */
export function chaosKind(query: ParsedQuery): ChaosKind {
  if (query.qclass !== CLASS_CH || query.qtype !== TYPE.TXT) return NOT_CHAOS;
  const question = query.key.slice(0, -1);
  if (ID_QUESTIONS.includes(question)) return CHAOS_ID;
  if (question.length === 1 + NONCE_CHARS + CHECK_QUESTION_TAIL.length && question.charCodeAt(0) === NONCE_CHARS && question.endsWith(CHECK_QUESTION_TAIL)) {
    return CHAOS_INSTANCE_CHECK;
  }
  return NOT_CHAOS;
}

/** Builds the TXT reply for a chaos query of `kind` (not NOT_CHAOS). */
export function chaosReply(clientMsg: Uint8Array, query: ParsedQuery, kind: ChaosKind = CHAOS_ID): Buffer {
  const text = Buffer.from((kind === CHAOS_INSTANCE_CHECK ? instanceCheckText(query.key.slice(1, 1 + NONCE_CHARS)) : ANSWER_ID).slice(0, 255), 'utf8');
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

/** How long the node's address list is trusted before it is read again (addresses change rarely). */
const LOCAL_ADDRESSES_TTL_MS = 1000;
let localAddresses = new Set<string>();
let localAddressesReadAt = -Infinity;

/** The IP of a listener's `remote()` string ("1.2.3.4:53" or "[::1]:53"), IPv4-mapped IPv6 unwrapped, without zone. */
export function remoteAddress(remote: string): string {
  let ip = remote.startsWith('[') ? remote.slice(1, remote.indexOf(']')) : remote.slice(0, remote.lastIndexOf(':'));
  if (ip.includes('%')) ip = ip.slice(0, ip.indexOf('%')); // fe80::1%eth0: the zone is not part of the address
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** True for loopback and for the addresses of this node's interfaces (the local IPs included). */
export function isLocalAddress(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '::1') return true;
  const now = performance.now();
  if (now - localAddressesReadAt > LOCAL_ADDRESSES_TTL_MS) {
    localAddressesReadAt = now;
    localAddresses = new Set(
      Object.values(networkInterfaces())
        .flatMap((list) => list ?? [])
        .map((a) => a.address),
    );
  }
  return localAddresses.has(ip);
}
