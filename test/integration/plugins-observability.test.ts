// pprof (the Node equivalent: V8 CPU profile and heap snapshot over HTTP) and trace (Zipkin v2
// JSON spans, batched) against real sockets on loopback: a real HTTP collector, a real BIND upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp, queryTcp } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml, configFromYaml } from '../harness/daemon.js';
import { waitFor } from '../harness/wait.js';
import { PprofService } from '../../src/plugins/pprof.js';
import { silentLogger } from '../../src/log/logger.js';

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
});
after(async () => {
  await upstream?.stop();
});

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

/** The first bytes of a response, then the request is aborted (a heap snapshot is large). */
function head(url: string, bytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.length >= bytes) {
          req.destroy();
          resolve(text);
        }
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
  });
}

test('pprof: index, a CPU profile of the requested length, a streamed heap snapshot', async (t) => {
  const service = new PprofService(silentLogger);
  t.after(() => service.close());
  await service.afterListen(configFromYaml(`${clusterConfigYaml(upstream.address)}\npprof: { listen: "127.0.0.1:0" }\n`));
  const a = service.address()!;
  const base = `http://127.0.0.1:${a.port}`;
  const index = await get(`${base}/debug/pprof/`);
  assert.equal(index.status, 200);
  assert.match(index.body.toString(), /profile\?seconds=N/);
  const profile = await get(`${base}/debug/pprof/profile?seconds=1`);
  assert.equal(profile.status, 200);
  const cpu = JSON.parse(profile.body.toString()) as { nodes: unknown[]; startTime: number; endTime: number };
  assert.ok(cpu.nodes.length > 0);
  assert.ok(cpu.endTime - cpu.startTime >= 900_000, 'about one second of samples (µs)');
  assert.equal((await get(`${base}/debug/pprof/profile?seconds=0`)).status, 400);
  assert.match(await head(`${base}/debug/pprof/heap`, 64), /^\{"snapshot":/);
  assert.equal((await get(`${base}/debug/nothing`)).status, 404);
});

test('trace: spans of answered queries reach a Zipkin collector as v2 JSON', async (t) => {
  const received: { name: string; kind: string; localEndpoint: { serviceName: string }; tags: Record<string, string>; traceId: string; duration: number }[] = [];
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.url, '/api/v2/spans');
      received.push(...JSON.parse(Buffer.concat(chunks).toString()));
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => collector.close(() => r())));
  const port = (collector.address() as AddressInfo).port;
  const nld = await startDaemon(`${clusterConfigYaml(upstream.address)}\ntrace: { endpoint: "http://127.0.0.1:${port}/api/v2/spans", service: nodelocaldns }\n`);
  t.after(() => nld.stop());
  const svc = fixtures.services[11];
  await queryUdp(nld.server, svc.name, 'A');
  await queryTcp(nld.server, fixtures.nxdomain.name, 'AAAA');
  await waitFor(() => received.length >= 2, 5000, 'two spans at the collector');
  const byName = new Map(received.map((s) => [s.tags['coredns.io/name'], s]));
  const a = byName.get(`${svc.name}.`)!;
  assert.equal(a.name, 'servedns');
  assert.equal(a.kind, 'SERVER');
  assert.equal(a.localEndpoint.serviceName, 'nodelocaldns');
  assert.deepEqual([a.tags['coredns.io/type'], a.tags['coredns.io/proto'], a.tags['coredns.io/rcode'], a.tags['coredns.io/remote']], ['A', 'udp', 'NOERROR', '127.0.0.1']);
  assert.match(a.traceId, /^[0-9a-f]{32}$/);
  const nx = byName.get(`${fixtures.nxdomain.name}.`)!;
  assert.deepEqual([nx.tags['coredns.io/type'], nx.tags['coredns.io/proto'], nx.tags['coredns.io/rcode']], ['AAAA', 'tcp', 'NXDOMAIN']);
});
