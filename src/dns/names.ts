// Domain names between text and wire format (RFC 1035 §2.3.4, §3.1, §4.1.4) for everything that
// is not the per-query hot path: writing the names tools and probes ask for, reading the
// (compressed) names of records to print them, reverse names for addresses. Pure functions;
// problems come back as values.
import { isIP } from 'node:net';
import { MAX_NAME_WIRE_LENGTH } from './constants.js';

export type NameResult = { ok: true; wire: Buffer } | { ok: false; error: string };

/**
 * Wire form of a presentation name: "a.b", "a.b." and "A.B." are the same name ("." is the
 * root). Printable ASCII only (use punycode for IDNs); every label 1-63 bytes, 255 in all.
 */
export function encodeName(name: string): NameResult {
  if (name === '') return { ok: false, error: 'empty name' };
  if (name === '.') return { ok: true, wire: Buffer.from([0]) };
  if (/\s/.test(name)) return { ok: false, error: `'${name}' contains whitespace` };
  if (/[^\x21-\x7e]/.test(name)) return { ok: false, error: `'${name}' must be ASCII (use punycode)` };
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  if (labels.some((l) => l.length === 0)) return { ok: false, error: `'${name}' has an empty label` };
  if (labels.some((l) => l.length > 63)) return { ok: false, error: `'${name}' has a label over 63 bytes` };
  const length = labels.reduce((n, l) => n + 1 + l.length, 1);
  if (length > MAX_NAME_WIRE_LENGTH) return { ok: false, error: `'${name}' is longer than 255 bytes` };
  const wire = Buffer.alloc(length);
  let at = 0;
  for (const label of labels) {
    wire[at++] = label.length;
    at += wire.write(label, at, 'latin1');
  }
  return { ok: true, wire };
}

/**
 * Reads a possibly compressed name at `offset` into presentation form ("a.example.", "." for the
 * root), escaping dots, backslashes and non-printable bytes inside labels as dig does.
 * Returns the offset after the name where it is stored, or undefined when it is malformed.
 */
export function readName(msg: Uint8Array, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  let length = 1;
  for (let jumps = 0; jumps < 128; jumps++) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos];
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.length === 0 ? '.' : `${labels.join('.')}.`, end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined;
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1];
      continue;
    }
    if (len > 63 || pos + 1 + len > msg.length) return undefined;
    length += 1 + len;
    if (length > MAX_NAME_WIRE_LENGTH) return undefined;
    labels.push(escapeLabel(msg.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return undefined; // a compression loop
}

function escapeLabel(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x2e || b === 0x5c || b === 0x22 || b === 0x28 || b === 0x29 || b === 0x3b || b === 0x40 || b === 0x24) out += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

/** The PTR name of an address: 4.3.2.1.in-addr.arpa. or the 32 nibbles under ip6.arpa. (RFC 3596 §2.5). */
export function reverseName(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return `${address.split('.').reverse().join('.')}.in-addr.arpa.`;
  if (family !== 6) return undefined;
  const hex = expandIPv6(address);
  return `${[...hex].reverse().join('.')}.ip6.arpa.`;
}

/** 32 hex digits of an IPv6 address (embedded IPv4 included). */
function expandIPv6(address: string): string {
  let text = address.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join('');
}
