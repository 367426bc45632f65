// Command-line reading shared by the tools. node:util parseArgs tokenizes (--flag v, --flag=v,
// -f v, -f=v, --flag=false); on top of it: testdns/Go-style long flags with one dash (-host,
// -json=true), aliases, "given twice" and "needs a value" checks, and messages that name a flag
// the way the user spelled it. Server addresses go through the config parser (config/values.ts).
import { parseArgs } from 'node:util';
import { isIP, isIPv4 } from 'node:net';
import { parseHostPort } from '../config/values.js';

export class ArgError extends Error {}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string; // one letter: -c
  readonly aliases?: readonly string[]; // other long names, e.g. a one-letter long form (--c=9)
  readonly multiple?: boolean; // string flags only: repeatable, values kept in order
}

export interface Flags {
  readonly strings: Map<string, string>;
  readonly lists: Map<string, string[]>;
  readonly bools: Map<string, boolean>;
  readonly positionals: string[];
  /** How the user wrote a flag ("-c", "--concurrency", "-host"), for messages. */
  spelled(name: string): string;
}

/**
 * Reads argv against `specs` (keyed by long name). Words that do not start with '-' are
 * positionals when `positionals` is true, else an error (`positionalHint` says what to write).
 */
export function readFlags(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>, opts: { positionals?: boolean; positionalHint?: (word: string) => string } = {}): Flags {
  const byName = new Map<string, string>(); // every accepted spelling (without dashes) → long name
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, name);
    if (spec.short) byName.set(spec.short, name);
    for (const alias of spec.aliases ?? []) byName.set(alias, name);
  }
  // One-dash long flags (-host, -json=true) become two-dash before parseArgs would split them into letters.
  const args = argv.map((a) => {
    const m = /^-([A-Za-z][A-Za-z0-9-]*)(=[\s\S]*)?$/.exec(a);
    return m && (m[1].length > 1 || m[2] !== undefined) ? `-${a}` : a;
  });
  const options = Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, { type: s.type, ...(s.short ? { short: s.short } : {}), multiple: s.multiple ?? false }]));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const flags = { strings: new Map<string, string>(), lists: new Map<string, string[]>(), bools: new Map<string, boolean>(), positionals: [] as string[] };
  const spelling = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue; // what follows is positional
    if (token.kind === 'positional') {
      if (!opts.positionals) throw new ArgError(`unexpected argument '${token.value}'${opts.positionalHint ? `: ${opts.positionalHint(token.value)}` : ''}`);
      flags.positionals.push(token.value);
      continue;
    }
    const written = argv[token.index].replace(/=[\s\S]*$/, '');
    const name = byName.get(token.name) ?? byName.get(token.name.toLowerCase());
    if (!name) throw new ArgError(`unknown flag '${written}' (see --help)`);
    const spec = specs[name];
    spelling.set(name, written);
    if (spec.type === 'boolean') {
      flags.bools.set(name, parseBool(written, token.inlineValue ? token.value : undefined));
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('-') && !/^-\d/.test(value))) throw new ArgError(`${written} needs a value`);
    if (spec.multiple) flags.lists.set(name, [...(flags.lists.get(name) ?? []), value]);
    else if (flags.strings.has(name)) throw new ArgError(`${written} given more than once`);
    else flags.strings.set(name, value);
  }
  return { ...flags, spelled: (name) => spelling.get(name) ?? `--${name}` };
}

function parseBool(flag: string, inline: string | undefined): boolean {
  if (inline === undefined) return true;
  const v = inline.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ArgError(`${flag} takes no value (or =true/=false), got '${inline}'`);
}

export interface ServerAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** `IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address; IPv4-mapped IPv6 becomes IPv4. */
export function parseServer(flag: string, raw: string, defaultPort = 53): ServerAddress {
  const parsed = parseHostPort(raw, defaultPort);
  if (!parsed.ok) {
    if (/^port /.test(parsed.error)) throw new ArgError(`${flag}: port must be 1-65535, got '${raw}'`);
    throw new ArgError(`${flag} must be an IP address with an optional port (127.0.0.1:53, [::1]:53), got '${raw}'; server names are not resolved`);
  }
  const { host, port } = parsed.value;
  if (host === '' || isIP(host) === 0) throw new ArgError(`${flag} must be an IP address with an optional port (127.0.0.1:53, [::1]:53), got '${raw}'`);
  if (port < 1) throw new ArgError(`${flag}: port must be 1-65535, got '${raw}'`);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return { address: mapped[1], port, family: 4 };
  if (isIPv4(host)) return { address: host, port, family: 4 };
  return { address: new URL(`http://[${host}]/`).hostname.slice(1, -1), port, family: 6 };
}

export const formatServer = (s: ServerAddress): string => (s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);

/** 127.0.0.0/8 and ::1. */
export function isLoopback(s: ServerAddress): boolean {
  return s.family === 4 ? s.address.split('.')[0] === '127' : s.address === '::1';
}

/**
 * 169.254.0.0/16 and fe80::/10 (RFC 3927, RFC 4291): link-local, so never routed off the node.
 * NodeLocal DNSCache listens on 169.254.20.10: loading it loads this node only.
 */
export function isLinkLocal(s: ServerAddress): boolean {
  if (s.family === 4) return s.address.startsWith('169.254.');
  return /^fe[89ab][0-9a-f]:/i.test(s.address);
}
