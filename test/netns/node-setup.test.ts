// Node setup (interface + iptables) against real `ip` and iptables, each test inside its own network
// namespace `nld-test-<random>`: nothing on the host's interfaces or tables is touched. Namespaces are
// deleted in after(), and also on process exit or SIGINT/SIGTERM. Needs root; skipped otherwise.
// The expected rules are transcribed independently from the reference table (guide §2.4) in
// iptables-save's canonical form, and compared per chain in order (each rule is prepended in turn).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { SetupErrors } from '../../src/node-setup/setup-errors.js';
import type { NodeSetupConfig } from '../../src/config/types.js';
import { runCommand, type Exec } from '../../src/node-setup/exec.js';
import { ensureInterface, removeInterface } from '../../src/node-setup/interface.js';
import { buildRules, ensureRules, removeRules, formatRule, ruleArgv } from '../../src/node-setup/iptables.js';
import { NodeSetup, FALLBACK_LOG } from '../../src/node-setup/node-setup.js';
import { waitFor } from '../harness/wait.js';

const IPS = ['169.254.20.10', '10.96.0.10'];
const SKIP_CONNTRACK = 'NodeLocal DNS Cache: skip conntrack';
const ALLOW = 'NodeLocal DNS Cache: allow DNS traffic';
const isRoot = process.getuid?.() === 0;

// ---- namespace bookkeeping -------------------------------------------------------------------

const namespaces = new Set<string>();
const tempDirs: string[] = [];

function cleanupSync(): void {
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    namespaces.delete(ns);
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanupSync();
    process.exit(130);
  });
}
after(cleanupSync);

function newNetns(): string {
  const ns = `nld-test-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.add(ns);
  return ns;
}

function inNs(ns: string, argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
}

/** A test that needs root and `ip netns`; gets a fresh namespace. */
function nsTest(name: string, fn: (ns: string) => Promise<void>): void {
  test(name, async (t) => {
    if (!isRoot) {
      t.skip('needs root and ip netns');
      return;
    }
    await fn(newNetns());
  });
}

// ---- expected rules (reference §2.4) ---------------------------------------------------------

type Row = readonly [table: 'raw' | 'filter', chain: string, proto: 'tcp' | 'udp', dir: 'd' | 's', port: 'dns' | 'health', target: 'NOTRACK' | 'ACCEPT'];
const REFERENCE: readonly Row[] = [
  ['raw', 'PREROUTING', 'tcp', 'd', 'dns', 'NOTRACK'],
  ['raw', 'PREROUTING', 'udp', 'd', 'dns', 'NOTRACK'],
  ['filter', 'INPUT', 'tcp', 'd', 'dns', 'ACCEPT'],
  ['filter', 'INPUT', 'udp', 'd', 'dns', 'ACCEPT'],
  ['raw', 'OUTPUT', 'tcp', 's', 'dns', 'NOTRACK'],
  ['raw', 'OUTPUT', 'udp', 's', 'dns', 'NOTRACK'],
  ['filter', 'OUTPUT', 'tcp', 's', 'dns', 'ACCEPT'],
  ['filter', 'OUTPUT', 'udp', 's', 'dns', 'ACCEPT'],
  ['raw', 'OUTPUT', 'tcp', 'd', 'dns', 'NOTRACK'],
  ['raw', 'OUTPUT', 'udp', 'd', 'dns', 'NOTRACK'],
  ['raw', 'OUTPUT', 'tcp', 'd', 'health', 'NOTRACK'],
  ['raw', 'OUTPUT', 'tcp', 's', 'health', 'NOTRACK'],
];

function saveLine(ip: string, [, chain, proto, dir, port, target]: Row): string {
  const prefix = ip.includes(':') ? 128 : 32;
  const p = port === 'dns' ? 53 : 8080;
  const comment = target === 'NOTRACK' ? SKIP_CONNTRACK : ALLOW;
  return `-A ${chain} -${dir} ${ip}/${prefix} -p ${proto} -m ${proto} --${dir}port ${p} -m comment --comment "${comment}" -j ${target}`;
}

/** Expected lines of one table, per chain, in chain order after prepending each rule in turn. */
function expectedChains(ips: readonly string[], table: 'raw' | 'filter'): Record<string, string[]> {
  const chains: Record<string, string[]> = {};
  for (const ip of ips) {
    for (const row of REFERENCE.filter((r) => r[0] === table)) (chains[row[1]] ??= []).unshift(saveLine(ip, row));
  }
  return chains;
}

/** `-A` lines of iptables-save for one table, per chain, in order. */
function savedChains(ns: string, table: 'raw' | 'filter', v6 = false): Record<string, string[]> {
  const out = inNs(ns, [v6 ? 'ip6tables-save' : 'iptables-save', '-t', table]);
  const chains: Record<string, string[]> = {};
  for (const line of out.split('\n').filter((l) => l.startsWith('-A '))) (chains[line.split(' ')[1]!] ??= []).push(line);
  return chains;
}

function countNodeLocalRules(ns: string, v6 = false): number {
  const out = inNs(ns, [v6 ? 'ip6tables-save' : 'iptables-save']);
  return out.split('\n').filter((l) => l.startsWith('-A ') && l.includes('NodeLocal DNS Cache')).length;
}

function addrsOn(ns: string, dev: string): string[] {
  const out = inNs(ns, ['ip', '-o', 'addr', 'show', 'dev', dev]);
  return out
    .split('\n')
    .map((l) => /inet6? (\S+)/.exec(l)?.[1])
    .filter((a): a is string => !!a);
}

// ---- helpers ----------------------------------------------------------------------------------

function capture(): { logger: Logger; lines: string[]; messages: () => string[] } {
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (s: string) => void lines.push(s) });
  return { logger, lines, messages: () => lines.map((l) => String((JSON.parse(l) as { msg?: string }).msg)) };
}

function config(over: Partial<NodeSetupConfig> = {}): NodeSetupConfig {
  return { localIps: IPS, setupInterface: true, setupIptables: true, interfaceName: 'nodelocaldns', syncIntervalMs: 60_000, skipTeardown: false, dnsPort: 53, healthPort: 8080, ...over };
}


/** The device holding the IPs: lo in fallback, else the dummy link. */
function deviceOf(node: NodeSetup): string {
  return node.interfaceFallback === 'lo' ? 'lo' : node.config.interfaceName;
}

// ---- tests ------------------------------------------------------------------------------------

test('rule argv and log form follow node-cache (no root needed)', () => {
  const [first] = buildRules(['169.254.20.10'], 53, 8080);
  assert.deepEqual(ruleArgv(first!, '-I'), ['iptables', '-w', '5', '-t', 'raw', '-I', 'PREROUTING', '1', '-p', 'tcp', '-d', '169.254.20.10', '--dport', '53', '-j', 'NOTRACK', '-m', 'comment', '--comment', SKIP_CONNTRACK]);
  assert.equal(formatRule(first!), '{raw PREROUTING [-p tcp -d 169.254.20.10 --dport 53 -j NOTRACK -m comment --comment NodeLocal DNS Cache: skip conntrack]}');
  assert.equal(buildRules(IPS, 53, 8080).length, 24);
  assert.equal(ruleArgv(buildRules(['fd00::10'], 53, 8080)[0]!, '-C')[0], 'ip6tables');
});

test('exec returns failures as values with the argv in the error text', async () => {
  const missing = await runCommand(['/nonexistent/bin/tool', '--flag']);
  assert.equal(missing.ok, false);
  assert.equal(missing.code, -1);
  assert.match(missing.error, /\/nonexistent\/bin\/tool --flag: could not start \(ENOENT\)/);
  const failing = await runCommand(['sh', '-c', 'echo oops >&2; exit 3']);
  assert.equal(failing.code, 3);
  assert.match(failing.error, /exited 3: oops/);
  const slow = await runCommand(['sleep', '5'], { timeoutMs: 100 });
  assert.match(slow.error, /timed out after 100ms/);
});

nsTest('ensureInterface puts the IPs in place (lo fallback when the kernel has no dummy type)', async (ns) => {
  const errors = new SetupErrors();
  const r = await ensureInterface('nodelocaldns', IPS, { netns: ns, setupErrors: errors });
  assert.equal(r.ok, true, r.errors.join('; '));
  const dev = r.fallback === 'lo' ? 'lo' : 'nodelocaldns';
  for (const ip of IPS) assert.ok(addrsOn(ns, dev).includes(`${ip}/32`), `${ip}/32 on ${dev}`);
  for (const ip of IPS) assert.match(inNs(ns, ['ip', 'route', 'get', ip]), /^local /);
  if (r.fallback === 'lo') {
    assert.match(inNs(ns, ['ip', 'link', 'show', 'dev', 'lo']), /[<,]UP[,>]/);
  } else {
    assert.equal(r.created, true);
    assert.doesNotMatch(inNs(ns, ['ip', 'link', 'show', 'dev', 'nodelocaldns']), /[<,]UP[,>]/); // never set up, like node-cache
  }
  const again = await ensureInterface('nodelocaldns', IPS, { netns: ns, setupErrors: errors, fallback: r.fallback });
  assert.equal(again.ok, true);
  assert.equal(again.existed, true);
  assert.deepEqual(errors.counts, { iptables: 0, iptables_lock: 0, interface_add: 0, interface_check: 0, configmap: 0 });
  const removed = await removeInterface('nodelocaldns', IPS, r.fallback, { netns: ns });
  assert.equal(removed.ok, true);
  for (const ip of IPS) assert.ok(!inNs(ns, ['ip', '-o', 'addr']).includes(`${ip}/32`));
});

nsTest('NodeSetup logs the lo fallback once', async (ns) => {
  const log = capture();
  const node = new NodeSetup(config(), { logger: log.logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  await node.syncNow();
  await node.syncNow();
  node.close();
  const fallbacks = log.messages().filter((m) => m === FALLBACK_LOG).length;
  assert.equal(fallbacks, node.interfaceFallback === 'lo' ? 1 : 0);
});

nsTest('rules match the reference exactly for 169.254.20.10 and 10.96.0.10', async (ns) => {
  const log = capture();
  const errors = new SetupErrors();
  const node = new NodeSetup(config(), { logger: log.logger, setupErrors: errors, netns: ns });
  await node.start();
  assert.equal(countNodeLocalRules(ns), 0, 'no rules before installRules()');
  const res = await node.installRules();
  node.close();
  assert.equal(res?.added, 24);
  assert.deepEqual(savedChains(ns, 'raw'), expectedChains(IPS, 'raw'));
  const filter = savedChains(ns, 'filter');
  assert.deepEqual(filter, expectedChains(IPS, 'filter'));
  assert.equal(filter['FORWARD'], undefined);
  assert.equal(countNodeLocalRules(ns, true), 0, 'no IPv6 rules for IPv4 addresses');
  assert.ok(log.messages().includes('Added back nodelocaldns rule - {raw PREROUTING [-p tcp -d 169.254.20.10 --dport 53 -j NOTRACK -m comment --comment NodeLocal DNS Cache: skip conntrack]}'));
  assert.equal(errors.counts.iptables + errors.counts.iptables_lock, 0);
});

nsTest('ensureRules five times leaves no duplicates', async (ns) => {
  const rules = buildRules(IPS, 53, 8080);
  const results = [];
  for (let i = 0; i < 5; i++) results.push(await ensureRules(rules, { netns: ns }));
  assert.deepEqual(
    results.map((r) => [r.added, r.present, r.ok]),
    [[24, 0, true], [0, 24, true], [0, 24, true], [0, 24, true], [0, 24, true]],
  );
  assert.equal(countNodeLocalRules(ns), 24);
  assert.deepEqual(savedChains(ns, 'raw'), expectedChains(IPS, 'raw'));
});

nsTest('a rule or IP deleted by hand comes back on the next sync', async (ns) => {
  const log = capture();
  const node = new NodeSetup(config({ syncIntervalMs: 200 }), { logger: log.logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  await node.installRules();
  const rule = ['-p', 'udp', '-d', '10.96.0.10', '--dport', '53', '-j', 'ACCEPT', '-m', 'comment', '--comment', ALLOW];
  inNs(ns, ['iptables', '-t', 'filter', '-D', 'INPUT', ...rule]);
  const dev = deviceOf(node);
  inNs(ns, ['ip', 'addr', 'del', '10.96.0.10/32', 'dev', dev]);
  assert.equal(countNodeLocalRules(ns), 23);
  await waitFor(() => countNodeLocalRules(ns) === 24 && addrsOn(ns, dev).includes('10.96.0.10/32'), 3000, '24 rules and the ClusterIP address');
  node.close();
  assert.ok(log.messages().includes(`Added back nodelocaldns rule - {filter INPUT [${rule.join(' ')}]}`));
  // Re-added at the top of its chain.
  assert.equal(savedChains(ns, 'filter')['INPUT']![0], saveLine('10.96.0.10', REFERENCE[3]!));
});

nsTest('teardown removes all rules (duplicates too), then the addresses', async (ns) => {
  const log = capture();
  const calls: string[] = [];
  const exec: Exec = (argv, o) => {
    calls.push(argv.join(' '));
    return runCommand(argv, o);
  };
  const node = new NodeSetup(config(), { logger: log.logger, setupErrors: new SetupErrors(), netns: ns, exec });
  await node.start();
  await node.installRules();
  const dup = ['-p', 'tcp', '-d', '169.254.20.10', '--dport', '53', '-j', 'NOTRACK', '-m', 'comment', '--comment', SKIP_CONNTRACK];
  inNs(ns, ['iptables', '-t', 'raw', '-A', 'PREROUTING', ...dup]);
  inNs(ns, ['iptables', '-t', 'raw', '-A', 'PREROUTING', ...dup]);
  assert.equal(countNodeLocalRules(ns), 26);
  const dev = deviceOf(node);
  calls.length = 0;
  await node.teardown();
  assert.ok(log.messages().includes('Tearing down'));
  assert.equal(countNodeLocalRules(ns), 0);
  for (const ip of IPS) assert.ok(!inNs(ns, ['ip', '-o', 'addr']).includes(`${ip}/32`), `${ip} removed from ${dev}`);
  const lastRule = calls.map((c) => c.startsWith('iptables')).lastIndexOf(true);
  const firstIp = calls.findIndex((c) => c.startsWith('ip '));
  assert.ok(lastRule >= 0 && firstIp > lastRule, 'rules are removed before the interface');
  if (dev === 'lo') assert.ok(addrsOn(ns, 'lo').includes('127.0.0.1/8'), 'lo itself is left alone');
});

nsTest('skipTeardown leaves the rules and addresses in place', async (ns) => {
  const log = capture();
  const node = new NodeSetup(config({ skipTeardown: true }), { logger: log.logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  await node.installRules();
  await node.teardown();
  assert.ok(!log.messages().includes('Tearing down'));
  assert.equal(countNodeLocalRules(ns), 24);
  for (const ip of IPS) assert.ok(addrsOn(ns, deviceOf(node)).includes(`${ip}/32`));
});

nsTest('iptables failures are counted (iptables / iptables_lock) and never thrown', async (ns) => {
  const dir = mkdtempSync(join(tmpdir(), 'nld-iptables-'));
  tempDirs.push(dir);
  const locked = join(dir, 'iptables-locked');
  writeFileSync(locked, '#!/bin/sh\necho "Another app is currently holding the xtables lock. Stopped waiting after 5s." >&2\nexit 4\n');
  chmodSync(locked, 0o755);
  const rules = buildRules(IPS, 53, 8080);

  const lockErrors = new SetupErrors();
  const lockRes = await ensureRules(rules, { netns: ns, setupErrors: lockErrors, binaries: { v4: locked } });
  assert.equal(lockRes.ok, false);
  assert.equal(lockRes.errors.length, 24);
  assert.match(lockRes.errors[0]!, /iptables-locked -w 5 -t raw -C PREROUTING .*exited 4: Another app is currently holding the xtables lock/);
  assert.deepEqual([lockErrors.counts.iptables_lock, lockErrors.counts.iptables], [24, 0]);

  const bogusErrors = new SetupErrors();
  const log = capture();
  const bogus: Exec = (argv, o) => runCommand(argv[0] === 'iptables' ? ['/nonexistent/iptables', ...argv.slice(1)] : argv, o);
  const node = new NodeSetup(config(), { logger: log.logger, setupErrors: bogusErrors, netns: ns, exec: bogus });
  await node.start();
  const res = await node.installRules();
  assert.equal(res?.ok, false);
  await node.teardown();
  assert.deepEqual([bogusErrors.counts.iptables, bogusErrors.counts.iptables_lock], [48, 0], 'ensure 24 + remove 24');
  assert.ok(log.messages().some((m) => m.startsWith('Error checking/adding iptables rule {raw PREROUTING')));
  const rm = await removeRules(rules, { netns: ns, binaries: { v4: locked }, setupErrors: lockErrors });
  assert.equal(rm.ok, false);
  assert.equal(lockErrors.counts.iptables_lock, 48);
});

nsTest('interface errors are counted as interface_check, never thrown', async (ns) => {
  const errors = new SetupErrors();
  const bogusIp: Exec = (argv, o) => runCommand(argv[0] === 'ip' ? ['/nonexistent/ip', ...argv.slice(1)] : argv, o);
  const node = new NodeSetup(config({ setupIptables: false }), { logger: capture().logger, setupErrors: errors, netns: ns, exec: bogusIp });
  const r = await node.ensureInterfaceNow();
  assert.equal(r?.ok, false);
  assert.equal(errors.counts.interface_check, 1);
  node.close();
});

nsTest('IPv6: ip6tables rules for fd00::10 match the reference, and teardown removes them', async (ns) => {
  const v6 = ['fd00::10'];
  const node = new NodeSetup(config({ localIps: v6 }), { logger: capture().logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  const res = await node.installRules();
  assert.equal(res?.ok, true, res?.errors.join('; '));
  assert.ok(addrsOn(ns, deviceOf(node)).includes('fd00::10/128'));
  assert.deepEqual(savedChains(ns, 'raw', true), expectedChains(v6, 'raw'));
  assert.deepEqual(savedChains(ns, 'filter', true), expectedChains(v6, 'filter'));
  assert.equal(countNodeLocalRules(ns, false), 0, 'no IPv4 rules');
  await node.teardown();
  assert.equal(countNodeLocalRules(ns, true), 0);
  assert.ok(!inNs(ns, ['ip', '-o', 'addr']).includes('fd00::10/128'));
});

nsTest('update stages new IPs; installRules then swaps the rules and drops the old IP', async (ns) => {
  const node = new NodeSetup(config(), { logger: capture().logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  await node.installRules();
  const next = ['169.254.20.10', '10.96.0.11'];
  await node.update(config({ localIps: next }));
  const dev = deviceOf(node);
  assert.ok(addrsOn(ns, dev).includes('10.96.0.11/32'), 'new IP added before listeners bind');
  assert.ok(addrsOn(ns, dev).includes('10.96.0.10/32'), 'old IP kept until commit');
  assert.deepEqual(savedChains(ns, 'raw'), expectedChains(IPS, 'raw'), 'rules unchanged until commit');
  await node.installRules();
  assert.ok(!addrsOn(ns, dev).includes('10.96.0.10/32'), 'old IP removed');
  assert.deepEqual(savedChains(ns, 'raw'), expectedChains(next, 'raw'));
  assert.deepEqual(savedChains(ns, 'filter'), expectedChains(next, 'filter'));
  await node.update(config({ localIps: next, setupIptables: false }));
  await node.installRules();
  assert.equal(countNodeLocalRules(ns), 0, 'setupIptables turned off removes the rules');
  await node.teardown();
  assert.ok(!inNs(ns, ['ip', '-o', 'addr']).includes('169.254.20.10/32'));
});
