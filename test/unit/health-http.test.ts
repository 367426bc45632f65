// The side HTTP listeners over real sockets on 127.0.0.1 port 0: /health and /ready through the
// starting → ready → lameduck → stopped phases (CoreDNS health/ready semantics), /metrics with the
// registry's content type (plain and gzip), 404s, the 1 s self-check feeding the health metrics,
// and close() leaving no socket or server handle behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { HealthState, HealthStats } from '../../src/health/health.js';
import { startHttpServer, type HttpServerHandle } from '../../src/metrics/http.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { DnsStats } from '../../src/metrics/dns-stats.js';
import { SetupErrors } from '../../src/node-setup/setup-errors.js';
import { REUSE_PORT_SUPPORTED } from '../../src/util/features.js';
import { waitFor } from '../harness/wait.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(url: string, options: http.RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = async (url: string): Promise<[number, string]> => {
  const r = await request(url);
  return [r.status, r.body.toString()];
};

function metricsRegistry(health?: HealthStats) {
  return createMetricsRegistry({
    dns: new DnsStats(),
    caches: () => [],
    forwarders: () => [],
    setupErrors: new SetupErrors(),
    reloadFailed: () => 0,
    pluginsEnabled: () => [],
    version: 'test',
    health,
  }, { defaultMetrics: false });
}

/** TCP servers and sockets currently alive in this process. */
const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;


const handles: HttpServerHandle[] = [];
after(async () => {
  for (const h of handles) await h.close();
});

async function start(routes: Parameters<typeof startHttpServer>[0]['routes']): Promise<HttpServerHandle> {
  const h = await startHttpServer({ host: '127.0.0.1', port: 0, routes });
  handles.push(h);
  return h;
}

test('/health and /ready through starting, ready, lameduck and stopped', async () => {
  const health = new HealthState();
  const srv = await start({ health });
  assert.equal(srv.address().address, '127.0.0.1');
  assert.equal(srv.url, `http://127.0.0.1:${srv.address().port}`);

  assert.equal(health.phase, 'starting');
  assert.deepEqual(await text(`${srv.url}/health`), [200, 'OK']);
  assert.deepEqual(await text(`${srv.url}/ready`), [503, 'starting']);

  health.markReady();
  assert.deepEqual(await text(`${srv.url}/health`), [200, 'OK']);
  assert.deepEqual(await text(`${srv.url}/ready`), [200, 'OK']);
  assert.deepEqual(await text(`${srv.url}/health?probe=kubelet`), [200, 'OK'], 'query strings are ignored');

  const lameduck = health.lameduck(30);
  assert.equal(health.phase, 'lameduck');
  assert.deepEqual(await text(`${srv.url}/health`), [200, 'OK'], 'health keeps answering OK during lameduck');
  assert.deepEqual(await text(`${srv.url}/ready`), [503, 'Shutting down']);
  await lameduck;

  health.markReady(); // phases never move backwards
  assert.equal(health.phase, 'lameduck');
  health.stop();
  assert.equal(health.phase, 'stopped');
  assert.deepEqual(await text(`${srv.url}/health`), [503, 'Shutting down']);
  assert.deepEqual(await text(`${srv.url}/ready`), [503, 'Shutting down']);
});

test('answers: content types, HEAD, any method', async () => {
  const health = new HealthState();
  const srv = await start({ health });
  const r = await request(`${srv.url}/health`);
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(r.headers['content-length'], '2');
  const head = await request(`${srv.url}/health`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  const post = await request(`${srv.url}/health`, { method: 'POST' });
  assert.equal(post.status, 200, 'CoreDNS health answers any method');
});

test('/metrics: registry content type, plain and gzip', async () => {
  const { registry } = metricsRegistry();
  const srv = await start({ registry });
  const plain = await request(`${srv.url}/metrics`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-type'], registry.contentType);
  assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.body.toString(), /^coredns_build_info\{goversion="v\d+[^"]*",revision="",version="test"\} 1$/m);
  assert.match(plain.body.toString(), /^coredns_nodecache_setup_errors_total\{errortype="iptables_lock"\} 0$/m);

  const gz = await request(`${srv.url}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), plain.body.toString());
});

test('404 for every other path, and for routes the listener was not given', async () => {
  const { registry } = metricsRegistry();
  const metricsOnly = await start({ registry });
  const healthOnly = await start({ health: new HealthState() });
  for (const [srv, path] of [
    [metricsOnly, '/'],
    [metricsOnly, '/health'],
    [metricsOnly, '/ready'],
    [metricsOnly, '/metrics/'],
    [healthOnly, '/metrics'],
    [healthOnly, '/healthz'],
  ] as const) {
    assert.deepEqual(await text(`${srv.url}${path}`), [404, '404 page not found\n'], path);
  }
});

test('self-check GETs /health and feeds coredns_health_request_duration_seconds', async () => {
  const { registry, health: stats } = metricsRegistry();
  const health = new HealthState({ stats, intervalMs: 10 });
  const srv = await start({ health, registry });
  health.startSelfCheck(`${srv.url}/health`);
  await waitFor(() => stats.duration.count >= 3, 2000, 'three self-checks');
  assert.equal(stats.failures, 0);
  assert.ok(stats.duration.sum > 0 && stats.duration.sum < 3);
  const body = (await request(`${srv.url}/metrics`)).body.toString();
  const count = Number(/^coredns_health_request_duration_seconds_count (\d+)$/m.exec(body)![1]);
  assert.ok(count >= 3, `count ${count}`);
  assert.match(body, /^coredns_health_request_failures_total 0$/m);

  health.stop();
  const frozen = stats.duration.count;
  await sleep(50);
  assert.equal(stats.duration.count, frozen, 'no probes after stop()');
});

test('self-check failures are counted (nothing listening, then non-200)', async () => {
  const free = await freePort();
  const stats = new HealthStats();
  const health = new HealthState({ stats, intervalMs: 10, timeoutMs: 500 });
  health.startSelfCheck(`http://127.0.0.1:${free}/health`);
  await waitFor(() => stats.failures >= 2, 2000, 'two failed self-checks');
  assert.equal(stats.duration.count, stats.failures, 'failed probes are observed too (CoreDNS does)');
  health.stopSelfCheck();

  const stopped = new HealthState();
  stopped.stop(); // answers 503
  const srv = await start({ health: stopped });
  const stats2 = new HealthStats();
  const checker = new HealthState({ stats: stats2, intervalMs: 10 });
  checker.startSelfCheck(`${srv.url}/health`);
  await waitFor(() => stats2.failures >= 1, 2000, 'a failed self-check');
  checker.stop();
});

test('binding to a port taken by a socket without SO_REUSEPORT rejects with EADDRINUSE', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as net.AddressInfo).port;
  await assert.rejects(
    startHttpServer({ host: '127.0.0.1', port, routes: {} }).then((h) => (handles.push(h), h)),
    { code: 'EADDRINUSE' },
  );
});

test('with SO_REUSEPORT (Node >= 22.12) a second listener binds next to the first (surge rollouts)', async (t) => {
  if (!REUSE_PORT_SUPPORTED) return t.skip(`Node ${process.versions.node} cannot set SO_REUSEPORT from JS`);
  const first = await start({ health: new HealthState() });
  const second = await startHttpServer({ host: '127.0.0.1', port: first.address().port, routes: { health: new HealthState() } });
  handles.push(second);
  assert.equal(second.address().port, first.address().port);
  assert.deepEqual(await text(`${second.url}/health`), [200, 'OK']);
});

test('IPv6 literal hosts are accepted with or without brackets', async (t) => {
  if (!(await canBind('::1'))) return t.skip('no IPv6 loopback here');
  const srv = await startHttpServer({ host: '[::1]', port: 0, routes: { health: new HealthState() } });
  try {
    assert.equal(srv.address().address, '::1');
    assert.equal(srv.url, `http://[::1]:${srv.address().port}`);
    assert.deepEqual(await text(`${srv.url}/health`), [200, 'OK']);
  } finally {
    await srv.close();
  }
});

test('close() ends idle keep-alive connections and leaves no handles', async () => {
  await sleep(20); // let sockets of earlier tests finish closing
  const before = tcpHandles();
  const { registry } = metricsRegistry();
  const health = new HealthState();
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, routes: { registry, health } });
  const agent = new http.Agent({ keepAlive: true });
  const reply = await request(`${srv.url}/metrics`, { agent });
  assert.equal(reply.status, 200);
  assert.ok(tcpHandles() > before, 'server and an idle keep-alive connection are open');
  await srv.close();
  await srv.close(); // idempotent
  await waitFor(() => tcpHandles() === before, 2000, 'the TCP handles to close');
  agent.destroy();
  await assert.rejects(request(`${srv.url}/health`), { code: 'ECONNREFUSED' });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canBind(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, host, () => s.close(() => resolve(true)));
  });
}
