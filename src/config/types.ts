// The validated, normalized configuration model. Every input format (YAML, Corefile, node-cache
// flags and templates) ends up here; runtime modules trust it and never re-check it.
// Durations are milliseconds, TTLs are seconds, names are lower-case FQDNs with a trailing dot.

export type ForwardPolicy = 'random' | 'round_robin' | 'sequential';

/** One upstream server. `label` is `ip:port`, the `to` label in CoreDNS's proxy metrics. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  readonly label: string;
}

/** One store of the cache (success or denial). */
export interface CacheStoreConfig {
  readonly capacity: number; // entries
  readonly maxTtlSeconds: number; // cap on the stored TTL
  readonly minTtlSeconds: number; // floor on the stored TTL
}

/** CoreDNS `prefetch AMOUNT [DURATION] [PERCENTAGE%]`. */
export interface PrefetchConfig {
  readonly amount: number; // hits needed, each within `durationMs` of the previous one
  readonly durationMs: number;
  readonly percentage: number; // refresh when remaining TTL <= percentage% of the original
}

/** CoreDNS `serve_stale [DURATION] [immediate|verify]`. */
export interface ServeStaleConfig {
  readonly durationMs: number; // how long past expiry an entry may still be served (TTL 0)
  readonly mode: 'immediate' | 'verify';
}

export interface CacheConfig {
  readonly success: CacheStoreConfig;
  readonly denial: CacheStoreConfig;
  readonly prefetch: PrefetchConfig | null;
  readonly serveStale: ServeStaleConfig | null;
  readonly servfailTtlSeconds: number; // upstream SERVFAIL kept this long in the denial store; 0 = never
}

export interface ForwardConfig {
  readonly to: readonly UpstreamAddress[];
  readonly forceTcp: boolean;
  readonly preferUdp: boolean;
  readonly policy: ForwardPolicy;
  readonly maxConcurrent: number; // in-flight upstream exchanges; 0 = unlimited
  readonly maxFails: number; // consecutive failures before an upstream is down; 0 = never down
  readonly healthCheckMs: number; // probe interval while an upstream is failing
  readonly expireMs: number; // idle pooled connections are closed after this
  readonly timeoutMs: number; // whole-query deadline
  readonly attemptTimeoutMs: number; // one try against one upstream
  readonly maxConnectionsPerUpstream: number; // pooled TCP connections (pipelined)
  readonly except: readonly string[]; // names under these zones are not forwarded (REFUSED)
}

export interface QueryLogConfig {
  readonly sampleRate: number; // 0..1; 1 logs every query
}

/** One Corefile server block: zones, where it listens, its cache and forwarder. */
export interface ServerBlockConfig {
  readonly zones: readonly string[];
  readonly bind: readonly string[];
  readonly port: number;
  readonly cache: CacheConfig | null;
  readonly forward: ForwardConfig | null;
  readonly log: QueryLogConfig | null;
  readonly loopDetect: boolean;
  readonly plugins: PluginsConfig | null; // template, hosts, rewrite, ...; null when none
}

export interface HostPort {
  readonly host: string; // '' or '0.0.0.0' or '::' means all addresses
  readonly port: number;
}

/** node-cache's node setup: link-local interface and NOTRACK rules. */
export interface NodeSetupConfig {
  readonly localIps: readonly string[];
  readonly setupInterface: boolean;
  readonly setupIptables: boolean;
  readonly interfaceName: string;
  readonly syncIntervalMs: number;
  readonly skipTeardown: boolean;
  readonly dnsPort: number; // port the iptables rules match
  readonly healthPort: number; // port of the ACCEPT rules for the health listener
}

export interface Config {
  readonly servers: readonly ServerBlockConfig[];
  readonly health: { readonly listen: HostPort | null; readonly lameduckMs: number };
  readonly metrics: { readonly listen: HostPort | null };
  readonly log: { readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  readonly tcp: {
    readonly readTimeoutMs: number; // a connection's first frame must arrive whole within this
    readonly idleTimeoutMs: number; // every later frame, counted from when the connection went idle
    readonly writeTimeoutMs: number; // queued replies must make progress within this
    readonly maxConnections: number; // at the cap, the idlest connection is closed for a new one
    readonly maxQueriesInFlightPerConnection: number; // replies not yet flushed included
    readonly maxQueuedBytesPerConnection: number;
  };
  readonly udp: { readonly receiveBufferBytes: number; readonly sendBufferBytes: number };
  readonly workers: number; // processes serving queries; 1 = no cluster
  readonly reload: { readonly intervalMs: number }; // 0 = only on file events and SIGUSR1
  readonly node: NodeSetupConfig | null;
  readonly pprof: { readonly listen: HostPort } | null; // CoreDNS `pprof`: Node profiles over HTTP
  readonly trace: TraceConfig | null; // CoreDNS `trace`: spans to Zipkin
  readonly ignored: readonly IgnoredDirective[]; // Corefile directives accepted but not applied
}

export interface TraceConfig {
  readonly endpoint: string; // Zipkin v2 spans URL
  readonly serviceName: string;
  readonly every: number; // trace one query in N (1 = all)
}

/** A Corefile directive (or part of one) that is accepted but not applied; warned and counted. */
export interface IgnoredDirective {
  readonly plugin: string;
  readonly at: string; // file:line
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------------
// Plugins beyond cache/forward (src/plugins/*). A block without any has `plugins: null`.

/** CoreDNS `template CLASS TYPE [ZONES]`: one template of a block, in Corefile order. */
export interface TemplateConfig {
  readonly qclass: number; // 255 = ANY
  readonly qtype: number; // 255 = ANY
  readonly zones: readonly string[];
  readonly match: readonly string[]; // Go regexes, first match wins; default ".*"
  readonly answer: readonly string[]; // Go templates of RRs
  readonly additional: readonly string[];
  readonly authority: readonly string[];
  readonly rcode: number;
  readonly fallthrough: readonly string[] | null; // zones; null = off
}

/** CoreDNS `hosts [FILE [ZONES]]`. */
export interface HostsConfig {
  readonly file: string | null; // null: only the inline entries
  readonly zones: readonly string[];
  readonly entries: readonly string[]; // inline hosts-file lines
  readonly ttlSeconds: number;
  readonly reloadMs: number; // 0 = never re-read
  readonly reverse: boolean; // generate PTR records (no_reverse turns it off)
  readonly fallthrough: readonly string[] | null;
  readonly fallthroughUnsupported: boolean; // other qtypes of a known name go on instead of NODATA
}

/** `rewrite edns0 ...`: one option edit of the query. */
export interface Edns0RuleConfig {
  readonly option: 'local' | 'nsid' | 'subnet';
  readonly action: 'set' | 'append' | 'replace' | 'unset';
  readonly code: number; // local: the option code; nsid 3; subnet 8
  readonly data: string; // local: hex
  readonly variable: string | null; // local: {qname} {qtype} {client_ip} {client_port} {protocol}
  readonly v4Bits: number; // subnet mask lengths
  readonly v6Bits: number;
}

export type NameMatch = 'exact' | 'prefix' | 'suffix' | 'substring' | 'regex';

/** One `rewrite` rule, in Corefile order. */
export type RewriteRuleConfig =
  | {
      readonly field: 'name';
      readonly stop: boolean;
      readonly match: NameMatch;
      readonly from: string;
      readonly to: string;
      readonly answerAuto: boolean;
      readonly answerName: readonly (readonly [string, string])[]; // regex FROM, TO
      readonly answerValue: readonly (readonly [string, string])[];
    }
  | { readonly field: 'type' | 'class'; readonly stop: boolean; readonly from: number; readonly to: number }
  | { readonly field: 'ttl'; readonly stop: boolean; readonly match: NameMatch; readonly name: string; readonly min: number; readonly max: number }
  | { readonly field: 'cname'; readonly stop: boolean; readonly match: NameMatch; readonly from: string; readonly to: string }
  | { readonly field: 'rcode'; readonly stop: boolean; readonly match: NameMatch; readonly name: string; readonly from: number; readonly to: number }
  | { readonly field: 'edns0'; readonly stop: boolean; readonly edns0: Edns0RuleConfig };

/** CoreDNS `dns64`. */
export interface Dns64Config {
  readonly prefix: string; // IPv6 address part of the prefix
  readonly prefixLength: number; // 32, 40, 48, 56, 64 or 96
  readonly translateAll: boolean;
  readonly allowIpv4: boolean; // also for clients that asked over IPv4
}

/** CoreDNS `dnstap`: one collector of a block. */
export interface DnstapConfig {
  readonly endpoint: { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };
  readonly full: boolean; // include the wire messages
  readonly queue: number; // x 10,000 messages waiting at most
  readonly identity: string | null; // null: the host name
  readonly version: string | null; // null: node-local-dns-VERSION
}

/** CoreDNS `loadbalance`. */
export interface LoadbalanceConfig {
  readonly policy: 'round_robin' | 'weighted';
  readonly weightFile: string | null; // weighted
  readonly reloadMs: number; // weight file re-read check; 0 = never
  readonly prefer: readonly string[]; // CIDRs whose addresses go first
}

export interface PluginsConfig {
  readonly template: readonly TemplateConfig[];
  readonly hosts: HostsConfig | null;
  readonly rewrite: readonly RewriteRuleConfig[];
  readonly bufsize: number | null; // cap on the EDNS UDP size of queries
  readonly loadbalance: LoadbalanceConfig | null;
  readonly whoami: boolean;
  readonly dns64: Dns64Config | null;
  readonly dnstap: readonly DnstapConfig[];
}
