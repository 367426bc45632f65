// Command-line options of `node-local-dns load` (a better `testdns`).
//
// parseLoadArgs() turns the argv that follows the `load` word into validated
// LoadOptions. It never throws and never exits: problems come back as
// `{ ok: false, error }` with a message that names the offending flag, so the
// caller can print it and exit with status 2.
//
// Flags may be written Go-style (`-host`, `-c 200`) or GNU-style (`--host`,
// `--concurrency=200`); `-x=v` and `--x=v` work everywhere. Because this is a
// load generator, --server is refused outside 127.0.0.0/8 and ::1 unless
// --allow-remote is given.

import { readFileSync } from 'node:fs';
import { isIP, isIPv4 } from 'node:net';

/** A DNS query type, by mnemonic and numeric code. */
export interface QueryType {
  name: string;
  code: number;
}

export interface ServerAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface LoadOptions {
  /** Names to look up, in order; workers cycle through them. */
  hosts: string[];
  concurrency: number;
  durationMs: number;
  /** Lookups slower than this are counted as "over limit". */
  limitMs: number;
  /** Optional cap on the total number of lookups. */
  maxCount?: number;
  mode: 'server' | 'system';
  /** Set when mode is 'server'. */
  server?: ServerAddress;
  tcp: boolean;
  /** Add an EDNS(0) OPT record (UDP payload size 1232) to raw queries. */
  edns: boolean;
  /**
   * Query types sent per lookup. With several (e.g. A,AAAA) one lookup sends
   * all of them back to back from the same socket and completes when every
   * answer is in, the way glibc's getaddrinfo asks for A and AAAA.
   */
  types: QueryType[];
  timeoutMs: number;
  json: boolean;
  html?: string;
  allowRemote: boolean;
  quiet: boolean;
}

export type ParseResult =
  | { ok: true; help: false; options: LoadOptions }
  | { ok: true; help: true }
  | { ok: false; error: string };

export const LIMITS = {
  maxConcurrency: 10_000,
  maxDurationMs: 3_600_000,
  maxCount: 1_000_000_000,
  maxTimeoutMs: 60_000,
  maxLimitMs: 3_600_000,
  maxHosts: 1_000_000,
  maxTypesPerLookup: 4,
} as const;

const DEFAULTS = {
  concurrency: 10,
  durationMs: 10_000,
  limitMs: 5000,
  timeoutMs: 5000,
} as const;

export const LOAD_USAGE = `Usage: node-local-dns load (--server IP[:PORT] | --system) (--host NAME... | --hosts-file FILE) [options]

Generates DNS lookups from C concurrent workers for a fixed time and reports
latency percentiles, errors by kind and lookups per second.

Target (exactly one):
  --server IP[:PORT]     send raw DNS queries to this server (UDP; IPv6 as [::1]:53).
                         Only 127.0.0.0/8 and ::1 unless --allow-remote is given.
  --system               resolve with getaddrinfo (dns.lookup): /etc/resolv.conf,
                         search domains and ndots apply, like an application.
Names:
  --host NAME            name to look up (repeatable)
  --hosts-file FILE      one name per line, # starts a comment
Load:
  -c, --concurrency N    concurrent workers (default ${DEFAULTS.concurrency}, max ${LIMITS.maxConcurrency})
  -d, --duration D       run time: 30, 30s, 500ms, 2m (default 10s, max 3600s)
  -l, --limit-ms MS      count lookups slower than MS (default ${DEFAULTS.limitMs})
  --max-count N          stop after N lookups
  --timeout-ms MS        per-lookup timeout (default ${DEFAULTS.timeoutMs})
Queries (--server):
  --type T[,T...]        A, AAAA, MX, ... (default A). A,AAAA sends both per lookup
                         from one socket, like glibc.
  --tcp                  use TCP, one persistent connection per worker
  --edns                 add an EDNS(0) OPT record (payload size 1232)
Output:
  --json                 print the report as JSON
  --html FILE            also write a self-contained HTML report with charts
  --quiet                no live progress line
  --allow-remote         permit a --server outside loopback (this is a load generator)
`;

const TYPE_CODES: Record<string, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33,
  NAPTR: 35, DS: 43, DNSKEY: 48, SVCB: 64, HTTPS: 65, ANY: 255, CAA: 257,
};

type FlagKind = 'value' | 'bool';
interface FlagSpec {
  key: string;
  kind: FlagKind;
  repeatable?: boolean;
}

const FLAGS: Record<string, FlagSpec> = {};
function defineFlag(names: string[], spec: FlagSpec): void {
  for (const n of names) FLAGS[n] = spec;
}
defineFlag(['host'], { key: 'host', kind: 'value', repeatable: true });
defineFlag(['hosts-file'], { key: 'hosts-file', kind: 'value' });
defineFlag(['c', 'concurrency'], { key: 'concurrency', kind: 'value' });
defineFlag(['d', 'duration'], { key: 'duration', kind: 'value' });
defineFlag(['l', 'limit-ms'], { key: 'limit-ms', kind: 'value' });
defineFlag(['max-count'], { key: 'max-count', kind: 'value' });
defineFlag(['server'], { key: 'server', kind: 'value' });
defineFlag(['type'], { key: 'type', kind: 'value' });
defineFlag(['timeout-ms'], { key: 'timeout-ms', kind: 'value' });
defineFlag(['html'], { key: 'html', kind: 'value' });
defineFlag(['tcp'], { key: 'tcp', kind: 'bool' });
defineFlag(['edns'], { key: 'edns', kind: 'bool' });
defineFlag(['system'], { key: 'system', kind: 'bool' });
defineFlag(['json'], { key: 'json', kind: 'bool' });
defineFlag(['allow-remote'], { key: 'allow-remote', kind: 'bool' });
defineFlag(['quiet', 'q'], { key: 'quiet', kind: 'bool' });
defineFlag(['help', 'h'], { key: 'help', kind: 'bool' });

/** Raw flag values as written, keyed by canonical flag name. */
interface RawFlags {
  values: Map<string, string>;
  hosts: string[];
  bools: Map<string, boolean>;
  /** How each flag was spelled, for error messages. */
  spelled: Map<string, string>;
}

class OptionError extends Error {}

/** Parse `load` subcommand arguments. Reads --hosts-file with `readFile`. */
export function parseLoadArgs(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ParseResult {
  try {
    const raw = tokenize(argv);
    if (raw.bools.get('help')) return { ok: true, help: true };
    return { ok: true, help: false, options: validate(raw, readFile) };
  } catch (err) {
    if (err instanceof OptionError) return { ok: false, error: err.message };
    throw err;
  }
}

function tokenize(argv: readonly string[]): RawFlags {
  const raw: RawFlags = { values: new Map(), hosts: [], bools: new Map(), spelled: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    const m = /^(--?)([A-Za-z][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(token);
    if (!m) {
      throw new OptionError(
        `unexpected argument '${token}': flags start with - or -- (to look up a name use --host ${token})`,
      );
    }
    const [, dashes, name, inline] = m;
    const spec = FLAGS[name.toLowerCase()];
    const spelled = dashes + name;
    if (!spec) throw new OptionError(`unknown flag '${spelled}' (see --help)`);
    if (spec.kind === 'bool') {
      raw.bools.set(spec.key, parseBool(spelled, inline));
    } else {
      let value = inline;
      if (value === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) {
          throw new OptionError(`${spelled} needs a value`);
        }
        value = next;
        i++;
      }
      if (spec.repeatable) raw.hosts.push(value);
      else if (raw.values.has(spec.key)) throw new OptionError(`${spelled} given more than once`);
      else raw.values.set(spec.key, value);
    }
    raw.spelled.set(spec.key, spelled);
  }
  return raw;
}

function parseBool(flag: string, inline: string | undefined): boolean {
  if (inline === undefined) return true;
  const v = inline.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new OptionError(`${flag} takes no value (or =true/=false), got '${inline}'`);
}

function validate(raw: RawFlags, readFile: (path: string) => string): LoadOptions {
  const flag = (key: string): string => raw.spelled.get(key) ?? `--${key}`;
  const bool = (key: string): boolean => raw.bools.get(key) ?? false;
  const value = (key: string): string | undefined => raw.values.get(key);

  const hosts = collectHosts(raw.hosts, value('hosts-file'), flag, readFile);
  const concurrency = parseCount(flag('concurrency'), value('concurrency'), DEFAULTS.concurrency, LIMITS.maxConcurrency);
  const durationMs = parseDuration(flag('duration'), value('duration'));
  const limitMs = parseMs(flag('limit-ms'), value('limit-ms'), DEFAULTS.limitMs, LIMITS.maxLimitMs);
  const timeoutMs = parseMs(flag('timeout-ms'), value('timeout-ms'), DEFAULTS.timeoutMs, LIMITS.maxTimeoutMs);
  const maxCountRaw = value('max-count');
  const maxCount =
    maxCountRaw === undefined ? undefined : parseCount(flag('max-count'), maxCountRaw, 0, LIMITS.maxCount);
  const types = parseTypes(flag('type'), value('type'));

  const system = bool('system');
  const serverRaw = value('server');
  const allowRemote = bool('allow-remote');
  const tcp = bool('tcp');
  const edns = bool('edns');
  if (system && serverRaw !== undefined) {
    throw new OptionError(`give either --server or --system, not both`);
  }
  if (!system && serverRaw === undefined) {
    throw new OptionError(
      'no target: give --server IP[:PORT] to send raw DNS queries to a server (e.g. --server 127.0.0.1:53), ' +
        'or --system to resolve through getaddrinfo and /etc/resolv.conf like an application',
    );
  }
  let server: ServerAddress | undefined;
  if (system) {
    checkSystemCompatible(types, tcp, edns, flag);
  } else {
    server = parseServer(flag('server'), serverRaw as string);
    if (!allowRemote && !isLoopback(server)) {
      throw new OptionError(
        `refusing ${flag('server')} ${server.address}: it is not a loopback address (127.0.0.0/8 or ::1). ` +
          'This is a load generator; pointing it at a shared resolver can hurt other users. ' +
          'Pass --allow-remote if you really mean to load that server.',
      );
    }
  }

  const html = value('html');
  if (html !== undefined && html.trim() === '') throw new OptionError(`${flag('html')} needs a file name`);

  return {
    hosts,
    concurrency,
    durationMs,
    limitMs,
    maxCount,
    mode: system ? 'system' : 'server',
    server,
    tcp,
    edns,
    types,
    timeoutMs,
    json: bool('json'),
    html,
    allowRemote,
    quiet: bool('quiet'),
  };
}

function collectHosts(
  fromFlags: string[],
  hostsFile: string | undefined,
  flag: (key: string) => string,
  readFile: (path: string) => string,
): string[] {
  const hosts: string[] = [];
  for (const h of fromFlags) hosts.push(checkHostName(flag('host'), h.trim()));
  if (hostsFile !== undefined) {
    let text: string;
    try {
      text = readFile(hostsFile);
    } catch (err) {
      throw new OptionError(`${flag('hosts-file')}: cannot read '${hostsFile}': ${(err as Error).message}`);
    }
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n].replace(/#.*/, '').trim();
      if (line === '') continue;
      if (hosts.length >= LIMITS.maxHosts) {
        throw new OptionError(`${flag('hosts-file')}: more than ${LIMITS.maxHosts} names`);
      }
      hosts.push(checkHostName(`${flag('hosts-file')} ${hostsFile}:${n + 1}`, line));
    }
  }
  if (hosts.length === 0) {
    throw new OptionError(
      hostsFile === undefined
        ? 'no names to look up: give --host NAME (repeatable) or --hosts-file FILE'
        : `${flag('hosts-file')}: '${hostsFile}' contains no names`,
    );
  }
  return hosts;
}

/** Validate a name as something that fits in a DNS question. */
function checkHostName(where: string, name: string): string {
  if (name === '' || name === '.') throw new OptionError(`${where}: empty name`);
  if (/\s/.test(name)) throw new OptionError(`${where}: '${name}' contains whitespace`);
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(name)) throw new OptionError(`${where}: '${name}' must be ASCII (use punycode)`);
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = bare.split('.');
  if (labels.some((l) => l.length === 0)) throw new OptionError(`${where}: '${name}' has an empty label`);
  if (labels.some((l) => l.length > 63)) throw new OptionError(`${where}: '${name}' has a label over 63 bytes`);
  // Wire length: one length byte per label + label bytes + root byte.
  const wireLength = labels.reduce((sum, l) => sum + 1 + l.length, 1);
  if (wireLength > 255) throw new OptionError(`${where}: '${name}' is longer than 255 bytes`);
  return name;
}

function parseCount(flag: string, raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw.trim())) throw new OptionError(`${flag} must be a whole number, got '${raw}'`);
  const n = Number(raw.trim());
  if (n < 1) throw new OptionError(`${flag} must be at least 1, got ${raw}`);
  if (n > max) throw new OptionError(`${flag} must be at most ${max}, got ${raw}`);
  return n;
}

function parseMs(flag: string, raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  const m = /^(\d+(?:\.\d+)?)(?:ms)?$/.exec(raw.trim());
  if (!m) throw new OptionError(`${flag} must be a number of milliseconds, got '${raw}'`);
  const n = Number(m[1]);
  if (!(n > 0)) throw new OptionError(`${flag} must be greater than 0, got ${raw}`);
  if (n > max) throw new OptionError(`${flag} must be at most ${max}, got ${raw}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000 };

/** Durations: a bare number is seconds (testdns `-d 30`); ms, s, m, h suffixes. */
function parseDuration(flag: string, raw: string | undefined): number {
  if (raw === undefined) return DEFAULTS.durationMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim().toLowerCase());
  if (!m) throw new OptionError(`${flag} must be a duration like 30, 30s, 500ms or 2m, got '${raw}'`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? '']);
  if (ms < 1) throw new OptionError(`${flag} must be greater than 0, got '${raw}'`);
  if (ms > LIMITS.maxDurationMs) throw new OptionError(`${flag} must be at most 3600s, got '${raw}'`);
  return ms;
}

function parseTypes(flag: string, raw: string | undefined): QueryType[] {
  if (raw === undefined) return [{ name: 'A', code: 1 }];
  const parts = raw.split(',').map((p) => p.trim().toUpperCase());
  const types: QueryType[] = [];
  for (const p of parts) {
    const code = TYPE_CODES[p] ?? (/^TYPE\d{1,5}$/.test(p) ? Number(p.slice(4)) : undefined);
    if (code === undefined || code < 1 || code > 65535) {
      throw new OptionError(`${flag}: unknown query type '${p}' (e.g. A, AAAA, MX, TXT, SRV or TYPE65)`);
    }
    if (types.some((t) => t.code === code)) throw new OptionError(`${flag}: '${p}' listed twice`);
    types.push({ name: p, code });
  }
  if (types.length > LIMITS.maxTypesPerLookup) {
    throw new OptionError(`${flag}: at most ${LIMITS.maxTypesPerLookup} types per lookup`);
  }
  return types;
}

function checkSystemCompatible(types: QueryType[], tcp: boolean, edns: boolean, flag: (k: string) => string): void {
  if (tcp) throw new OptionError(`${flag('tcp')} only applies to --server (getaddrinfo picks its own transport)`);
  if (edns) throw new OptionError(`${flag('edns')} only applies to --server`);
  const names = types.map((t) => t.name).sort().join(',');
  if (names !== 'A' && names !== 'AAAA' && names !== 'A,AAAA') {
    throw new OptionError(`${flag('type')} with --system must be A, AAAA or A,AAAA (getaddrinfo looks up addresses only)`);
  }
}

/** Parse `IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address. */
function parseServer(flag: string, raw: string): ServerAddress {
  const text = raw.trim();
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else if (isIPv4(text.split(':')[0]) && text.includes(':')) {
    const idx = text.lastIndexOf(':');
    host = text.slice(0, idx);
    portText = text.slice(idx + 1);
  }
  const family = isIP(host);
  if (family === 0) {
    throw new OptionError(
      `${flag} must be an IP address with an optional port (127.0.0.1:53, [::1]:53), got '${raw}'; ` +
        'server names are not resolved',
    );
  }
  let port = 53;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new OptionError(`${flag}: port must be 1-65535, got '${portText}'`);
    }
    port = Number(portText);
  }
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host) : null;
  if (mapped) return { address: mapped[1], port, family: 4 };
  return { address: family === 6 ? canonicalIPv6(host) : host, port, family: family as 4 | 6 };
}

function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(server: ServerAddress): boolean {
  if (server.family === 4) return server.address.split('.')[0] === '127';
  return server.address === '::1';
}
