// Decides where the config comes from and builds it: the one function the daemon calls at start
// and on every reload. Modes, first match wins:
//   1. --config FILE.yaml                      → the YAML file
//   2. -basecorefile exists (or was given)     → node-cache mode: template + kube-dns ConfigMap +
//      flags → generated Corefile (also written to -conf, as node-cache does) → Config + node setup
//   3. -conf FILE                              → that Corefile as is, with node setup from flags
//   4. nothing                                 → the embedded default (loopback, port 5353)
// It returns errors as values and the files to watch for the next reload; it never throws, logs,
// or touches the network, and the only file it writes is the generated Corefile at -conf.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileWithMode } from '../util/write-file.js';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_KUBE_DNS_DIR, type CliFlags } from './flags.js';
import { EMPTY_KUBE_DNS_CONFIG, readKubeDnsDir, type KubeDnsConfig } from '../kube/configmap.js';
import { clusterDnsFromEnv, generateCorefile } from '../kube/template.js';
import { parseCorefile } from './corefile.js';
import { DEFAULT_CONFIG_NAME, DEFAULT_CONFIG_YAML } from './defaults.js';
import { loadConfigFile, loadConfigText, validateRawConfig, type ConfigIssue, type ConfigResult } from './load.js';
import type { RawConfig } from './schema.js';
import type { Config, HostPort } from './types.js';
import { parseHostPort } from './values.js';

export type ConfigMode = 'yaml' | 'node-cache' | 'corefile' | 'default';

export interface SourceInfo {
  readonly mode: ConfigMode;
  /** Files and directories whose change should trigger a reload (give them to watchPaths). */
  readonly sources: string[];
  /** One line for the startup log, e.g. "node-cache template /etc/coredns/Corefile.base + kube-dns /etc/kube-dns → /etc/Corefile". */
  readonly description: string;
  /**
   * node-cache's separate setup-metrics endpoint (-metrics-listen-address, default 0.0.0.0:9353):
   * serve /metrics from the same registry there. null = do not start it (disabled with "0", not
   * node-cache mode, or merged into metrics.listen because the Corefile had no `prometheus`).
   */
  readonly setupMetricsListen: HostPort | null;
  /** How many `configmap` setup errors to count for this call (kube-dns dir, template read, -conf write). */
  readonly configmapErrors: number;
  /** Non-fatal notes for the log (ignored flags, node-cache fallbacks). */
  readonly warnings: string[];
  /** The generated Corefile in node-cache mode (node-cache logs it at INFO). */
  readonly corefile?: string;
}

export type ResolvedConfig = ConfigResult & SourceInfo;

export interface ResolveOptions {
  /** Where node-cache looks when -kubednscm is not given (tests point it elsewhere). */
  readonly defaultKubeDnsDir?: string;
}

/** Flags that only mean something in node-cache mode; named in a warning when --config is used. */
const NODE_CACHE_FLAGS = ['localip', 'conf', 'basecorefile', 'kubednscm', 'upstreamsvc', 'setupinterface', 'setupiptables', 'interfacename', 'syncinterval', 'health-port', 'skipteardown', 'dns.port', 'metrics-listen-address'];

const issue = (file: string, reason: string, line = 0, field = ''): ConfigIssue => ({ file, line, field, reason });

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

const isDir = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Builds the Config for the current flags, environment and files. Never throws. */
export function resolveConfig(flags: CliFlags, env: NodeJS.ProcessEnv, opts: ResolveOptions = {}): ResolvedConfig {
  if (flags.configFile) return fromYaml(flags);
  const templateGiven = flags.explicit.has('basecorefile');
  if (templateGiven || isFile(flags.baseCorefile)) return fromTemplate(flags, env, opts);
  if (flags.conf) return fromCorefile(flags);
  if (flags.localIps.length > 0) {
    return notOk(
      [issue('-localip', `node-cache mode needs a Corefile: pass -conf FILE or -basecorefile FILE (${flags.baseCorefile} does not exist), or use --config FILE.yaml`)],
      { mode: 'node-cache', sources: [flags.baseCorefile], description: 'node-cache flags without a Corefile', setupMetricsListen: null, configmapErrors: 0, warnings: [] },
    );
  }
  return fromDefault(flags);
}

function notOk(issues: ConfigIssue[], info: SourceInfo): ResolvedConfig {
  return { ok: false, issues, ...info };
}

function withInfo(result: ConfigResult, info: SourceInfo, flags: CliFlags): ResolvedConfig {
  if (!result.ok) return { ...result, ...info };
  return { ok: true, config: applyLogLevel(result.config, flags), ...info };
}

/** --log-level overrides the config's log.level in every mode. */
function applyLogLevel(config: Config, flags: CliFlags): Config {
  if (flags.logLevel === null || flags.logLevel === config.log.level) return config;
  return Object.freeze({ ...config, log: Object.freeze({ level: flags.logLevel }) });
}

function fromYaml(flags: CliFlags): ResolvedConfig {
  const ignored = NODE_CACHE_FLAGS.filter((f) => flags.explicit.has(f) && f !== 'metrics-listen-address');
  const warnings = ignored.length > 0 ? [`--config is set, so node-cache flags are ignored: ${ignored.map((f) => `-${f}`).join(' ')}`] : [];
  const info: SourceInfo = {
    mode: 'yaml',
    sources: [flags.configFile],
    description: `config file ${flags.configFile}`,
    // Only if asked for: a YAML config has its own metrics.listen.
    setupMetricsListen: flags.explicit.has('metrics-listen-address') ? flags.setupMetricsListen : null,
    configmapErrors: 0,
    warnings,
  };
  return withInfo(loadConfigFile(flags.configFile), info, flags);
}

function fromDefault(flags: CliFlags): ResolvedConfig {
  const info: SourceInfo = {
    mode: 'default',
    sources: [],
    description: `${DEFAULT_CONFIG_NAME} (127.0.0.1:5353, forwarding to /etc/resolv.conf)`,
    setupMetricsListen: flags.explicit.has('metrics-listen-address') ? flags.setupMetricsListen : null,
    configmapErrors: 0,
    warnings: [],
  };
  return withInfo(loadConfigText(DEFAULT_CONFIG_YAML, DEFAULT_CONFIG_NAME), info, flags);
}

/** -kubednscm, else /etc/kube-dns if it exists (node-cache's initDNSConfigSync), else none. */
export function kubeDnsDir(flags: CliFlags, opts: ResolveOptions = {}): string {
  if (flags.kubeDnsConfigDir) return flags.kubeDnsConfigDir;
  const fallback = opts.defaultKubeDnsDir ?? DEFAULT_KUBE_DNS_DIR;
  return isDir(fallback) ? fallback : '';
}

function fromTemplate(flags: CliFlags, env: NodeJS.ProcessEnv, opts: ResolveOptions): ResolvedConfig {
  const template = flags.baseCorefile;
  const kubeDir = kubeDnsDir(flags, opts);
  const writeTo = flags.conf && resolve(flags.conf) !== resolve(template) ? flags.conf : '';
  const info = {
    mode: 'node-cache' as const,
    sources: [template, ...(kubeDir ? [kubeDir] : [])],
    description: `node-cache template ${template}${kubeDir ? ` + kube-dns ${kubeDir}` : ''}${writeTo ? ` → ${writeTo}` : ''}`,
    setupMetricsListen: flags.setupMetricsListen,
    configmapErrors: 0,
    warnings: [] as string[],
  };

  let kubeDns: KubeDnsConfig = EMPTY_KUBE_DNS_CONFIG;
  if (kubeDir) {
    const read = readKubeDnsDir(kubeDir);
    if (!read.ok) return notOk([issue(read.error.file, `kube-dns ConfigMap: ${read.error.message}`)], { ...info, configmapErrors: 1 });
    kubeDns = read.config;
  }
  let text: string;
  try {
    text = readFileSync(template, 'utf8');
  } catch (err) {
    return notOk([issue(template, `cannot read the base Corefile: ${(err as Error).message}`)], { ...info, configmapErrors: 1 });
  }
  const generated = generateCorefile({
    template: text,
    localIps: flags.localIps,
    dnsPort: flags.dnsPort,
    clusterDns: clusterDnsFromEnv(flags.upstreamService, env),
    stubDomains: kubeDns.stubDomains,
    upstreamNameservers: kubeDns.upstreamNameservers,
  });
  if (!generated.ok) return notOk([issue(template, generated.error, generated.line)], info);
  info.warnings.push(...generated.warnings.map((w) => `${template}: ${w}`));

  let label = `${template} (generated)`;
  if (writeTo) {
    const written = writeIfChanged(writeTo, generated.text);
    if (written.ok) label = writeTo; // its lines are the ones the issues refer to
    else {
      info.warnings.push(`cannot write the generated Corefile to ${writeTo}: ${written.error}`);
      info.configmapErrors++;
    }
  }
  return withInfo(corefileWithNode(generated.text, label, flags, info), { ...info, corefile: generated.text }, flags);
}

function fromCorefile(flags: CliFlags): ResolvedConfig {
  const info = {
    mode: 'corefile' as const,
    sources: [flags.conf],
    description: `Corefile ${flags.conf}`,
    setupMetricsListen: flags.setupMetricsListen,
    configmapErrors: 0,
    warnings: [] as string[],
  };
  let text: string;
  try {
    text = readFileSync(flags.conf, 'utf8');
  } catch (err) {
    return notOk([issue(flags.conf, `cannot read: ${(err as Error).message}`)], info);
  }
  return withInfo(corefileWithNode(text, flags.conf, flags, info), info, flags);
}

/** Corefile text → Config, adding the node section and metrics from node-cache's flags. */
function corefileWithNode(text: string, file: string, flags: CliFlags, info: { sources: string[]; setupMetricsListen: HostPort | null; warnings: string[] }): ConfigResult {
  const parsed = parseCorefile(text, file, { dnsPort: flags.dnsPort });
  if (!parsed.ok) return parsed;
  const raw = { ...parsed.raw } as RawConfig & Record<string, unknown>;
  info.sources.push(...resolvConfPaths(raw).filter((p) => !info.sources.includes(p)));
  info.setupMetricsListen = mergeMetrics(raw, info.setupMetricsListen);
  if (flags.localIps.length > 0) raw.node = nodeSection(flags);
  else info.warnings.push('no -localip: node setup (interface, iptables) is off; only the Corefile is served');
  return validateRawConfig(raw, file, parsed.lineOfPath);
}

/**
 * node-cache serves its setup-error metric on -metrics-listen-address, CoreDNS metrics on the
 * `prometheus` address. Without a `prometheus` directive the setup address becomes the one metrics
 * listener; when both name the same address, one listener serves both.
 */
function mergeMetrics(raw: RawConfig, setup: HostPort | null): HostPort | null {
  if (setup === null) return null;
  if (!raw.metrics?.listen) {
    raw.metrics = { listen: formatHostPort(setup) };
    return null;
  }
  const main = parseHostPort(raw.metrics.listen, 9253);
  if (!main.ok) return setup; // the schema reports the bad address
  const wildcard = (h: string): boolean => h === '' || h === '0.0.0.0' || h === '::';
  const sameHost = main.value.host === setup.host || (wildcard(main.value.host) && wildcard(setup.host));
  return sameHost && main.value.port === setup.port ? null : setup;
}

function nodeSection(flags: CliFlags): NonNullable<RawConfig['node']> {
  return {
    localIPs: [...flags.localIps],
    setupInterface: flags.setupInterface,
    setupIptables: flags.setupIptables,
    interfaceName: flags.interfaceName,
    syncInterval: `${flags.syncIntervalMs}ms`,
    skipTeardown: flags.skipTeardown,
    dnsPort: flags.dnsPort,
    healthPort: flags.healthPort,
  };
}

/** resolv.conf-style files the forwarders read: watching them picks up node resolver changes. */
function resolvConfPaths(raw: RawConfig): string[] {
  const out: string[] = [];
  for (const server of raw.servers ?? []) {
    for (const to of server.forward?.to ?? []) if (to.startsWith('/') && !out.includes(to)) out.push(to);
  }
  return out;
}

/**
 * node-cache writes the file on every sync (mode 0666 less the umask); we write it with 0644
 * whatever the umask, and skip identical content, which avoids spurious watch events.
 */
function writeIfChanged(path: string, text: string): { ok: true } | { ok: false; error: string } {
  try {
    if (existsSync(path) && readFileSync(path, 'utf8') === text) return { ok: true };
    writeFileWithMode(path, text);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
