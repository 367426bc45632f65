// Command-line options of `node-local-dns load` (a better `testdns`).
//
// parseLoadArgs() turns the argv that follows the `load` word into validated
// LoadOptions. It never throws and never exits: problems come back as
// `{ ok: false, error }` with a message that names the offending flag, so the
// caller can print it and exit with status 2.
//
// Flags may be written Go-style (`-host`, `-c 200`) or GNU-style (`--host`,
// `--concurrency=200`); `-x=v` and `--x=v` work everywhere. Because this is a
// load generator, --server is refused outside loopback (127.0.0.0/8, ::1) and
// link-local addresses (169.254.0.0/16, fe80::/10: node-local, where
// node-local-dns listens) unless --allow-remote is given. Tokenizing is
// node:util parseArgs (tools/args.ts); durations, addresses, names and types
// use the config, dns/names and dns/qtypes parsers.

import { readFileSync } from 'node:fs';
import { parseDuration } from '../../config/values.js';
import { encodeName } from '../../dns/names.js';
import { parseType } from '../../dns/qtypes.js';
import { ArgError, isLinkLocal, isLoopback, parseServer, readFlags, type FlagSpec, type Flags, type ServerAddress } from '../args.js';

/** A DNS query type, by mnemonic and numeric code. */
export interface QueryType {
  name: string;
  code: number;
}

export type { ServerAddress };

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

const LIMITS = {
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
                         Only loopback (127.0.0.0/8, ::1) and link-local addresses
                         (169.254.0.0/16, e.g. 169.254.20.10; fe80::/10) unless
                         --allow-remote is given.
  --system               resolve with getaddrinfo (dns.lookup): /etc/resolv.conf,
                         search domains and ndots apply, like an application.
                         A failure is asked again over UDP to see whether a
                         truncated reply caused it (counted as truncated).
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
  --allow-remote         permit a --server outside loopback and link-local (this is a load generator)
`;


const FLAGS: Readonly<Record<string, FlagSpec>> = {
  host: { type: 'string', multiple: true },
  'hosts-file': { type: 'string' },
  concurrency: { type: 'string', short: 'c', aliases: ['c'] },
  duration: { type: 'string', short: 'd', aliases: ['d'] },
  'limit-ms': { type: 'string', short: 'l', aliases: ['l'] },
  'max-count': { type: 'string' },
  server: { type: 'string' },
  type: { type: 'string' },
  'timeout-ms': { type: 'string' },
  html: { type: 'string' },
  tcp: { type: 'boolean' },
  edns: { type: 'boolean' },
  system: { type: 'boolean' },
  json: { type: 'boolean' },
  'allow-remote': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q', aliases: ['q'] },
  help: { type: 'boolean', short: 'h', aliases: ['h'] },
};

/** Parse `load` subcommand arguments. Reads --hosts-file with `readFile`. */
export function parseLoadArgs(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ParseResult {
  try {
    const flags = readFlags(argv, FLAGS, { positionalHint: (w) => `flags start with - or -- (to look up a name use --host ${w})` });
    if (flags.bools.get('help')) return { ok: true, help: true };
    return { ok: true, help: false, options: validate(flags, readFile) };
  } catch (err) {
    if (err instanceof ArgError) return { ok: false, error: err.message };
    throw err;
  }
}

function validate(flags: Flags, readFile: (path: string) => string): LoadOptions {
  const flag = (key: string): string => flags.spelled(key);
  const bool = (key: string): boolean => flags.bools.get(key) ?? false;
  const value = (key: string): string | undefined => flags.strings.get(key);

  const hosts = collectHosts(flags.lists.get('host') ?? [], value('hosts-file'), flag, readFile);
  const concurrency = parseCount(flag('concurrency'), value('concurrency'), DEFAULTS.concurrency, LIMITS.maxConcurrency);
  const durationMs = parseDurationFlag(flag('duration'), value('duration'));
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
    throw new ArgError(`give either --server or --system, not both`);
  }
  if (!system && serverRaw === undefined) {
    throw new ArgError(
      'no target: give --server IP[:PORT] to send raw DNS queries to a server (e.g. --server 127.0.0.1:53), ' +
        'or --system to resolve through getaddrinfo and /etc/resolv.conf like an application',
    );
  }
  let server: ServerAddress | undefined;
  if (system) {
    checkSystemCompatible(types, tcp, edns, flag);
  } else {
    server = parseServer(flag('server'), serverRaw as string);
    if (!allowRemote && !isLoopback(server) && !isLinkLocal(server)) {
      throw new ArgError(
        `refusing ${flag('server')} ${server.address}: it is neither a loopback address (127.0.0.0/8, ::1) nor ` +
          'link-local on this node (169.254.0.0/16, fe80::/10, where node-local-dns listens). ' +
          'This is a load generator; pointing it at a shared resolver can hurt other users. ' +
          'Pass --allow-remote if you really mean to load that server.',
      );
    }
  }

  const html = value('html');
  if (html !== undefined && html.trim() === '') throw new ArgError(`${flag('html')} needs a file name`);

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
      throw new ArgError(`${flag('hosts-file')}: cannot read '${hostsFile}': ${(err as Error).message}`);
    }
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n].replace(/#.*/, '').trim();
      if (line === '') continue;
      if (hosts.length >= LIMITS.maxHosts) {
        throw new ArgError(`${flag('hosts-file')}: more than ${LIMITS.maxHosts} names`);
      }
      hosts.push(checkHostName(`${flag('hosts-file')} ${hostsFile}:${n + 1}`, line));
    }
  }
  if (hosts.length === 0) {
    throw new ArgError(
      hostsFile === undefined
        ? 'no names to look up: give --host NAME (repeatable) or --hosts-file FILE'
        : `${flag('hosts-file')}: '${hostsFile}' contains no names`,
    );
  }
  return hosts;
}

/** Validate a name as something that fits in a DNS question. */
function checkHostName(where: string, name: string): string {
  const encoded = encodeName(name);
  if (!encoded.ok || name === '.') throw new ArgError(`${where}: ${encoded.ok ? 'empty name' : encoded.error}`);
  return name;
}

function parseCount(flag: string, raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw.trim())) throw new ArgError(`${flag} must be a whole number, got '${raw}'`);
  const n = Number(raw.trim());
  if (n < 1) throw new ArgError(`${flag} must be at least 1, got ${raw}`);
  if (n > max) throw new ArgError(`${flag} must be at most ${max}, got ${raw}`);
  return n;
}

function parseMs(flag: string, raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  const m = /^(\d+(?:\.\d+)?)(?:ms)?$/.exec(raw.trim());
  if (!m) throw new ArgError(`${flag} must be a number of milliseconds, got '${raw}'`);
  const n = Number(m[1]);
  if (!(n > 0)) throw new ArgError(`${flag} must be greater than 0, got ${raw}`);
  if (n > max) throw new ArgError(`${flag} must be at most ${max}, got ${raw}`);
  return n;
}

/** Durations as the config files write them (config/values.ts): a bare number is seconds (testdns `-d 30`), or 500ms, 30s, 2m, 1h. */
function parseDurationFlag(flag: string, raw: string | undefined): number {
  if (raw === undefined) return DEFAULTS.durationMs;
  const parsed = parseDuration(raw.trim().toLowerCase());
  if (!parsed.ok) throw new ArgError(`${flag} must be a duration like 30, 30s, 500ms or 2m, got '${raw}'`);
  if (parsed.value < 1) throw new ArgError(`${flag} must be greater than 0, got '${raw}'`);
  if (parsed.value > LIMITS.maxDurationMs) throw new ArgError(`${flag} must be at most 3600s, got '${raw}'`);
  return parsed.value;
}

function parseTypes(flag: string, raw: string | undefined): QueryType[] {
  if (raw === undefined) return [{ name: 'A', code: 1 }];
  const parts = raw.split(',').map((p) => p.trim().toUpperCase());
  const types: QueryType[] = [];
  for (const p of parts) {
    const code = parseType(p);
    if (code === undefined || code < 1) throw new ArgError(`${flag}: unknown query type '${p}' (e.g. A, AAAA, MX, TXT, SRV or TYPE65)`);
    if (types.some((t) => t.code === code)) throw new ArgError(`${flag}: '${p}' listed twice`);
    types.push({ name: p, code });
  }
  if (types.length > LIMITS.maxTypesPerLookup) throw new ArgError(`${flag}: at most ${LIMITS.maxTypesPerLookup} types per lookup`);
  return types;
}

function checkSystemCompatible(types: QueryType[], tcp: boolean, edns: boolean, flag: (k: string) => string): void {
  if (tcp) throw new ArgError(`${flag('tcp')} only applies to --server (getaddrinfo picks its own transport)`);
  if (edns) throw new ArgError(`${flag('edns')} only applies to --server`);
  const names = types.map((t) => t.name).sort().join(',');
  if (names !== 'A' && names !== 'AAAA' && names !== 'A,AAAA') {
    throw new ArgError(`${flag('type')} with --system must be A, AAAA or A,AAAA (getaddrinfo looks up addresses only)`);
  }
}
