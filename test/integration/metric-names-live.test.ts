// Every metric name and label that operators' dashboards and alerts query (our own, the
// coredns-mixin's, and the pre-1.11 coredns_forward_* names of node-cache 1.22-era dashboards;
// the list and its sources are in deploy/monitoring/metric-names.json) returns data from a live
// daemon after ordinary traffic, and the scrape passes `promtool check metrics`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryTcp, queryUdp } from '../harness/dns-client.js';
import { configFromYaml } from '../harness/daemon.js';
import { waitFor } from '../harness/wait.js';
import { Daemon } from '../../src/daemon.js';
import { DnsStats } from '../../src/metrics/dns-stats.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { HealthState } from '../../src/health/health.js';
import { SetupErrors } from '../../src/node-setup/setup-errors.js';
import { HttpService } from '../../src/cli/http-service.js';
import { silentLogger } from '../../src/log/logger.js';
import { samples } from '../harness/prometheus.js';

interface Queried {
  queried: { metrics: Record<string, { labels: string[]; usedBy: string[] }>; sources: Record<string, string> };
}
const NAMES = JSON.parse(readFileSync(new URL('../../deploy/monitoring/metric-names.json', import.meta.url), 'utf8')) as Queried;



let upstream: Upstream;
let daemon: Daemon;
let metricsUrl = '';

before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
  const deadPort = await pickFreePort(); // nothing listens there: connection refused, health checks fail
  const config = configFromYaml(`servers:
  - zones: [cluster.local, 10.in-addr.arpa]
    bind: [127.0.0.1]
    port: 0
    cache:
      success: { capacity: 3, maxTTL: 30, minTTL: 0 }
      denial: { capacity: 100, maxTTL: 5, minTTL: 5 }
      serveStale: { duration: 1h, mode: immediate }
    forward:
      to: ["${upstream.address}"]
      forceTCP: true
  - zones: [dead.test]
    bind: [127.0.0.1]
    port: 0
    forward:
      to: ["127.0.0.1:${deadPort}"]
      forceTCP: true
      healthCheck: 100ms
      maxFails: 1
      timeout: 1s
      attemptTimeout: 300ms
health: { listen: "127.0.0.1:0" }
metrics: { listen: "127.0.0.1:0" }
`);
  const dnsStats = new DnsStats();
  let d: Daemon;
  const metrics = createMetricsRegistry({
    dns: dnsStats,
    caches: () => d.caches(),
    forwarders: () => d.forwarders(),
    setupErrors: new SetupErrors(),
    reloadFailed: () => d.reloadFailures,
    pluginsEnabled: () => d.pluginsEnabled(),
    version: 'test',
  });
  const health = new HealthState({ stats: metrics.health });
  const http = new HttpService(metrics.registry, health, silentLogger);
  d = daemon = new Daemon({ logger: silentLogger, dnsStats, services: [http] });
  await daemon.start(config);
  for (const u of http.urls()) if (u.routes !== 'health') metricsUrl = `${u.url}/metrics`;
});

after(async () => {
  await daemon?.stop(0);
  await upstream?.stop();
});

async function scrapeText(): Promise<string> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  return res.text();
}

/** Ordinary traffic: misses, hits of both cache types, TCP, DO, an eviction, a stale answer, a dead upstream. */
async function traffic(): Promise<void> {
  const listener = daemon.listeners()[0];
  const server = { host: '127.0.0.1', port: listener.udp.port };
  const dead = daemon.listeners().find((l) => l.udp.port !== server.port) ?? listener;
  const services = fixtures.services.slice(0, 4);
  for (const s of services) await queryUdp(server, s.name, 'A'); // 4 misses into a success cache of 3: an eviction
  await queryUdp(server, services[3].name, 'A'); // success hit
  await queryUdp(server, fixtures.nxdomain.name, 'A');
  await queryUdp(server, fixtures.nxdomain.name, 'A'); // denial hit
  await queryTcp(server, services[3].name, 'A', { edns: { do: true } }); // TCP, DO
  await queryUdp(server, fixtures.ttls.ttl1.name, 'A');
  await new Promise((r) => setTimeout(r, 1300)); // TTL 1 s expires
  await queryUdp(server, fixtures.ttls.ttl1.name, 'A'); // served stale (immediate), refreshed
  const deadServer = { host: '127.0.0.1', port: dead.udp.port };
  await queryUdp(server.port === deadServer.port ? server : deadServer, 'x.dead.test', 'A', { timeoutMs: 3000 }); // SERVFAIL
  let text = '';
  await waitFor(async () => {
    await queryUdp(deadServer, 'y.dead.test', 'A', { timeoutMs: 3000 });
    text = await scrapeText();
    return /^coredns_forward_healthcheck_broken_total [1-9]/m.test(text) && /^coredns_cache_prefetch_total\{/m.test(text);
  }, 10_000, 'health checks to mark the dead upstream down, and the stale refresh');
}

test('every metric and label the dashboards and alerts query returns data from a live daemon', async () => {
  await traffic();
  const all = samples(await scrapeText());
  const queried = Object.entries(NAMES.queried.metrics);
  assert.ok(queried.length >= 35, `metric-names.json lists ${queried.length} metrics`);
  const problems: string[] = [];
  for (const [name, { labels, usedBy }] of queried) {
    const series = all.filter((s) => s.name === name);
    if (series.length === 0) {
      problems.push(`${name} (${usedBy.join(', ')}): no series`);
      continue;
    }
    const withLabels = series.filter((s) => labels.every((l) => (s.labels[l] ?? '') !== ''));
    if (withLabels.length === 0) problems.push(`${name} (${usedBy.join(', ')}): no series with labels ${labels.join(', ')}`);
  }
  assert.deepEqual(problems, []);
  // The pre-1.11 names count the same replies as coredns_proxy_*.
  const sum = (name: string) => all.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
  assert.ok(sum('coredns_forward_requests_total') > 0);
  assert.equal(sum('coredns_forward_requests_total'), sum('coredns_proxy_request_duration_seconds_count'));
  assert.equal(sum('coredns_forward_healthcheck_failures_total'), sum('coredns_proxy_healthcheck_failures_total'));
});

test('the live scrape passes promtool check metrics', async () => {
  const text = await scrapeText();
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.error, undefined, `promtool (Debian package prometheus, see scripts/install-test-deps.sh): ${result.error?.message}`);
  assert.equal(`${result.stdout}${result.stderr}`.trim(), '', 'promtool reports nothing');
  assert.equal(result.status, 0);
});
