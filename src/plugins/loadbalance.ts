// CoreDNS `loadbalance [round_robin]` (plugin/loadbalance): shuffles the address records of every
// NOERROR reply, after the cache, so clients that take the first address spread over all of them.
// A/AAAA are shuffled in place on the wire: records of one owner and type swap their addresses
// (same length, no names inside, so no compression pointer can break). MX answers go through
// the message codec. `weighted` (a weight file) is accepted with a warning and not applied.
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { skipName } from '../dns/query.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';
import { decodeMessage, encodeMessage } from './message.js';
import { readName } from '../dns/names.js';
import { questionEnd } from './message.js';

const TYPE_MX = 15;

export function parseLoadbalanceDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  const policy = d.args[0]?.text ?? 'round_robin';
  if (policy === 'weighted') {
    b.ignore('loadbalance', d.line, 'weighted: weight files are not supported; replies are not reordered');
    return;
  }
  if (policy !== 'round_robin' || d.args.length > 1) return b.issue(d.line, 'loadbalance', `unknown policy ${JSON.stringify(d.args.map((a) => a.text).join(' '))}; supported: round_robin`);
  b.set('loadbalance', 'round_robin', d.line);
}

/** Fisher-Yates over a list of equal-length slices at `offsets` (length `size`) inside `buf`. */
function shuffleSlices(buf: Buffer, offsets: number[], size: number): void {
  const copies = offsets.map((o) => Buffer.from(buf.subarray(o, o + size)));
  for (let i = copies.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copies[i], copies[j]] = [copies[j], copies[i]];
  }
  offsets.forEach((o, i) => copies[i].copy(buf, o));
}

/** Shuffles a reply in place (A/AAAA) or returns a re-encoded copy (MX). */
export function roundRobin(reply: Buffer): Buffer {
  if (reply.length < HEADER_SIZE || (reply[3] & 0x0f) !== 0) return reply;
  const ancount = reply.readUInt16BE(6);
  if (ancount < 2) return reply;
  let pos = questionEnd(reply);
  if (pos < 0) return reply;
  const groups = new Map<string, number[]>(); // owner|type → rdata offsets
  let mx = 0;
  for (let i = 0; i < ancount; i++) {
    const afterName = skipName(reply, pos);
    if (afterName < 0 || afterName + 10 > reply.length) return reply;
    const type = reply.readUInt16BE(afterName);
    const rdlength = reply.readUInt16BE(afterName + 8);
    if ((type === TYPE.A && rdlength === 4) || (type === TYPE.AAAA && rdlength === 16)) {
      const owner = readName(reply, pos)?.name.toLowerCase() ?? '';
      const key = `${owner}|${type}`;
      const list = groups.get(key) ?? [];
      list.push(afterName + 10);
      groups.set(key, list);
    } else if (type === TYPE_MX) {
      mx++;
    }
    pos = afterName + 10 + rdlength;
  }
  for (const [key, offsets] of groups) if (offsets.length > 1) shuffleSlices(reply, offsets, key.endsWith(`|${TYPE.A}`) ? 4 : 16);
  return mx > 1 ? shuffleMx(reply) : reply;
}

function shuffleMx(reply: Buffer): Buffer {
  const m = decodeMessage(reply);
  if (!m) return reply;
  const mx = m.answer.filter((r) => r.type === TYPE_MX);
  for (let i = mx.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [mx[i], mx[j]] = [mx[j], mx[i]];
  }
  m.answer = [...m.answer.filter((r) => r.type !== TYPE_MX), ...mx];
  return encodeMessage(m) ?? reply;
}
