// Scrapes /metrics over HTTP after a known sequence of queries against a real BIND upstream and
// checks the CoreDNS series and their exact values; checks /health and /ready through start-up,
// lameduck and shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp, queryTcp } from '../harness/dns-client.js';
import { configFromYaml, clusterConfigYaml } from '../harness/daemon.js';
import { Daemon } from '../../src/daemon.js';
import { DnsStats } from '../../src/metrics/dns-stats.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { HealthState } from '../../src/health/health.js';
import { SetupErrors } from '../../src/node-setup/setup-errors.js';
import { HttpService } from '../../src/cli/http-service.js';
import { silentLogger } from '../../src/log/logger.js';
import { samples } from '../harness/prometheus.js';

let upstream: Upstream;
let daemon: Daemon;
let http: HttpService;
let health: HealthState;
let metricsUrl = '';
let healthUrl = '';


function value(all: ReturnType<typeof samples>, name: string, want: Record<string, string>): number {
  const hits = all.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
  return hits.reduce((n, s) => n + s.value, 0);
}

async function scrape(): Promise<ReturnType<typeof samples>> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return samples(await res.text());
}

before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
  const config = configFromYaml(`${clusterConfigYaml(upstream.address)}
health: { listen: "127.0.0.1:0" }
metrics: { listen: "127.0.0.1:0" }
`);
  const dnsStats = new DnsStats();
  const setupErrors = new SetupErrors();
  let d: Daemon;
  const metrics = createMetricsRegistry({
    dns: dnsStats,
    caches: () => d.caches(),
    forwarders: () => d.forwarders(),
    setupErrors,
    reloadFailed: () => d.reloadFailures,
    pluginsEnabled: () => d.pluginsEnabled(),
    version: 'test',
  });
  health = new HealthState({ stats: metrics.health });
  http = new HttpService(metrics.registry, health, silentLogger);
  assert.equal(health.readyAnswer().status, 503, 'not ready before start');
  d = daemon = new Daemon({ logger: silentLogger, dnsStats, services: [http] });
  await daemon.start(config);
  for (const u of http.urls()) {
    if (u.routes !== 'health') metricsUrl = `${u.url}/metrics`;
    if (u.routes !== 'metrics') healthUrl = u.url;
  }
});

after(async () => {
  await daemon?.stop(0);
  await upstream?.stop();
});

test('a known query sequence produces exact CoreDNS counts', async () => {
  const server = { host: '127.0.0.1', port: daemon.listeners()[0].udp.port };
  const [a, b] = fixtures.services;
  await queryUdp(server, a.name, 'A'); // miss
  await queryUdp(server, b.name, 'A'); // miss
  await queryUdp(server, a.name, 'A'); // hit
  await queryTcp(server, b.name, 'A'); // hit over TCP
  await queryUdp(server, fixtures.nxdomain.name, 'A'); // miss, NXDOMAIN
  await queryUdp(server, 'example.com', 'A'); // outside every zone: REFUSED, zone "dropped"
  const s = await scrape();
  const srv = 'dns://127.0.0.1:0';
  const zone = { server: srv, zone: 'cluster.local.', view: '' };
  assert.equal(value(s, 'coredns_dns_requests_total', { ...zone, proto: 'udp', family: '1', type: 'A' }), 4);
  assert.equal(value(s, 'coredns_dns_requests_total', { ...zone, proto: 'tcp', family: '1', type: 'A' }), 1);
  assert.equal(value(s, 'coredns_dns_requests_total', { server: srv, zone: 'dropped', proto: 'udp', type: 'A' }), 1);
  assert.equal(value(s, 'coredns_dns_responses_total', { ...zone, rcode: 'NOERROR', plugin: 'cache' }), 4);
  assert.equal(value(s, 'coredns_dns_responses_total', { ...zone, rcode: 'NXDOMAIN', plugin: 'cache' }), 1);
  assert.equal(value(s, 'coredns_dns_responses_total', { server: srv, zone: 'dropped', rcode: 'REFUSED', plugin: '' }), 1);
  assert.equal(value(s, 'coredns_dns_request_duration_seconds_count', zone), 5);
  assert.equal(value(s, 'coredns_dns_request_duration_seconds_bucket', { ...zone, le: '+Inf' }), 5);
  assert.equal(value(s, 'coredns_dns_request_size_bytes_count', { ...zone, proto: 'udp' }), 4);
  assert.equal(value(s, 'coredns_dns_response_size_bytes_count', { ...zone, proto: 'tcp' }), 1);
  const cache = { server: srv, zones: 'cluster.local.,10.in-addr.arpa.', view: '' };
  assert.equal(value(s, 'coredns_cache_requests_total', cache), 5);
  assert.equal(value(s, 'coredns_cache_hits_total', { ...cache, type: 'success' }), 2);
  assert.equal(value(s, 'coredns_cache_misses_total', cache), 3);
  assert.equal(value(s, 'coredns_cache_entries', { ...cache, type: 'success' }), 2);
  assert.equal(value(s, 'coredns_cache_entries', { ...cache, type: 'denial' }), 1);
  const to = { proxy_name: 'forward', to: upstream.address };
  assert.equal(value(s, 'coredns_proxy_request_duration_seconds_count', { ...to, rcode: 'NOERROR' }), 2);
  assert.equal(value(s, 'coredns_proxy_request_duration_seconds_count', { ...to, rcode: 'NXDOMAIN' }), 1);
  assert.equal(value(s, 'coredns_proxy_conn_cache_misses_total', to), 1, 'one pooled TCP connection');
  assert.equal(value(s, 'coredns_proxy_conn_cache_hits_total', to), 2);
  for (const type of ['iptables', 'iptables_lock', 'interface_add', 'interface_check', 'configmap']) {
    assert.equal(value(s, 'coredns_nodecache_setup_errors_total', { errortype: type }), 0);
  }
  assert.ok(s.some((x) => x.name === 'coredns_build_info'));
  assert.ok(s.some((x) => x.name === 'process_resident_memory_bytes'));
  assert.equal(value(s, 'coredns_plugin_enabled', { server: srv, zone: 'cluster.local.', name: 'cache' }), 1);
});

test('/health is 200 while serving and in lameduck; /ready is 200 only while serving', async () => {
  const get = async (path: string) => {
    const res = await fetch(`${healthUrl}${path}`);
    return `${res.status} ${await res.text()}`;
  };
  assert.equal(await get('/health'), '200 OK');
  assert.equal(await get('/ready'), '200 OK');
  health.enterLameduck();
  assert.equal(await get('/health'), '200 OK');
  assert.equal(await get('/ready'), '503 Shutting down');
});
