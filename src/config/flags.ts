// What node-cache's command line (and CoreDNS's flags it passes through) means, as values: the
// parsed flags and their defaults. cli/args.ts parses argv into this; config/sources.ts turns it
// into a Config. Kept here so that config/ never depends on cli/.
import type { HostPort } from './types.js';

export const DEFAULT_BASE_COREFILE = '/etc/coredns/Corefile.base';
export const DEFAULT_KUBE_DNS_DIR = '/etc/kube-dns';
export const DEFAULT_UPSTREAM_SERVICE = 'kube-dns';
export const DEFAULT_INTERFACE_NAME = 'nodelocaldns';
export const DEFAULT_SYNC_INTERVAL_MS = 60_000;
export const DEFAULT_HEALTH_PORT = 8080;
export const DEFAULT_SETUP_METRICS_LISTEN: HostPort = { host: '0.0.0.0', port: 9353 };
export const DEFAULT_DNS_PORT = 53;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface CliFlags {
  readonly localIps: readonly string[]; // -localip, split on commas; [] when not given
  readonly conf: string; // -conf: Corefile CoreDNS loads and node-cache writes; '' = not given
  readonly baseCorefile: string; // -basecorefile
  readonly kubeDnsConfigDir: string; // -kubednscm; '' = /etc/kube-dns if it exists (resolved later)
  readonly upstreamService: string; // -upstreamsvc
  readonly setupInterface: boolean; // -setupinterface
  readonly setupIptables: boolean; // -setupiptables
  readonly interfaceName: string; // -interfacename
  readonly syncIntervalMs: number; // -syncinterval
  readonly healthPort: number; // -health-port (only for the NOTRACK rules)
  readonly setupMetricsListen: HostPort | null; // -metrics-listen-address; null = disabled ("0")
  readonly skipTeardown: boolean; // -skipteardown
  readonly pidFile: string; // -pidfile; '' = none
  readonly dnsPort: number; // -dns.port / -p
  readonly reloadWithSignal: boolean; // -reloadwithsignal (accepted; reloads are in-process anyway)
  readonly quiet: boolean; // -quiet
  readonly version: boolean; // -version
  readonly plugins: boolean; // -plugins
  readonly configFile: string; // --config FILE.yaml; '' = not given
  readonly logLevel: LogLevel | null; // --log-level; null = from the config
  readonly positionals: readonly string[]; // non-flag arguments, in order
  readonly explicit: ReadonlySet<string>; // canonical names of the flags given on the command line
  readonly warnings: readonly string[]; // accepted-but-ignored flags (e.g. removed node-cache flags)
}
