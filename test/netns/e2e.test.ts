// End-to-end: the daemon (dist/node-local-dns.cjs) runs in a "node" network namespace exactly as the
// nodelocaldns DaemonSet runs node-cache (-localip 169.254.20.10,10.96.0.10, the official Corefile
// template, -upstreamsvc kube-dns-upstream, -pidfile), in a mini-cluster built by ./topology.ts:
// a pod namespace whose resolv.conf is the kubelet's (nameserver 10.96.0.10, ndots:5), two BIND9
// kube-dns replicas, and kube-proxy-like DNAT for 10.96.0.10 and 10.96.0.11 in the node namespace.
//
// The tests share one topology and run in order (each builds on the state the previous one left):
//   (a) pod lookups (glibc getent, dig) are answered by the daemon: its request counter moves
//   (a2) id.server CH TXT: REFUSED to the pod; hostname/pid only to a client on the node
//   (b) the node's iptables-save holds exactly node-cache's 12 rules per local IP
//   (c) 2,000 cached queries from the pod add no conntrack entries on the node
//   (d) a rule deleted by hand is back within the 1 s sync interval
//   (e) SIGTERM removes rules and addresses; the pod then resolves through DNAT to kube-dns
//   (f) with -skipteardown nothing is removed on SIGTERM
//   (g) after a SIGKILL (rules left behind) the next start re-ensures everything within a second
//   (h) surge rollout with SO_REUSEPORT (Node >= 22.12): the old instance leaves the rules to the new
// Needs root, `ip netns`, iptables, conntrack, named, dig and getent; skipped otherwise. Everything
// runs inside namespaces named nld-e2e-<random>-*, which are removed in after(), on failure and on
// exit/SIGINT (see topology.ts). No packet leaves them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addresses,
  CLUSTER_DNS_IP,
  conntrackCount,
  createTopology,
  ensureBundle,
  BUNDLE,
  httpGet,
  HEALTH_URL,
  LOCAL_DNS_IP,
  LOCAL_IPS,
  metricSum,
  netnsUnavailable,
  nodeLocalRules,
  scrapeMetrics,
  startDaemonInNode,
  type DaemonHandle,
  type Topology,
} from './topology.js';
import { serviceIpv4 } from '../harness/zone.js';
import { REUSE_PORT_SUPPORTED } from '../../src/util/features.js';

const skip = netnsUnavailable();
const SVC1 = 'svc-1.default.svc.cluster.local';
const SVC1_IP = serviceIpv4(1);
const SKIP_CONNTRACK = 'NodeLocal DNS Cache: skip conntrack';
const ALLOW = 'NodeLocal DNS Cache: allow DNS traffic';

// ---- expected rules, transcribed from the reference (guide §2.4) ------------------------------

type Row = readonly [table: 'raw' | 'filter', chain: string, proto: 'tcp' | 'udp', dir: 'd' | 's', port: 53 | 8080, target: 'NOTRACK' | 'ACCEPT'];
const REFERENCE: readonly Row[] = [
  ['raw', 'PREROUTING', 'tcp', 'd', 53, 'NOTRACK'],
  ['raw', 'PREROUTING', 'udp', 'd', 53, 'NOTRACK'],
  ['filter', 'INPUT', 'tcp', 'd', 53, 'ACCEPT'],
  ['filter', 'INPUT', 'udp', 'd', 53, 'ACCEPT'],
  ['raw', 'OUTPUT', 'tcp', 's', 53, 'NOTRACK'],
  ['raw', 'OUTPUT', 'udp', 's', 53, 'NOTRACK'],
  ['filter', 'OUTPUT', 'tcp', 's', 53, 'ACCEPT'],
  ['filter', 'OUTPUT', 'udp', 's', 53, 'ACCEPT'],
  ['raw', 'OUTPUT', 'tcp', 'd', 53, 'NOTRACK'],
  ['raw', 'OUTPUT', 'udp', 'd', 53, 'NOTRACK'],
  ['raw', 'OUTPUT', 'tcp', 'd', 8080, 'NOTRACK'],
  ['raw', 'OUTPUT', 'tcp', 's', 8080, 'NOTRACK'],
];

function saveLine(ip: string, [, chain, proto, dir, port, target]: Row): string {
  const comment = target === 'NOTRACK' ? SKIP_CONNTRACK : ALLOW;
  return `-A ${chain} -${dir} ${ip}/32 -p ${proto} -m ${proto} --${dir}port ${port} -m comment --comment "${comment}" -j ${target}`;
}

/** Per chain, in order: each rule is prepended in turn, IP by IP, so the last one ends up first. */
function expectedChains(table: 'raw' | 'filter'): Record<string, string[]> {
  const chains: Record<string, string[]> = {};
  for (const ip of LOCAL_IPS) for (const row of REFERENCE.filter((r) => r[0] === table)) (chains[row[1]] ??= []).unshift(saveLine(ip, row));
  return chains;
}

async function savedChains(topo: Topology, table: string): Promise<Record<string, string[]>> {
  const out = (await topo.exec(topo.nsNode, ['iptables-save', '-t', table])).stdout;
  const chains: Record<string, string[]> = {};
  for (const line of out.split('\n').filter((l) => l.startsWith('-A '))) (chains[line.split(' ')[1]!] ??= []).push(line);
  return chains;
}

// ---- helpers ------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let value = await probe();
  while (!ok(value)) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await sleep(50);
    value = await probe();
  }
  return { value, ms: Date.now() - start };
}

/** getent ahosts NAME in the pod: the addresses glibc returned. */
async function getent(topo: Topology, name: string): Promise<string[]> {
  const r = await topo.exec(topo.nsPods[0]!, ['getent', 'ahosts', name], { timeoutMs: 15_000 });
  return [...new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]!).filter(Boolean))];
}

async function dig(topo: Topology, server: string, name: string, extra: string[] = []): Promise<string[]> {
  const r = await topo.exec(topo.nsPods[0]!, ['dig', '+short', '+time=2', '+tries=1', ...extra, `@${server}`, name, 'A'], { timeoutMs: 10_000 });
  return r.stdout.split('\n').filter(Boolean);
}

interface LoadSummary {
  lookups: number;
  errors: number;
  errorsByKind: Record<string, number>;
  lookupsPerSecond: number;
  latencyMs: { avg: number; p99: number; max: number };
}

/** 1,000 getaddrinfo lookups of an absolute name from the pod: A + AAAA each, so 2,000 queries, one socket per lookup. */
async function podLookups(topo: Topology, count = 1000): Promise<LoadSummary> {
  const argv = [process.execPath, BUNDLE, 'load', '--system', '--allow-remote', '--host', `${SVC1}.`, '--type', 'A,AAAA', '--max-count', String(count), '-c', '10', '-d', '30', '--json', '--quiet'];
  const r = await topo.exec(topo.nsPods[0]!, argv, { timeoutMs: 45_000, env: { ...process.env, UV_THREADPOOL_SIZE: '10' } });
  return (JSON.parse(r.stdout) as { summary: LoadSummary }).summary;
}

/** conntrack -L of the node filtered to the kube-dns ClusterIP: the reply sources (the replicas it was DNATed to). */
async function dnatReplySources(topo: Topology): Promise<Map<string, number>> {
  const r = await topo.exec(topo.nsNode, ['conntrack', '-L', '-p', 'udp', '--orig-dst', CLUSTER_DNS_IP], { check: false });
  const bySrc = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const srcs = [...line.matchAll(/src=(\S+)/g)].map((m) => m[1]!);
    if (srcs.length >= 2) bySrc.set(srcs[1]!, (bySrc.get(srcs[1]!) ?? 0) + 1);
  }
  return bySrc;
}

function hasLocalIps(addrs: string[]): boolean[] {
  return LOCAL_IPS.map((ip) => addrs.includes(`${ip}/32`));
}

// ---- the tests ----------------------------------------------------------------------------------

describe('node-local-dns in a network-namespace cluster (DaemonSet args)', { skip: skip ?? false }, () => {
  let topo: Topology;
  let daemon: DaemonHandle | undefined;
  const numbers: Record<string, number> = {};

  before(async () => {
    ensureBundle();
    topo = await createTopology({ prefix: 'nld-e2e', pods: 1, replicas: 2, services: 300 });
    daemon = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '1'] });
  });

  after(async () => {
    if (daemon && !daemon.exited) await daemon.stop('SIGKILL');
    await topo?.cleanup();
    if (Object.keys(numbers).length > 0) console.log(`# conntrack on the node: ${JSON.stringify(numbers)}`);
  });

  test('(a) the pod resolves through glibc and dig, answered by the daemon (its metrics move)', async () => {
    const requests = async () => metricSum(await scrapeMetrics(topo.nsNode), 'coredns_dns_requests_total');
    const before = await requests();
    assert.deepEqual(await getent(topo, SVC1), [SVC1_IP]);
    assert.deepEqual(await getent(topo, 'svc-1.default'), [SVC1_IP], 'short name through the search list (ndots:5)');
    assert.deepEqual(await dig(topo, CLUSTER_DNS_IP, SVC1), [SVC1_IP]);
    assert.deepEqual(await dig(topo, CLUSTER_DNS_IP, SVC1, ['+tcp']), [SVC1_IP]);
    assert.deepEqual(await dig(topo, LOCAL_DNS_IP, SVC1), [SVC1_IP]);
    const after = await requests();
    // getent: at least A+AAAA for the final name, each; dig: 3 queries.
    assert.ok(after - before >= 7, `coredns_dns_requests_total moved by ${after - before} (want >= 7)\n${daemon!.logs().slice(-2000)}`);
    const health = await httpGet(topo.nsNode, HEALTH_URL);
    assert.equal(health.status, 200);
  });

  test('(a2) id.server: REFUSED to the pod, the process named only to clients on the node', async () => {
    const chaos = async (ns: string, server: string) => (await topo.exec(ns, ['dig', '+time=2', '+tries=1', `@${server}`, 'id.server', 'CH', 'TXT'], { timeoutMs: 10_000 })).stdout;
    for (const server of [CLUSTER_DNS_IP, LOCAL_DNS_IP]) {
      const fromPod = await chaos(topo.nsPods[0]!, server);
      assert.match(fromPod, /status: REFUSED/, fromPod);
      assert.doesNotMatch(fromPod, /CH\s+TXT\s+"/, 'no TXT answer (hostname/pid) for the pod');
    }
    const fromNode = await chaos(topo.nsNode, LOCAL_DNS_IP);
    assert.match(fromNode, /status: NOERROR/, fromNode);
    assert.match(fromNode, /id\.server\.\s+0\s+CH\s+TXT\s+"[^"]+\/\d+\/[0-9a-f]{8}"/, fromNode);
  });

  test('(b) iptables-save holds exactly the 12 reference rules per local IP', async () => {
    const rules = await nodeLocalRules(topo.nsNode);
    assert.equal(rules.length, 12 * LOCAL_IPS.length, rules.join('\n'));
    assert.deepEqual(await savedChains(topo, 'raw'), expectedChains('raw'));
    assert.deepEqual(await savedChains(topo, 'filter'), expectedChains('filter'));
    // kube-proxy's nat rules are untouched and carry no NodeLocal rule.
    const nat = await savedChains(topo, 'nat');
    assert.ok(Object.values(nat).flat().every((l) => !l.includes('NodeLocal DNS Cache')));
    assert.equal(nat['KUBE-SERVICES']?.length, 4);
  });

  test('(c) the node conntrack count does not grow with 2,000 cached queries from the pod', async () => {
    const dnatBefore = [...(await dnatReplySources(topo)).values()].reduce((a, b) => a + b, 0);
    const before = await conntrackCount(topo.nsNode);
    const summary = await podLookups(topo);
    const after = await conntrackCount(topo.nsNode);
    const dnatAfter = [...(await dnatReplySources(topo)).values()].reduce((a, b) => a + b, 0);
    numbers.withDaemonBefore = before;
    numbers.withDaemonAfter = after;
    assert.equal(summary.lookups, 1000);
    assert.equal(summary.errors, 0, JSON.stringify(summary.errorsByKind));
    console.log(`# with the daemon: conntrack count ${before} -> ${after} over 1,000 lookups (2,000 queries); ${summary.lookupsPerSecond.toFixed(0)} lookups/s`);
    assert.ok(after - before <= 5, `conntrack grew by ${after - before}`);
    assert.ok(dnatAfter <= dnatBefore, `new DNAT entries for ${CLUSTER_DNS_IP}: ${dnatBefore} -> ${dnatAfter}`);
  });

  test('(d) a rule deleted by hand is back within the sync interval, without duplicates', async () => {
    const rule = ['-p', 'udp', '-d', CLUSTER_DNS_IP, '--dport', '53', '-j', 'NOTRACK', '-m', 'comment', '--comment', SKIP_CONNTRACK];
    await topo.exec(topo.nsNode, ['iptables', '-w', '5', '-t', 'raw', '-D', 'PREROUTING', ...rule]);
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 23);
    // One interval plus one pass over the 24 rules (iptables -C each), with room for a busy machine.
    const back = await waitFor('rule re-added', async () => (await nodeLocalRules(topo.nsNode)).length, (n) => n === 24, 4000);
    console.log(`# deleted rule back after ${back.ms} ms (-syncinterval 1)`);
    assert.ok(back.ms <= 3000, `took ${back.ms} ms`);
    assert.match(daemon!.logs(), /Added back nodelocaldns rule - \{raw PREROUTING \[-p udp -d 10\.96\.0\.10 --dport 53 -j NOTRACK -m comment --comment NodeLocal DNS Cache: skip conntrack\]\}/);
    // Re-inserted at the top of its chain; nothing duplicated.
    assert.equal((await savedChains(topo, 'raw'))['PREROUTING']![0], saveLine(CLUSTER_DNS_IP, REFERENCE[1]!));
    await sleep(1200);
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24);
    // A local IP removed by hand comes back too.
    const dev = (await topo.exec(topo.nsNode, ['ip', '-o', 'addr', 'show', 'to', `${CLUSTER_DNS_IP}/32`])).stdout.split(/\s+/)[1]!;
    await topo.exec(topo.nsNode, ['ip', 'addr', 'del', `${CLUSTER_DNS_IP}/32`, 'dev', dev]);
    await waitFor('address re-added', async () => hasLocalIps(await addresses(topo.nsNode)), (v) => v.every(Boolean), 3000);
  });

  test('(e) SIGTERM removes rules and addresses; the pod then resolves through DNAT to kube-dns', async () => {
    const exit = await daemon!.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, daemon!.logs().slice(-2000));
    assert.match(daemon!.logs(), /Tearing down/);
    assert.deepEqual(await nodeLocalRules(topo.nsNode), []);
    assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [false, false]);
    assert.deepEqual(await getent(topo, 'svc-1.default'), [SVC1_IP]);
    assert.deepEqual(await dig(topo, CLUSTER_DNS_IP, SVC1), [SVC1_IP]);
    const before = await conntrackCount(topo.nsNode);
    const summary = await podLookups(topo);
    const after = await conntrackCount(topo.nsNode);
    numbers.withoutDaemonBefore = before;
    numbers.withoutDaemonAfter = after;
    console.log(`# without the daemon (DNAT): conntrack count ${before} -> ${after} over 1,000 lookups (2,000 queries); ${summary.lookupsPerSecond.toFixed(0)} lookups/s`);
    assert.equal(summary.lookups, 1000);
    assert.ok(summary.errors <= 10, JSON.stringify(summary.errorsByKind));
    assert.ok(after - before >= 500, `conntrack grew by only ${after - before}: are lookups still NOTRACKed?`);
    // Both replicas answered, through the kube-proxy-like DNAT.
    const sources = await dnatReplySources(topo);
    for (const r of topo.replicas) assert.ok((sources.get(r.ip) ?? 0) > 0, `no DNAT entries to ${r.name} (${JSON.stringify([...sources])})`);
  });

  test('(f) with -skipteardown nothing is removed on SIGTERM; the next instance re-ensures without duplicates', async () => {
    const keep = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '1', '-skipteardown'] });
    daemon = keep;
    assert.deepEqual(await getent(topo, 'svc-1.default'), [SVC1_IP]);
    const exit = await keep.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, keep.logs().slice(-2000));
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24);
    assert.deepEqual(await savedChains(topo, 'raw'), expectedChains('raw'));
    assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [true, true]);
    // A new instance adopts what is there: still 24 rules, then a normal SIGTERM cleans up.
    const next = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '1'] });
    daemon = next;
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24);
    assert.deepEqual(await getent(topo, SVC1), [SVC1_IP]);
    assert.deepEqual(await next.stop('SIGTERM'), { code: 0, signal: null });
    assert.deepEqual(await nodeLocalRules(topo.nsNode), []);
    assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [false, false]);
  });

  test('(g) after a SIGKILL the next start re-ensures rules and addresses within a second', async (t) => {
    const killed = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '60'] });
    daemon = killed;
    assert.deepEqual(await killed.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
    // Like node-cache, nothing is torn down on SIGKILL (OOM kill): rules and addresses stay.
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24);
    // Damage the leftovers a little, as a half-finished teardown or an operator might.
    await topo.exec(topo.nsNode, ['iptables', '-w', '5', '-t', 'raw', '-D', 'PREROUTING', '-p', 'udp', '-d', LOCAL_DNS_IP, '--dport', '53', '-j', 'NOTRACK', '-m', 'comment', '--comment', SKIP_CONNTRACK]);
    await topo.exec(topo.nsNode, ['ip', 'addr', 'del', `${CLUSTER_DNS_IP}/32`, 'dev', 'lo']);
    const started = Date.now();
    const next = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '60'] });
    daemon = next;
    const elapsed = Date.now() - started;
    t.diagnostic(`restart after SIGKILL: rules and addresses re-ensured, serving, ${elapsed} ms after spawn`);
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24);
    assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [true, true]);
    assert.deepEqual(await getent(topo, SVC1), [SVC1_IP]);
    assert.ok(elapsed < 1000 + 1500, `re-ensured ${elapsed} ms after spawn (node start-up included)`);
    assert.deepEqual(await next.stop('SIGTERM'), { code: 0, signal: null });
    assert.deepEqual(await nodeLocalRules(topo.nsNode), []);
  });

  test('(h) surge rollout (SO_REUSEPORT): the old instance stops, sees the new one serving and leaves the rules; the last one tears down', { skip: REUSE_PORT_SUPPORTED ? false : 'needs SO_REUSEPORT (Node >= 22.12)' }, async () => {
    const old = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '60'] });
    daemon = old;
    const next = await startDaemonInNode(topo, { extraArgs: ['-syncinterval', '60'] }); // binds next to the old one
    try {
      assert.deepEqual(await old.stop('SIGTERM'), { code: 0, signal: null }, old.logs().slice(-3000));
      assert.match(old.logs(), /another node-local-dns instance answers on our address/);
      assert.doesNotMatch(old.logs(), /"msg":"Tearing down"/);
      assert.equal((await nodeLocalRules(topo.nsNode)).length, 24, 'rules kept for the new instance');
      assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [true, true]);
      assert.deepEqual(await getent(topo, SVC1), [SVC1_IP], 'the pod is served by the new instance');
      daemon = next;
      assert.deepEqual(await next.stop('SIGTERM'), { code: 0, signal: null });
      assert.match(next.logs(), /no other node-local-dns instance answers on our address/);
      assert.deepEqual(await nodeLocalRules(topo.nsNode), []);
      assert.deepEqual(hasLocalIps(await addresses(topo.nsNode)), [false, false]);
    } finally {
      if (!next.exited) await next.stop('SIGKILL');
    }
  });
});
