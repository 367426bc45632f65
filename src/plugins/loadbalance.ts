// CoreDNS `loadbalance [round_robin | weighted WEIGHTFILE] { reload DURATION; prefer CIDR... }`
// (plugin/loadbalance), on every NOERROR reply after the cache:
// - round_robin shuffles the address records so clients that take the first address spread over
//   all of them: A/AAAA in place on the wire (records of one owner and type swap their addresses:
//   same length, no names inside, so no compression pointer can break); MX through the codec.
// - weighted picks the first A/AAAA record at random with the weight file's weights (default 1)
//   and swaps it to the top; the file is re-read when it changes, checked every `reload` (30s).
// - prefer moves addresses in the listed subnets first, in the order of the subnets (stable).
import { readFileSync, statSync } from 'node:fs';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import type { LoadbalanceConfig } from '../config/types.js';
import { parseDuration } from '../config/values.js';
import { addressBytes } from './rr-text.js';
import type { Record } from './message.js';
import { skipName } from '../dns/query.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';
import { decodeMessage, encodeMessage } from './message.js';
import { readName } from '../dns/names.js';
import { questionEnd } from './message.js';

const TYPE_MX = 15;

export const DEFAULT_WEIGHT_RELOAD = '30s';

export function parseLoadbalanceDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  const args = d.args.map((a) => a.text);
  const policy = args[0] ?? 'round_robin';
  const raw: { [k: string]: unknown } = { policy };
  if (policy === 'round_robin') {
    if (args.length > 1) return b.issue(d.line, 'loadbalance', `unknown property for round_robin: ${JSON.stringify(args[1])}`);
  } else if (policy === 'weighted') {
    if (args.length !== 2) return b.issue(d.line, 'loadbalance', args.length < 2 ? 'missing weight file argument' : 'unexpected argument(s)');
    raw.weightFile = args[1];
  } else {
    return b.issue(d.line, 'loadbalance', `unknown policy ${JSON.stringify(policy)}; supported: round_robin, weighted`);
  }
  for (const sub of d.block ?? []) {
    const value = sub.args.map((a) => a.text);
    if (sub.name === 'reload' && policy === 'weighted') {
      if (value.length !== 1) return b.issue(sub.line, 'loadbalance.reload', 'takes one duration');
      raw.reload = value[0];
    } else if (sub.name === 'prefer') {
      raw.prefer = [...((raw.prefer as string[] | undefined) ?? []), ...value];
    } else {
      return b.issue(sub.line, `loadbalance.${sub.name}`, `unknown property "${sub.name}"`);
    }
  }
  b.set('loadbalance', Object.keys(raw).length === 1 ? policy : raw, d.line);
}

/** "10.0.0.0/8" → address bytes and prefix length; an error string otherwise. */
export function parseCidr(text: string): { bytes: Buffer; bits: number } | string {
  const [address, bitsText] = text.split('/');
  const bytes = addressBytes(address ?? '');
  const bits = Number(bitsText);
  if (!bytes || !/^\d+$/.test(bitsText ?? '') || bits > bytes.length * 8) return `must be a CIDR such as 10.0.0.0/8, got ${JSON.stringify(text)}`;
  return { bytes, bits };
}

function inSubnet(ip: Buffer, net: { bytes: Buffer; bits: number }): boolean {
  if (ip.length !== net.bytes.length) return false;
  const full = Math.floor(net.bits / 8);
  for (let i = 0; i < full; i++) if (ip[i] !== net.bytes[i]) return false;
  const rest = net.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full] & mask) === (net.bytes[full] & mask);
}

/** weight file: "domain" lines, then "ip weight" lines (1-255); returns an error string if malformed. */
export function parseWeights(text: string): Map<string, Map<string, number>> | string {
  const domains = new Map<string, Map<string, number>>();
  let current: Map<string, number> | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    if (f.length === 1) {
      if (addressBytes(f[0])) return `wrong domain name ${JSON.stringify(f[0])} (maybe a missing weight value?)`;
      const name = (f[0].endsWith('.') ? f[0] : `${f[0]}.`).toLowerCase();
      current = domains.get(name) ?? new Map();
      domains.set(name, current);
    } else if (f.length === 2) {
      const ip = addressBytes(f[0]);
      const weight = /^\d+$/.test(f[1]) ? Number(f[1]) : 0;
      if (!ip) return `wrong IP address ${JSON.stringify(f[0])}`;
      if (weight < 1 || weight > 255) return `wrong weight value ${JSON.stringify(f[1])}`;
      if (!current) return 'missing domain name before the first address';
      current.set(ip.toString('hex'), weight);
    } else {
      return `could not parse weight line ${JSON.stringify(line)}`;
    }
  }
  return domains;
}

const isAddress = (r: Record): boolean => r.type === TYPE.A || r.type === TYPE.AAAA;
const rdataOf = (r: Record): Buffer => r.rdata[0] as Buffer;

/** The loadbalance plugin of one block: round_robin or weighted, then prefer. */
export class Loadbalancer {
  private weights = new Map<string, Map<string, number>>();
  private weightStamp = '';
  private readonly timer: NodeJS.Timeout | null;
  private readonly prefer: { bytes: Buffer; bits: number }[];

  constructor(readonly config: LoadbalanceConfig) {
    this.prefer = config.prefer.map((c) => parseCidr(c) as { bytes: Buffer; bits: number });
    if (config.weightFile) this.readWeights();
    this.timer = config.weightFile && config.reloadMs > 0 ? setInterval(() => this.readWeights(), config.reloadMs) : null;
    this.timer?.unref();
  }

  /** Re-reads the weight file when its mtime or size changed; a bad file keeps the last weights. */
  readWeights(): void {
    const file = this.config.weightFile!;
    let stamp = 'missing';
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      // missing: keep what we have
    }
    if (stamp === this.weightStamp || stamp === 'missing') return;
    this.weightStamp = stamp;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    const parsed = parseWeights(text);
    if (typeof parsed !== 'string') this.weights = parsed;
  }

  /** The reply with its records reordered (a new buffer, or the same one changed in place). */
  apply(reply: Buffer): Buffer {
    if (reply.length < HEADER_SIZE || (reply[3] & 0x0f) !== 0) return reply;
    let out = this.config.policy === 'weighted' ? this.weighted(reply) : roundRobin(reply);
    if (this.prefer.length > 0) out = this.preferSubnets(out);
    return out;
  }

  private weighted(reply: Buffer): Buffer {
    const m = decodeMessage(reply);
    if (!m) return reply;
    const slots = m.answer.map((r, i) => (isAddress(r) ? i : -1)).filter((i) => i >= 0);
    if (slots.length < 2) return reply;
    // CoreDNS: heavier first, then a draw over the summed weights picks the top record.
    const weighted = slots
      .map((i) => ({ i, w: this.weights.get(m.answer[i].name.toLowerCase())?.get(rdataOf(m.answer[i]).toString('hex')) ?? 1 }))
      .sort((a, b) => b.w - a.w);
    let draw = Math.random() * weighted.reduce((n, x) => n + x.w, 0);
    let top = weighted[weighted.length - 1].i;
    for (const x of weighted) {
      if (draw < x.w) {
        top = x.i;
        break;
      }
      draw -= x.w;
    }
    if (top === slots[0]) return reply;
    [m.answer[slots[0]], m.answer[top]] = [m.answer[top], m.answer[slots[0]]];
    return encodeMessage(m) ?? reply;
  }

  private preferSubnets(reply: Buffer): Buffer {
    const m = decodeMessage(reply);
    if (!m) return reply;
    let changed = false;
    for (const section of [m.answer, m.additional]) {
      const slots = section.map((r, i) => (isAddress(r) ? i : -1)).filter((i) => i >= 0);
      const records = slots.map((i) => section[i]);
      const matched: Record[] = [];
      for (const net of this.prefer) for (const r of records) if (!matched.includes(r) && inSubnet(rdataOf(r), net)) matched.push(r);
      const ordered = [...matched, ...records.filter((r) => !matched.includes(r))];
      ordered.forEach((r, k) => {
        if (section[slots[k]] !== r) changed = true;
        section[slots[k]] = r;
      });
    }
    return changed ? (encodeMessage(m) ?? reply) : reply;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Durations of the weight file reload for the schema. */
export const weightReloadMs = (text: string): number | string => {
  const ms = parseDuration(text);
  return ms.ok ? ms.value : ms.error;
};

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
