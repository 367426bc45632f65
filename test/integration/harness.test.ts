/**
 * Integration test of the test harness itself: starts a real BIND via
 * test/harness/upstream.ts serving test/harness/zone.ts, and checks the
 * answers (A/AAAA/CNAME/SRV/PTR/NXDOMAIN/NODATA/REFUSED/TTLs/big TXT) over
 * UDP and TCP with test/harness/dns-client.ts, query counting, pause/resume
 * and restart. unbound and dnsmasq get a smoke test each.
 *
 * Run: node --import tsx --test test/integration/harness.test.ts
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startUpstream, type Upstream, type UpstreamKind } from '../harness/upstream.js';
import { answerData, optRecord, queryTcp, queryTcpPipelined, queryUdp, type Question } from '../harness/dns-client.js';
import { fixtures, generateZone } from '../harness/zone.js';

const hasBinary = (name: string) => ['/usr/sbin', '/usr/bin', '/usr/local/sbin'].some((d) => existsSync(`${d}/${name}`));

describe('bind upstream', () => {
  let up: Upstream;

  before(async () => {
    up = await startUpstream({ kind: 'bind' });
  });
  after(async () => {
    await up?.stop();
  });

  test('handle shape', () => {
    assert.equal(up.host, '127.0.0.1');
    assert.equal(up.address, `127.0.0.1:${up.port}`);
    assert.ok(up.pid! > 0);
  });

  test('A record: kubernetes service', async () => {
    const { packet } = await queryUdp(up, fixtures.kubernetes.name, 'A');
    assert.equal(packet.rcode, 'NOERROR');
    assert.ok(packet.flag_aa, 'authoritative');
    assert.equal(packet.flag_ra, false, 'recursion must be off');
    assert.deepEqual(answerData(packet, 'A'), [fixtures.kubernetes.ipv4]);
    assert.equal(packet.answers[0]!.type === 'A' && packet.answers[0]!.ttl, fixtures.kubernetes.ttl);
  });

  test('A/AAAA for a sample of services across namespaces', async () => {
    const svcs = fixtures.services;
    const sample = [svcs[0]!, svcs[1]!, svcs[Math.floor(svcs.length / 2)]!, svcs[svcs.length - 1]!];
    assert.ok(new Set(sample.map((s) => s.namespace)).size > 1, 'sample spans namespaces');
    for (const s of sample) {
      const a = await queryUdp(up, s.name, 'A');
      assert.deepEqual(answerData(a.packet, 'A'), [s.ipv4], s.name);
      const aaaa = await queryUdp(up, s.name, 'AAAA');
      assert.equal(aaaa.packet.rcode, 'NOERROR');
      assert.deepEqual(answerData(aaaa.packet, 'AAAA'), s.ipv6 ? [s.ipv6] : [], `${s.name} AAAA`);
    }
  });

  test('multi-A RRset (headless)', async () => {
    const { packet } = await queryUdp(up, fixtures.headless.name, 'A');
    assert.deepEqual(answerData<string>(packet, 'A').sort(), [...fixtures.headless.ipv4s].sort());
  });

  test('CNAME chain is followed inside the zone', async () => {
    const { packet } = await queryUdp(up, fixtures.cnameChain.names[0]!, 'A');
    assert.equal(packet.rcode, 'NOERROR');
    assert.deepEqual(answerData(packet, 'CNAME'), [fixtures.cnameChain.names[1], fixtures.cnameChain.target]);
    assert.deepEqual(answerData(packet, 'A'), [fixtures.cnameChain.ipv4]);
  });

  test('CNAME out of zone: only the CNAME, no recursion', async () => {
    const { packet } = await queryUdp(up, fixtures.cnameOutOfZone.name, 'A');
    assert.equal(packet.rcode, 'NOERROR');
    assert.deepEqual(answerData(packet, 'CNAME'), [fixtures.cnameOutOfZone.target]);
    assert.deepEqual(answerData(packet, 'A'), []);
  });

  test('SRV', async () => {
    const { packet } = await queryUdp(up, fixtures.srv.name, 'SRV');
    const [srv] = answerData<{ port: number; target: string; priority: number; weight: number }>(packet, 'SRV');
    assert.deepEqual(srv, { priority: fixtures.srv.priority, weight: fixtures.srv.weight, port: fixtures.srv.port, target: fixtures.srv.target });
  });

  test('NXDOMAIN carries SOA with the negative TTL', async () => {
    const { packet } = await queryUdp(up, fixtures.nxdomain.name, 'A');
    assert.equal(packet.rcode, 'NXDOMAIN');
    assert.equal(packet.answers.length, 0);
    const soa = packet.authorities.find((a) => a.type === 'SOA');
    assert.ok(soa && soa.type === 'SOA', 'SOA in authority');
    assert.equal(soa.name, fixtures.soa.name);
    assert.equal(soa.ttl, fixtures.negativeTtl);
    assert.equal(soa.data.minimum, fixtures.soa.minimum);
  });

  test('NODATA both ways', async () => {
    for (const [name, type] of [
      [fixtures.nodata.name, fixtures.nodata.missingType],
      [fixtures.v6only.name, fixtures.v6only.missingType],
    ] as const) {
      const { packet } = await queryUdp(up, name, type);
      assert.equal(packet.rcode, 'NOERROR', name);
      assert.equal(packet.answers.length, 0, name);
      assert.ok(packet.authorities.some((a) => a.type === 'SOA'), `${name} SOA`);
    }
    const v6 = await queryUdp(up, fixtures.v6only.name, 'AAAA');
    assert.deepEqual(answerData(v6.packet, 'AAAA'), [fixtures.v6only.ipv6]);
  });

  test('out-of-zone name is REFUSED (no recursion anywhere)', async () => {
    const { packet } = await queryUdp(up, fixtures.outOfZone.name, 'A');
    assert.equal(packet.rcode, 'REFUSED');
  });

  test('records with specific TTLs', async () => {
    for (const t of Object.values(fixtures.ttls)) {
      const { packet } = await queryUdp(up, t.name, 'A');
      const a = packet.answers[0];
      assert.ok(a && a.type === 'A', t.name);
      assert.equal(a.data, t.ipv4);
      assert.equal(a.ttl, t.ttl, `${t.name} TTL`);
    }
  });

  test('mixed-case owner answers for any query case', async () => {
    for (const name of [fixtures.mixedCase.name, fixtures.mixedCase.name.toLowerCase(), fixtures.mixedCase.name.toUpperCase()]) {
      const { packet } = await queryUdp(up, name, 'A');
      assert.deepEqual(answerData(packet, 'A'), [fixtures.mixedCase.ipv4], name);
    }
  });

  test('wildcard', async () => {
    const { packet } = await queryUdp(up, `random-123.${fixtures.wildcard.suffix}`, 'A');
    assert.deepEqual(answerData(packet, 'A'), [fixtures.wildcard.ipv4]);
  });

  test('reverse zone PTRs', async () => {
    const sample = [fixtures.ptrs[0]!, fixtures.ptrs[fixtures.ptrs.length - 1]!];
    assert.equal(sample[0]!.ipv4, fixtures.kubernetes.ipv4);
    for (const p of sample) {
      const { packet } = await queryUdp(up, p.name, 'PTR');
      assert.deepEqual(answerData(packet, 'PTR'), [p.target], p.name);
    }
  });

  test('big TXT over UDP without EDNS is truncated', async () => {
    const { packet, raw } = await queryUdp(up, fixtures.bigTxt.name, 'TXT');
    assert.ok(packet.flag_tc, 'TC set');
    assert.ok(raw.length <= 512, `plain DNS UDP reply must fit 512 bytes, got ${raw.length}`);
  });

  test('big and medium TXT over UDP with EDNS are truncated (BIND max-udp-size 1232)', async () => {
    for (const [name, udpSize] of [
      [fixtures.bigTxt.name, 1232],
      [fixtures.bigTxt.name, 4096],
      [fixtures.mediumTxt.name, 4096],
    ] as const) {
      const { packet, raw } = await queryUdp(up, name, 'TXT', { edns: { udpSize } });
      assert.ok(packet.flag_tc, `${name} @${udpSize}: TC`);
      assert.ok(raw.length <= 1232, `${name} @${udpSize}: ${raw.length} bytes`);
      assert.ok(optRecord(packet), 'OPT echoed');
    }
  });

  test('big TXT over TCP is complete', async () => {
    const { packet, raw } = await queryTcp(up, fixtures.bigTxt.name, 'TXT');
    assert.equal(packet.flag_tc, false);
    assert.ok(raw.length > 1232, `${raw.length} bytes`);
    const strings = answerData<Buffer[]>(packet, 'TXT').map((chunks) => Buffer.concat(chunks).toString());
    assert.deepEqual(strings.sort(), [...fixtures.bigTxt.strings].sort());
  });

  test('TCP answers like UDP', async () => {
    const { packet } = await queryTcp(up, fixtures.kubernetes.name, 'A', { edns: { udpSize: 1232, do: true } });
    assert.deepEqual(answerData(packet, 'A'), [fixtures.kubernetes.ipv4]);
  });

  test('pipelined TCP queries on one connection, matched by id', async () => {
    const questions: Question[] = fixtures.services.slice(0, 20).map((s) => ({ name: s.name, type: 'A' }));
    questions.push({ name: fixtures.nxdomain.name, type: 'A' }, { name: fixtures.bigTxt.name, type: 'TXT' });
    const results = await queryTcpPipelined(up, questions);
    assert.equal(results.length, questions.length);
    assert.equal(new Set(results.map((r) => r.packet.id)).size, questions.length, 'unique ids');
    assert.deepEqual([...results.map((r) => r.arrivalIndex)].sort((a, b) => a - b), questions.map((_, i) => i));
    results.slice(0, 20).forEach((r, i) => assert.deepEqual(answerData(r.packet, 'A'), [fixtures.services[i]!.ipv4]));
    assert.equal(results[20]!.packet.rcode, 'NXDOMAIN');
    assert.equal(results[21]!.packet.answers.length, fixtures.bigTxt.strings.length);
  });

  test('queryCount: per name, per transport, immediately after the reply', async () => {
    const name = fixtures.services[42]!.name;
    assert.equal(await up.queryCount({ name }), 0);
    const total0 = await up.queryCount();
    await queryUdp(up, name, 'A');
    // BIND logs before it answers: no settling needed once the reply is in.
    assert.equal(await up.queryCount({ name, settleMs: 0 }), 1);
    await queryTcp(up, name.toUpperCase(), 'AAAA');
    assert.equal(await up.queryCount({ name }), 2);
    assert.equal(await up.queryCount({ name, transport: 'tcp' }), 1);
    assert.equal(await up.queryCount({ name, type: 'A', transport: 'udp' }), 1);
    assert.equal(await up.queryCount(), total0 + 2, 'readiness probes are not counted');
    const entries = await up.queries({ name });
    assert.deepEqual(entries.map((e) => [e.type, e.transport]), [['A', 'udp'], ['AAAA', 'tcp']]);
    assert.match(entries[0]!.client, /^127\.0\.0\.1#\d+$/);
  });

  test('waitForQueries resolves when the count is reached and times out otherwise', async () => {
    const name = fixtures.services[43]!.name;
    const waiting = up.waitForQueries(1, { name, timeoutMs: 3000 });
    await queryUdp(up, name, 'A');
    assert.equal(await waiting, 1);
    await assert.rejects(up.waitForQueries(5, { name, timeoutMs: 100 }), /expected >= 5 queries/);
  });

  test('pause black-holes, resume serves the queued query', async () => {
    const name = fixtures.services[44]!.name;
    up.pause();
    try {
      assert.equal(up.paused, true);
      await assert.rejects(queryUdp(up, name, 'A', { timeoutMs: 300 }), /timed out/);
      await assert.rejects(queryTcp(up, name, 'A', { timeoutMs: 300 }), /timed out/);
    } finally {
      up.resume();
    }
    assert.equal(up.paused, false);
    const { packet } = await queryUdp(up, name, 'A');
    assert.deepEqual(answerData(packet, 'A'), [fixtures.services[44]!.ipv4]);
    // The query sent while stopped was queued by the kernel and is processed after SIGCONT.
    await up.waitForQueries(2, { name, type: 'A', transport: 'udp', timeoutMs: 3000 });
  });

  test('restart keeps the port, changes the pid, keeps counting', async () => {
    const name = fixtures.services[45]!.name;
    await queryUdp(up, name, 'A');
    const oldPid = up.pid;
    const port = up.port;
    await up.restart();
    assert.equal(up.port, port);
    assert.notEqual(up.pid, oldPid);
    const { packet } = await queryUdp(up, name, 'A');
    assert.deepEqual(answerData(packet, 'A'), [fixtures.services[45]!.ipv4]);
    assert.equal(await up.queryCount({ name }), 2, 'log survives restart');
  });

  test('restart with downtime: refused while down, back afterwards', async () => {
    const restarting = up.restart({ downtimeMs: 800 });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(queryTcp(up, fixtures.kubernetes.name, 'A', { timeoutMs: 300 }), /ECONNREFUSED/);
    await restarting;
    const { packet } = await queryTcp(up, fixtures.kubernetes.name, 'A');
    assert.equal(packet.rcode, 'NOERROR');
  });

  test('fixed port already in use is reported, not shared', async () => {
    await assert.rejects(startUpstream({ port: up.port }), /already in use/);
  });
});

describe('other upstream kinds (smoke)', () => {
  for (const kind of ['unbound', 'dnsmasq'] as UpstreamKind[]) {
    test(kind, { skip: hasBinary(kind) ? false : `${kind} not installed` }, async () => {
      const up = await startUpstream({ kind });
      try {
        const a = await queryUdp(up, fixtures.kubernetes.name, 'A');
        assert.deepEqual(answerData(a.packet, 'A'), [fixtures.kubernetes.ipv4]);
        const nx = await queryUdp(up, fixtures.nxdomain.name, 'A');
        assert.equal(nx.packet.rcode, 'NXDOMAIN');
        const big = await queryTcp(up, fixtures.bigTxt.name, 'TXT');
        assert.equal(big.packet.answers.length, fixtures.bigTxt.strings.length);
        const tc = await queryUdp(up, fixtures.bigTxt.name, 'TXT', { edns: { udpSize: 1232 } });
        assert.ok(tc.packet.flag_tc);
        await up.waitForQueries(1, { name: fixtures.kubernetes.name, timeoutMs: 3000 });
        assert.equal(await up.queryCount({ name: fixtures.nxdomain.name }), 1);
      } finally {
        await up.stop();
      }
    });
  }
});

test('generateZone scales and stays unique', () => {
  const z = generateZone({ services: 5000, namespaces: 10 });
  assert.equal(z.fixtures.services.length, 5000);
  assert.equal(z.fixtures.namespaces.length, 10);
  assert.equal(new Set(z.fixtures.services.map((s) => s.name)).size, 5000);
  assert.equal(new Set(z.fixtures.services.map((s) => s.ipv4)).size, 5000);
  assert.ok(z.zones[0]!.text.includes(`${z.fixtures.services[4999]!.name}.`));
});
