// CoreDNS `rewrite` (plugin/rewrite): rewrites the question before the cache and forward see it,
// and the reply on its way back: the client's question restored, and with `answer auto` (always
// for `exact`), `answer name` or `answer value` the records' names mapped back. Rules apply in
// Corefile order; a matching `stop` rule (the default) ends the list, `continue` goes on. Reply
// rules run in reverse order over the authority, answer and additional records, as CoreDNS does.
// Supported fields: name (exact, prefix, suffix, substring, regex), type, class, ttl, rcode, edns0
// (rewrite-edns0.ts), cname (the CNAME target swapped and the new target looked up).
import type { RawRewriteRule } from '../config/plugin-schemas.js';
import type { NameMatch, RewriteRuleConfig } from '../config/types.js';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';
import { goRegExp } from './common.js';
import { RCODE_BY_NAME } from './rr-text.js';
import { parseClass, parseType } from '../dns/qtypes.js';
import { decodeMessage, encodeMessage, nameToWire, type Record } from './message.js';
import { applyEdns0, parseEdns0Args, type ClientInfo, type EdnsState } from './rewrite-edns0.js';

// ---------------------------------------------------------------------------------------------
// Corefile: rewrite [continue|stop] FIELD [TYPE] [(FROM TO)|TTL] [OPTIONS], or the block form
// rewrite [continue|stop] { name ...  answer ... }

const UNSUPPORTED_FIELDS: { readonly [f: string]: string } = {};

export function parseRewriteDirective(d: Directive, b: BlockBuilder): void {
  let args = d.args.map((a) => a.text);
  if (args.length < 2) for (const sub of d.block ?? []) args.push(sub.name, ...sub.args.map((a) => a.text));
  const fail = (reason: string): void => b.issue(d.line, 'rewrite', reason);
  if (args.length === 0) return fail('no rule type specified for rewrite');
  let mode: 'stop' | 'continue' = 'stop';
  const first = args[0].toLowerCase();
  if (first === 'continue' || first === 'stop') {
    mode = first;
    args = args.slice(1);
    if (args.length === 0) return fail(`${first} rule must begin with a rule type`);
  }
  const field = args[0].toLowerCase();
  const rest = args.slice(1);
  const raw: { [k: string]: unknown } = { field };
  if (mode === 'continue') raw.continue = true;
  switch (field) {
    case 'name': {
      if (rest.length < 2) return fail('too few arguments for a name rule');
      if (rest.length === 2) Object.assign(raw, { match: 'exact', from: rest[0], to: rest[1] });
      else Object.assign(raw, { match: rest[0].toLowerCase(), from: rest[1], to: rest[2] });
      const answer = parseAnswerOptions(rest.slice(3));
      if (typeof answer === 'string') return fail(answer);
      Object.assign(raw, answer);
      break;
    }
    case 'type':
    case 'class':
      if (rest.length !== 2) return fail(`${field} rules must have exactly two arguments`);
      Object.assign(raw, { from: rest[0], to: rest[1] });
      break;
    case 'ttl':
      if (rest.length === 2) Object.assign(raw, { match: 'exact', name: rest[0], ttl: rest[1] });
      else if (rest.length === 3) Object.assign(raw, { match: rest[0].toLowerCase(), name: rest[1], ttl: rest[2] });
      else return fail('ttl rules take [MATCH] NAME TTL');
      break;
    case 'cname':
      // CoreDNS lower-cases FROM and TO but does not add the trailing dot: CNAME targets have it.
      if (rest.length === 2) Object.assign(raw, { match: 'exact', from: rest[0].toLowerCase(), to: rest[1].toLowerCase() });
      else if (rest.length === 3) Object.assign(raw, { match: rest[0].toLowerCase(), from: rest[1].toLowerCase(), to: rest[2].toLowerCase() });
      else return fail(`too few (${rest.length}) arguments for a cname rule`);
      break;
    case 'rcode':
      if (rest.length === 3) Object.assign(raw, { match: 'exact', name: rest[0], from: rest[1], to: rest[2] });
      else if (rest.length === 4) Object.assign(raw, { match: rest[0].toLowerCase(), name: rest[1], from: rest[2], to: rest[3] });
      else return fail('rcode rules take [MATCH] NAME FROM TO');
      break;
    case 'edns0': {
      const parsed = parseEdns0Args(rest);
      if ('ignoredReason' in parsed) {
        b.ignore('rewrite', d.line, parsed.ignoredReason);
        return;
      }
      if ('error' in parsed) return fail(parsed.error);
      // Only the fields this option uses, so convert-corefile writes readable YAML.
      const r = parsed.rule;
      Object.assign(raw, { option: r.option, action: r.action });
      if (r.option === 'local') Object.assign(raw, { code: r.code }, r.variable ? { variable: r.variable } : r.action === 'unset' ? {} : { data: r.data });
      if (r.option === 'subnet' && r.action !== 'unset') Object.assign(raw, { v4Bits: r.v4Bits, v6Bits: r.v6Bits });
      break;
    }
    case 'answer':
      return fail('response rewrites must begin with a name rule');
    default:
      if (field in UNSUPPORTED_FIELDS) {
        b.ignore('rewrite', d.line, `rewrite ${field}: ${UNSUPPORTED_FIELDS[field]}`);
        return;
      }
      return fail(`invalid rule type ${JSON.stringify(args[0])}`);
  }
  b.push('rewrite', raw, d.line);
}

function parseAnswerOptions(args: readonly string[]): { answer?: { auto?: boolean; name?: [string, string][]; value?: [string, string][] } } | string {
  if (args.length === 0) return {};
  if (args.length < 2) return 'invalid arguments for the answer rule';
  const answer: { auto?: boolean; name?: [string, string][]; value?: [string, string][] } = {};
  let i = 0;
  while (i < args.length) {
    if (args[i] !== 'answer') return `unexpected ${JSON.stringify(args[i])}: answer options start with "answer"`;
    const kind = args[i + 1];
    if (kind === 'auto') {
      answer.auto = true;
      i += 2;
    } else if (kind === 'name' || kind === 'value') {
      if (args[i + 3] === undefined) return `${kind} answer rule: 2 arguments required`;
      (answer[kind] ??= []).push([args[i + 2], args[i + 3]]);
      i += 4;
    } else {
      return `invalid type ${JSON.stringify(kind ?? '')} for answer rule`;
    }
  }
  if (answer.auto && answer.name) return 'auto name answer rule cannot be combined with explicit name answer rules';
  return { answer };
}

// ---------------------------------------------------------------------------------------------
// YAML

// (the YAML schema is config/plugin-schemas.ts: zod stays out of what DNS worker threads load)

/** Lower case with a trailing dot (CoreDNS plugin.Name.Normalize). */
const normalizeName = (n: string): string => (n.endsWith('.') ? n : `${n}.`).toLowerCase();

/** "30", "30-60", "-60", "30-" → [min, max] (CoreDNS isValidTTL). */
function ttlRange(text: string): [number, number] | undefined {
  const parts = text.split('-');
  const num = (s: string): number | undefined => (/^\d+$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : undefined);
  if (parts.length === 1) {
    const n = num(parts[0]);
    return n === undefined ? undefined : [n, n];
  }
  if (parts.length !== 2 || (parts[0] === '' && parts[1] === '')) return undefined;
  const min = parts[0] === '' ? 0 : num(parts[0]);
  const max = parts[1] === '' ? 2147483647 : num(parts[1]);
  return min === undefined || max === undefined || min > max ? undefined : [min, max];
}

/** Checks one rule; returns the normalised config or an error. */
export function validateRewriteRule(r: RawRewriteRule): { config: RewriteRuleConfig } | { field: string; error: string } {
  const stop = !r.continue;
  switch (r.field) {
    case 'name': {
      const regex = r.match === 'regex';
      if (regex) {
        const re = goRegExp(r.from);
        if (typeof re === 'string') return { field: 'from', error: re };
        if (maxGroupUsed(r.to) > groupCount(re)) return { field: 'to', error: `uses more subexpressions than ${JSON.stringify(r.from)} has, got ${JSON.stringify(r.to)}` };
      }
      for (const [i, [from, to]] of [...r.answer.name, ...r.answer.value].entries()) {
        const re = goRegExp(from);
        if (typeof re === 'string') return { field: `answer[${i}]`, error: re };
        if (maxGroupUsed(to) > groupCount(re)) return { field: `answer[${i}]`, error: `uses more subexpressions than ${JSON.stringify(from)} has, got ${JSON.stringify(to)}` };
      }
      return {
        config: {
          field: 'name',
          stop,
          match: r.match,
          from: regex ? r.from : normalizeName(r.from),
          to: normalizeName(r.to),
          answerAuto: r.answer.auto,
          answerName: r.answer.name.map(([f, t]) => [f, normalizeName(t)] as const),
          answerValue: r.answer.value.map(([f, t]) => [f, normalizeName(t)] as const),
        },
      };
    }
    case 'type':
    case 'class': {
      const lookup = r.field === 'type' ? parseType : parseClass;
      const from = lookup(r.from);
      const to = lookup(r.to);
      if (from === undefined) return { field: 'from', error: `must be a ${r.field} name, got ${JSON.stringify(r.from)}` };
      if (to === undefined) return { field: 'to', error: `must be a ${r.field} name, got ${JSON.stringify(r.to)}` };
      return { config: { field: r.field, stop, from, to } };
    }
    case 'edns0': {
      const code = r.option === 'nsid' ? 3 : r.option === 'subnet' ? 8 : r.code;
      return { config: { field: 'edns0', stop, edns0: { option: r.option, action: r.action, code, data: r.data.toLowerCase(), variable: r.variable, v4Bits: r.v4Bits, v6Bits: r.v6Bits } } };
    }
    case 'cname':
      if (r.match === 'regex' && typeof goRegExp(r.from) === 'string') return { field: 'from', error: goRegExp(r.from) as string };
      return { config: { field: 'cname', stop, match: r.match, from: r.from, to: r.to } };
    case 'rcode': {
      const code = (text: string): number | undefined => (/^\d+$/.test(text) ? Number(text) : RCODE_BY_NAME[text.toUpperCase()]);
      const from = code(String(r.from));
      const to = code(String(r.to));
      // The 4-bit header rcodes; the extended ones (BADSIG ...) live in the OPT record.
      if (from === undefined || from > 15) return { field: 'from', error: `must be a response code from NOERROR (0) to 15, got ${JSON.stringify(r.from)}` };
      if (to === undefined || to > 15) return { field: 'to', error: `must be a response code from NOERROR (0) to 15, got ${JSON.stringify(r.to)}` };
      if (r.match === 'regex' && typeof goRegExp(r.name) === 'string') return { field: 'name', error: goRegExp(r.name) as string };
      return { config: { field: 'rcode', stop, match: r.match, name: r.match === 'regex' ? r.name : normalizeName(r.name), from, to } };
    }
    case 'ttl': {
      const range = ttlRange(String(r.ttl));
      if (!range) return { field: 'ttl', error: `must be a TTL: a number, or a range MIN-MAX, -MAX or MIN-, got ${JSON.stringify(r.ttl)}` };
      if (r.match === 'regex' && typeof goRegExp(r.name) === 'string') return { field: 'name', error: goRegExp(r.name) as string };
      return { config: { field: 'ttl', stop, match: r.match, name: r.match === 'regex' ? r.name : normalizeName(r.name), min: range[0], max: range[1] } };
    }
  }
}

const groupCount = (re: RegExp): number => new RegExp(`${re.source}|`).exec('')!.length - 1;

function maxGroupUsed(text: string): number {
  let used = 0;
  for (let i = 0; i <= 100; i++) if (text.includes(`{${i}}`)) used++;
  return used;
}

// ---------------------------------------------------------------------------------------------
// Runtime

type StringRewriter = (name: string) => string;

/** What a reply needs on its way back. */
type ResponseRule =
  | { readonly kind: 'name' | 'value'; readonly rewrite: StringRewriter }
  | { readonly kind: 'ttl'; readonly min: number; readonly max: number }
  | { readonly kind: 'rcode'; readonly from: number; readonly to: number }
  | { readonly kind: 'cname'; readonly target: StringRewriter };

/** {n} groups of a regex match replaced in a template (CoreDNS regexStringRewriter). */
function regexRewriter(re: RegExp, replacement: string): StringRewriter {
  return (src) => {
    const m = re.exec(src);
    if (!m) return src;
    let s = replacement;
    m.forEach((v, i) => (s = s.split(`{${i}}`).join(v ?? '')));
    return s;
  };
}

/** rewritten → original, also as a suffix (CoreDNS remapStringRewriter). */
function remap(orig: string, replacement: string): StringRewriter {
  return (src) => {
    const lower = src.toLowerCase();
    if (lower === orig) return replacement;
    if (lower.endsWith(`.${orig}`)) return src.slice(0, src.length - orig.length) + replacement;
    return src;
  };
}

function nameMatches(match: NameMatch, pattern: string, re: RegExp | null, name: string): boolean {
  switch (match) {
    case 'exact':
      return name === pattern;
    case 'prefix':
      return name.startsWith(pattern);
    case 'suffix':
      return name.endsWith(pattern);
    case 'substring':
      return name.includes(pattern);
    case 'regex':
      return re!.test(name);
  }
}

interface CompiledRule {
  readonly config: RewriteRuleConfig;
  readonly regex: RegExp | null;
  readonly staticRules: readonly ResponseRule[];
}

/** The question after the rules, and what to do to the reply. */
export interface RewriteResult {
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly revert: boolean; // restore the question and apply `rules` to the reply
  readonly rules: readonly ResponseRule[];
}

/** The query's EDNS0 options for edns0 rules, and who asked. */
export interface EdnsContext {
  readonly state: EdnsState;
  readonly client: ClientInfo;
}

export class RewriteHandler {
  private readonly rules: CompiledRule[];
  /** Some rule edits EDNS0 options: the caller reads the query's OPT for rewrite(). */
  readonly editsEdns: boolean;

  constructor(configs: readonly RewriteRuleConfig[]) {
    this.rules = configs.map((config) => {
      const staticRules: ResponseRule[] = [];
      let regex: RegExp | null = null;
      if (config.field === 'name') {
        if (config.match === 'regex') regex = goRegExp(config.from) as RegExp;
        if (config.match === 'suffix' && config.answerAuto) {
          const back: StringRewriter = (src) => (src.toLowerCase().endsWith(config.to) ? src.slice(0, src.length - config.to.length) + config.from : src);
          staticRules.push({ kind: 'name', rewrite: back }, { kind: 'value', rewrite: back });
        }
        for (const [from, to] of config.answerName) staticRules.push({ kind: 'name', rewrite: regexRewriter(goRegExp(from) as RegExp, to) });
        for (const [from, to] of config.answerValue) staticRules.push({ kind: 'value', rewrite: regexRewriter(goRegExp(from) as RegExp, to) });
      } else if (config.field === 'ttl') {
        if (config.match === 'regex') regex = goRegExp(config.name) as RegExp;
        staticRules.push({ kind: 'ttl', min: config.min, max: config.max });
      } else if (config.field === 'cname') {
        regex = config.match === 'regex' ? (goRegExp(config.from) as RegExp) : null;
        staticRules.push({ kind: 'cname', target: cnameTarget(config.match, config.from, config.to, regex) });
      } else if (config.field === 'rcode') {
        if (config.match === 'regex') regex = goRegExp(config.name) as RegExp;
        staticRules.push({ kind: 'rcode', from: config.from, to: config.to });
      }
      return { config, regex, staticRules };
    });
    this.editsEdns = configs.some((c) => c.field === 'edns0');
  }

  /** Applies the rules to a question (name lower-case) and `edns`; null when no rule matched. */
  rewrite(name: string, qtype: number, qclass: number, edns: EdnsContext | null = null): RewriteResult | null {
    const original = name;
    let matched = false;
    const rules: ResponseRule[] = [];
    for (const r of this.rules) {
      const c = r.config;
      let done = false;
      switch (c.field) {
        case 'name': {
          if (!nameMatches(c.match, c.from, r.regex, name)) break;
          name = this.newName(r, name);
          done = true;
          // exact always maps answers back; others with `answer auto` (suffix has it static).
          const auto = c.match === 'exact' || (c.answerAuto && c.match !== 'suffix');
          if (auto) {
            const back = remap(name, original);
            rules.push({ kind: 'name', rewrite: back }, { kind: 'value', rewrite: back });
          }
          rules.push(...r.staticRules);
          break;
        }
        case 'type':
          if (qtype === c.from) {
            qtype = c.to;
            done = true;
          }
          break;
        case 'class':
          if (qclass === c.from) {
            qclass = c.to;
            done = true;
          }
          break;
        case 'ttl':
        case 'rcode':
          if (nameMatches(c.match, c.name, r.regex, name)) {
            rules.push(...r.staticRules);
            done = true;
          }
          break;
        case 'edns0':
          done = edns !== null && applyEdns0(c.edns0, edns.state, name, qtype, edns.client);
          break;
        case 'cname':
          // Always "done" in CoreDNS: the reply decides whether a CNAME target matches.
          rules.push(...r.staticRules);
          done = true;
          break;
      }
      if (!done) continue;
      matched = true;
      if (c.stop) return { name, qtype, qclass, revert: true, rules };
    }
    return matched ? { name, qtype, qclass, revert: rules.length > 0, rules } : null;
  }

  private newName(r: CompiledRule, name: string): string {
    const c = r.config as Extract<RewriteRuleConfig, { field: 'name' }>;
    switch (c.match) {
      case 'exact':
        return c.to;
      case 'prefix':
        return c.to + name.slice(c.from.length);
      case 'suffix':
        return name.slice(0, name.length - c.from.length) + c.to;
      case 'substring':
        return name.split(c.from).join(c.to);
      case 'regex':
        return normalizeName(regexRewriter(r.regex!, c.to)(name));
    }
  }
}

/**
 * The query with a new question (queries carry no compression pointers, so the bytes after the
 * question are copied as they are); null if the new name is not a valid domain name.
 */
export function rewriteQuery(msg: Buffer, questionEnd: number, name: string, qtype: number, qclass: number): Buffer | null {
  const wire = nameToWire(name);
  if (!wire) return null;
  const out = Buffer.allocUnsafe(HEADER_SIZE + wire.length + 4 + (msg.length - questionEnd));
  msg.copy(out, 0, 0, HEADER_SIZE);
  wire.copy(out, HEADER_SIZE);
  let pos = HEADER_SIZE + wire.length;
  out.writeUInt16BE(qtype, pos);
  out.writeUInt16BE(qclass, pos + 2);
  pos += 4;
  msg.copy(out, pos, questionEnd);
  return out;
}

function applyRules(rules: readonly ResponseRule[], r: Record): void {
  if (r.type === TYPE.OPT) return;
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i];
    if (rule.kind === 'name') r.name = rule.rewrite(r.name);
    else if (rule.kind === 'ttl') r.ttl = r.ttl < rule.min ? rule.min : r.ttl > rule.max ? rule.max : r.ttl;
    else if (rule.kind === 'value') {
      // CoreDNS rewrites the first name of the RDATA (CNAME/DNAME/NS/PTR target, MX, SRV, SOA mname).
      const part = r.rdata.find((p) => !Buffer.isBuffer(p));
      if (part && !Buffer.isBuffer(part)) {
        const next = rule.rewrite(part.name);
        if (next !== part.name) r.rdata[r.rdata.indexOf(part)] = { name: next };
      }
    }
  }
}

/** CoreDNS getFromAndToTarget: the new target for a CNAME target, or the same string when the rule does not apply. */
function cnameTarget(match: NameMatch, from: string, to: string, re: RegExp | null): StringRewriter {
  return (target) => {
    switch (match) {
      case 'exact':
        return target === from ? to : target;
      case 'prefix':
        return target.startsWith(from) ? to + target.slice(from.length) : target;
      case 'suffix':
        return target.endsWith(from) ? target.slice(0, target.length - from.length) + to : target;
      case 'substring':
        return target.includes(from) ? target.split(from).join(to) : target;
      case 'regex':
        return regexRewriter(re!, to)(target);
    }
  };
}

/** `rewrite cname`: the new target when an answer CNAME matches a rule; null otherwise. */
export function cnameRewriteTarget(result: RewriteResult, reply: Buffer): string | null {
  const rules = result.rules.filter((r): r is Extract<ResponseRule, { kind: 'cname' }> => r.kind === 'cname');
  if (rules.length === 0) return null;
  const m = decodeMessage(reply);
  for (const r of m?.answer ?? []) {
    if (r.type !== TYPE.CNAME) continue;
    const target = (r.rdata[0] as { name: string }).name;
    for (let i = rules.length - 1; i >= 0; i--) {
      const next = rules[i].target(target);
      if (next !== target) return next;
    }
  }
  return null;
}

/** CoreDNS cnameTargetRule: every answer CNAME now points at `to`, followed by the lookup's records owned by `to`. */
export function applyCnameRewrite(reply: Buffer, to: string, lookup: Buffer | null): Buffer {
  const m = decodeMessage(reply);
  const up = lookup && decodeMessage(lookup);
  if (!m || !up) return reply;
  const lower = to.toLowerCase();
  m.answer = [
    ...m.answer.filter((r) => r.type === TYPE.CNAME).map((r) => ({ ...r, rdata: [{ name: to }] })),
    ...up.answer.filter((r) => r.name.toLowerCase() === lower),
  ];
  m.flags = (m.flags & ~0x0200) | (up.flags & 0x0200); // TC from the lookup
  return encodeMessage(m) ?? reply;
}

/** The reply with the client's question back and the reply rules applied; the input if it cannot be decoded. */
export function revertReply(reply: Buffer, clientMsg: Buffer, result: RewriteResult): Buffer {
  const m = decodeMessage(reply);
  const client = decodeMessage(clientMsg);
  if (!m || !client || client.questions.length !== 1) return reply;
  if (m.questions.length === 1) m.questions[0] = client.questions[0];
  for (const section of [m.authority, m.answer, m.additional]) for (const r of section) applyRules(result.rules, r);
  // rcode rules act on the header, for every reply (CoreDNS runs them once per record, so a reply
  // without any record or OPT would keep its rcode there).
  for (let i = result.rules.length - 1; i >= 0; i--) {
    const rule = result.rules[i];
    if (rule.kind === 'rcode' && (m.flags & 0x0f) === rule.from) m.flags = (m.flags & ~0x0f) | rule.to;
  }
  return encodeMessage(m) ?? reply;
}
