// Decodes a whole DNS message into records in presentation format, for people to read (the
// `query` tool); the serving path never decodes records. Common types get their zone-file text
// (RFC 1035 §5, RFC 3596, RFC 2782, RFC 8659); any other type is written in the generic
// RFC 3597 form `\# <length> <hex>`, so nothing is ever hidden or misprinted.
import { isIP } from 'node:net';
import { FLAG_TC, HEADER_SIZE, TYPE } from './constants.js';
import { flagNames } from './qtypes.js';
import { readName } from './names.js';

export interface Question {
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
}

export interface DecodedRecord {
  readonly name: string;
  readonly type: number;
  readonly rclass: number;
  readonly ttl: number;
  readonly data: string; // rdata in presentation format
}

export interface DecodedMessage {
  readonly id: number;
  readonly flags: readonly string[]; // qr aa tc rd ra ad cd, in dig's order
  readonly truncated: boolean;
  readonly rcode: number; // with the OPT's extended bits
  readonly questions: readonly Question[];
  readonly answer: readonly DecodedRecord[];
  readonly authority: readonly DecodedRecord[];
  readonly additional: readonly DecodedRecord[]; // OPT left out, see `edns`
  readonly edns?: { readonly payload: number; readonly version: number; readonly dnssecOk: boolean };
}

export type DecodeResult = { ok: true; message: DecodedMessage } | { ok: false; error: string };

export function decodeMessage(msg: Uint8Array): DecodeResult {
  if (msg.length < HEADER_SIZE) return { ok: false, error: `${msg.length} bytes, shorter than a DNS header` };
  const view = Buffer.from(msg.buffer, msg.byteOffset, msg.length);
  const counts = [4, 6, 8, 10].map((o) => view.readUInt16BE(o));
  let pos = HEADER_SIZE;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = readName(view, pos);
    if (!name || name.end + 4 > view.length) return { ok: false, error: `question ${i + 1} is malformed` };
    questions.push({ name: name.name, qtype: view.readUInt16BE(name.end), qclass: view.readUInt16BE(name.end + 2) });
    pos = name.end + 4;
  }
  const sections: DecodedRecord[][] = [[], [], []];
  let edns: DecodedMessage['edns'];
  let rcodeHigh = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const owner = readName(view, pos);
      if (!owner || owner.end + 10 > view.length) return { ok: false, error: `record ${i + 1} of section ${s + 1} is malformed` };
      const type = view.readUInt16BE(owner.end);
      const rclass = view.readUInt16BE(owner.end + 2);
      const ttl = view.readUInt32BE(owner.end + 4);
      const start = owner.end + 10;
      const end = start + view.readUInt16BE(owner.end + 8);
      if (end > view.length) return { ok: false, error: `record ${i + 1} of section ${s + 1} runs past the message` };
      if (type === TYPE.OPT) {
        rcodeHigh = ttl >>> 24;
        edns = { payload: rclass, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0 };
      } else {
        sections[s].push({ name: owner.name, type, rclass, ttl, data: rdataText(view, type, start, end) });
      }
      pos = end;
    }
  }
  return {
    ok: true,
    message: {
      id: view.readUInt16BE(0),
      flags: flagNames(view),
      truncated: (view[2] & FLAG_TC) !== 0,
      rcode: (rcodeHigh << 4) | (view[3] & 0x0f),
      questions,
      answer: sections[0],
      authority: sections[1],
      additional: sections[2],
      edns,
    },
  };
}

/** Presentation text of one RDATA; the generic form when it cannot be read as its type says. */
function rdataText(msg: Buffer, type: number, start: number, end: number): string {
  return typedText(msg, type, start, end) ?? `\\# ${end - start}${end > start ? ` ${msg.subarray(start, end).toString('hex')}` : ''}`;
}

function typedText(msg: Buffer, type: number, start: number, end: number): string | undefined {
  const length = end - start;
  const nameAt = (at: number) => {
    const n = readName(msg, at);
    return n && n.end <= end ? n : undefined;
  };
  switch (type) {
    case TYPE.A:
      return length === 4 ? [...msg.subarray(start, end)].join('.') : undefined;
    case TYPE.AAAA: {
      if (length !== 16) return undefined;
      const groups = Array.from({ length: 8 }, (_, i) => msg.readUInt16BE(start + 2 * i).toString(16)).join(':');
      return isIP(groups) === 6 ? new URL(`http://[${groups}]/`).hostname.slice(1, -1) : groups;
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.DNAME: {
      const n = nameAt(start);
      return n && n.end === end ? n.name : undefined;
    }
    case TYPE.MX: {
      const n = length > 2 ? nameAt(start + 2) : undefined;
      return n && n.end === end ? `${msg.readUInt16BE(start)} ${n.name}` : undefined;
    }
    case TYPE.SRV: {
      const n = length > 6 ? nameAt(start + 6) : undefined;
      return n && n.end === end ? `${msg.readUInt16BE(start)} ${msg.readUInt16BE(start + 2)} ${msg.readUInt16BE(start + 4)} ${n.name}` : undefined;
    }
    case TYPE.SOA: {
      const mname = nameAt(start);
      const rname = mname && nameAt(mname.end);
      if (!rname || rname.end + 20 !== end) return undefined;
      const numbers = Array.from({ length: 5 }, (_, i) => msg.readUInt32BE(rname.end + 4 * i));
      return `${mname.name} ${rname.name} ${numbers.join(' ')}`;
    }
    case TYPE.TXT:
      return characterStrings(msg, start, end);
    case TYPE.CAA: {
      const tagLength = length >= 2 ? msg[start + 1] : -1;
      if (tagLength < 1 || 2 + tagLength > length) return undefined;
      const tag = msg.subarray(start + 2, start + 2 + tagLength).toString('latin1');
      return `${msg[start]} ${tag} ${quote(msg.subarray(start + 2 + tagLength, end))}`;
    }
    default:
      return undefined;
  }
}

/** TXT: each <character-string> quoted, as dig prints them. */
function characterStrings(msg: Buffer, start: number, end: number): string | undefined {
  const parts: string[] = [];
  let at = start;
  while (at < end) {
    const len = msg[at];
    if (at + 1 + len > end) return undefined;
    parts.push(quote(msg.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  return parts.join(' ');
}

function quote(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}
