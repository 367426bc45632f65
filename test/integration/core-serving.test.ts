// End to end against a real BIND9 on loopback: answers, caching, TTL countdown, case, TC, TCP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp, queryTcp, queryTcpPipelined, answerData } from '../harness/dns-client.js';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';

let upstream: Upstream;
let nld: RunningDaemon;

before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
  nld = await startDaemon(clusterConfigYaml(upstream.address));
});
after(async () => {
  await nld?.stop();
  await upstream?.stop();
});

test('A record is answered with the upstream data', async () => {
  const svc = fixtures.services[3];
  const { packet } = await queryUdp(nld.server, svc.name, 'A');
  assert.equal(packet.rcode, 'NOERROR');
  assert.deepEqual(answerData(packet, 'A'), [svc.ipv4]);
});

test('a second identical query is served from the cache (upstream sees one query)', async () => {
  const svc = fixtures.services[5];
  await queryUdp(nld.server, svc.name, 'A');
  await queryUdp(nld.server, svc.name, 'A');
  await queryTcp(nld.server, svc.name, 'A');
  assert.equal(await upstream.queryCount({ name: svc.name, type: 'A' }), 1);
});

test('AAAA, CNAME chain, SRV and PTR are answered', async () => {
  const v6 = fixtures.services.find((s) => s.ipv6)!;
  assert.deepEqual(answerData((await queryUdp(nld.server, v6.name, 'AAAA')).packet, 'AAAA'), [v6.ipv6]);
  const chain = (await queryUdp(nld.server, fixtures.cnameChain.names[0], 'A')).packet;
  assert.deepEqual(answerData(chain, 'A'), [fixtures.cnameChain.ipv4]);
  assert.ok(answerData(chain, 'CNAME').length >= 1);
  const srv = (await queryUdp(nld.server, fixtures.srv.name, 'SRV')).packet;
  assert.equal((answerData(srv, 'SRV')[0] as { port: number }).port, fixtures.srv.port);
  const ptr = fixtures.ptrs[0];
  assert.deepEqual(answerData((await queryUdp(nld.server, ptr.name, 'PTR')).packet, 'PTR'), [ptr.target]);
});

test('NXDOMAIN and NODATA carry the SOA and are cached as denials', async () => {
  const nx = await queryUdp(nld.server, fixtures.nxdomain.name, 'A');
  assert.equal(nx.packet.rcode, 'NXDOMAIN');
  assert.equal(nx.packet.authorities[0]?.type, 'SOA');
  const nodata = await queryUdp(nld.server, fixtures.nodata.name, 'AAAA');
  assert.equal(nodata.packet.rcode, 'NOERROR');
  assert.equal(nodata.packet.answers.length, 0);
  await queryUdp(nld.server, fixtures.nxdomain.name, 'A');
  assert.equal(await upstream.queryCount({ name: fixtures.nxdomain.name }), 1);
  const cache = nld.daemon.blockRuntimes()[0].cache!;
  assert.ok(cache.size.denial >= 2);
});

test('the reply carries the client ID and its question case', async () => {
  const svc = fixtures.services[7];
  const mixed = svc.name.toUpperCase().replace('SVC', 'sVc');
  const first = await queryUdp(nld.server, svc.name, 'A', { id: 1234 });
  const second = await queryUdp(nld.server, mixed, 'A', { id: 4321 });
  assert.equal(first.packet.id, 1234);
  assert.equal(second.packet.id, 4321);
  assert.equal(second.packet.questions[0].name, mixed);
});

test('large TXT: truncated over UDP without EDNS, complete over TCP', async () => {
  const udp = await queryUdp(nld.server, fixtures.bigTxt.name, 'TXT');
  assert.equal(udp.packet.flags! & 0x200, 0x200, 'TC set');
  assert.ok(udp.raw.length <= 512);
  const tcp = await queryTcp(nld.server, fixtures.bigTxt.name, 'TXT');
  assert.equal(tcp.packet.answers.length, fixtures.bigTxt.strings.length);
  const edns = await queryUdp(nld.server, fixtures.mediumTxt.name, 'TXT', { edns: { udpSize: 4096 } });
  assert.equal(edns.packet.flags! & 0x200, 0);
  assert.ok(edns.raw.length > 1232);
});

test('TTLs count down on cache hits and stay within the configured cap', async () => {
  const name = fixtures.ttls.ttl60.name;
  const first = await queryUdp(nld.server, name, 'A');
  assert.equal(first.packet.answers[0].ttl, 30, 'clamped to success maxTTL 30');
  await new Promise((r) => setTimeout(r, 1100));
  const second = await queryUdp(nld.server, name, 'A');
  assert.ok(second.packet.answers[0].ttl! <= 29 && second.packet.answers[0].ttl! >= 28, `got ${second.packet.answers[0].ttl}`);
});

test('TCP pipelining: many queries on one connection all answered', async () => {
  const questions = fixtures.services.slice(100, 130).map((s) => ({ name: s.name, type: 'A' as const }));
  const replies = await queryTcpPipelined(nld.server, questions);
  assert.equal(replies.length, questions.length);
  for (const r of replies) assert.equal(r.packet.rcode, 'NOERROR');
});

test('a name outside every zone is REFUSED without reaching any resolver', async () => {
  const { packet } = await queryUdp(nld.server, 'example.com', 'A');
  assert.equal(packet.rcode, 'REFUSED');
});

test('100 concurrent identical misses reach the upstream as one query', async () => {
  const name = fixtures.services[900].name;
  const replies = await Promise.all(Array.from({ length: 100 }, () => queryUdp(nld.server, name, 'A', { timeoutMs: 4000 })));
  for (const r of replies) assert.equal(r.packet.rcode, 'NOERROR');
  assert.equal(await upstream.queryCount({ name, type: 'A', settleMs: 200 }), 1);
});
