// CoreDNS `template`: answers queries whose name matches a regex with records built from Go
// templates (plugin/template). Runs after the cache and before forward, like plugin.cfg orders
// it, so its answers are cached like an upstream's. A template matches when its zone, class and
// type match (ANY matches anything) and one of its regexes matches the lower-cased name; then
// the reply is AA with the template's rcode (SERVFAIL: the server's error reply). Zone, class and
// type mismatches go on to the next template; a regex mismatch is SERVFAIL unless `fallthrough`
// covers the name. No template matched: the next plugin (hosts, forward).
import type { RawTemplate } from '../config/plugin-schemas.js';
import type { TemplateConfig } from '../config/types.js';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { RCODE } from '../dns/constants.js';
import { goRegExp, fallsThrough, matchZone, replyTo } from './common.js';
import { compileGoTemplate, type CompiledTemplate, type TemplateData } from './go-template.js';
import { parseRr, RCODE_BY_NAME } from './rr-text.js';
import { className, parseClass, parseType, typeName } from '../dns/qtypes.js';
import type { Record } from './message.js';
import type { LocalQuestion, LocalAnswer } from './local-answer.js';

// ---------------------------------------------------------------------------------------------
// Corefile: template CLASS TYPE [ZONE...] { match REGEX...; answer RR; additional RR; authority RR; rcode CODE; fallthrough [ZONES...] }

const SECTIONS = ['answer', 'additional', 'authority'] as const;

export function parseTemplateDirective(d: Directive, b: BlockBuilder): void {
  if (d.args.length < 2) {
    b.issue(d.line, 'template', 'needs CLASS and TYPE, e.g. "template IN A example.org"');
    return;
  }
  const [klass, type, ...zones] = d.args.map((a) => a.text);
  if (parseClass(klass) === undefined) return b.issue(d.line, 'template', `invalid query class ${JSON.stringify(klass)}`);
  if (parseType(type) === undefined) return b.issue(d.line, 'template', `invalid query type ${JSON.stringify(type)}`);
  const raw: { [k: string]: unknown } = { class: klass.toUpperCase(), type: type.toUpperCase() };
  if (zones.length > 0) raw.zones = zones;
  for (const sub of d.block ?? []) {
    const args = sub.args.map((a) => a.text);
    const field = `template.${sub.name}`;
    switch (sub.name) {
      case 'match':
      case 'answer':
      case 'additional':
      case 'authority':
        if (args.length === 0) return b.issue(sub.line, field, 'needs at least one argument');
        raw[sub.name] = [...((raw[sub.name] as string[] | undefined) ?? []), ...args];
        break;
      case 'rcode':
        if (args.length !== 1) return b.issue(sub.line, field, 'takes one response code, e.g. NXDOMAIN');
        raw.rcode = args[0];
        break;
      case 'fallthrough':
        raw.fallthrough = args.length === 0 ? true : args;
        break;
      case 'upstream':
        break; // deprecated in CoreDNS and ignored there too
      case 'ederror':
        b.ignore('template', sub.line, 'ederror: the extended DNS error option is not sent (the reply is otherwise the same)');
        break;
      case 'var':
      case 'expr':
        b.ignore('template', d.line, `${sub.name} (expr-lang conditions) is not supported; this template is not used`);
        return;
      default:
        return b.issue(sub.line, field, `unknown template option "${sub.name}"`);
    }
  }
  // Templates this implementation cannot run are left out with a warning, not turned into errors.
  for (const section of SECTIONS) {
    for (const text of (raw[section] as string[] | undefined) ?? []) {
      const compiled = compileGoTemplate(text);
      if (typeof compiled === 'string') {
        b.ignore('template', d.line, `${compiled}; this template is not used`);
        return;
      }
    }
  }
  b.push('template', raw, d.line);
}

// ---------------------------------------------------------------------------------------------
// YAML

// (the YAML schema is config/plugin-schemas.ts: zod stays out of what DNS worker threads load)

/** Checks a YAML/Corefile template; returns the normalised config or an error per field. */
export function validateTemplate(t: RawTemplate, blockZones: readonly string[], normalize: (zone: string) => string | undefined): { config: TemplateConfig } | { field: string; error: string } {
  const qclass = parseClass(t.class);
  if (qclass === undefined) return { field: 'class', error: `must be a class such as IN or ANY, got ${JSON.stringify(t.class)}` };
  const qtype = parseType(t.type);
  if (qtype === undefined) return { field: 'type', error: `must be a type such as A or ANY, got ${JSON.stringify(t.type)}` };
  const rcode = RCODE_BY_NAME[t.rcode.toUpperCase()];
  if (rcode === undefined) return { field: 'rcode', error: `must be a response code such as NOERROR or NXDOMAIN, got ${JSON.stringify(t.rcode)}` };
  for (const [i, m] of t.match.entries()) {
    if (m.length > 10000) return { field: `match[${i}]`, error: `regex pattern longer than 10000 characters, got ${m.length}` };
    const re = goRegExp(m);
    if (typeof re === 'string') return { field: `match[${i}]`, error: re };
  }
  for (const section of SECTIONS) {
    for (const [i, text] of t[section].entries()) {
      const compiled = compileGoTemplate(text);
      if (typeof compiled === 'string') return { field: `${section}[${i}]`, error: compiled };
    }
  }
  const zones: string[] = [];
  for (const zone of t.zones ?? []) {
    const n = normalize(zone);
    if (n === undefined) return { field: 'zones', error: `must be a zone name, got ${JSON.stringify(zone)}` };
    zones.push(n);
  }
  const fall: string[] | null = t.fallthrough === false ? null : t.fallthrough === true || t.fallthrough.length === 0 ? ['.'] : [];
  if (Array.isArray(t.fallthrough)) {
    for (const zone of t.fallthrough) {
      const n = normalize(zone);
      if (n === undefined) return { field: 'fallthrough', error: `must be a zone name, got ${JSON.stringify(zone)}` };
      fall!.push(n);
    }
  }
  return {
    config: {
      qclass,
      qtype,
      zones: zones.length > 0 ? zones : blockZones,
      match: t.match.length > 0 ? t.match : ['.*'],
      answer: t.answer,
      additional: t.additional,
      authority: t.authority,
      rcode,
      fallthrough: fall,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Runtime

interface CompiledEntry {
  readonly config: TemplateConfig;
  readonly regexes: readonly RegExp[];
  readonly sections: readonly (readonly CompiledTemplate[])[]; // answer, additional, authority
}

const ANY = 255;

/** Counters for coredns_template_*: matches by zone, class and type (NUL-joined); RR failures also by section and template. */
export class TemplateStats {
  readonly matches = new Map<string, number>();
  readonly rrFailures = new Map<string, number>();
}

const bump = (m: Map<string, number>, key: string): void => {
  m.set(key, (m.get(key) ?? 0) + 1);
};

export class TemplateHandler {
  private readonly templates: CompiledEntry[];
  private readonly zones: readonly string[];
  readonly stats = new TemplateStats();

  constructor(configs: readonly TemplateConfig[]) {
    this.templates = configs.map((config) => ({
      config,
      regexes: config.match.map((m) => goRegExp(m) as RegExp),
      sections: SECTIONS.map((s) => config[s].map((t) => compileGoTemplate(t) as CompiledTemplate)),
    }));
    this.zones = configs.flatMap((c) => c.zones);
  }

  /** The template's reply, SERVFAIL, or null to go on to the next plugin. */
  answer(q: LocalQuestion): LocalAnswer | null {
    if (matchZone(q.name, this.zones) === undefined) return null;
    for (const t of this.templates) {
      const data = this.match(t, q);
      if (data === 'next') continue;
      if (data === 'servfail') return { rcode: RCODE.SERVFAIL };
      const labels = [data.Zone, data.Class, data.Type].join('\0');
      bump(this.stats.matches, labels);
      if (t.config.rcode === RCODE.SERVFAIL) return { rcode: RCODE.SERVFAIL };
      const sections: Record[][] = [[], [], []];
      for (let s = 0; s < 3; s++) {
        for (const tpl of t.sections[s]) {
          const parsed = parseRr(tpl(data));
          if (!parsed.ok) {
            bump(this.stats.rrFailures, [labels, SECTIONS[s], t.config[SECTIONS[s]][t.sections[s].indexOf(tpl)]].join('\0'));
            return { rcode: RCODE.SERVFAIL, error: `template: ${parsed.error}` };
          }
          sections[s].push(parsed.record);
        }
      }
      const reply = replyTo(q.query, { rcode: t.config.rcode, authoritative: true, answer: sections[0], additional: sections[1], authority: sections[2] });
      return reply ? { rcode: t.config.rcode, reply } : { rcode: RCODE.SERVFAIL, error: 'template: reply could not be encoded' };
    }
    return null;
  }

  private match(t: CompiledEntry, q: LocalQuestion): TemplateData | 'next' | 'servfail' {
    const c = t.config;
    const zone = matchZone(q.name, c.zones);
    if (zone === undefined) return 'next';
    if (c.qclass !== ANY && q.qclass !== ANY && q.qclass !== c.qclass) return 'next';
    if (c.qtype !== ANY && q.qtype !== ANY && q.qtype !== c.qtype) return 'next';
    for (const re of t.regexes) {
      const m = re.exec(q.name);
      if (!m) continue;
      const group: { [k: string]: string } = {};
      m.forEach((v, i) => (group[String(i)] = v ?? ''));
      for (const [k, v] of Object.entries(m.groups ?? {})) group[k] = v ?? '';
      return {
        Name: q.name,
        Zone: zone,
        Class: className(q.qclass !== ANY ? q.qclass : c.qclass),
        Type: typeName(q.qtype !== ANY ? q.qtype : c.qtype),
        Regex: re.source,
        Match: [...m].map((v) => v ?? ''),
        Group: group,
      };
    }
    return fallsThrough(c.fallthrough, q.name) ? 'next' : 'servfail';
  }
}
