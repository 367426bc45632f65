// CoreDNS `bufsize [SIZE]` (plugin/bufsize): caps the EDNS UDP payload size of queries at SIZE
// (default 1232, 512-4096) before the cache and forward see them, so replies to those clients are
// truncated at SIZE and forwarded queries advertise at most SIZE. Queries without EDNS are unchanged.
import type { BlockBuilder, Directive } from '../config/corefile.js';
import type { ParsedQuery } from '../dns/query.js';
import { skipName } from '../dns/query.js';
import { TYPE } from '../dns/constants.js';

export const DEFAULT_BUFSIZE = 1232;
export const MIN_BUFSIZE = 512;
export const MAX_BUFSIZE = 4096;

export function parseBufsizeDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 1) return b.issue(d.line, 'bufsize', `takes at most one argument, got ${d.args.length}`);
  const text = d.args[0]?.text;
  const size = text === undefined ? DEFAULT_BUFSIZE : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(size >= MIN_BUFSIZE && size <= MAX_BUFSIZE)) return b.issue(d.line, 'bufsize', `buffer size must be an integer from ${MIN_BUFSIZE} to ${MAX_BUFSIZE}, got ${JSON.stringify(text)}`);
  b.set('bufsize', size, d.line);
}

/** The query with its OPT payload size lowered to `size`; null when it is already <= size or has no OPT. */
export function capPayload(msg: Buffer, query: ParsedQuery, size: number): { msg: Buffer; query: ParsedQuery } | null {
  if (!query.hasEdns || query.udpPayload <= size) return null;
  const arcount = msg.readUInt16BE(10);
  let pos = query.questionEnd;
  for (let i = 0; i < arcount; i++) {
    const afterName = skipName(msg, pos);
    if (afterName < 0 || afterName + 10 > msg.length) return null;
    if (msg.readUInt16BE(afterName) === TYPE.OPT) {
      const out = Buffer.from(msg);
      out.writeUInt16BE(size, afterName + 2);
      return { msg: out, query: { ...query, udpPayload: size } };
    }
    pos = afterName + 10 + msg.readUInt16BE(afterName + 8);
  }
  return null;
}
