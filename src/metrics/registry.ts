// The prom-client Registry behind /metrics. The hot path only increments typed arrays and plain
// numbers (metrics/dns-stats.ts, cache/stats.ts, forward/stats.ts, node-setup/setup-errors.ts); every
// family here is a scrape-time collector that turns those numbers into CoreDNS 1.13 series:
// same names, types, label sets and buckets (see README.md in this folder). Labels are written
// in alphabetical order with `le` last, as Go's client_golang does. A series appears once it is
// non-zero (CoreDNS creates a labelled series when first touched); label-less families that
// CoreDNS registers at start (panics, reload failures, forward broken/rejects, health) and the
// five node-cache setup-error series are always present.
import { readFileSync } from 'node:fs';
import { Registry, type Counter } from 'prom-client';
import { registerProcessMetrics } from './default-metrics.js';
import { PLUGIN_FAMILIES, type PluginSample } from './plugin-families.js';
import { CACHE_TYPE_LABELS, type CacheStats } from '../cache/stats.js';
import type { ForwardStats, UpstreamStats } from '../forward/stats.js';
import { HealthStats, SLIM_TIME_BUCKETS } from '../health/health.js';
import { SETUP_ERROR_TYPES, type SetupErrors } from '../node-setup/setup-errors.js';
import { FAMILY_LABELS, PLUGIN_LABELS, PROTO_LABELS, QTYPE_LABELS, type DnsStats, type ZoneStats } from './dns-stats.js';
import { DURATION_BUCKETS, RCODE_SLOTS, type HistogramCounts } from '../util/histogram.js';
import { RCODE_NAMES } from '../dns/qtypes.js';

export interface MetricsSources {
  readonly dns: DnsStats; // coredns_dns_* and coredns_panics_total
  caches(): Iterable<CacheStats>; // the current caches (replaced on reload)
  forwarders(): Iterable<ForwardStats>; // coredns_proxy_*, coredns_forward_* (replaced on reload)
  readonly setupErrors: SetupErrors;
  reloadFailed(): number;
  pluginsEnabled(): Iterable<{ server: string; zone: string; name: string }>;
  /** Corefile directives of the current config accepted but not applied (src/plugins). */
  ignoredDirectives?(): Iterable<{ plugin: string }>;
  /** template/hosts/dns64 series (src/plugins/metrics.ts). */
  pluginSamples?(): Iterable<PluginSample>;
  readonly version: string; // coredns_build_info{version}
  readonly revision?: string; // coredns_build_info{revision}; '' when unknown
  readonly health?: HealthStats; // fed by HealthState's self-check; created when absent
}

export interface MetricsRegistry {
  readonly registry: Registry;
  /** The self-check counters published as coredns_health_*; hand it to `new HealthState({ stats })`. */
  readonly health: HealthStats;
}

export interface MetricsRegistryOptions {
  readonly defaultMetrics?: boolean; // process_* and nodejs_* (default true)
}

type Labels = Record<string, string>;
type Kind = 'counter' | 'gauge' | 'histogram';
interface Sample {
  readonly metricName?: string; // histograms only: name_bucket / name_sum / name_count
  readonly labels: Labels;
  readonly value: number;
}

/**
 * A metric family computed at scrape time. It has the shape prom-client's Registry reads from a
 * metric (name, help, type, aggregator, get(), reset()); the registry formats and escapes it.
 */
class ScrapeFamily {
  readonly aggregator = 'sum';
  constructor(
    public name: string,
    readonly help: string,
    readonly type: Kind,
    private readonly samples: () => Sample[],
  ) {}
  async get(): Promise<{ name: string; help: string; type: Kind; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
  reset(): void {}
}

/**
 * A Registry that leaves out families without samples, as Go's registry does (a vector with no
 * touched series is not written at all; prom-client would print their HELP and TYPE lines), and
 * writes NaN the way the format spells it (prom-client writes "Nan", e.g. for the event-loop
 * lag gauges before the first measurement).
 */
class SparseRegistry extends Registry {
  override async metrics(): Promise<string> {
    const texts = await Promise.all(this.getMetricsAsArray().map((m) => this.getSingleMetricAsString(m.name)));
    return `${texts.filter(hasSamples).join('\n\n')}\n`.replace(/ Nan$/gm, ' NaN');
  }
}

/** A family's text has a sample when it has more than its "# HELP" and "# TYPE" lines. */
function hasSamples(text: string): boolean {
  const first = text.indexOf('\n');
  return first >= 0 && text.indexOf('\n', first + 1) >= 0;
}

/** Build the registry; nothing is computed until a scrape. */
export function createMetricsRegistry(sources: MetricsSources, options: MetricsRegistryOptions = {}): MetricsRegistry {
  const registry = new SparseRegistry();
  const health = sources.health ?? new HealthStats();
  const families = [
    ...coreFamilies(sources, health),
    ...dnsFamilies(sources.dns),
    ...cacheFamilies(sources),
    ...forwardFamilies(sources),
    ...nodeLocalFamilies(sources.dns),
  ].sort((a, b) => (a.name < b.name ? -1 : 1)); // Go's registry sorts families by name
  // ScrapeFamily has every member the Registry uses; prom-client's typings only name its own classes.
  for (const family of families) registry.registerMetric(family as unknown as Counter);
  if (options.defaultMetrics !== false) registerProcessMetrics(registry);
  return { registry, health };
}

// ---------------------------------------------------------------------------------------------
// Histogram and counter helpers

/** Append the cumulative _bucket lines (+Inf included), _sum and _count of one classic histogram. */
function pushHistogram(out: Sample[], name: string, labels: Labels, bounds: readonly number[], counts: ArrayLike<number>, sum: number): void {
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += counts[i];
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bounds[i]) }, value: cumulative });
  }
  cumulative += counts[bounds.length];
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
}

function pushCounts(out: Sample[], name: string, labels: Labels, h: HistogramCounts): void {
  if (h.count > 0) pushHistogram(out, name, labels, h.bounds, h.counts, h.sum);
}

const family = (name: string, help: string, type: Kind, samples: () => Sample[]): ScrapeFamily => new ScrapeFamily(name, help, type, samples);
const single = (value: number): Sample[] => [{ labels: {}, value }];

// ---------------------------------------------------------------------------------------------
// Process-wide families: build info, plugins, reload, panics, health, node-cache setup errors

function coreFamilies(s: MetricsSources, health: HealthStats): ScrapeFamily[] {
  const build = { goversion: process.version, revision: s.revision ?? '', version: s.version };
  return [
    family('coredns_build_info', "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.", 'gauge', () => [{ labels: build, value: 1 }]),
    family('coredns_plugin_enabled', 'A metric that indicates whether a plugin is enabled on per server and zone basis.', 'gauge', () => pluginSamples(s)),
    ...PLUGIN_FAMILIES.map((f) => family(f.name, f.help, f.type, () => [...(s.pluginSamples?.() ?? [])].filter((p) => p.name === f.name).map((p) => ({ labels: { ...p.labels }, value: p.value })))),
    family('nodelocaldns_config_ignored_directives', 'Corefile directives (or options) of the current config that are accepted but not applied, by plugin.', 'gauge', () => ignoredSamples(s)),
    family('coredns_reload_failed_total', 'Counter of the number of failed reload attempts.', 'counter', () => single(s.reloadFailed())),
    family('coredns_panics_total', 'A metrics that counts the number of panics.', 'counter', () => single(s.dns.panics)),
    family('coredns_health_request_duration_seconds', 'Histogram of the time (in seconds) each request took.', 'histogram', () => {
      const out: Sample[] = [];
      pushHistogram(out, 'coredns_health_request_duration_seconds', {}, SLIM_TIME_BUCKETS, health.duration.counts, health.duration.sum);
      return out;
    }),
    family('coredns_health_request_failures_total', 'The number of times the health check failed.', 'counter', () => single(health.failures)),
    family('coredns_nodecache_setup_errors_total', 'The number of errors during periodic network setup for node-cache', 'counter', () =>
      SETUP_ERROR_TYPES.map((errortype) => ({ labels: { errortype }, value: s.setupErrors.counts[errortype] })),
    ),
  ];
}

function ignoredSamples(s: MetricsSources): Sample[] {
  const counts = new Map<string, number>();
  for (const d of s.ignoredDirectives?.() ?? []) counts.set(d.plugin, (counts.get(d.plugin) ?? 0) + 1);
  return [...counts].map(([plugin, value]) => ({ labels: { plugin }, value }));
}

function pluginSamples(s: MetricsSources): Sample[] {
  const seen = new Set<string>();
  const out: Sample[] = [];
  for (const p of s.pluginsEnabled()) {
    const key = `${p.server}\0${p.zone}\0${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ labels: { name: p.name, server: p.server, view: '', zone: p.zone }, value: 1 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// coredns_dns_*: DnsStats outlives reloads, so its numbers are already monotonic

const zoneLabels = (z: ZoneStats): Labels => ({ server: z.server, view: '', zone: z.zone });

function dnsFamilies(dns: DnsStats): ScrapeFamily[] {
  const each = (fn: (out: Sample[], z: ZoneStats) => void) => (): Sample[] => {
    const out: Sample[] = [];
    for (const z of dns.all()) fn(out, z);
    return out;
  };
  return [
    family('coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', 'counter', each(requestSamples)),
    family('coredns_dns_responses_total', 'Counter of response status codes.', 'counter', each(responseSamples)),
    family('coredns_dns_do_requests_total', 'Counter of DNS requests with DO bit set per zone.', 'counter', each((out, z) => {
      if (z.doRequests > 0) out.push({ labels: zoneLabels(z), value: z.doRequests });
    })),
    family('coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', 'histogram', each((out, z) =>
      pushCounts(out, 'coredns_dns_request_duration_seconds', zoneLabels(z), z.duration),
    )),
    family('coredns_dns_request_size_bytes', 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.', 'histogram', each((out, z) =>
      sizeSamples(out, 'coredns_dns_request_size_bytes', z, z.requestSize),
    )),
    family('coredns_dns_response_size_bytes', 'Size of the returned response in bytes.', 'histogram', each((out, z) =>
      sizeSamples(out, 'coredns_dns_response_size_bytes', z, z.responseSize),
    )),
  ];
}

function requestSamples(out: Sample[], z: ZoneStats): void {
  const types = QTYPE_LABELS.length;
  for (let proto = 0; proto < PROTO_LABELS.length; proto++) {
    for (let fam = 0; fam < FAMILY_LABELS.length; fam++) {
      for (let t = 0; t < types; t++) {
        const value = z.requests[(proto * 2 + fam) * types + t];
        if (value === 0) continue;
        const labels = { family: FAMILY_LABELS[fam], proto: PROTO_LABELS[proto], server: z.server, type: QTYPE_LABELS[t], view: '', zone: z.zone };
        out.push({ labels, value });
      }
    }
  }
}

function responseSamples(out: Sample[], z: ZoneStats): void {
  for (let rcode = 0; rcode < RCODE_SLOTS; rcode++) {
    for (let plugin = 0; plugin < PLUGIN_LABELS.length; plugin++) {
      const value = z.responses[rcode * 2 + plugin];
      if (value === 0) continue;
      out.push({ labels: { plugin: PLUGIN_LABELS[plugin], rcode: RCODE_NAMES[rcode], server: z.server, view: '', zone: z.zone }, value });
    }
  }
}

function sizeSamples(out: Sample[], name: string, z: ZoneStats, byProto: readonly HistogramCounts[]): void {
  byProto.forEach((h, proto) => {
    pushCounts(out, name, { proto: PROTO_LABELS[proto], server: z.server, view: '', zone: z.zone }, h);
  });
}

// ---------------------------------------------------------------------------------------------
// Reload carry: caches and forwarders are rebuilt on reload, CoreDNS's counters are not

interface CarrySpec<S> {
  labels(source: S): Labels; // the series a source counts into (several sources may share one)
  read(source: S): Float64Array; // its counters, flattened
}

interface Tracked {
  readonly ref: WeakRef<object>;
  readonly key: string;
  last: Float64Array; // values at the previous scrape, used if the source was collected since
}

/**
 * Sums counters of the current sources per series and keeps the final totals of sources that
 * disappeared (a reload replaced them), so that no published counter ever goes backwards. A
 * retired source is held only through a WeakRef: if it was garbage-collected before the next
 * scrape, its values from the previous scrape are used (increments in between are lost).
 */
class ReloadCarry<S extends object> {
  private readonly ids = new WeakMap<S, number>();
  private nextId = 0;
  private readonly tracked = new Map<number, Tracked>();
  private readonly retired = new Map<string, Float64Array>();
  private readonly retiredFrom = new WeakMap<S, { key: string; values: Float64Array }>(); // to undo a retirement
  private readonly labelsByKey = new Map<string, Labels>();

  constructor(private readonly spec: CarrySpec<S>) {}

  /** Totals per series: retired values plus every current source. */
  totals(current: Iterable<S>): Array<{ labels: Labels; values: Float64Array }> {
    const live = this.identify(current);
    this.retireMissing(live);
    const sums = new Map<string, Float64Array>();
    for (const [key, values] of this.retired) sums.set(key, values.slice());
    for (const [id, source] of live) this.addLive(sums, id, source);
    return [...sums].map(([key, values]) => ({ labels: this.labelsByKey.get(key)!, values }));
  }

  private identify(current: Iterable<S>): Map<number, S> {
    const live = new Map<number, S>();
    for (const source of current) {
      let id = this.ids.get(source);
      if (id === undefined) this.ids.set(source, (id = this.nextId++));
      live.set(id, source);
    }
    return live;
  }

  private retireMissing(live: Map<number, S>): void {
    for (const [id, t] of this.tracked) {
      if (live.has(id)) continue;
      const source = t.ref.deref() as S | undefined;
      const values = source ? this.spec.read(source) : t.last;
      addInto(this.retired, t.key, values);
      if (source) this.retiredFrom.set(source, { key: t.key, values });
      this.tracked.delete(id);
    }
  }

  /** A source that was missing from one scrape and is back (e.g. a list read mid-reload) is live again. */
  private unretire(source: S): void {
    const was = this.retiredFrom.get(source);
    if (!was) return;
    this.retiredFrom.delete(source);
    const into = this.retired.get(was.key)!;
    for (let i = 0; i < into.length; i++) into[i] -= was.values[i];
  }

  private addLive(sums: Map<string, Float64Array>, id: number, source: S): void {
    const labels = this.spec.labels(source);
    const key = Object.values(labels).join('\0');
    if (!this.labelsByKey.has(key)) this.labelsByKey.set(key, labels);
    const values = this.spec.read(source);
    const t = this.tracked.get(id);
    if (t) t.last = values;
    else {
      this.unretire(source);
      this.tracked.set(id, { ref: new WeakRef(source), key, last: values });
    }
    addInto(sums, key, values);
  }
}

function addInto(map: Map<string, Float64Array>, key: string, values: Float64Array): void {
  const into = map.get(key);
  if (!into) {
    map.set(key, values.slice());
    return;
  }
  for (let i = 0; i < values.length; i++) into[i] += values[i];
}

// ---------------------------------------------------------------------------------------------
// Counters of a stats object, declared once by name and flattened for ReloadCarry

interface Field<S> {
  readonly width: number;
  read(source: S): ArrayLike<number>;
}

/** Named fields of a stats class laid end to end in one Float64Array; families read them by name. */
class Layout<S, K extends string> {
  private readonly offsets = {} as Record<K, number>;
  private readonly width: number;

  constructor(private readonly fields: Readonly<Record<K, Field<S>>>) {
    let at = 0;
    for (const name of Object.keys(fields) as K[]) {
      this.offsets[name] = at;
      at += fields[name].width;
    }
    this.width = at;
  }

  read(source: S): Float64Array {
    const out = new Float64Array(this.width);
    for (const name of Object.keys(this.fields) as K[]) out.set(this.fields[name].read(source), this.offsets[name]);
    return out;
  }

  /** The numbers of one field inside flattened values. */
  get(values: Float64Array, name: K): Float64Array {
    return values.subarray(this.offsets[name], this.offsets[name] + this.fields[name].width);
  }
}

const one = (n: number): number[] => [n];

// ---------------------------------------------------------------------------------------------
// coredns_cache_*

const cacheFields = new Layout<CacheStats, 'requests' | 'hits' | 'misses' | 'drops' | 'servedStale' | 'prefetches' | 'evictions'>({
  requests: { width: 1, read: (c) => one(c.requests) },
  hits: { width: 2, read: (c) => c.hits }, // by CACHE_TYPE_LABELS
  misses: { width: 1, read: (c) => one(c.misses) },
  drops: { width: 1, read: (c) => one(c.drops) },
  servedStale: { width: 1, read: (c) => one(c.servedStale) },
  prefetches: { width: 1, read: (c) => one(c.prefetches) },
  evictions: { width: 2, read: (c) => c.evictions },
});
type CacheField = Parameters<typeof cacheFields.get>[1];

/** One declaration per coredns_cache_* counter. */
const CACHE_COUNTERS: ReadonlyArray<{ name: string; help: string; field: CacheField; byType?: true; withZeros?: true }> = [
  { name: 'coredns_cache_requests_total', help: 'The count of cache requests.', field: 'requests' },
  { name: 'coredns_cache_hits_total', help: 'The count of cache hits.', field: 'hits', byType: true },
  { name: 'coredns_cache_misses_total', help: 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.', field: 'misses' },
  // A reply whose question does not match ours is never accepted (forward/ waits for the right
  // one), so nothing reaches the cache to be dropped: written at 0 with each cache so that the
  // panels and alerts on it read 0 rather than "no data".
  { name: 'coredns_cache_drops_total', help: 'The number responses that are not cached, because the reply is malformed.', field: 'drops', withZeros: true },
  { name: 'coredns_cache_served_stale_total', help: 'The number of requests served from stale cache entries.', field: 'servedStale' },
  { name: 'coredns_cache_prefetch_total', help: 'The number of times the cache has prefetched a cached item.', field: 'prefetches' },
  { name: 'coredns_cache_evictions_total', help: 'The count of cache evictions.', field: 'evictions', byType: true },
];

/**
 * Counters are published under the block's first server label only. CoreDNS counts each request
 * under the listener it arrived on, so summing over `server` gives the block total; CacheStats
 * counts the whole block at once, and repeating the counts under every listener would double
 * every `sum(rate(coredns_cache_*))`. The entries gauge is repeated per listener, as CoreDNS does
 * (it sets the size of the shared cache under whichever listener stored last).
 */
const cacheSpec: CarrySpec<CacheStats> = {
  labels: (c) => ({ server: c.servers[0] ?? '', zones: c.zones }),
  read: (c) => cacheFields.read(c),
};

function cacheFamilies(s: MetricsSources): ScrapeFamily[] {
  const carry = new ReloadCarry(cacheSpec);
  const entries = new CacheEntries();
  return [
    family('coredns_cache_entries', 'The number of elements in the cache.', 'gauge', () => entries.samples(s.caches())),
    ...CACHE_COUNTERS.map((c) => family(c.name, c.help, 'counter', () => cacheSamples(carry.totals(s.caches()), c.field, c.byType === true, c.withZeros === true))),
  ];
}

type Totals = Array<{ labels: Labels; values: Float64Array }>;

function cacheSamples(totals: Totals, field: CacheField, byType: boolean, withZeros: boolean): Sample[] {
  const out: Sample[] = [];
  for (const t of totals) {
    const values = cacheFields.get(t.values, field);
    values.forEach((value, i) => {
      if (value === 0 && !withZeros) return;
      const labels: Labels = byType ? { server: t.labels.server, type: CACHE_TYPE_LABELS[i], view: '', zones: t.labels.zones } : { server: t.labels.server, view: '', zones: t.labels.zones };
      out.push({ labels, value });
    });
  }
  return out;
}

/** coredns_cache_entries: a series appears once non-zero and then stays (CoreDNS sets it on every store). */
class CacheEntries {
  private readonly shown = new Set<string>();

  samples(caches: Iterable<CacheStats>): Sample[] {
    const sums = new Map<string, Sample>();
    for (const cache of caches) {
      const sizes = cache.entries();
      for (const server of cache.servers) {
        CACHE_TYPE_LABELS.forEach((type, i) => this.add(sums, { server, type, view: '', zones: cache.zones }, sizes[i]));
      }
    }
    return [...sums.values()].filter((sample) => this.visible(sample));
  }

  private add(sums: Map<string, Sample>, labels: Labels, value: number): void {
    const key = Object.values(labels).join('\0');
    const prev = sums.get(key);
    sums.set(key, { labels, value: (prev?.value ?? 0) + value });
  }

  private visible(sample: Sample): boolean {
    const key = Object.values(sample.labels).join('\0');
    if (sample.value > 0) this.shown.add(key);
    return this.shown.has(key);
  }
}

// ---------------------------------------------------------------------------------------------
// nodelocaldns_* : ours, not CoreDNS's (CoreDNS never sees these packets)

const MALFORMED_REASONS: [keyof DnsStats['malformed'], string][] = [
  ['short', 'short'],
  ['response', 'response'],
  ['formerr', 'formerr'],
  ['notimp', 'notimp'],
  ['tcpFrame', 'tcp_frame'],
  ['badvers', 'badvers'],
  ['sourcePort', 'source_port'],
];

const TCP_CLOSE_REASONS: [keyof DnsStats['listener'], string][] = [
  ['tcpReadTimeouts', 'read_timeout'],
  ['tcpWriteTimeouts', 'write_timeout'],
  ['tcpEvicted', 'evicted'],
];

/** Kernel UDP counters of this network namespace (/proc/net/snmp): drops show up here, not in any socket API. */
function readUdpSnmp(text?: string): { rcvbufErrors: number; sndbufErrors: number; inErrors: number } | null {
  let raw = text;
  if (raw === undefined) {
    try {
      raw = readFileSync('/proc/net/snmp', 'utf8');
    } catch {
      return null;
    }
  }
  const lines = raw.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return null;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/).map(Number);
  const get = (n: string) => values[names.indexOf(n)] ?? 0;
  return { rcvbufErrors: get('RcvbufErrors'), sndbufErrors: get('SndbufErrors'), inErrors: get('InErrors') };
}

function nodeLocalFamilies(dns: DnsStats): ScrapeFamily[] {
  return [
    family('nodelocaldns_malformed_queries_total', 'Packets that could not be served as queries, by reason (dropped, or answered FORMERR/NOTIMP/BADVERS).', 'counter', () =>
      MALFORMED_REASONS.map(([key, reason]) => ({ labels: { reason }, value: dns.malformed[key] })),
    ),
    family('nodelocaldns_udp_send_errors_total', 'UDP replies the socket could not send (an error thrown or reported by the send).', 'counter', () => [{ labels: {}, value: dns.listener.udpSendErrors }]),
    family('nodelocaldns_tcp_connections_closed_total', 'TCP connections the server closed, by reason (read_timeout, write_timeout, evicted at the connection cap).', 'counter', () =>
      TCP_CLOSE_REASONS.map(([key, reason]) => ({ labels: { reason }, value: dns.listener[key] })),
    ),
    family('nodelocaldns_udp_receive_buffer_errors_total', 'UDP datagrams the kernel dropped for a full receive buffer in this network namespace (/proc/net/snmp RcvbufErrors).', 'counter', () => {
      const snmp = readUdpSnmp();
      return snmp ? [{ labels: {}, value: snmp.rcvbufErrors }] : [];
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// coredns_proxy_* (per upstream), coredns_forward_* (process-wide) and the pre-1.11 per-upstream coredns_forward_*

// Per rcode: the bucket counts (+Inf included), then the sum.
const HIST_WIDTH = DURATION_BUCKETS.length + 2;

const upstreamFields = new Layout<UpstreamStats, 'connHits' | 'connMisses' | 'healthcheckFailures' | 'durations'>({
  connHits: { width: 1, read: (u) => one(u.connCacheHits) },
  connMisses: { width: 1, read: (u) => one(u.connCacheMisses) },
  healthcheckFailures: { width: 1, read: (u) => one(u.healthcheckFailures) },
  durations: {
    width: RCODE_SLOTS * HIST_WIDTH,
    read: (u) => {
      const v = new Float64Array(RCODE_SLOTS * HIST_WIDTH);
      u.durationByRcode.forEach((h, rcode) => {
        v.set(h.counts, rcode * HIST_WIDTH);
        v[rcode * HIST_WIDTH + HIST_WIDTH - 1] = h.sum;
      });
      return v;
    },
  },
});

const upstreamSpec: CarrySpec<UpstreamStats> = {
  labels: (u) => ({ to: u.to }),
  read: (u) => upstreamFields.read(u),
};

const forwarderFields = new Layout<ForwardStats, 'maxConcurrentRejects' | 'healthcheckBroken'>({
  maxConcurrentRejects: { width: 1, read: (f) => one(f.maxConcurrentRejects) },
  healthcheckBroken: { width: 1, read: (f) => one(f.healthcheckBroken) },
});

const forwarderSpec: CarrySpec<ForwardStats> = {
  labels: () => ({}), // process-wide, as CoreDNS's
  read: (f) => forwarderFields.read(f),
};

function forwardFamilies(s: MetricsSources): ScrapeFamily[] {
  const upstreams = new ReloadCarry(upstreamSpec);
  const forwarders = new ReloadCarry(forwarderSpec);
  const perUpstream = (): Totals => upstreams.totals(allUpstreams(s.forwarders()));
  const global = (field: 'maxConcurrentRejects' | 'healthcheckBroken') => (): Sample[] => {
    const total = forwarders.totals(s.forwarders())[0];
    return single(total ? forwarderFields.get(total.values, field)[0] : 0);
  };
  const proxy = { proxy_name: 'forward' };
  return [
    family('coredns_proxy_request_duration_seconds', 'Histogram of the time each request took.', 'histogram', () =>
      durationSamples(perUpstream(), 'coredns_proxy_request_duration_seconds', proxy),
    ),
    family('coredns_proxy_healthcheck_failures_total', 'Counter of the number of failed healthchecks.', 'counter', () =>
      upstreamCounter(perUpstream(), 'healthcheckFailures', proxy),
    ),
    family('coredns_proxy_conn_cache_hits_total', 'Counter of connection cache hits per upstream and protocol.', 'counter', () =>
      upstreamCounter(perUpstream(), 'connHits', { proto: 'tcp', ...proxy }),
    ),
    family('coredns_proxy_conn_cache_misses_total', 'Counter of connection cache misses per upstream and protocol.', 'counter', () =>
      upstreamCounter(perUpstream(), 'connMisses', { proto: 'tcp', ...proxy }),
    ),
    family('coredns_forward_healthcheck_broken_total', 'Counter of the number of complete failures of the healthchecks.', 'counter', global('healthcheckBroken')),
    family('coredns_forward_max_concurrent_rejects_total', 'Counter of the number of queries rejected because the concurrent queries were at maximum.', 'counter', global('maxConcurrentRejects')),
    ...legacyForwardFamilies(perUpstream),
  ];
}

/**
 * The per-upstream names of CoreDNS 1.8-1.10 (node-cache 1.22-era dashboards and the coredns-mixin
 * alerts still query them), from the same counters as coredns_proxy_*. In those versions requests,
 * responses and the duration were all counted when a reply arrived (forward/connect.go), so
 * requests_total is the sum of responses_total over rcode.
 */
function legacyForwardFamilies(perUpstream: () => Totals): ScrapeFamily[] {
  return [
    family('coredns_forward_requests_total', 'Counter of requests made per upstream.', 'counter', () =>
      perUpstream()
        .map((t) => ({ labels: { to: t.labels.to }, value: repliesOf(t) }))
        .filter((sample) => sample.value > 0),
    ),
    family('coredns_forward_responses_total', 'Counter of responses received per upstream.', 'counter', () => {
      const out: Sample[] = [];
      for (const t of perUpstream()) {
        for (let rcode = 0; rcode < RCODE_SLOTS; rcode++) {
          const value = repliesOf(t, rcode);
          if (value > 0) out.push({ labels: { rcode: RCODE_NAMES[rcode], to: t.labels.to }, value });
        }
      }
      return out;
    }),
    family('coredns_forward_request_duration_seconds', 'Histogram of the time each request took.', 'histogram', () =>
      durationSamples(perUpstream(), 'coredns_forward_request_duration_seconds', {}),
    ),
    family('coredns_forward_healthcheck_failures_total', 'Counter of the number of failed healthchecks.', 'counter', () =>
      upstreamCounter(perUpstream(), 'healthcheckFailures', {}),
    ),
    family('coredns_forward_conn_cache_hits_total', 'Counter of connection cache hits per upstream and protocol.', 'counter', () =>
      upstreamCounter(perUpstream(), 'connHits', { proto: 'tcp' }),
    ),
    family('coredns_forward_conn_cache_misses_total', 'Counter of connection cache misses per upstream and protocol.', 'counter', () =>
      upstreamCounter(perUpstream(), 'connMisses', { proto: 'tcp' }),
    ),
  ];
}

function* allUpstreams(forwarders: Iterable<ForwardStats>): Iterable<UpstreamStats> {
  for (const f of forwarders) yield* f.upstreams;
}

/** Replies received from one upstream, of one rcode or all. */
function repliesOf(t: Totals[number], rcode?: number): number {
  const durations = upstreamFields.get(t.values, 'durations');
  let n = 0;
  for (let r = rcode ?? 0; r <= (rcode ?? RCODE_SLOTS - 1); r++) {
    for (let i = r * HIST_WIDTH; i < (r + 1) * HIST_WIDTH - 1; i++) n += durations[i];
  }
  return n;
}

/** Connection-cache counters carry proto="tcp": only the pooled TCP transport dials and reuses connections. */
function upstreamCounter(totals: Totals, field: 'connHits' | 'connMisses' | 'healthcheckFailures', extra: Labels): Sample[] {
  return totals
    .map((t): Sample => ({ labels: { ...extra, to: t.labels.to }, value: upstreamFields.get(t.values, field)[0] }))
    .filter((sample) => sample.value > 0);
}

function durationSamples(totals: Totals, name: string, extra: Labels): Sample[] {
  const out: Sample[] = [];
  for (const t of totals) {
    const durations = upstreamFields.get(t.values, 'durations');
    for (let rcode = 0; rcode < RCODE_SLOTS; rcode++) {
      const at = rcode * HIST_WIDTH;
      const counts = durations.subarray(at, at + HIST_WIDTH - 1);
      if (!counts.some((c) => c > 0)) continue;
      const labels = { ...extra, rcode: RCODE_NAMES[rcode], to: t.labels.to };
      pushHistogram(out, name, labels, DURATION_BUCKETS, counts, durations[at + HIST_WIDTH - 1]);
    }
  }
  return out;
}
