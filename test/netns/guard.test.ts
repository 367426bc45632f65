// The guard (`node-local-dns guard`, src/guard/) in the namespace mini-cluster of ./topology.ts:
// pods, a node router with kube-proxy-like DNAT (KUBE-SERVICES), two BIND kube-dns replicas. The
// daemon runs with the DaemonSet's node-cache args, the guard beside it with the same args and a
// 1 s grace. Under a steady load from a pod (glibc lookups through the pod's resolv.conf, which
// names the kube-dns ClusterIP, plus raw UDP to the ClusterIP and to the link-local IP, 80% hits),
// each scenario counts failed or late (> 1 s) lookups and the longest window without answers:
//   (a) SIGKILL: failures only within the grace; then kube-dns answers (the ClusterIP through
//       kube-proxy's DNAT, the link-local IP through the guard's relay); after a new daemon starts,
//       the guard hands back, the daemon's metrics move, its 24 rules are intact, the guard's gone
//   (b) SIGSTOP: the same while the daemon hangs, and the hand-back once it is continued
// Needs root, ip netns, iptables, named, dig, getent; skipped otherwise. No packet leaves the
// namespaces this test creates, which are removed in after() and on exit.
import { after, before, describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { addresses, createTopology, ensureBundle, LOCAL_IPS, metricSum, netnsUnavailable, nodeLocalRules, scrapeMetrics, type Topology } from './topology.js';
import { daemonArgs, describe, guardMetric, KUBELET_ENV, spawnIn, startGuard, startLoad, summarize, type Proc } from './guard-harness.js';
import { BUNDLE } from './topology.js';
import { fixtures } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { COMMENT_GUARD_RELAY } from '../../src/guard/node-fallback.js';

const skip = netnsUnavailable();
const GRACE_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOT = fixtures.services.slice(0, 20).map((s) => s.name);

suite('guard: fallback to kube-dns while the daemon is down', { skip: skip ?? false, timeout: 120_000 }, () => {
  let topo: Topology;
  let guard: Proc;
  let daemon: Proc | null = null;
  let seq = 0;
  const pod = () => topo.pods[0]!.ns;

  const startDaemon = async (): Promise<Proc> => {
    const dir = join(topo.dir, `daemon-${++seq}`);
    const p = spawnIn(topo.nsNode, [process.execPath, BUNDLE, ...daemonArgs(dir, ['-syncinterval', '60'])], KUBELET_ENV, topo.dir);
    await waitFor(async () => p.exited || (await nodeLocalRules(topo.nsNode)).length >= 24, 20_000, 'daemon rules');
    if (p.exited) throw new Error(`daemon exited: ${p.logs().slice(-3000)}`);
    return p;
  };
  const guardRules = async () => (await topo.exec(topo.nsNode, ['iptables-save', '-t', 'nat'])).stdout.split('\n').filter((l) => l.includes(COMMENT_GUARD_RELAY));
  const daemonRequests = async () => metricSum(await scrapeMetrics(topo.nsNode), 'coredns_dns_requests_total');

  before(async () => {
    ensureBundle();
    topo = await createTopology({ prefix: 'nld-guard', pods: 1, services: 100 });
    daemon = await startDaemon();
    guard = startGuard(topo, daemonArgs(join(topo.dir, 'guard-args')));
    await waitFor(async () => (await guardMetric(topo.nsNode, 'node_local_dns_guard_state', { state: 'serving' }).catch(() => 0)) === 1, 15_000, 'guard serving', () => guard.logs());
  });
  after(async () => {
    await guard?.stop('SIGTERM');
    await daemon?.stop('SIGKILL');
    await topo?.cleanup();
  });

  async function assertHandedBack(what: string): Promise<void> {
    await waitFor(async () => (await guardMetric(topo.nsNode, 'node_local_dns_guard_state', { state: 'serving' })) === 1, 10_000, `guard hands back after ${what}`, () => guard.logs().slice(-3000));
    assert.equal((await nodeLocalRules(topo.nsNode)).length, 24, 'the daemon\'s 24 rules are intact');
    assert.deepEqual(await guardRules(), [], 'the guard\'s relay rules are gone');
    const addrs = await addresses(topo.nsNode);
    for (const ip of LOCAL_IPS) assert.ok(addrs.includes(`${ip}/32`), `${ip} on the node`);
    const before = await daemonRequests();
    for (const ip of LOCAL_IPS) await topo.exec(pod(), ['dig', '+short', '+time=1', '+tries=1', `@${ip}`, HOT[0]!, 'A']);
    assert.ok((await daemonRequests()) >= before + 2, 'answers come from the daemon again (its request counter moves)');
  }

  test('(a) SIGKILL: failures only within the grace, kube-dns answers meanwhile, the new daemon gets the node back', async (t) => {
    const relayBefore = await guardMetric(topo.nsNode, 'node_local_dns_guard_relay_requests_total');
    const load = startLoad(topo, pod(), { durationMs: 9000, udpRate: 150, names: HOT, wildSuffix: fixtures.wildcard.suffix });
    await sleep(1500);
    const killedAt = load.elapsed();
    await daemon!.stop('SIGKILL');
    await sleep(4000);
    const restartAt = load.elapsed();
    daemon = await startDaemon();
    const s = summarize(await load.done);
    const udp = summarize((await load.done).filter((l) => l[2] !== 'glibc'));
    t.diagnostic(`SIGKILL at ${killedAt} ms, new daemon at ${restartAt} ms: ${describe(s)}; UDP: longest window ${udp.longestWindowMs} ms`);
    assert.ok(udp.longestWindowMs <= GRACE_MS + 1500, `longest UDP window ${udp.longestWindowMs} ms`);
    assert.equal(s.failedBetween(killedAt + GRACE_MS + 1500, restartAt), 0, 'after the grace, kube-dns answers every lookup');
    assert.ok(s.byKind['udp-link']!.sent > 100 && s.byKind['glibc']!.sent > 50, 'load ran');
    assert.ok((await guardMetric(topo.nsNode, 'node_local_dns_guard_relay_requests_total')) > relayBefore, 'the relay answered the link-local IP');
    assert.equal(await guardMetric(topo.nsNode, 'node_local_dns_guard_transitions_total', { from: 'suspect', to: 'fallback' }), 1);
    await assertHandedBack('SIGKILL');
  });

  test('(b) SIGSTOP: the hung daemon is bypassed within the grace and gets the node back when continued', async (t) => {
    const load = startLoad(topo, pod(), { durationMs: 8000, udpRate: 150, names: HOT, wildSuffix: fixtures.wildcard.suffix });
    await sleep(1500);
    const stoppedAt = load.elapsed();
    process.kill(daemon!.child.pid!, 'SIGSTOP');
    await sleep(3500);
    const continuedAt = load.elapsed();
    process.kill(daemon!.child.pid!, 'SIGCONT');
    const all = await load.done;
    const s = summarize(all);
    const udp = summarize(all.filter((l) => l[2] !== 'glibc'));
    t.diagnostic(`SIGSTOP at ${stoppedAt} ms, SIGCONT at ${continuedAt} ms: ${describe(s)}; UDP: longest window ${udp.longestWindowMs} ms`);
    assert.ok(udp.longestWindowMs <= GRACE_MS + 1500, `longest UDP window ${udp.longestWindowMs} ms`);
    assert.equal(s.failedBetween(stoppedAt + GRACE_MS + 1500, continuedAt), 0, 'after the grace, kube-dns answers every lookup');
    await assertHandedBack('SIGCONT');
  });
});
