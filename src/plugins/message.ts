// A small DNS message codec for the plugins that must look inside records: rewrite (names back
// to what the client asked), loadbalance (MX), template and hosts (answers they build). The hot
// path never uses it: cache hits and plain forwarding stay copy-and-patch (src/dns/reply.ts).
// Names are presentation strings with a trailing dot, case preserved, escaped as dns/names reads
// them (\. and \DDD inside labels). Names inside RDATA are decoded for the types RFC 3597 §4 allows to be compressed
// (plus SRV, whose target rewrite also edits), so moving records cannot break pointers.
import { skipName } from '../dns/query.js';
import { readName } from '../dns/names.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';

/** RDATA split into raw bytes and names: e.g. MX = [pref bytes, exchange name]. */
export type RdataPart = Buffer | { readonly name: string };

export interface Record {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: RdataPart[];
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface Message {
  id: number;
  flags: number; // header bytes 2-3
  questions: Question[];
  answer: Record[];
  authority: Record[];
  additional: Record[];
}

/** RDATA layouts with embedded names: fixed bytes before the first name, number of names. */
const NAME_LAYOUT: { [type: number]: { readonly before: number; readonly names: number; readonly compress: boolean } } = {
  [TYPE.NS]: { before: 0, names: 1, compress: true },
  [TYPE.CNAME]: { before: 0, names: 1, compress: true },
  [TYPE.PTR]: { before: 0, names: 1, compress: true },
  39: { before: 0, names: 1, compress: false }, // DNAME
  15: { before: 2, names: 1, compress: true }, // MX
  [TYPE.SOA]: { before: 0, names: 2, compress: true },
  [TYPE.SRV]: { before: 6, names: 1, compress: false }, // RFC 2782: target not compressed
};

/** Splits a presentation name into raw labels ("a\.b.c." → ["a.b", "c"]). */
export function nameLabels(name: string): string[] {
  const labels: string[] = [];
  let current = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\' && i + 1 < name.length) {
      const digits = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (digits) {
        current += String.fromCharCode(Number(digits[0]));
        i += 3;
      } else {
        current += name[++i];
      }
    } else if (c === '.') {
      if (current.length > 0) labels.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (current.length > 0) labels.push(current);
  return labels;
}

/** Presentation name → uncompressed wire bytes; null if a label or the name is too long. */
export function nameToWire(name: string): Buffer | null {
  const labels = nameLabels(name);
  let size = 1;
  for (const l of labels) size += 1 + l.length;
  if (size > 255 || labels.some((l) => l.length > 63)) return null;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const l of labels) {
    out[pos++] = l.length;
    pos += out.write(l, pos, 'latin1');
  }
  out[pos] = 0;
  return out;
}

function readRecord(msg: Uint8Array, pos: number): [Record, number] | null {
  const owner = readName(msg, pos);
  if (!owner) return null;
  const at = owner.end;
  if (at + 10 > msg.length) return null;
  const type = (msg[at] << 8) | msg[at + 1];
  const klass = (msg[at + 2] << 8) | msg[at + 3];
  const ttl = ((msg[at + 4] << 24) | (msg[at + 5] << 16) | (msg[at + 6] << 8) | msg[at + 7]) >>> 0;
  const rdlength = (msg[at + 8] << 8) | msg[at + 9];
  const start = at + 10;
  const end = start + rdlength;
  if (end > msg.length) return null;
  const raw = (from: number, to: number): Buffer => Buffer.from(msg.subarray(from, to));
  const layout = NAME_LAYOUT[type];
  let rdata: RdataPart[];
  if (!layout || rdlength === 0) {
    rdata = [raw(start, end)];
  } else {
    rdata = [];
    let p = start;
    if (layout.before > 0) {
      rdata.push(raw(p, p + layout.before));
      p += layout.before;
    }
    for (let i = 0; i < layout.names; i++) {
      const n = readName(msg, p);
      if (!n || n.end > end) return null;
      rdata.push({ name: n.name });
      p = n.end;
    }
    if (p < end) rdata.push(raw(p, end));
  }
  return [{ name: owner.name, type, class: klass, ttl, rdata }, end];
}

/** Decodes a whole message; null when malformed. */
export function decodeMessage(msg: Uint8Array): Message | null {
  if (msg.length < HEADER_SIZE) return null;
  const counts = [4, 6, 8, 10].map((o) => (msg[o] << 8) | msg[o + 1]);
  let pos = HEADER_SIZE;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const n = readName(msg, pos);
    if (!n || n.end + 4 > msg.length) return null;
    questions.push({ name: n.name, type: (msg[n.end] << 8) | msg[n.end + 1], class: (msg[n.end + 2] << 8) | msg[n.end + 3] });
    pos = n.end + 4;
  }
  const sections: Record[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const r = readRecord(msg, pos);
      if (!r) return null;
      sections[s].push(r[0]);
      pos = r[1];
    }
  }
  return { id: (msg[0] << 8) | msg[1], flags: (msg[2] << 8) | msg[3], questions, answer: sections[0], authority: sections[1], additional: sections[2] };
}

/** Writes names with RFC 1035 §4.1.4 compression against names already written. */
class Writer {
  private buf = Buffer.allocUnsafe(512);
  pos = 0;
  private readonly offsets = new Map<string, number>();

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }
  name(name: string, compress: boolean): boolean {
    const labels = nameLabels(name);
    let total = 1;
    for (const l of labels) {
      if (l.length > 63) return false;
      total += 1 + l.length;
    }
    if (total > 255) return false;
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.'); // case-sensitive: names keep the case they were given
      const known = compress ? this.offsets.get(suffix) : undefined;
      if (known !== undefined) {
        this.u16(0xc000 | known);
        return true;
      }
      if (this.pos < 0x3fff && !this.offsets.has(suffix)) this.offsets.set(suffix, this.pos);
      this.u8(labels[i].length);
      this.ensure(labels[i].length);
      this.pos += this.buf.write(labels[i], this.pos, 'latin1');
    }
    this.u8(0);
    return true;
  }
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Encodes a message; null if a name cannot be encoded. */
export function encodeMessage(m: Message): Buffer | null {
  const w = new Writer();
  w.u16(m.id);
  w.u16(m.flags);
  w.u16(m.questions.length);
  w.u16(m.answer.length);
  w.u16(m.authority.length);
  w.u16(m.additional.length);
  for (const q of m.questions) {
    if (!w.name(q.name, true)) return null;
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const section of [m.answer, m.authority, m.additional]) {
    for (const r of section) if (!writeRecord(w, r)) return null;
  }
  return w.result();
}

function writeRecord(w: Writer, r: Record): boolean {
  if (!w.name(r.name, true)) return false;
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl);
  const lengthAt = w.pos;
  w.u16(0);
  const compress = NAME_LAYOUT[r.type]?.compress ?? false;
  for (const part of r.rdata) {
    if (Buffer.isBuffer(part)) w.bytes(part);
    else if (!w.name(part.name, compress)) return false;
  }
  w.patchU16(lengthAt, w.pos - lengthAt - 2);
  return true;
}

/** The names inside a record's RDATA (CNAME target, MX exchange, ...). */
export function rdataNames(r: Record): string[] {
  return r.rdata.flatMap((p) => (Buffer.isBuffer(p) ? [] : [p.name]));
}

/** Offset just past the question section, or -1 (for replies built here). */
export function questionEnd(msg: Uint8Array): number {
  let pos = HEADER_SIZE;
  const qd = (msg[4] << 8) | msg[5];
  for (let i = 0; i < qd; i++) {
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 4 > msg.length) return -1;
    pos += 4;
  }
  return pos;
}
