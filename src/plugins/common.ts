// What several plugins share: CoreDNS's zone matching and `fallthrough [ZONES...]`, Go (RE2)
// regular expressions in JavaScript, and building a reply to a query from records.
import { FLAG_AA, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_CD } from '../dns/constants.js';
import { decodeMessage, encodeMessage, type Record } from './message.js';
import { addressBytes } from './rr-text.js';

/** CoreDNS plugin.Zones.Matches: the longest zone `name` is in, or undefined. Names lower-case, trailing dot. */
export function matchZone(name: string, zones: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const z of zones) {
    if (z === '.' || name === z || name.endsWith(`.${z}`)) {
      if (best === undefined || z.length > best.length) best = z;
    }
  }
  return best;
}

/** `fallthrough [ZONES...]`: null = off; [] is normalised to ['.'] (every zone). */
export const fallsThrough = (fall: readonly string[] | null, name: string): boolean => fall !== null && matchZone(name, fall) !== undefined;

/**
 * Go's RE2 syntax → a JavaScript RegExp: named groups `(?P<n>` → `(?<n>`, a leading `(?i)` or
 * `(?s)` → flags, `\A` / `\z` → `^` / `$`. Returns an error string when JavaScript rejects it.
 */
export function goRegExp(source: string): RegExp | string {
  let text = source.replace(/\(\?P</g, '(?<');
  let flags = '';
  const leading = /^\(\?([ims]+)\)/.exec(text);
  if (leading) {
    flags = [...new Set(leading[1])].join('');
    text = text.slice(leading[0].length);
  }
  text = text.replace(/\\A/g, '^').replace(/\\z/g, '$');
  try {
    return new RegExp(text, flags);
  } catch (err) {
    return `invalid regular expression (${(err as Error).message}), got ${JSON.stringify(source)}`;
  }
}

export interface ReplySections {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answer: readonly Record[];
  readonly authority?: readonly Record[];
  readonly additional?: readonly Record[];
}

/**
 * A reply to `query` (miekg SetReply: ID, opcode, RD, CD and the question copied; RA set as our
 * replies do) with the given records; null if the query cannot be decoded or a name is invalid.
 */
export function replyTo(query: Uint8Array, s: ReplySections): Buffer | null {
  const q = decodeMessage(query);
  if (!q) return null;
  const byte2 = FLAG_QR | (query[2] & 0x78) | (query[2] & FLAG_RD) | (s.authoritative ? FLAG_AA : 0);
  const byte3 = FLAG_RA | (query[3] & FLAG_CD) | (s.rcode & 0x0f);
  return encodeMessage({
    id: q.id,
    flags: (byte2 << 8) | byte3,
    questions: q.questions,
    answer: [...s.answer],
    authority: [...(s.authority ?? [])],
    additional: [...(s.additional ?? [])],
  });
}

/** A channel's "ip:port" / "[ip]:port" → address bytes (IPv4-mapped IPv6 as IPv4) and port. */
export function peerAddress(remote: string): { address: Buffer; port: number } | null {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(remote);
  const address = m ? addressBytes(m[1].replace(/^::ffff:(?=\d+\.)/i, '')) : undefined;
  return m && address ? { address, port: Number(m[2]) } : null;
}
