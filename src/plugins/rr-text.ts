// RFC 1035 §5 presentation format for one resource record ("name. 60 IN A 10.0.0.1"), as
// miekg/dns's NewRR reads it for the template plugin: optional TTL and class in either order
// (defaults 3600 and IN), relative names completed with the root, ( ) continuation, the common
// RDATA types, and RFC 3597's `\# LEN HEX` for any other type. Also the type, class and rcode
// rcode names the plugins' Corefile syntax uses (types and classes: dns/qtypes).
import { isIP } from 'node:net';
import type { Record, RdataPart } from './message.js';
import { nameToWire } from './message.js';
import { parseClass, parseType, RCODE_NAMES, typeName } from '../dns/qtypes.js';

/** NOERROR ... NOTZONE by name (the rcodes a template or rewrite may name). */
export const RCODE_BY_NAME: { readonly [name: string]: number } = Object.fromEntries(RCODE_NAMES.slice(0, 11).map((n, i) => [n, i]));

export type RrParse = { ok: true; record: Record } | { ok: false; error: string };

/** Splits on whitespace, keeping "quoted strings" (for TXT) and dropping ( ) and ; comments. */
function fields(text: string): { value: string; quoted: boolean }[] {
  const out: { value: string; quoted: boolean }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ';') break;
    if (/\s/.test(c) || c === '(' || c === ')') {
      i++;
    } else if (c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) value += text[++i];
        else value += text[i];
        i++;
      }
      i++;
      out.push({ value, quoted: true });
    } else {
      let value = '';
      while (i < text.length && !/[\s()";]/.test(text[i])) value += text[i++];
      out.push({ value, quoted: false });
    }
  }
  return out;
}

const fqdn = (name: string): string => (name === '@' ? '.' : name.endsWith('.') ? name : `${name}.`);

const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

function integer(text: string, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

function ipv4(text: string): Buffer | undefined {
  return isIP(text) === 4 ? Buffer.from(text.split('.').map(Number)) : undefined;
}

function ipv6(text: string): Buffer | undefined {
  if (isIP(text) !== 6) return undefined;
  let t = text;
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (dotted) {
    const b = ipv4(dotted[1])!;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    t = t.slice(0, -dotted[1].length);
    if (t.endsWith(':') && !t.endsWith('::')) t = t.slice(0, -1);
  }
  const [l, r] = t.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = [...left.map((g) => parseInt(g, 16)), ...Array<number>(Math.max(0, 8 - left.length - right.length - tail.length)).fill(0), ...right.map((g) => parseInt(g, 16)), ...tail];
  const out = Buffer.alloc(16);
  groups.slice(0, 8).forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** IPv4 or IPv6 address text → 4 or 16 bytes (also for hosts and whoami). */
export const addressBytes = (text: string): Buffer | undefined => ipv4(text) ?? ipv6(text);

function nameField(text: string | undefined): RdataPart | undefined {
  if (text === undefined) return undefined;
  const name = fqdn(text);
  return nameToWire(name) ? { name } : undefined;
}

function rdataFor(type: number, f: { value: string; quoted: boolean }[]): RdataPart[] | string {
  const v = f.map((x) => x.value);
  if (v[0] === '\\#') {
    const length = integer(v[1] ?? '', 65535);
    const hex = v.slice(2).join('');
    if (length === undefined || !/^[0-9a-fA-F]*$/.test(hex) || hex.length !== length * 2) return 'bad \\# RDATA';
    return [Buffer.from(hex, 'hex')];
  }
  switch (type) {
    case 1: {
      const b = ipv4(v[0] ?? '');
      return b && v.length === 1 ? [b] : `bad A address ${JSON.stringify(v.join(' '))}`;
    }
    case 28: {
      const b = ipv6(v[0] ?? '');
      return b && v.length === 1 ? [b] : `bad AAAA address ${JSON.stringify(v.join(' '))}`;
    }
    case 2:
    case 5:
    case 12:
    case 39: {
      const n = nameField(v[0]);
      return n && v.length === 1 ? [n] : `bad target ${JSON.stringify(v.join(' '))}`;
    }
    case 15: {
      const pref = integer(v[0] ?? '', 65535);
      const n = nameField(v[1]);
      return pref !== undefined && n && v.length === 2 ? [u16(pref), n] : `bad MX ${JSON.stringify(v.join(' '))}`;
    }
    case 33: {
      const nums = v.slice(0, 3).map((x) => integer(x, 65535));
      const n = nameField(v[3]);
      if (nums.some((x) => x === undefined) || !n || v.length !== 4) return `bad SRV ${JSON.stringify(v.join(' '))}`;
      return [Buffer.concat(nums.map((x) => u16(x!))), n];
    }
    case 6: {
      const mname = nameField(v[0]);
      const rname = nameField(v[1]);
      const nums = v.slice(2).map((x) => integer(x, 0xffffffff));
      if (!mname || !rname || nums.length !== 5 || nums.some((x) => x === undefined)) return `bad SOA ${JSON.stringify(v.join(' '))}`;
      return [mname, rname, Buffer.concat(nums.map((x) => u32(x!)))];
    }
    case 16:
    case 99: {
      if (f.length === 0) return 'TXT needs at least one string';
      const parts: Buffer[] = [];
      for (const s of f) {
        const bytes = Buffer.from(s.value, 'utf8');
        if (bytes.length > 255) return 'TXT string longer than 255 bytes';
        parts.push(Buffer.from([bytes.length]), bytes);
      }
      return [Buffer.concat(parts)];
    }
    default:
      return `type ${typeName(type)} is not supported in templates; use RFC 3597 "\\# LEN HEX"`;
  }
}

/** Parses one record in presentation format. */
export function parseRr(text: string): RrParse {
  const f = fields(text);
  if (f.length < 2) return { ok: false, error: `not a resource record: ${JSON.stringify(text)}` };
  const owner = fqdn(f[0].value);
  if (!nameToWire(owner)) return { ok: false, error: `bad owner name ${JSON.stringify(f[0].value)}` };
  let ttl = 3600;
  let klass = 1;
  let i = 1;
  for (let seen = 0; seen < 2 && i < f.length; seen++) {
    const t = integer(f[i].value, 0x7fffffff);
    const c = parseClass(f[i].value);
    if (t !== undefined) ttl = t;
    else if (c !== undefined && parseType(f[i].value) === undefined) klass = c;
    else break;
    i++;
  }
  const type = f[i] ? parseType(f[i].value) : undefined;
  if (type === undefined) return { ok: false, error: `unknown record type ${JSON.stringify(f[i]?.value ?? '')} in ${JSON.stringify(text)}` };
  const rdata = rdataFor(type, f.slice(i + 1));
  if (typeof rdata === 'string') return { ok: false, error: `${rdata} in ${JSON.stringify(text)}` };
  return { ok: true, record: { name: owner, type, class: klass, ttl, rdata } };
}
