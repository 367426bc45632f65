// `rewrite edns0 local|nsid|subnet set|append|replace|unset ...` (CoreDNS plugin/rewrite
// edns0.go): edits the EDNS0 options of the query that goes to the cache and forward. `set`
// changes a matching option or adds one, `append` adds one if none matches, `replace` only
// changes, `unset` removes. A query without OPT gets one (payload 4096), as CoreDNS does; the
// client's own EDNS view (its size, whether its reply carries an OPT) is not changed by that.
// `revert` is accepted: replies never carry these options here (each reply's OPT is our own).
import { TYPE } from '../dns/constants.js';
import { skipName } from '../dns/query.js';
import type { Edns0RuleConfig } from '../config/types.js';

export type Edns0Action = 'set' | 'append' | 'replace' | 'unset';

type Edns0Rule = Edns0RuleConfig;

export const VARIABLES = ['{qname}', '{qtype}', '{client_ip}', '{client_port}', '{protocol}'];
const NSID = 3;
const SUBNET = 8;

/** Corefile args after `edns0` → a rule, or an error; `ignoredReason` when accepted but not applied. */
export function parseEdns0Args(args: readonly string[]): { rule: Edns0Rule } | { error: string } | { ignoredReason: string } {
  if (args.length < 2) return { error: 'too few arguments for an EDNS0 rule' };
  const option = args[0].toLowerCase();
  const action = args[1].toLowerCase() as Edns0Action;
  if (!['set', 'append', 'replace', 'unset'].includes(action)) return { error: `invalid action: ${JSON.stringify(args[1])}` };
  let rest = args.slice(2);
  if (action !== 'unset' && rest[rest.length - 1] === 'revert') rest = rest.slice(0, -1);
  const base = { action, data: '', variable: null, v4Bits: 0, v6Bits: 0 };
  switch (option) {
    case 'local': {
      if (rest.length !== (action === 'unset' ? 1 : 2)) return { error: 'EDNS0 local rules require a code and data (unset: a code)' };
      const code = /^(0x[0-9a-f]+|\d+)$/i.test(rest[0]) ? Number(rest[0]) : NaN;
      if (!(code >= 0 && code <= 0xffff)) return { error: `invalid EDNS0 local code ${JSON.stringify(rest[0])}` };
      if (action === 'unset') return { rule: { ...base, option, code } };
      const value = rest[1];
      if (value.startsWith('{') && value.endsWith('}')) {
        if (!VARIABLES.includes(value)) return { ignoredReason: `edns0 local variable ${value} is not available here (supported: ${VARIABLES.join(' ')})` };
        return { rule: { ...base, option, code, variable: value } };
      }
      if (value.startsWith('0x')) {
        if (!/^0x([0-9a-f]{2})+$/i.test(value)) return { error: `invalid hex data ${JSON.stringify(value)}` };
        return { rule: { ...base, option, code, data: value.slice(2).toLowerCase() } };
      }
      return { rule: { ...base, option, code, data: Buffer.from(value, 'latin1').toString('hex') } };
    }
    case 'nsid':
      if (rest.length !== 0) return { error: 'EDNS0 NSID rules take no arguments' };
      return { rule: { ...base, option, code: NSID } };
    case 'subnet': {
      if (action === 'unset') return rest.length === 0 ? { rule: { ...base, option, code: SUBNET } } : { error: 'edns0 subnet unset takes no arguments' };
      if (rest.length !== 2 || !rest.every((r) => /^\d+$/.test(r))) return { error: 'EDNS0 subnet rules require IPv4 and IPv6 mask lengths' };
      const [v4Bits, v6Bits] = rest.map(Number);
      if (v4Bits > 32 || v6Bits > 128) return { error: `mask lengths must be at most 32 and 128, got ${v4Bits} ${v6Bits}` };
      return { rule: { ...base, option, code: SUBNET, v4Bits, v6Bits } };
    }
    default:
      return { error: `invalid rule type ${JSON.stringify(args[0])}` };
  }
}

export interface EdnsOption {
  code: number;
  data: Buffer;
}

/** The query's OPT options as rules edit them; `present` false until the query has an OPT. */
export interface EdnsState {
  present: boolean;
  payload: number;
  ttl: number; // extended rcode, version, DO
  options: EdnsOption[];
  changed: boolean;
}

/** Who asked, for variables and ECS. */
export interface ClientInfo {
  readonly address: Buffer; // 4 or 16 bytes
  readonly port: number;
  readonly tcp: boolean;
}

/** Reads the OPT of a query (after the question); a fresh state when there is none. */
export function readEdns(msg: Buffer, questionEnd: number): EdnsState {
  const arcount = msg.readUInt16BE(10);
  let pos = questionEnd;
  for (let i = 0; i < arcount; i++) {
    const afterName = skipName(msg, pos);
    if (afterName < 0 || afterName + 10 > msg.length) break;
    const rdlength = msg.readUInt16BE(afterName + 8);
    if (msg.readUInt16BE(afterName) === TYPE.OPT) {
      const options: EdnsOption[] = [];
      let o = afterName + 10;
      const end = Math.min(o + rdlength, msg.length);
      while (o + 4 <= end) {
        const length = msg.readUInt16BE(o + 2);
        options.push({ code: msg.readUInt16BE(o), data: Buffer.from(msg.subarray(o + 4, Math.min(o + 4 + length, end))) });
        o += 4 + length;
      }
      return { present: true, payload: msg.readUInt16BE(afterName + 2), ttl: msg.readUInt32BE(afterName + 4), options, changed: false };
    }
    pos = afterName + 10 + rdlength;
  }
  return { present: false, payload: 4096, ttl: 0, options: [], changed: false };
}

/** The query with its OPT replaced by `edns` (other additional records kept). */
export function writeEdns(msg: Buffer, questionEnd: number, edns: EdnsState): Buffer {
  const kept: Buffer[] = [];
  const arcount = msg.readUInt16BE(10);
  let pos = questionEnd;
  for (let i = 0; i < arcount; i++) {
    const afterName = skipName(msg, pos);
    if (afterName < 0 || afterName + 10 > msg.length) break;
    const next = afterName + 10 + msg.readUInt16BE(afterName + 8);
    if (msg.readUInt16BE(afterName) !== TYPE.OPT) kept.push(msg.subarray(pos, next));
    pos = next;
  }
  const rdata = Buffer.concat(edns.options.flatMap((o) => [Buffer.from([o.code >> 8, o.code & 0xff, o.data.length >> 8, o.data.length & 0xff]), o.data]));
  const opt = Buffer.alloc(11 + rdata.length);
  opt.writeUInt16BE(TYPE.OPT, 1);
  opt.writeUInt16BE(edns.payload, 3);
  opt.writeUInt32BE(edns.ttl >>> 0, 5);
  opt.writeUInt16BE(rdata.length, 9);
  rdata.copy(opt, 11);
  const out = Buffer.concat([msg.subarray(0, questionEnd), ...kept, opt]);
  out.writeUInt16BE(kept.length + 1, 10);
  return out;
}

function optionData(rule: Edns0Rule, name: string, qtype: number, client: ClientInfo): Buffer {
  if (rule.option === 'nsid') return Buffer.alloc(0);
  if (rule.option === 'subnet') {
    const v4 = client.address.length === 4;
    const bits = v4 ? rule.v4Bits : rule.v6Bits;
    const bytes = Math.ceil(bits / 8);
    const address = Buffer.from(client.address.subarray(0, bytes));
    if (bits % 8 !== 0 && bytes > 0) address[bytes - 1] &= 0xff << (8 - (bits % 8));
    return Buffer.concat([Buffer.from([0, v4 ? 1 : 2, bits, 0]), address]);
  }
  switch (rule.variable) {
    case null:
      return Buffer.from(rule.data, 'hex');
    case '{qname}':
      return Buffer.from(name, 'latin1');
    case '{qtype}':
      return Buffer.from([qtype >> 8, qtype & 0xff]);
    case '{client_ip}':
      return Buffer.from(client.address);
    case '{client_port}':
      return Buffer.from([client.port >> 8, client.port & 0xff]);
    default:
      return Buffer.from(client.tcp ? 'tcp' : 'udp', 'latin1');
  }
}

/** Applies one rule to the options; returns whether it did something (CoreDNS RewriteDone). */
export function applyEdns0(rule: Edns0Rule, edns: EdnsState, name: string, qtype: number, client: ClientInfo): boolean {
  if (!edns.present) {
    edns.present = true; // setupEdns0Opt: every edns0 rule makes sure there is an OPT
    edns.changed = true;
  }
  const index = edns.options.findIndex((o) => o.code === rule.code);
  if (rule.action === 'unset') {
    if (index >= 0) edns.options = edns.options.filter((o) => o.code !== rule.code);
    edns.changed = true;
    return true;
  }
  if (index >= 0 && (rule.action === 'set' || rule.action === 'replace')) {
    edns.options[index] = { code: rule.code, data: optionData(rule, name, qtype, client) };
    edns.changed = true;
    return true;
  }
  if (index < 0 && (rule.action === 'set' || rule.action === 'append')) {
    edns.options.push({ code: rule.code, data: optionData(rule, name, qtype, client) });
    edns.changed = true;
    return true;
  }
  return false;
}
