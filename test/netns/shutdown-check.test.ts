// The shutdown instance check decides whether the shared iptables rules stay (another instance
// took over the address) or go. Real iptables in a namespace this test creates (rules only), and
// real responders on 127.0.0.1 that the check is pointed at: a stray server answering every query
// with NOERROR/garbage/forged TXT -> rules torn down; a real second node-local-dns process ->
// rules kept; only this instance answering, or nothing -> torn down; another instance that is
// itself stopping -> torn down. Needs root and `ip netns`; skipped otherwise.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { SetupErrors } from '../../src/node-setup/setup-errors.js';
import { NodeSetup, shutdownAwareNodeService } from '../../src/node-setup/node-setup.js';
import { findOtherInstance, instancesAnswering } from '../../src/node-setup/instance-probe.js';
import { CHECK_MARKER, instanceCheckText, NONCE_CHARS } from '../../src/util/instance-identity.js';
import { CLASS_CH } from '../../src/dns/constants.js';
import type { NodeSetupConfig } from '../../src/config/types.js';
import { startDaemon, clusterConfigYaml } from '../harness/daemon.js';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';
import { ensureBundle } from './topology.js';

const isRoot = process.getuid?.() === 0;
const namespaces: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'nld-shutdown-check-'));
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(tmp, { recursive: true, force: true });
});

function rulesIn(ns: string): number {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'iptables-save'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.startsWith('-A ') && l.includes('NodeLocal DNS Cache')).length;
}

/**
 * Rules for 169.254.20.10 installed in a fresh namespace, then the shutdown hook run with the
 * instance check pointed at 127.0.0.1:`port`. Returns the rules left and the log messages.
 */
async function shutdownWith(port: number): Promise<{ rulesLeft: number; logs: Record<string, unknown>[] }> {
  const ns = `nld-sc-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (s: string) => void lines.push(s) });
  const config: NodeSetupConfig = { localIps: ['169.254.20.10'], setupInterface: false, setupIptables: true, interfaceName: 'nodelocaldns', syncIntervalMs: 60_000, skipTeardown: false, dnsPort: 53, healthPort: 8080 };
  const node = new NodeSetup(config, { logger, setupErrors: new SetupErrors(), netns: ns });
  await node.start();
  await node.installRules();
  assert.equal(rulesIn(ns), 12);
  const service = shutdownAwareNodeService(node, logger, () => findOtherInstance('127.0.0.1', port));
  await service.beforeClose!();
  await service.close();
  return { rulesLeft: rulesIn(ns), logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const logged = (logs: Record<string, unknown>[], msg: RegExp) => logs.find((l) => msg.test(String(l.msg)));

/** A UDP server on 127.0.0.1 answering every query with each of `replies(query)`. */
async function responder(replies: (query: Buffer) => Buffer[]): Promise<{ port: number; socket: Socket }> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    for (const r of replies(msg)) socket.send(r, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  return { port: socket.address().port, socket };
}

/** `query` turned into a NOERROR response with one CH TXT answer carrying `text` (or no answer). */
function answer(query: Buffer, text?: string): Buffer {
  const head = Buffer.from(query);
  head[2] = 0x84;
  head[3] = 0;
  if (text === undefined) return head;
  const t = Buffer.from(text, 'latin1');
  const rr = Buffer.from([0xc0, 12, 0, 16, 0, CLASS_CH, 0, 0, 0, 0, 0, t.length + 1, t.length]);
  const out = Buffer.concat([head, rr, t]);
  out.writeUInt16BE(1, 6);
  return out;
}

const nonceOf = (query: Buffer) => query.toString('latin1', 13, 13 + NONCE_CHARS);

function skipWithoutRoot(t: { skip(msg: string): void }): boolean {
  if (isRoot) return false;
  t.skip('needs root and ip netns');
  return true;
}

test('a stray responder answering NOERROR, garbage and forged TXT: rules are torn down', async (t) => {
  if (skipWithoutRoot(t)) return;
  const stray = await responder((q) => [
    answer(q), // NOERROR, no answer (what the old check trusted)
    answer(q, 'some-other-dns-server'),
    answer(q, `${CHECK_MARKER} ${'0'.repeat(32)} 0123456789abcdef serving`), // our marker, wrong proof
    Buffer.from('garbage that is not DNS'),
  ]);
  const { rulesLeft, logs } = await shutdownWith(stray.port);
  assert.equal(rulesLeft, 0);
  const rejected = logged(logs, /replies not from node-local-dns ignored/);
  assert.ok(rejected && Number(rejected.rejected) >= 3 * 8 * 4, JSON.stringify(rejected));
  assert.ok(logged(logs, /^Tearing down$/));
});

test('a real second node-local-dns process serving the address: rules are kept', async (t) => {
  if (skipWithoutRoot(t)) return;
  const bundle = ensureBundle();
  const port = await pickFreePort();
  const config = join(tmp, 'second.yaml');
  writeFileSync(config, clusterConfigYaml('127.0.0.1:9').replace('    port: 0', `    port: ${port}`));
  const child: ChildProcess = spawn(process.execPath, [bundle, '--config', config], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  cleanups.push(() => void child.kill('SIGKILL'));
  await waitFor(async () => (await instancesAnswering('127.0.0.1', port, 2, 300)).size === 1, 15_000, 'the second instance to answer');
  const { rulesLeft, logs } = await shutdownWith(port);
  assert.equal(rulesLeft, 12);
  assert.ok(logged(logs, /another node-local-dns instance answers on our address/));
  assert.equal(logged(logs, /^Tearing down$/), undefined);
});

test('only this instance answers (in-process daemon): rules are torn down', async (t) => {
  if (skipWithoutRoot(t)) return;
  const self = await startDaemon(clusterConfigYaml('127.0.0.1:9'));
  cleanups.push(() => self.stop());
  const { rulesLeft, logs } = await shutdownWith(self.port);
  assert.equal(rulesLeft, 0);
  const none = logged(logs, /no other node-local-dns instance/);
  assert.ok(none && Number(none.self) === 3 * 8, JSON.stringify(none));
});

test('another instance that is stopping too, or nothing at all: rules are torn down', async (t) => {
  if (skipWithoutRoot(t)) return;
  const stopping = await responder((q) => [answer(q, instanceCheckText(nonceOf(q), 'fedcba9876543210', 'stopping'))]);
  const first = await shutdownWith(stopping.port);
  assert.equal(first.rulesLeft, 0);
  assert.equal(Number(logged(first.logs, /no other node-local-dns instance/)?.stopping), 3 * 8);
  const silent = await shutdownWith(await pickFreePort());
  assert.equal(silent.rulesLeft, 0);
  assert.equal(Number(logged(silent.logs, /no other node-local-dns instance/)?.unanswered), 3 * 8);
});
