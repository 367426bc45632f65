// Reads a CoreDNS Corefile (the caddy syntax node-cache's template produces) into the YAML-shaped
// RawConfig, so an existing nodelocaldns ConfigMap works unchanged. Supported: server blocks
// (`zone1 zone2:53 { ... }`), the directives node-cache's Corefile uses (errors, cache, reload,
// loop, bind, forward, prometheus, health, log) and every other plugin node-cache compiles in
// (src/plugins/: template, hosts, rewrite, ...). What cannot be applied faithfully is recorded in
// `ignored` (one warning, a metric); a directive node-cache does not have is an error naming file:line.
// Pure text in, values out: never throws, never reads files (resolv.conf paths are left to the
// schema), never logs. Semantic checks (ranges, addresses) are the schema's; this file maps the
// schema's paths back to Corefile lines.
import { isIP } from 'node:net';
import { Document, isMap, isScalar, isSeq, visit, type Pair, type Scalar } from 'yaml';
import { formatPath, validateRawConfig, type ConfigIssue, type ConfigResult } from './load.js';
import type { RawConfig } from './schema.js';
import { normalizeZone, type Parsed } from './values.js';
import type { IgnoredDirective } from './types.js';
import { PLUGIN_DIRECTIVES } from '../plugins/index.js';

export const DEFAULT_DNS_PORT = 53;
/** CoreDNS's `prometheus` default address (node-cache's Corefile always gives `:9253`). */
export const DEFAULT_PROMETHEUS_ADDRESS = 'localhost:9153';
/** CoreDNS's `health` default address. */
export const DEFAULT_HEALTH_ADDRESS = ':8080';
/** CoreDNS's `reload` default interval. */
export const DEFAULT_RELOAD_INTERVAL = '30s';
/** Where a block without `bind` listens: CoreDNS binds the wildcard address. */
export const WILDCARD_BIND = '0.0.0.0';

export const CORE_DIRECTIVES = ['bind', 'cache', 'errors', 'forward', 'health', 'log', 'loop', 'prometheus', 'reload'] as const;
/** Every directive node-cache 1.26 (and 1.22: dnstap, metadata) compiles in. */
export const SUPPORTED_DIRECTIVES: readonly string[] = [...CORE_DIRECTIVES, ...Object.keys(PLUGIN_DIRECTIVES)].sort();

export type LineOf = (path: readonly PropertyKey[]) => number;

export type CorefileParse = { ok: true; raw: RawConfig; lineOfPath: LineOf } | { ok: false; issues: ConfigIssue[] };

export interface CorefileOptions {
  /** Port for zones written without one (CoreDNS `-dns.port`), default 53. */
  readonly dnsPort?: number;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer (caddy v1 lexer rules: whitespace-separated words, "quoted strings", # comments).

export interface Token {
  readonly text: string;
  readonly line: number; // line the token starts on
  readonly endLine: number; // line it ends on (differs only for quoted strings with newlines)
  readonly quoted: boolean;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v';

function tokenize(text: string, issue: (line: number, field: string, reason: string) => void): Token[] | null {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (isSpace(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      const start = line;
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && text[i + 1] === '"') {
          value += '"';
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        value += text[i++];
      }
      if (i >= text.length) {
        issue(start, '', 'unterminated quoted string');
        return null;
      }
      i++; // closing quote
      tokens.push({ text: value, line: start, endLine: line, quoted: true });
    } else {
      let value = '';
      while (i < text.length && !isSpace(text[i])) value += text[i++];
      tokens.push({ text: value, line, endLine: line, quoted: false });
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Structure: server blocks of directives, each directive with args and an optional { } block.

export interface Directive {
  readonly name: string;
  readonly line: number;
  readonly args: readonly Token[];
  readonly block: readonly Directive[] | null;
}

interface ServerBlock {
  readonly line: number;
  readonly keys: readonly Token[];
  readonly directives: readonly Directive[];
}

const isBrace = (t: Token | undefined): boolean => t !== undefined && !t.quoted && (t.text === '{' || t.text === '}');
const isOpen = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined): boolean => t !== undefined && !t.quoted && t.text === '}';

class StructureError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {}
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  parseFile(): ServerBlock[] {
    const blocks: ServerBlock[] = [];
    while (this.pos < this.tokens.length) blocks.push(this.parseServerBlock(blocks.length === 0));
    return blocks;
  }

  private parseServerBlock(first: boolean): ServerBlock {
    const keys = this.parseKeys();
    const line = keys[0].line;
    const next = this.tokens[this.pos];
    if (isOpen(next)) {
      this.pos++;
      return { line, keys, directives: this.parseDirectives(line, true) };
    }
    if (next === undefined) return { line, keys, directives: [] };
    // caddy allows a single server block without braces: the rest of the file is its body.
    if (!first) throw new StructureError(next.line, `expected "{" after the server block keys on line ${line}`);
    return { line, keys, directives: this.parseDirectives(line, false) };
  }

  private parseKeys(): Token[] {
    const first = this.tokens[this.pos];
    if (isBrace(first)) throw new StructureError(first.line, `unexpected "${first.text}": expected a server block key such as ".:53"`);
    const keys: Token[] = [first];
    this.pos++;
    for (;;) {
      const prev = keys[keys.length - 1];
      const next = this.tokens[this.pos];
      if (next === undefined || isBrace(next)) break;
      if (next.line !== prev.endLine && !prev.text.endsWith(',')) break;
      keys.push(next);
      this.pos++;
    }
    return keys;
  }

  private parseDirectives(openLine: number, untilBrace: boolean): Directive[] {
    const out: Directive[] = [];
    for (;;) {
      const t = this.tokens[this.pos];
      if (t === undefined) {
        if (untilBrace) throw new StructureError(openLine, `missing "}" for the block opened on line ${openLine}`);
        return out;
      }
      if (isClose(t)) {
        if (!untilBrace) throw new StructureError(t.line, 'unexpected "}" with no matching "{"');
        this.pos++;
        return out;
      }
      if (isOpen(t)) throw new StructureError(t.line, 'unexpected "{": a block must follow a directive name');
      out.push(this.parseDirective());
    }
  }

  private parseDirective(): Directive {
    const name = this.tokens[this.pos++];
    const args: Token[] = [];
    let prev = name;
    for (;;) {
      const next = this.tokens[this.pos];
      if (next === undefined || isBrace(next) || next.line !== prev.endLine) break;
      args.push(next);
      prev = next;
      this.pos++;
    }
    // As in caddy, the "{" may also start the next line.
    if (isOpen(this.tokens[this.pos])) {
      const open = this.tokens[this.pos++];
      return { name: name.text, line: name.line, args, block: this.parseDirectives(open.line, true) };
    }
    return { name: name.text, line: name.line, args, block: null };
  }
}

// ---------------------------------------------------------------------------------------------
// Semantics: directives → RawConfig fragments, with a line for every path they produce.

export type Json = Record<string, unknown>;

interface ZoneKey {
  readonly zone: string;
  readonly port: number;
}

interface Collector {
  readonly file: string;
  issue(line: number, field: string, reason: string): void;
}



/** What one server block contributes, before it is split per port. */
interface BlockResult {
  readonly server: Json; // everything but zones and port
  readonly lines: Map<string, number>; // relative path (e.g. "cache.success") → line
}

/** Process-wide settings that must agree across blocks. */
interface TopLevel {
  metrics?: { listen: string; line: number };
  health?: { listen: string; lameduck?: string; line: number };
  reload?: { interval: string; line: number };
  readonly ignored: IgnoredDirective[];
  /** Process-wide plugin settings (pprof, trace, ...): the first block that sets one wins. */
  readonly global: Map<string, { value: unknown; line: number }>;
}

const PLACEHOLDER = /__PILLAR__[A-Z_]+__|<nil>/;

function parseServerKeys(block: ServerBlock, dnsPort: number, c: Collector): ZoneKey[] {
  const out: ZoneKey[] = [];
  for (const token of block.keys) {
    for (const text of token.text.split(',')) {
      if (text.trim() === '') continue;
      const key = parseZoneKey(text.trim(), dnsPort);
      if (typeof key === 'string') c.issue(token.line, 'zones', key);
      else out.push(...key);
    }
  }
  return out;
}

/** "[dns://]zone[:port]" or a reverse CIDR "10.0.0.0/8[:port]"; returns a reason on error. */
function parseZoneKey(text: string, dnsPort: number): ZoneKey[] | string {
  if (text.startsWith('(') && text.endsWith(')')) return `snippet ${text} is not supported (no import either)`;
  if (PLACEHOLDER.test(text)) return `placeholder ${PLACEHOLDER.exec(text)?.[0]} in server key ${JSON.stringify(text)} was not substituted`;
  let rest = text;
  const scheme = /^([a-z0-9+.-]+):\/\//i.exec(rest);
  if (scheme) {
    if (scheme[1].toLowerCase() !== 'dns') return `transport ${scheme[1]}:// in server key ${JSON.stringify(text)} is not supported (only dns://)`;
    rest = rest.slice(scheme[0].length);
  }
  let port = dnsPort;
  const portMatch = /:(\d+)$/.exec(rest);
  if (portMatch && (rest.includes('/') || !rest.slice(0, portMatch.index).includes(':'))) {
    port = Number(portMatch[1]);
    rest = rest.slice(0, portMatch.index);
  }
  if (rest.includes('/')) {
    const reverse = reverseZoneOfCidr(rest);
    return reverse.ok ? [{ zone: reverse.value, port }] : reverse.error;
  }
  const zone = normalizeZone(rest);
  if (!zone.ok) return zone.error;
  return [{ zone: zone.value, port }];
}

/** 10.0.0.0/8 → 10.in-addr.arpa.; only octet (IPv4) or nibble (IPv6) aligned prefixes. */
function reverseZoneOfCidr(cidr: string): Parsed<string> {
  const [address, bitsText = ''] = cidr.split('/');
  const bits = Number(bitsText);
  const family = isIP(address);
  if (family === 0 || !/^\d+$/.test(bitsText)) return { ok: false, error: `invalid reverse zone ${JSON.stringify(cidr)}` };
  if (family === 4) {
    if (bits % 8 !== 0 || bits > 32) return { ok: false, error: `reverse zone ${cidr}: only /0, /8, /16, /24 and /32 are supported` };
    const octets = address.split('.').slice(0, bits / 8).reverse();
    return { ok: true, value: [...octets, 'in-addr.arpa.'].join('.') };
  }
  if (bits % 4 !== 0 || bits > 128) return { ok: false, error: `reverse zone ${cidr}: only prefixes that are a multiple of 4 are supported` };
  const nibbles = expandIpv6(address).slice(0, bits / 4).split('').reverse();
  return { ok: true, value: [...nibbles, 'ip6.arpa.'].join('.') };
}

function expandIpv6(address: string): string {
  const [head, tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') && tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** Builds one block's RawConfig fragment; every directive handler records the lines it produced. */
export class BlockBuilder {
  readonly server: Json = {};
  readonly lines = new Map<string, number>();
  private readonly seen = new Map<string, number>();

  constructor(
    readonly zones: readonly string[],
    private readonly c: Collector,
    readonly top: TopLevel,
  ) {}

  issue(line: number, field: string, reason: string): void {
    this.c.issue(line, field, reason);
  }

  /** Records that `plugin` (or part of it) on `line` is accepted but not applied, and why. */
  ignore(plugin: string, line: number, reason: string): void {
    this.top.ignored.push({ plugin, at: `${this.c.file}:${line}`, reason });
  }

  /** Appends one entry to a list field (e.g. template[2]) and records its line. */
  push(field: string, value: unknown, line: number): void {
    const list = (this.server[field] ??= []) as unknown[];
    this.lines.set(`${field}[${list.length}]`, line);
    if (!this.lines.has(field)) this.lines.set(field, line);
    list.push(value);
  }

  /** A process-wide setting (pprof, trace): blocks must agree; returns false after reporting. */
  setGlobal(field: string, value: unknown, line: number): boolean {
    const previous = this.top.global.get(field);
    if (previous && JSON.stringify(previous.value) !== JSON.stringify(value)) {
      this.issue(line, field, `differs from the ${field} directive on line ${previous.line}; it is process-wide here, so all blocks must agree`);
      return false;
    }
    if (!previous) this.top.global.set(field, { value, line });
    return true;
  }

  set(path: string, value: unknown, line: number): void {
    const parts = path.split('.');
    let target = this.server;
    for (const part of parts.slice(0, -1)) {
      target[part] ??= {};
      target = target[part] as Json;
    }
    target[parts[parts.length - 1]] = value;
    this.lines.set(path, line);
  }

  /** CoreDNS allows most plugins once per block; returns false (and reports) on a repeat. */
  once(d: Directive, field = d.name): boolean {
    const previous = this.seen.get(field);
    if (previous !== undefined) {
      this.issue(d.line, field, `"${d.name}" may appear only once per server block (first on line ${previous})`);
      return false;
    }
    this.seen.set(field, d.line);
    return true;
  }

  apply(d: Directive): void {
    const placeholder = d.args.find((a) => PLACEHOLDER.test(a.text));
    if (placeholder) {
      const name = PLACEHOLDER.exec(placeholder.text)?.[0];
      this.issue(placeholder.line, d.name, `placeholder ${name} was not substituted (node-cache fills it from -localip, $<SVC>_SERVICE_HOST or the kube-dns ConfigMap)`);
      return;
    }
    const handler = DIRECTIVES[d.name] ?? PLUGIN_DIRECTIVES[d.name];
    if (!handler) {
      this.issue(d.line, d.name, `unsupported directive "${d.name}"; node-local-dns supports ${SUPPORTED_DIRECTIVES.join(', ')}`);
      return;
    }
    handler(d, this, this.top);
  }
}

type Handler = (d: Directive, b: BlockBuilder, top: TopLevel) => void;

const text = (tokens: readonly Token[]): string[] => tokens.map((t) => t.text);

function noArgs(d: Directive, b: BlockBuilder, field: string): boolean {
  if (d.args.length > 0) {
    b.issue(d.line, field, `takes no arguments, got ${JSON.stringify(text(d.args).join(' '))}`);
    return false;
  }
  return true;
}

function noBlock(d: Directive, b: BlockBuilder, field: string): boolean {
  if (d.block !== null) {
    b.issue(d.line, field, 'takes no { } block');
    return false;
  }
  return true;
}

function arity(d: Directive, b: BlockBuilder, field: string, min: number, max: number): boolean {
  const n = d.args.length;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    b.issue(d.line, field, `takes ${want} argument${max === 1 && min === 1 ? '' : 's'}, got ${n}`);
    return false;
  }
  return true;
}

function integer(token: Token, b: BlockBuilder, field: string): number | undefined {
  if (!/^-?\d+$/.test(token.text)) {
    b.issue(token.line, field, `must be an integer, got ${JSON.stringify(token.text)}`);
    return undefined;
  }
  return Number(token.text);
}

const DIRECTIVES: Record<string, Handler> = {
  errors: (d, b) => {
    // `errors { consolidate ... }` only shapes log output; accepted as written.
    if (b.once(d)) arity(d, b, 'errors', 0, 0);
  },
  loop: (d, b) => {
    if (b.once(d) && noArgs(d, b, 'loop') && noBlock(d, b, 'loop')) b.set('loop', true, d.line);
  },
  log: (d, b) => {
    // The query log always uses CoreDNS's common format; name filters and formats are not honoured.
    if (!b.once(d) || !noBlock(d, b, 'log')) return;
    b.set('log', true, d.line);
  },
  bind: (d, b) => {
    if (!noBlock(d, b, 'bind') || !arity(d, b, 'bind', 1, Infinity)) return;
    const previous = (b.server.bind as string[] | undefined) ?? [];
    b.set('bind', [...previous, ...text(d.args)], b.lines.get('bind') ?? d.line);
  },
  cache: parseCache,
  forward: parseForward,
  prometheus: (d, b, top) => {
    if (!b.once(d) || !noBlock(d, b, 'prometheus') || !arity(d, b, 'prometheus', 0, 1)) return;
    const listen = d.args[0]?.text ?? DEFAULT_PROMETHEUS_ADDRESS;
    if (top.metrics && top.metrics.listen !== listen) {
      b.issue(d.line, 'prometheus', `address ${listen} differs from ${top.metrics.listen} on line ${top.metrics.line}; metrics are served on one address for all blocks`);
      return;
    }
    top.metrics ??= { listen, line: d.line };
  },
  health: parseHealth,
  reload: (d, b, top) => {
    if (!b.once(d) || !noBlock(d, b, 'reload') || !arity(d, b, 'reload', 0, 2)) return;
    // JITTER (second argument) is accepted; reloads here are cheap and need no spreading.
    const interval = d.args[0]?.text ?? DEFAULT_RELOAD_INTERVAL;
    if (top.reload && top.reload.interval !== interval) {
      b.issue(d.line, 'reload', `interval ${interval} differs from ${top.reload.interval} on line ${top.reload.line}; reload is process-wide`);
      return;
    }
    top.reload ??= { interval, line: d.line };
  },
};

function parseHealth(d: Directive, b: BlockBuilder, top: TopLevel): void {
  if (!b.once(d) || !arity(d, b, 'health', 0, 1)) return;
  const listen = d.args[0]?.text ?? DEFAULT_HEALTH_ADDRESS;
  let lameduck: string | undefined;
  for (const sub of d.block ?? []) {
    if (sub.name !== 'lameduck') {
      b.issue(sub.line, `health.${sub.name}`, `unsupported health option "${sub.name}"; only lameduck is supported`);
      continue;
    }
    if (arity(sub, b, 'health.lameduck', 1, 1)) lameduck = sub.args[0].text;
  }
  if (top.health) {
    if (top.health.listen !== listen || top.health.lameduck !== lameduck) {
      b.issue(d.line, 'health', `differs from the health directive on line ${top.health.line}; health is served on one address for all blocks`);
    }
    return;
  }
  top.health = { listen, lameduck, line: d.line };
}

// cache [TTL] [ZONES...] { success CAP [TTL [MINTTL]]; denial ...; prefetch ...; serve_stale ...; servfail DUR }
function parseCache(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  b.set('cache', {}, d.line);
  const args = [...d.args];
  if (args.length > 0 && /^-?\d+$/.test(args[0].text)) {
    const ttl = Number(args.shift()!.text);
    if (ttl <= 0) {
      b.issue(d.line, 'cache', `TTL must be > 0, got ${ttl}`);
      return;
    }
    // Like CoreDNS, a TTL argument caps both stores.
    b.set('cache.success', { maxTTL: ttl }, d.line);
    b.set('cache.denial', { maxTTL: ttl }, d.line);
  }
  if (args.length > 0) checkCacheZones(args, d, b);
  for (const sub of d.block ?? []) {
    const handler = CACHE_OPTIONS[sub.name];
    if (!handler) b.issue(sub.line, `cache.${sub.name}`, `unsupported cache option "${sub.name}"; supported: ${Object.keys(CACHE_OPTIONS).join(', ')}`);
    else if (b.once(sub, `cache.${sub.name}`)) handler(sub, b);
  }
}

/** The cache covers the whole block here; ZONES are accepted only if they name the block's zones. */
function checkCacheZones(args: readonly Token[], d: Directive, b: BlockBuilder): void {
  const zones = new Set<string>();
  for (const a of args) {
    const z = normalizeZone(a.text);
    if (!z.ok) b.issue(a.line, 'cache', z.error);
    else zones.add(z.value);
  }
  const same = zones.size === b.zones.length && b.zones.every((z) => zones.has(z));
  if (!same) b.issue(d.line, 'cache', `ZONES ${text(args).join(' ')} must equal the server block's zones (${b.zones.join(' ')}); per-zone caching inside a block is not supported`);
}

function cacheStore(kind: 'success' | 'denial'): (d: Directive, b: BlockBuilder) => void {
  return (d, b) => {
    const field = `cache.${kind}`;
    if (!noBlock(d, b, field) || !arity(d, b, field, 1, 3)) return;
    const [capacity, ttl, minTtl] = d.args.map((a, i) => integer(a, b, `${field}.${['capacity', 'maxTTL', 'minTTL'][i]}`));
    if (d.args.some((_, i) => [capacity, ttl, minTtl][i] === undefined)) return;
    const store: Json = { ...((b.server.cache as Json)[kind] as Json | undefined), capacity };
    if (ttl !== undefined) store.maxTTL = ttl;
    if (minTtl !== undefined) store.minTTL = minTtl;
    b.set(field, store, d.line);
  };
}

const CACHE_OPTIONS: Record<string, (d: Directive, b: BlockBuilder) => void> = {
  success: cacheStore('success'),
  denial: cacheStore('denial'),
  // prefetch AMOUNT [DURATION] [PERCENTAGE%]
  prefetch: (d, b) => {
    if (!noBlock(d, b, 'cache.prefetch') || !arity(d, b, 'cache.prefetch', 1, 3)) return;
    const amount = integer(d.args[0], b, 'cache.prefetch.amount');
    if (amount === undefined) return;
    const prefetch: Json = { amount };
    for (const a of d.args.slice(1)) {
      if (a.text.endsWith('%')) {
        const pct = integer({ ...a, text: a.text.slice(0, -1) }, b, 'cache.prefetch.percentage');
        if (pct === undefined) return;
        prefetch.percentage = pct;
      } else if (prefetch.percentage === undefined && prefetch.duration === undefined) {
        prefetch.duration = a.text;
      } else {
        b.issue(a.line, 'cache.prefetch', `unexpected argument ${JSON.stringify(a.text)}; syntax: prefetch AMOUNT [DURATION] [PERCENTAGE%]`);
        return;
      }
    }
    b.set('cache.prefetch', prefetch, d.line);
  },
  // serve_stale [DURATION] [immediate|verify]
  serve_stale: (d, b) => {
    if (!noBlock(d, b, 'cache.serve_stale') || !arity(d, b, 'cache.serve_stale', 0, 2)) return;
    const stale: Json = {};
    if (d.args[0]) stale.duration = d.args[0].text;
    if (d.args[1]) stale.mode = d.args[1].text;
    b.set('cache.serveStale', stale, d.line);
  },
  servfail: (d, b) => {
    if (noBlock(d, b, 'cache.servfail') && arity(d, b, 'cache.servfail', 1, 1)) b.set('cache.servfail', d.args[0].text, d.line);
  },
};

// forward FROM TO... { force_tcp; prefer_udp; max_concurrent N; policy P; health_check DUR; max_fails N; expire DUR; except ZONES... }
function parseForward(d: Directive, b: BlockBuilder): void {
  if (!b.once(d) || !arity(d, b, 'forward', 2, Infinity)) return;
  const from = normalizeZone(d.args[0].text);
  if (!from.ok) {
    b.issue(d.line, 'forward', `FROM ${from.error}`);
    return;
  }
  if (!coversBlock(from.value, b.zones)) {
    b.issue(d.line, 'forward', `FROM ${JSON.stringify(d.args[0].text)} must be "." or cover the server block's zones (${b.zones.join(' ')}); forwarding part of a block is not supported`);
    return;
  }
  b.set('forward', { to: text(d.args.slice(1)) }, d.line);
  b.lines.set('forward.to', d.line);
  for (const sub of d.block ?? []) {
    const handler = FORWARD_OPTIONS[sub.name];
    if (!handler) b.issue(sub.line, `forward.${sub.name}`, `unsupported forward option "${sub.name}"; supported: ${Object.keys(FORWARD_OPTIONS).join(', ')}`);
    else if (b.once(sub, `forward.${sub.name}`)) handler(sub, b);
  }
}

function coversBlock(from: string, zones: readonly string[]): boolean {
  return from === '.' || zones.every((z) => z === from || z.endsWith(`.${from}`));
}

function flag(field: string): (d: Directive, b: BlockBuilder) => void {
  return (d, b) => {
    if (noArgs(d, b, `forward.${d.name}`) && noBlock(d, b, `forward.${d.name}`)) b.set(`forward.${field}`, true, d.line);
  };
}

function oneInt(field: string): (d: Directive, b: BlockBuilder) => void {
  return (d, b) => {
    if (!noBlock(d, b, `forward.${d.name}`) || !arity(d, b, `forward.${d.name}`, 1, 1)) return;
    const n = integer(d.args[0], b, `forward.${field}`);
    if (n !== undefined) b.set(`forward.${field}`, n, d.line);
  };
}

function oneString(field: string): (d: Directive, b: BlockBuilder) => void {
  return (d, b) => {
    if (noBlock(d, b, `forward.${d.name}`) && arity(d, b, `forward.${d.name}`, 1, 1)) b.set(`forward.${field}`, d.args[0].text, d.line);
  };
}

const FORWARD_OPTIONS: Record<string, (d: Directive, b: BlockBuilder) => void> = {
  force_tcp: flag('forceTCP'),
  prefer_udp: flag('preferUDP'),
  max_concurrent: oneInt('maxConcurrent'),
  max_fails: oneInt('maxFails'),
  policy: oneString('policy'),
  expire: oneString('expire'),
  // health_check DURATION [no_rec] [domain FQDN]: the probe is always ". IN NS" with RD set here.
  health_check: (d, b) => {
    if (!noBlock(d, b, 'forward.health_check') || !arity(d, b, 'forward.health_check', 1, 1)) return;
    b.set('forward.healthCheck', d.args[0].text, d.line);
  },
  except: (d, b) => {
    if (noBlock(d, b, 'forward.except') && arity(d, b, 'forward.except', 1, Infinity)) b.set('forward.except', text(d.args), d.line);
  },
};

// ---------------------------------------------------------------------------------------------
// Assembly: blocks → servers[] (one entry per distinct port of a block's keys) + top-level keys.

/** Parses Corefile text into the YAML-shaped RawConfig. Never throws; returns every error found. */
export function parseCorefile(source: string, file: string, opts: CorefileOptions = {}): CorefileParse {
  const issues: ConfigIssue[] = [];
  const c: Collector = { file, issue: (line, field, reason) => issues.push({ file, line, field, reason }) };
  const tokens = tokenize(source, c.issue);
  if (!tokens) return { ok: false, issues };
  let blocks: ServerBlock[];
  try {
    blocks = new Parser(tokens).parseFile();
  } catch (err) {
    if (!(err instanceof StructureError)) throw err; // a bug, not bad input
    return { ok: false, issues: [{ file, line: err.line, field: '', reason: err.reason }] };
  }
  if (blocks.length === 0) return { ok: false, issues: [{ file, line: 1, field: '', reason: 'no server blocks (expected e.g. ".:53 { forward . /etc/resolv.conf }")' }] };

  const top: TopLevel = { ignored: [], global: new Map() };
  const servers: Json[] = [];
  const lines = new Map<string, number>();
  for (const block of blocks) {
    const keys = parseServerKeys(block, opts.dnsPort ?? DEFAULT_DNS_PORT, c);
    const zones = [...new Set(keys.map((k) => k.zone))];
    const builder = new BlockBuilder(zones, c, top);
    for (const d of block.directives) builder.apply(d);
    const result: BlockResult = { server: builder.server, lines: builder.lines };
    for (const [port, portZones] of groupByPort(keys)) {
      const index = servers.length;
      servers.push(buildServer(portZones, port, result));
      lines.set(`servers[${index}]`, block.line);
      lines.set(`servers[${index}].zones`, block.line);
      lines.set(`servers[${index}].port`, block.line);
      for (const [path, line] of result.lines) lines.set(`servers[${index}].${path}`, line);
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  const raw: Json = { servers };
  if (top.metrics) {
    raw.metrics = { listen: top.metrics.listen };
    lines.set('metrics', top.metrics.line);
  }
  if (top.health) {
    raw.health = top.health.lameduck === undefined ? { listen: top.health.listen } : { listen: top.health.listen, lameduck: top.health.lameduck };
    lines.set('health', top.health.line);
  }
  if (top.reload) {
    raw.reload = { interval: top.reload.interval };
    lines.set('reload', top.reload.line);
  }
  for (const [field, { value, line }] of top.global) {
    raw[field] = value;
    lines.set(field, line);
  }
  if (top.ignored.length > 0) raw.ignored = top.ignored;
  return { ok: true, raw: raw as RawConfig, lineOfPath: lineLookup(lines) };
}

function groupByPort(keys: readonly ZoneKey[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const k of keys) {
    const zones = groups.get(k.port) ?? [];
    if (!zones.includes(k.zone)) zones.push(k.zone);
    groups.set(k.port, zones);
  }
  return groups;
}

function buildServer(zones: string[], port: number, result: BlockResult): Json {
  const server: Json = { zones: [...zones], port, ...structuredClone(result.server) };
  server.bind ??= [WILDCARD_BIND];
  // Keep the YAML in a readable order: zones, bind, port, then the rest.
  const { zones: z, bind, port: p, ...rest } = server;
  return { zones: z, bind, port: p, ...rest };
}

/** Maps a schema path to the line of the longest recorded prefix (a missing field → its parent). */
function lineLookup(lines: ReadonlyMap<string, number>): LineOf {
  return (path) => {
    for (let depth = path.length; depth > 0; depth--) {
      const line = lines.get(formatPath(path.slice(0, depth)));
      if (line !== undefined) return line;
    }
    return 1;
  };
}

/** Parses and validates a Corefile into a Config; schema errors point at the directive's line. */
export function loadCorefile(source: string, file: string, opts: CorefileOptions = {}): ConfigResult {
  const parsed = parseCorefile(source, file, opts);
  if (!parsed.ok) return parsed;
  return validateRawConfig(parsed.raw, file, parsed.lineOfPath);
}

// ---------------------------------------------------------------------------------------------
// YAML output for `node-local-dns convert-corefile`.

const TOP_LEVEL_COMMENTS: Record<string, string> = {
  servers: ' One entry per Corefile server block (and per port, if a block listed several).',
  health: ' From the Corefile `health` directive: GET /health answers 200 OK; lameduck delays shutdown.',
  metrics: ' From the Corefile `prometheus` directive: coredns_* metrics on /metrics.',
  reload: ' From the Corefile `reload` directive: how often the config sources are re-checked.',
  node: ' node-cache node setup: dummy interface and NOTRACK/ACCEPT iptables rules for these IPs.',
};

/** Renders a RawConfig as commented YAML that `--config` accepts and validates to the same Config. */
export function rawConfigToYaml(raw: RawConfig, opts: { source?: string } = {}): string {
  const doc = new Document(raw);
  const header = [
    ' node-local-dns configuration',
    opts.source ? ` Converted from the Corefile ${opts.source}.` : ' Converted from a Corefile.',
    ' Unset fields take the schema defaults (src/config/schema.ts); validate with `node-local-dns check-config FILE`.',
  ];
  doc.commentBefore = header.join('\n');
  // Lists of plain values read best on one line: zones: [cluster.local.], bind: [169.254.20.10].
  visit(doc, {
    Seq(_, seq) {
      if (seq.items.every((item) => isScalar(item))) seq.flow = true;
    },
  });
  if (isMap(doc.contents)) {
    doc.contents.items.forEach((pair: Pair, index: number) => {
      const key = pair.key as Scalar | null;
      const comment = key && isScalar(key) ? TOP_LEVEL_COMMENTS[String(key.value)] : undefined;
      if (comment && key) key.commentBefore = comment;
      if (index > 0 && key && isScalar(key)) key.spaceBefore = true;
    });
    const servers = doc.contents.get('servers', true);
    if (isSeq(servers)) {
      servers.items.forEach((item, index) => {
        if (isMap(item) && index > 0) item.spaceBefore = true;
      });
    }
  }
  return doc.toString({ lineWidth: 0 });
}
