// The scrape-time registry: hot-path counters (DnsStats, CacheStats, ForwardStats, SetupErrors)
// must come out as CoreDNS 1.13 families with the same names, types, label sets, bucket edges and
// values, in valid Prometheus text; counters survive reloads; the dashboard and alert files only
// use names we export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse as parseYaml } from 'yaml';
import { createMetricsRegistry, type MetricsSources } from '../../src/metrics/registry.js';
import { DnsStats, PLUGIN_CACHE, PLUGIN_NONE, PROTO_TCP, PROTO_UDP, SIZE_BUCKETS } from '../../src/metrics/dns-stats.js';
import { DURATION_BUCKETS } from '../../src/util/histogram.js';
import { CacheStats } from '../../src/cache/stats.js';
import { ForwardStats, UpstreamStats } from '../../src/forward/stats.js';
import { SETUP_ERROR_TYPES, SetupErrors } from '../../src/node-setup/setup-errors.js';
import { SLIM_TIME_BUCKETS } from '../../src/health/health.js';

interface ParsedMetric {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: ParsedMetric[];
}
// Used for names, types, counters and gauges. It merges every series of a labelled histogram into
// one and drops their labels, so histogram values are read with strictRead() below.
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

const S1 = 'dns://169.254.20.10:53';
const S2 = 'dns://10.96.0.10:53';
const ZONE = 'cluster.local.';
const UP = '10.96.0.10:53';
const MONITORING = new URL('../../deploy/monitoring/', import.meta.url);

// ---------------------------------------------------------------------------------------------
// Fixture with known values

interface Fixture {
  dns: DnsStats;
  caches: CacheStats[];
  forwarders: ForwardStats[];
  setupErrors: SetupErrors;
  reloadFailed: number;
  sources: MetricsSources;
}

function emptyFixture(): Fixture {
  const f: Fixture = {
    dns: new DnsStats(),
    caches: [],
    forwarders: [],
    setupErrors: new SetupErrors(),
    reloadFailed: 0,
    sources: undefined as unknown as MetricsSources,
  };
  f.sources = {
    dns: f.dns,
    caches: () => f.caches,
    forwarders: () => f.forwarders,
    setupErrors: f.setupErrors,
    reloadFailed: () => f.reloadFailed,
    pluginsEnabled: () => [],
    version: '1.13.2',
  };
  return f;
}

function filledFixture(): Fixture {
  const f = emptyFixture();
  const z = f.dns.zone(S1, ZONE);
  for (let i = 0; i < 3; i++) z.onRequest(PROTO_UDP, 0, 1, 40, false); // A, udp, IPv4
  z.onRequest(PROTO_TCP, 1, 28, 60, true); // AAAA, tcp, IPv6, DO
  z.onRequest(PROTO_UDP, 0, 99, 600, false); // type 99 -> "other"
  z.onResponse(PROTO_UDP, 0, PLUGIN_CACHE, 90, 0.0001); // le 0.00025
  z.onResponse(PROTO_UDP, 0, PLUGIN_CACHE, 100, 0.003); // le 0.004
  z.onResponse(PROTO_UDP, 3, PLUGIN_CACHE, 120, 0.003); // NXDOMAIN
  z.onResponse(PROTO_TCP, 2, PLUGIN_NONE, 0, 10); // SERVFAIL written by the server, +Inf
  const dropped = f.dns.zone(S1, 'dropped');
  dropped.onRequest(PROTO_UDP, 0, 1, 30, false);
  dropped.onResponse(PROTO_UDP, 5, PLUGIN_NONE, 30, 0.00001);
  f.dns.panics = 2;

  f.caches.push(cacheWith([S1, S2], { requests: 10, hits: [6, 1], misses: 3, drops: 1, servedStale: 2, prefetches: 1, evictions: [4, 0] }, [7, 2]));

  const u = new UpstreamStats(UP);
  u.durationByRcode[0].observe(0.0003);
  u.durationByRcode[0].observe(0.0003);
  u.durationByRcode[2].observe(2.5);
  u.connCacheHits = 5;
  u.connCacheMisses = 2;
  u.healthcheckFailures = 1;
  const fwd = new ForwardStats([u]);
  fwd.maxConcurrentRejects = 3;
  fwd.healthcheckBroken = 1;
  f.forwarders.push(fwd);
  f.reloadFailed = 1;
  f.sources = { ...f.sources, pluginsEnabled: () => plugins(), revision: 'abc123' };
  return f;
}

interface CacheCounts {
  requests: number;
  hits: [number, number];
  misses: number;
  drops: number;
  servedStale: number;
  prefetches: number;
  evictions: [number, number];
}

function cacheWith(servers: string[], counts: CacheCounts, entries: [number, number]): CacheStats {
  const c = new CacheStats(servers, ZONE, () => entries);
  c.requests = counts.requests;
  c.hits[0] = counts.hits[0];
  c.hits[1] = counts.hits[1];
  c.misses = counts.misses;
  c.drops = counts.drops;
  c.servedStale = counts.servedStale;
  c.prefetches = counts.prefetches;
  c.evictions[0] = counts.evictions[0];
  c.evictions[1] = counts.evictions[1];
  return c;
}

function plugins(): Array<{ server: string; zone: string; name: string }> {
  return [
    { server: S1, zone: ZONE, name: 'cache' },
    { server: S1, zone: ZONE, name: 'forward' },
    { server: S1, zone: ZONE, name: 'cache' }, // duplicate: must be written once
  ];
}

async function scrape(sources: MetricsSources, defaultMetrics = false): Promise<string> {
  return createMetricsRegistry(sources, { defaultMetrics }).registry.metrics();
}

const byName = (families: ParsedFamily[]): Map<string, ParsedFamily> => new Map(families.map((f) => [f.name, f]));

function find(family: ParsedFamily | undefined, labels: Record<string, string>): ParsedMetric {
  assert.ok(family, 'family missing');
  const hit = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.equal(hit.length, 1, `${family.name}: expected one series for ${JSON.stringify(labels)}, got ${hit.length}`);
  return hit[0];
}

// ---------------------------------------------------------------------------------------------
// A strict reader of the text format (the parser above is lenient)

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (\\S+)$`);

interface Line {
  name: string;
  labels: Array<[string, string]>;
  value: number;
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  assert.match(raw, /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i, `bad value ${raw}`);
  return Number(raw);
}

function parseLabels(raw: string | undefined): Array<[string, string]> {
  if (!raw) return [];
  return [...raw.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]);
}

/** Checks HELP/TYPE order, sample syntax, unique series and histogram invariants; returns samples per family. */
function strictRead(text: string): Map<string, { type: string; lines: Line[] }> {
  assert.ok(text.endsWith('\n'), 'exposition must end with a newline');
  const families = new Map<string, { type: string; lines: Line[] }>();
  const seen = new Set<string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help) {
      assert.ok(!families.has(help[1]), `family ${help[1]} written twice`);
      current = help[1];
      continue;
    }
    if (type) {
      assert.equal(type[1], current, 'TYPE must follow its HELP');
      families.set(type[1], { type: type[2], lines: [] });
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a valid sample line: ${line}`);
    const fam = families.get(current!);
    assert.ok(fam, `sample before TYPE: ${line}`);
    const base = fam.type === 'histogram' ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
    assert.equal(base, current, `sample ${m[1]} outside its family ${current}`);
    const labels = parseLabels(m[2]);
    const key = `${m[1]}{${labels.map(([k, v]) => `${k}=${v}`).sort().join(',')}}`;
    assert.ok(!seen.has(key), `duplicate series ${key}`);
    seen.add(key);
    fam.lines.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  for (const [name, fam] of families) if (fam.type === 'histogram') checkHistogram(name, fam.lines);
  return families;
}

function checkHistogram(name: string, lines: Line[]): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const l of lines) {
    const rest = l.labels.filter(([k]) => k !== 'le');
    const key = rest.map(([k, v]) => `${k}=${v}`).join(',');
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (l.name === `${name}_bucket`) g.buckets.push([parseValue(l.labels.find(([k]) => k === 'le')![1]), l.value]);
    else if (l.name === `${name}_count`) g.count = l.value;
    else g.sum = l.value;
  }
  for (const [key, g] of groups) {
    assert.equal(g.buckets.at(-1)?.[0], Infinity, `${name}{${key}} must end with le="+Inf"`);
    for (let i = 1; i < g.buckets.length; i++) {
      assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `${name}{${key}} le not ascending`);
      assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `${name}{${key}} buckets not cumulative`);
    }
    assert.equal(g.count, g.buckets.at(-1)![1], `${name}{${key}} _count != +Inf bucket`);
    assert.ok(g.sum !== undefined, `${name}{${key}} has no _sum`);
  }
}

type Strict = Map<string, { type: string; lines: Line[] }>;

/** One series of a histogram: bucket edges as written, cumulative counts, _count and _sum. */
function histogram(strict: Strict, name: string, labels: Record<string, string>): { edges: string[]; cumulative: number[]; count: number; sum: number } {
  const matches = (l: Line) => Object.entries(labels).every(([k, v]) => l.labels.some(([lk, lv]) => lk === k && lv === v));
  const lines = strict.get(name)?.lines.filter(matches) ?? [];
  const buckets = lines.filter((l) => l.name === `${name}_bucket`);
  const one = (suffix: string) => {
    const hit = lines.filter((l) => l.name === `${name}_${suffix}`);
    assert.equal(hit.length, 1, `${name}_${suffix}: expected one series for ${JSON.stringify(labels)}, got ${hit.length}`);
    return hit[0].value;
  };
  return {
    edges: buckets.map((l) => l.labels.find(([k]) => k === 'le')![1]),
    cumulative: buckets.map((l) => l.value),
    count: one('count'),
    sum: one('sum'),
  };
}

const seriesCount = (strict: Strict, name: string): number => strict.get(name)?.lines.filter((l) => l.name === `${name}_count`).length ?? 0;

// ---------------------------------------------------------------------------------------------
// Expected families: CoreDNS 1.13 type and label set (without le)

const EXPECTED: Record<string, [string, string[]]> = {
  coredns_build_info: ['gauge', ['goversion', 'revision', 'version']],
  coredns_plugin_enabled: ['gauge', ['name', 'server', 'view', 'zone']],
  coredns_reload_failed_total: ['counter', []],
  coredns_panics_total: ['counter', []],
  coredns_health_request_duration_seconds: ['histogram', []],
  coredns_health_request_failures_total: ['counter', []],
  coredns_nodecache_setup_errors_total: ['counter', ['errortype']],
  coredns_dns_requests_total: ['counter', ['family', 'proto', 'server', 'type', 'view', 'zone']],
  coredns_dns_responses_total: ['counter', ['plugin', 'rcode', 'server', 'view', 'zone']],
  coredns_dns_do_requests_total: ['counter', ['server', 'view', 'zone']],
  coredns_dns_request_duration_seconds: ['histogram', ['server', 'view', 'zone']],
  coredns_dns_request_size_bytes: ['histogram', ['proto', 'server', 'view', 'zone']],
  coredns_dns_response_size_bytes: ['histogram', ['proto', 'server', 'view', 'zone']],
  coredns_cache_entries: ['gauge', ['server', 'type', 'view', 'zones']],
  coredns_cache_requests_total: ['counter', ['server', 'view', 'zones']],
  coredns_cache_hits_total: ['counter', ['server', 'type', 'view', 'zones']],
  coredns_cache_misses_total: ['counter', ['server', 'view', 'zones']],
  coredns_cache_drops_total: ['counter', ['server', 'view', 'zones']],
  coredns_cache_served_stale_total: ['counter', ['server', 'view', 'zones']],
  coredns_cache_prefetch_total: ['counter', ['server', 'view', 'zones']],
  coredns_cache_evictions_total: ['counter', ['server', 'type', 'view', 'zones']],
  coredns_proxy_request_duration_seconds: ['histogram', ['proxy_name', 'rcode', 'to']],
  coredns_proxy_healthcheck_failures_total: ['counter', ['proxy_name', 'to']],
  coredns_proxy_conn_cache_hits_total: ['counter', ['proto', 'proxy_name', 'to']],
  coredns_proxy_conn_cache_misses_total: ['counter', ['proto', 'proxy_name', 'to']],
  coredns_forward_healthcheck_broken_total: ['counter', []],
  coredns_forward_max_concurrent_rejects_total: ['counter', []],
  // CoreDNS 1.8-1.10 per-upstream names (node-cache 1.22-era dashboards, coredns-mixin alerts)
  coredns_forward_requests_total: ['counter', ['to']],
  coredns_forward_responses_total: ['counter', ['rcode', 'to']],
  coredns_forward_request_duration_seconds: ['histogram', ['rcode', 'to']],
  coredns_forward_healthcheck_failures_total: ['counter', ['to']],
  coredns_forward_conn_cache_hits_total: ['counter', ['proto', 'to']],
  coredns_forward_conn_cache_misses_total: ['counter', ['proto', 'to']],
  // ours (not CoreDNS): packets CoreDNS would never see, and kernel UDP drops
  nodelocaldns_malformed_queries_total: ['counter', ['reason']],
  nodelocaldns_udp_receive_buffer_errors_total: ['counter', []],
  nodelocaldns_udp_send_errors_total: ['counter', []],
  nodelocaldns_tcp_connections_closed_total: ['counter', ['reason']],
};

// Label-less families CoreDNS registers at start, plus node-cache's pre-created series.
const ALWAYS = [
  'coredns_build_info',
  'coredns_reload_failed_total',
  'coredns_panics_total',
  'coredns_health_request_duration_seconds',
  'coredns_health_request_failures_total',
  'coredns_nodecache_setup_errors_total',
  'coredns_forward_healthcheck_broken_total',
  'coredns_forward_max_concurrent_rejects_total',
  'nodelocaldns_malformed_queries_total',
  'nodelocaldns_udp_send_errors_total',
  'nodelocaldns_tcp_connections_closed_total',
];

// ---------------------------------------------------------------------------------------------

test('the scrape is strictly valid text format with every CoreDNS family, type and label set', async () => {
  const text = await scrape(filledFixture().sources);
  const strict = strictRead(text);
  assert.deepEqual([...strict.keys()].sort(), Object.keys(EXPECTED).sort());
  for (const [name, [type, labelNames]] of Object.entries(EXPECTED)) {
    const fam = strict.get(name)!;
    assert.equal(fam.type, type, `${name} type`);
    for (const line of fam.lines) {
      const names = line.labels.map(([k]) => k).filter((k) => k !== 'le');
      assert.deepEqual(names, labelNames, `${name} labels (alphabetical, like client_golang)`);
      if (line.name.endsWith('_bucket')) assert.equal(line.labels.at(-1)![0], 'le', 'le comes last');
    }
    if (labelNames.includes('view')) assert.ok(fam.lines.every((l) => l.labels.some(([k, v]) => k === 'view' && v === '')));
  }
  const parsed = byName(parseProm(text));
  for (const [name, [type]] of Object.entries(EXPECTED)) assert.equal(parsed.get(name)?.type, type.toUpperCase());
});

test('histograms: CoreDNS bucket edges and cumulative counts', async () => {
  const strict = strictRead(await scrape(filledFixture().sources));
  const edges = (bounds: readonly number[]) => [...bounds.map(String), '+Inf'];
  const timeEdges = ['0.00025', '0.0005', '0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '+Inf'];
  assert.deepEqual(edges(DURATION_BUCKETS), timeEdges);
  const sizeEdges = ['0', '100', '200', '300', '400', '511', '1023', '2047', '4095', '8291', '16000', '32000', '48000', '64000', '+Inf'];
  assert.deepEqual(edges(SIZE_BUCKETS), sizeEdges);

  const duration = histogram(strict, 'coredns_dns_request_duration_seconds', { server: S1, zone: ZONE });
  assert.deepEqual(duration.edges, timeEdges);
  assert.deepEqual(duration.cumulative, [1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4]);
  assert.equal(duration.count, 4);
  assert.equal(duration.sum, 0.0001 + 0.003 + 0.003 + 10);
  const droppedDuration = histogram(strict, 'coredns_dns_request_duration_seconds', { zone: 'dropped' });
  assert.deepEqual(droppedDuration.cumulative, Array(17).fill(1));

  const reqUdp = histogram(strict, 'coredns_dns_request_size_bytes', { server: S1, zone: ZONE, proto: 'udp' });
  assert.deepEqual(reqUdp.edges, sizeEdges);
  assert.deepEqual(reqUdp.cumulative, [0, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  assert.equal(reqUdp.sum, 720);
  const reqTcp = histogram(strict, 'coredns_dns_request_size_bytes', { server: S1, zone: ZONE, proto: 'tcp' });
  assert.deepEqual(reqTcp.cumulative, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const respTcp = histogram(strict, 'coredns_dns_response_size_bytes', { server: S1, zone: ZONE, proto: 'tcp' });
  assert.equal(respTcp.cumulative[0], 1, 'a 0-byte server-written reply lands in le="0"');
  assert.equal(seriesCount(strict, 'coredns_dns_response_size_bytes'), 3, 'udp+tcp for the zone, udp for dropped');

  const proxyOk = histogram(strict, 'coredns_proxy_request_duration_seconds', { to: UP, rcode: 'NOERROR', proxy_name: 'forward' });
  assert.deepEqual(proxyOk.edges, timeEdges);
  assert.deepEqual(proxyOk.cumulative, [0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  assert.equal(proxyOk.sum, 0.0003 + 0.0003);
  const proxyFail = histogram(strict, 'coredns_proxy_request_duration_seconds', { to: UP, rcode: 'SERVFAIL' });
  assert.deepEqual(proxyFail.cumulative.slice(13), [0, 1, 1, 1]);
  assert.equal(seriesCount(strict, 'coredns_proxy_request_duration_seconds'), 2, 'one series per rcode seen');

  const health = histogram(strict, 'coredns_health_request_duration_seconds', {});
  assert.deepEqual(health.edges, [...SLIM_TIME_BUCKETS.map(String), '+Inf']);
  assert.deepEqual(health.cumulative, [0, 0, 0, 0, 0, 0]);
  assert.equal(health.count, 0);
});

test('coredns_dns_* values', async () => {
  const parsed = byName(parseProm(await scrape(filledFixture().sources)));
  const requests = parsed.get('coredns_dns_requests_total');
  assert.equal(find(requests, { zone: ZONE, proto: 'udp', family: '1', type: 'A' }).value, '3');
  assert.equal(find(requests, { zone: ZONE, proto: 'tcp', family: '2', type: 'AAAA' }).value, '1');
  assert.equal(find(requests, { zone: ZONE, type: 'other' }).value, '1');
  assert.equal(find(requests, { zone: 'dropped' }).value, '1');
  assert.equal(requests!.metrics.length, 4, 'only touched series');

  const responses = parsed.get('coredns_dns_responses_total');
  assert.equal(find(responses, { zone: ZONE, rcode: 'NOERROR', plugin: 'cache' }).value, '2');
  assert.equal(find(responses, { zone: ZONE, rcode: 'NXDOMAIN', plugin: 'cache' }).value, '1');
  assert.equal(find(responses, { zone: ZONE, rcode: 'SERVFAIL', plugin: '' }).value, '1');
  assert.equal(find(responses, { zone: 'dropped', rcode: 'REFUSED', plugin: '' }).value, '1');
  assert.equal(responses!.metrics.length, 4);

  assert.equal(find(parsed.get('coredns_dns_do_requests_total'), { zone: ZONE }).value, '1');
  assert.equal(parsed.get('coredns_dns_do_requests_total')!.metrics.length, 1, 'no DO series for "dropped"');
  assert.equal(parsed.get('coredns_panics_total')!.metrics[0].value, '2');
  assert.equal(parsed.get('coredns_reload_failed_total')!.metrics[0].value, '1');
  const build = parsed.get('coredns_build_info')!.metrics[0];
  assert.deepEqual(build.labels, { goversion: process.version, revision: 'abc123', version: '1.13.2' });
  assert.equal(build.value, '1');
  const enabled = parsed.get('coredns_plugin_enabled')!.metrics;
  assert.deepEqual(enabled.map((m) => m.labels!.name), ['cache', 'forward']);
  assert.ok(enabled.every((m) => m.value === '1'));
});

test('coredns_cache_*: counters under the first listener, entries under every listener', async () => {
  const parsed = byName(parseProm(await scrape(filledFixture().sources)));
  const one = (name: string, labels: Record<string, string> = {}) => find(parsed.get(name), { server: S1, zones: ZONE, ...labels }).value;
  assert.equal(one('coredns_cache_requests_total'), '10');
  assert.equal(one('coredns_cache_hits_total', { type: 'success' }), '6');
  assert.equal(one('coredns_cache_hits_total', { type: 'denial' }), '1');
  assert.equal(one('coredns_cache_misses_total'), '3');
  assert.equal(one('coredns_cache_drops_total'), '1');
  assert.equal(one('coredns_cache_served_stale_total'), '2');
  assert.equal(one('coredns_cache_prefetch_total'), '1');
  assert.equal(one('coredns_cache_evictions_total', { type: 'success' }), '4');
  assert.equal(parsed.get('coredns_cache_evictions_total')!.metrics.length, 1, 'denial evictions untouched');
  assert.equal(parsed.get('coredns_cache_requests_total')!.metrics.length, 1, 'sum over server = block total');
  for (const server of [S1, S2]) {
    assert.equal(find(parsed.get('coredns_cache_entries'), { server, type: 'success' }).value, '7');
    assert.equal(find(parsed.get('coredns_cache_entries'), { server, type: 'denial' }).value, '2');
  }
});

test('coredns_proxy_* and coredns_forward_* values', async () => {
  const parsed = byName(parseProm(await scrape(filledFixture().sources)));
  assert.equal(find(parsed.get('coredns_proxy_conn_cache_hits_total'), { to: UP, proto: 'tcp', proxy_name: 'forward' }).value, '5');
  assert.equal(find(parsed.get('coredns_proxy_conn_cache_misses_total'), { to: UP, proto: 'tcp' }).value, '2');
  assert.equal(find(parsed.get('coredns_proxy_healthcheck_failures_total'), { to: UP, proxy_name: 'forward' }).value, '1');
  assert.equal(parsed.get('coredns_forward_max_concurrent_rejects_total')!.metrics[0].value, '3');
  assert.equal(parsed.get('coredns_forward_healthcheck_broken_total')!.metrics[0].value, '1');
});

test('pre-1.11 coredns_forward_* per-upstream series carry the same numbers as coredns_proxy_*', async () => {
  const text = await scrape(filledFixture().sources);
  const parsed = byName(parseProm(text));
  // Fixture: two NOERROR replies (0.3 ms) and one SERVFAIL (2.5 s) from UP.
  assert.equal(find(parsed.get('coredns_forward_requests_total'), { to: UP }).value, '3');
  assert.equal(find(parsed.get('coredns_forward_responses_total'), { to: UP, rcode: 'NOERROR' }).value, '2');
  assert.equal(find(parsed.get('coredns_forward_responses_total'), { to: UP, rcode: 'SERVFAIL' }).value, '1');
  assert.equal(find(parsed.get('coredns_forward_healthcheck_failures_total'), { to: UP }).value, '1');
  assert.equal(find(parsed.get('coredns_forward_conn_cache_hits_total'), { to: UP, proto: 'tcp' }).value, '5');
  assert.equal(find(parsed.get('coredns_forward_conn_cache_misses_total'), { to: UP, proto: 'tcp' }).value, '2');
  const strict = strictRead(text);
  const legacy = strict.get('coredns_forward_request_duration_seconds')!.lines;
  const proxy = strict.get('coredns_proxy_request_duration_seconds')!.lines;
  const strip = (lines: Line[]) => lines.map((l) => `${l.name.replace(/^coredns_\w+?_request/, '')}${JSON.stringify(l.labels.filter(([k]) => k !== 'proxy_name'))} ${l.value}`);
  assert.deepEqual(strip(legacy), strip(proxy), 'same buckets, sums and counts');
});

test('node-cache setup errors: all five series at 0 from start, then counted', async () => {
  const f = emptyFixture();
  const { registry } = createMetricsRegistry(f.sources, { defaultMetrics: false });
  const first = byName(parseProm(await registry.metrics())).get('coredns_nodecache_setup_errors_total')!;
  assert.equal(first.type, 'COUNTER');
  assert.deepEqual(first.metrics.map((m) => [m.labels!.errortype, m.value]), SETUP_ERROR_TYPES.map((t) => [t, '0']));
  f.setupErrors.inc('iptables_lock');
  f.setupErrors.inc('iptables_lock');
  f.setupErrors.inc('configmap');
  const second = byName(parseProm(await registry.metrics())).get('coredns_nodecache_setup_errors_total')!;
  assert.equal(find(second, { errortype: 'iptables_lock' }).value, '2');
  assert.equal(find(second, { errortype: 'configmap' }).value, '1');
  assert.equal(find(second, { errortype: 'iptables' }).value, '0');
});

test('before any traffic only the series CoreDNS pre-creates are written', async () => {
  const text = await scrape(emptyFixture().sources);
  const strict = strictRead(text);
  // The kernel's UDP drop counter is read from /proc and may already be non-zero.
  assert.deepEqual([...strict.keys()].filter((n) => n !== 'nodelocaldns_udp_receive_buffer_errors_total').sort(), [...ALWAYS].sort());
  for (const name of ALWAYS) {
    if (name === 'coredns_build_info' || name === 'nodelocaldns_udp_receive_buffer_errors_total') continue;
    assert.ok(strict.get(name)!.lines.every((l) => l.value === 0), `${name} starts at 0`);
  }
  assert.doesNotMatch(text, /# HELP coredns_cache_/, 'families without samples are left out entirely');
});

test('cache counters never go backwards across a reload', async () => {
  const f = filledFixture();
  const { registry } = createMetricsRegistry(f.sources, { defaultMetrics: false });
  const requests = async () => Number(find(byName(parseProm(await registry.metrics())).get('coredns_cache_requests_total'), { server: S1 }).value);
  assert.equal(await requests(), 10);
  f.caches[0].requests = 12; // served two more queries after the last scrape, then got replaced
  f.caches = [cacheWith([S1, S2], { requests: 3, hits: [1, 0], misses: 2, drops: 0, servedStale: 0, prefetches: 0, evictions: [0, 0] }, [1, 0])];
  assert.equal(await requests(), 15);
  f.caches[0].requests = 4;
  assert.equal(await requests(), 16);
  const live = f.caches;
  f.caches = []; // zone removed: the retired totals stay, as CoreDNS's global counter vectors do
  assert.equal(await requests(), 16);
  f.caches = live; // the same cache back (a list read mid-reload): counted once, not twice
  live[0].requests = 5;
  assert.equal(await requests(), 17);
  f.caches = [];
  const parsed = byName(parseProm(await registry.metrics()));
  assert.equal(parsed.get('coredns_cache_entries'), undefined, 'no live cache, no entries gauge');
});

test('forward counters never go backwards across a reload; blocks sharing an upstream add up', async () => {
  const f = filledFixture();
  const { registry } = createMetricsRegistry(f.sources, { defaultMetrics: false });
  const values = async () => {
    const text = await registry.metrics();
    const parsed = byName(parseProm(text));
    return {
      hits: Number(find(parsed.get('coredns_proxy_conn_cache_hits_total'), { to: UP }).value),
      ok: histogram(strictRead(text), 'coredns_proxy_request_duration_seconds', { to: UP, rcode: 'NOERROR' }).count,
      rejects: Number(parsed.get('coredns_forward_max_concurrent_rejects_total')!.metrics[0].value),
    };
  };
  assert.deepEqual(await values(), { hits: 5, ok: 2, rejects: 3 });
  const a = new UpstreamStats(UP);
  const b = new UpstreamStats(UP); // a second server block forwarding to the same upstream
  a.connCacheHits = 1;
  b.connCacheHits = 2;
  b.durationByRcode[0].observe(0.01);
  const fwdA = new ForwardStats([a]);
  fwdA.maxConcurrentRejects = 1;
  f.forwarders = [fwdA, new ForwardStats([b])];
  assert.deepEqual(await values(), { hits: 8, ok: 3, rejects: 4 });
});

test('dashboard and alert metric names are all exported, and the files use no others', async () => {
  const names = JSON.parse(readFileSync(new URL('metric-names.json', MONITORING), 'utf8')) as { dashboard: string[]; alerts: string[] };
  const DASHBOARD_METRICS = [...new Set([...names.dashboard, ...names.alerts])];
  const text = await scrape(filledFixture().sources, true);
  strictRead(text);
  const exported = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => SAMPLE.exec(l)![1]));
  const missing = DASHBOARD_METRICS.filter((n) => !exported.has(n));
  assert.deepEqual(missing, [], 'names used by the dashboard/alerts but not exported');

  const used = (raw: string) => [...new Set(raw.match(/\b(?:coredns|process|nodejs)_[a-z0-9_]+/g) ?? [])].sort();
  const dashboard = readFileSync(new URL('dashboard.json', MONITORING), 'utf8');
  JSON.parse(dashboard);
  assert.deepEqual(used(dashboard), [...names.dashboard].sort());
  const alertsText = readFileSync(new URL('alerts.yaml', MONITORING), 'utf8');
  const alerts = parseYaml(alertsText) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  const exprs = alerts.groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');
  assert.deepEqual(used(exprs), [...names.alerts].sort());
  const alertNames = new Set(alerts.groups.flatMap((g) => g.rules.map((r) => r.alert)));
  for (const a of ['NodeLocalDNSSetupErrorsHigh', 'NodeLocalDNSErrorsHigh', 'NodeLocalDNSCacheHitRatioLow', 'NodeLocalDNSLatencyHigh', 'NodeLocalDNSDown']) {
    assert.ok(alertNames.has(a), `alert ${a}`);
  }
});

test('default process metrics are registered alongside', async () => {
  const strict = strictRead(await scrape(emptyFixture().sources, true));
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.ok(strict.has(name), name);
  }
});
