// The one table of DNS mnemonics: record types, classes and rcodes by code, spelled as miekg/dns
// (and so CoreDNS's logs and dig) print them, with the RFC 3597 fallbacks TYPEnnn / CLASSnnn.
// Pure lookups, used by logs, metrics labels and the tools; the hot path only indexes arrays.
import { FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC } from './constants.js';

/** IANA record types (RFC 1035 and later) that resolvers and operators meet. */
const TYPES: Readonly<Record<string, number>> = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12, HINFO: 13,
  MINFO: 14, MX: 15, TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, NSAPPTR: 23, SIG: 24, KEY: 25,
  PX: 26, GPOS: 27, AAAA: 28, LOC: 29, NXT: 30, EID: 31, NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36,
  CERT: 37, DNAME: 39, OPT: 41, APL: 42, DS: 43, SSHFP: 44, IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48,
  DHCID: 49, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58,
  CDS: 59, CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, SPF: 99, UINFO: 100,
  UID: 101, GID: 102, UNSPEC: 103, NID: 104, L32: 105, L64: 106, LP: 107, EUI48: 108, EUI64: 109, TKEY: 249,
  TSIG: 250, IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255, URI: 256, CAA: 257, AVC: 258, AMTRELAY: 260,
};

const CLASSES: Readonly<Record<string, number>> = { IN: 1, CS: 2, CH: 3, HS: 4, NONE: 254, ANY: 255 };

/** RCODE names as miekg/dns prints them (index = rcode, 0-23). */
export const RCODE_NAMES: readonly string[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE', '11', '12', '13', '14', '15', 'BADSIG', 'BADKEY', 'BADTIME', 'BADMODE', 'BADNAME', 'BADALG', 'BADTRUNC', 'BADCOOKIE'];

const invert = (table: Readonly<Record<string, number>>): Map<number, string> => new Map(Object.entries(table).map(([name, code]) => [code, name]));
const TYPE_NAMES = invert(TYPES);
const CLASS_NAMES = invert(CLASSES);

/** "A", "AAAA", or "TYPE65534" for a type without a mnemonic (RFC 3597 §5). */
export const typeName = (code: number): string => TYPE_NAMES.get(code) ?? `TYPE${code}`;

/** "IN", "CH", or "CLASS42". */
export const className = (code: number): string => CLASS_NAMES.get(code) ?? `CLASS${code}`;

/** "NOERROR" ... "BADCOOKIE", else the number. */
export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? String(rcode);

/** Header flags by byte and mask, in the order dig and CoreDNS's log print them. */
const FLAG_NAMES: readonly (readonly [number, number, string])[] = [
  [2, FLAG_QR, 'qr'],
  [2, FLAG_AA, 'aa'],
  [2, FLAG_TC, 'tc'],
  [2, FLAG_RD, 'rd'],
  [3, FLAG_RA, 'ra'],
  [3, FLAG_AD, 'ad'],
  [3, FLAG_CD, 'cd'],
];

/** The header flags set in `msg` (at least a header long): qr aa tc rd ra ad cd. */
export const flagNames = (msg: Uint8Array): string[] => FLAG_NAMES.filter(([byte, mask]) => msg[byte] & mask).map(([, , name]) => name);

/** Parse a mnemonic or TYPEnnn (case-insensitive); undefined when it is neither or out of range. */
export function parseType(text: string): number | undefined {
  return parseMnemonic(text, TYPES, 'TYPE');
}

/** Parse IN, CH, HS, ... or CLASSnnn (case-insensitive). */
export function parseClass(text: string): number | undefined {
  return parseMnemonic(text, CLASSES, 'CLASS');
}

function parseMnemonic(text: string, table: Readonly<Record<string, number>>, generic: string): number | undefined {
  const upper = text.trim().toUpperCase();
  if (Object.hasOwn(table, upper)) return table[upper];
  const m = new RegExp(`^${generic}(\\d{1,5})$`).exec(upper);
  if (!m) return undefined;
  const code = Number(m[1]);
  return code <= 0xffff ? code : undefined;
}
