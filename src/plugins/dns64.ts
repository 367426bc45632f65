// CoreDNS `dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }` (plugin/dns64, RFC 6147):
// an AAAA query (class IN, from an IPv6 client unless allow_ipv4) whose reply has no AAAA record
// (any reply with translate_all; never NXDOMAIN) is answered with AAAA records made from the
// name's A records: the IPv4 address embedded in PREFIX (default 64:ff9b::/96; /32 /40 /48 /56
// /64 /96, RFC 6052 §2.2), TTL min(A TTL, the SOA TTL of the original reply or 600). The A lookup
// goes through the whole block again (rewrite, cache, template, hosts, forward), as CoreDNS's
// upstream lookup does. The synthesized reply keeps RA set (CoreDNS clears it; glibc reads an
// empty reply without AA and RA as a lame referral).
import type { RawDns64 } from '../config/plugin-schemas.js';
import { isIP } from 'node:net';
import type { Dns64Config } from '../config/types.js';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { RCODE, TYPE } from '../dns/constants.js';
import { decodeMessage, encodeMessage, type Record } from './message.js';
import { addressBytes } from './rr-text.js';

export const DEFAULT_DNS64_PREFIX = '64:ff9b::/96';
const PREFIX_LENGTHS = [32, 40, 48, 56, 64, 96];
const DEFAULT_SOA_TTL = 600;

export function parseDns64Directive(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 1) return b.issue(d.line, 'dns64', 'takes at most one argument (PREFIX)');
  const raw: { [k: string]: unknown } = {};
  if (d.args[0]) raw.prefix = d.args[0].text;
  for (const sub of d.block ?? []) {
    const field = `dns64.${sub.name}`;
    if (sub.name === 'prefix') {
      if (sub.args.length !== 1) return b.issue(sub.line, field, 'takes one IPv6 prefix');
      raw.prefix = sub.args[0].text;
    } else if (sub.name === 'translate_all') raw.translateAll = true;
    else if (sub.name === 'allow_ipv4') raw.allowIPv4 = true;
    else return b.issue(sub.line, field, `unknown property "${sub.name}"`);
  }
  b.set('dns64', raw, d.line);
}

// (the YAML schema is config/plugin-schemas.ts: zod stays out of what DNS worker threads load)

/** Checks the prefix (an IPv6 CIDR of an RFC 6052 length); returns the config or an error. */
export function validateDns64(raw: RawDns64): { config: Dns64Config } | { field: string; error: string } {
  const [address, bitsText] = raw.prefix.split('/');
  const bits = Number(bitsText);
  if (isIP(address) !== 6 || !/^\d+$/.test(bitsText ?? '')) return { field: 'prefix', error: `must be an IPv6 prefix such as 64:ff9b::/96, got ${JSON.stringify(raw.prefix)}` };
  if (!PREFIX_LENGTHS.includes(bits)) return { field: 'prefix', error: `length must be one of ${PREFIX_LENGTHS.join(', ')} (RFC 6052), got ${JSON.stringify(raw.prefix)}` };
  return { config: { prefix: address, prefixLength: bits, translateAll: raw.translateAll, allowIpv4: raw.allowIPv4 } };
}

/** The IPv4 address embedded in the prefix (RFC 6052 §2.2: byte 8 stays zero). */
export function embed(prefix: Buffer, prefixLength: number, v4: Uint8Array): Buffer {
  const out = Buffer.alloc(16);
  let i = 0;
  let j = 0;
  for (; i < prefixLength / 8; i++) out[i] = prefix[i];
  for (; i < 8; i++, j++) out[i] = v4[j];
  if (i === 8) i++;
  for (; j < 4; i++, j++) out[i] = v4[j];
  return out;
}

export class Dns64 {
  private readonly prefix: Buffer;
  /** coredns_dns64_requests_translated_total */
  translated = 0;

  constructor(readonly config: Dns64Config) {
    this.prefix = addressBytes(config.prefix)!;
  }

  /** Whether this query is one dns64 looks at (AAAA, IN, IPv6 client unless allow_ipv4). */
  intercepts(qtype: number, qclass: number, ipv6Client: boolean): boolean {
    return qtype === TYPE.AAAA && qclass === 1 && (ipv6Client || this.config.allowIpv4);
  }

  /** Whether the reply to the AAAA query asks for synthesis. */
  wants(reply: Buffer): boolean {
    if ((reply[3] & 0x0f) === RCODE.NXDOMAIN) return false;
    if (this.config.translateAll) return true;
    const m = decodeMessage(reply);
    return m !== null && !m.answer.some((r) => r.type === TYPE.AAAA);
  }

  /** The synthesized reply: the AAAA reply's header and question, the A reply's records; null to keep the original. */
  synthesize(aaaaReply: Buffer, aReply: Buffer): Buffer | null {
    const original = decodeMessage(aaaaReply);
    const a = decodeMessage(aReply);
    if (!original || !a) return null;
    const soa = original.authority.find((r) => r.type === TYPE.SOA);
    const soaTtl = soa ? soa.ttl : DEFAULT_SOA_TTL;
    const answer: Record[] = a.answer.map((r) =>
      r.type === TYPE.A && Buffer.isBuffer(r.rdata[0]) && r.rdata[0].length === 4
        ? { name: r.name, type: TYPE.AAAA, class: r.class, ttl: Math.min(r.ttl, soaTtl), rdata: [embed(this.prefix, this.config.prefixLength, r.rdata[0])] }
        : r,
    );
    // Header of the AAAA reply (ID, RD, CD, RA) with NOERROR and the A reply's TC (CoreDNS SetReply + Truncated).
    const flags = (original.flags & ~(0x0400 | 0x0200 | 0x0020 | 0x000f)) | (a.flags & 0x0200); // AA, TC, AD, rcode
    const out = encodeMessage({ id: original.id, flags, questions: original.questions, answer, authority: a.authority, additional: a.additional });
    if (out) this.translated++;
    return out;
  }
}
