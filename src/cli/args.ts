// Command-line parsing compatible with node-cache (Go `flag` rules: `-x` or `--x`, `-x v` or
// `-x=v`, booleans as `-x` or `-x=false`, `--` ends flags) including the CoreDNS flags node-cache
// reads (-conf, -dns.port/-p, -pidfile, -quiet, -version, -plugins), plus ours (--config,
// --log-level). Validation matches node-cache where it is fatal there (-localip entries must be IPs
// (IPv4 and IPv6 may be mixed, unlike node-cache), a trailing comma is fatal; ports numeric). Also splits off the subcommand.
// Pure: no file system access (the /etc/kube-dns default is resolved by config/sources.ts, as
// node-cache does at sync start), no logging, never exits the process.
import { isIP } from 'node:net';
import {
  DEFAULT_BASE_COREFILE,
  DEFAULT_UPSTREAM_SERVICE,
  DEFAULT_INTERFACE_NAME,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_HEALTH_PORT,
  DEFAULT_SETUP_METRICS_LISTEN,
  DEFAULT_DNS_PORT,
  LOG_LEVELS,
  type LogLevel,
  type CliFlags,
} from '../config/flags.js';
import { parseHostPort } from '../config/values.js';


export type ArgsResult = { ok: true; flags: CliFlags } | { ok: false; error: string };

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };
type Draft = Mutable<Omit<CliFlags, 'explicit'>>;
type Setter = (value: string, draft: Draft) => string | null; // returns an error reason or null

interface FlagSpec {
  readonly name: string; // canonical name
  readonly aliases?: readonly string[];
  readonly boolean?: boolean;
  readonly set: Setter;
}

// strconv.ParseBool
const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseBool(value: string): boolean | null {
  if (BOOL_TRUE.has(value)) return true;
  if (BOOL_FALSE.has(value)) return false;
  return null;
}

function bool(key: 'setupInterface' | 'setupIptables' | 'skipTeardown' | 'reloadWithSignal' | 'quiet' | 'version' | 'plugins'): Setter {
  return (value, d) => {
    const b = parseBool(value);
    if (b === null) return `invalid boolean value ${JSON.stringify(value)}`;
    d[key] = b;
    return null;
  };
}

function str(key: 'conf' | 'baseCorefile' | 'kubeDnsConfigDir' | 'pidFile' | 'configFile', allowEmpty = true): Setter {
  return (value, d) => {
    if (!allowEmpty && value === '') return 'must not be empty';
    d[key] = value;
    return null;
  };
}

function port(key: 'healthPort' | 'dnsPort'): Setter {
  return (value, d) => {
    if (!/^\d+$/.test(value) || Number(value) > 65535) return `must be a port number 0-65535, got ${JSON.stringify(value)}`;
    d[key] = Number(value);
    return null;
  };
}

/**
 * -localip: every comma-separated entry an IP (so "a," is fatal, as in node-cache). Unlike
 * node-cache, IPv4 and IPv6 may be mixed (dual-stack, kubernetes/dns#655): listeners and
 * iptables/ip6tables rules are per address.
 */
export function parseLocalIps(value: string): { ok: true; ips: string[] } | { ok: false; error: string } {
  const ips = value.split(',');
  for (const ip of ips) {
    if (isIP(ip) === 0) return { ok: false, error: `invalid localip specified - ${JSON.stringify(ip)}${ip === '' ? ' (empty entry: trailing or double comma?)' : ''}` };
  }
  return { ok: true, ips };
}

/**
 * -syncinterval: plain seconds ("60"), a duration ("60s", "1m", "1m30s"), or node-cache's own
 * spelling "60ns": node-cache multiplies the Go duration by time.Second, so N ns means N seconds.
 */
export function parseSyncInterval(value: string): { ok: true; ms: number } | { ok: false; error: string } {
  const text = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else if (/^\d+ns$/.test(text)) ms = Number(text.slice(0, -2)) * 1000;
  else {
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let total = 0;
    let consumed = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      total += Number(m[1]) * unit[m[2]];
      consumed = re.lastIndex;
    }
    if (consumed === 0 || consumed !== text.length) return { ok: false, error: `must be seconds ("60"), a duration ("60s", "1m") or node-cache's "60ns", got ${JSON.stringify(value)}` };
    ms = total;
  }
  if (!(ms >= 1000)) return { ok: false, error: `must be at least 1s, got ${JSON.stringify(value)}` };
  return { ok: true, ms: Math.round(ms) };
}

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'localip',
    set: (value, d) => {
      const r = parseLocalIps(value);
      if (!r.ok) return r.error;
      d.localIps = r.ips;
      return null;
    },
  },
  { name: 'conf', set: str('conf') },
  { name: 'basecorefile', set: str('baseCorefile', false) },
  { name: 'kubednscm', set: str('kubeDnsConfigDir') },
  {
    name: 'upstreamsvc',
    set: (value, d) => {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) return `must be a Service name (lower-case DNS label), got ${JSON.stringify(value)}`;
      d.upstreamService = value;
      return null;
    },
  },
  { name: 'setupinterface', boolean: true, set: bool('setupInterface') },
  { name: 'setupiptables', boolean: true, set: bool('setupIptables') },
  {
    name: 'interfacename',
    set: (value, d) => {
      // IFNAMSIZ is 16 including the NUL; '/' and whitespace are rejected by the kernel.
      if (value === '' || value.length > 15 || /[\s/]/.test(value)) return `must be a network interface name of 1-15 characters, got ${JSON.stringify(value)}`;
      d.interfaceName = value;
      return null;
    },
  },
  {
    name: 'syncinterval',
    set: (value, d) => {
      const r = parseSyncInterval(value);
      if (!r.ok) return r.error;
      d.syncIntervalMs = r.ms;
      return null;
    },
  },
  { name: 'health-port', set: port('healthPort') },
  {
    name: 'metrics-listen-address',
    set: (value, d) => {
      if (value === '0') {
        d.setupMetricsListen = null; // node-cache's documented way to disable the :9353 server
        return null;
      }
      if (!/:\d+$/.test(value)) return `must be HOST:PORT (e.g. 0.0.0.0:9353) or 0 to disable, got ${JSON.stringify(value)}`;
      const hp = parseHostPort(value, DEFAULT_SETUP_METRICS_LISTEN.port);
      if (!hp.ok) return hp.error;
      d.setupMetricsListen = hp.value;
      return null;
    },
  },
  { name: 'skipteardown', boolean: true, set: bool('skipTeardown') },
  { name: 'pidfile', set: str('pidFile') },
  { name: 'dns.port', aliases: ['p'], set: port('dnsPort') },
  { name: 'reloadwithsignal', boolean: true, set: bool('reloadWithSignal') },
  { name: 'quiet', boolean: true, set: bool('quiet') },
  { name: 'version', boolean: true, set: bool('version') },
  { name: 'plugins', boolean: true, set: bool('plugins') },
  { name: 'config', set: str('configFile', false) },
  {
    name: 'log-level',
    set: (value, d) => {
      if (!(LOG_LEVELS as readonly string[]).includes(value)) return `must be one of ${LOG_LEVELS.join(' | ')}, got ${JSON.stringify(value)}`;
      d.logLevel = value as LogLevel;
      return null;
    },
  },
  // Accepted and ignored, with a warning: flags of older node-cache releases and the dead -corefile.
  { name: 'corefile', set: (_, d) => (d.warnings.push('-corefile is ignored: node-cache always writes to the -conf path'), null) },
  { name: 'setupebtables', boolean: true, set: (_, d) => (d.warnings.push('-setupebtables is ignored (removed from node-cache in 2021)'), null) },
  { name: 'metricsport', set: (_, d) => (d.warnings.push('-metricsport is ignored (replaced by -metrics-listen-address)'), null) },
];

const BY_NAME = new Map<string, FlagSpec>();
for (const spec of FLAGS) for (const name of [spec.name, ...(spec.aliases ?? [])]) BY_NAME.set(name, spec);

function defaults(): Draft {
  return {
    localIps: [],
    conf: '',
    baseCorefile: DEFAULT_BASE_COREFILE,
    kubeDnsConfigDir: '',
    upstreamService: DEFAULT_UPSTREAM_SERVICE,
    setupInterface: true,
    setupIptables: true,
    interfaceName: DEFAULT_INTERFACE_NAME,
    syncIntervalMs: DEFAULT_SYNC_INTERVAL_MS,
    healthPort: DEFAULT_HEALTH_PORT,
    setupMetricsListen: DEFAULT_SETUP_METRICS_LISTEN,
    skipTeardown: false,
    pidFile: '',
    dnsPort: DEFAULT_DNS_PORT,
    reloadWithSignal: false,
    quiet: false,
    version: false,
    plugins: false,
    configFile: '',
    logLevel: null,
    positionals: [],
    warnings: [],
  };
}

/** Splits "-name=value" / "--name" into its parts; null if `arg` is not a flag. */
function splitFlag(arg: string): { name: string; value: string | undefined } | null {
  if (arg.length < 2 || arg[0] !== '-' || arg === '--') return null;
  const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
  if (body === '' || body.startsWith('-')) return null;
  const eq = body.indexOf('=');
  return eq < 0 ? { name: body, value: undefined } : { name: body.slice(0, eq), value: body.slice(eq + 1) };
}

/** Parses the flags of `run` (and of the other subcommands). Never throws. */
export function parseArgs(argv: readonly string[]): ArgsResult {
  const draft = defaults();
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      draft.positionals.push(...argv.slice(i + 1));
      break;
    }
    const flag = splitFlag(arg);
    if (!flag) {
      if (arg.startsWith('-') && arg !== '-') return { ok: false, error: `bad flag syntax: ${arg}` };
      draft.positionals.push(arg);
      continue;
    }
    const spec = BY_NAME.get(flag.name);
    if (!spec) return { ok: false, error: `flag provided but not defined: -${flag.name}` };
    let value = flag.value;
    if (value === undefined) {
      if (spec.boolean) value = 'true';
      else if (i + 1 < argv.length) value = argv[++i];
      else return { ok: false, error: `flag needs an argument: -${flag.name}` };
    }
    const error = spec.set(value, draft);
    if (error) return { ok: false, error: `invalid value ${JSON.stringify(value)} for flag -${flag.name}: ${error}` };
    explicit.add(spec.name);
  }
  return { ok: true, flags: { ...draft, explicit } };
}

export const SUBCOMMANDS = ['run', 'check-config', 'convert-corefile', 'load', 'query', 'guard'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/**
 * Finds the subcommand: the first non-flag word (skipping flag values) if it is one of
 * SUBCOMMANDS, else `run`. `rest` is argv without that word. An unknown word stays in `rest`, where
 * parseArgs reports it as a positional for the caller to reject.
 */
export function parseSubcommand(argv: readonly string[]): { command: Subcommand; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    const flag = splitFlag(arg);
    if (flag) {
      const spec = BY_NAME.get(flag.name);
      if (spec && !spec.boolean && flag.value === undefined) i++; // skip its value
      continue;
    }
    if ((SUBCOMMANDS as readonly string[]).includes(arg)) {
      return { command: arg as Subcommand, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    }
    break;
  }
  return { command: 'run', rest: [...argv] };
}
