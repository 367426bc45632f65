// Nothing a client sends can end the process. The daemon runs as a real process from the bundle
// (an exception there would end it), with a real BIND9 upstream, on loopback:
// - a UDP datagram from source port 0, written with a raw socket (test/harness/raw-udp.py), for a
//   cached name and for a miss: socket.send would throw ERR_SOCKET_BAD_PORT; the daemon drops it,
//   counts it and keeps answering;
// - more TCP connections than the daemon has file descriptors (prlimit): accept() fails with
//   EMFILE, which Node reports as an 'error' event on the server; the daemon keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { BUNDLE, startDaemonProcess, type DaemonProcess } from '../harness/daemon-process.js';
import { fixtures } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { buildQuery, queryTcp, queryUdp, answerData, type QueryResult } from '../harness/dns-client.js';

const RAW_UDP = 'test/harness/raw-udp.py';
const isRoot = process.getuid?.() === 0;
const hasPython = spawnSync('python3', ['--version']).status === 0;
const skip = (!existsSync(BUNDLE) && 'run npm run build first') || (!isRoot && 'needs root for raw sockets and prlimit') || (!hasPython && 'needs python3');

const dir = mkdtempSync(join(tmpdir(), 'nld-crash-'));
const daemons: DaemonProcess[] = [];
let upstream: Upstream | undefined;

after(async () => {
  for (const d of daemons) await d.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startDaemon(name: string, nofile?: number): Promise<DaemonProcess> {
  upstream ??= await startUpstream({ kind: 'bind', queryLog: false });
  const d = await startDaemonProcess({ dir, name, upstream: upstream.address, nofile });
  daemons.push(d);
  return d;
}

function sendRaw(srcPort: number, dstPort: number, payload: Buffer, count = 1): void {
  const r = spawnSync('python3', [RAW_UDP, '127.0.0.1', String(srcPort), '127.0.0.1', String(dstPort), payload.toString('hex'), String(count)], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `raw-udp.py failed: ${r.stderr}`);
}

test('a UDP datagram from source port 0 is dropped and counted; the daemon keeps answering', { skip }, async () => {
  const d = await startDaemon('port0');
  const server = { host: '127.0.0.1', port: d.port };
  const cached = fixtures.services[1];
  const { packet } = await queryUdp(server, cached.name, 'A');
  assert.deepEqual(answerData(packet, 'A'), [cached.ipv4], 'cached before the attack');

  // The hit path and the miss path (a name nothing asked for yet), 20 datagrams each.
  sendRaw(0, d.port, buildQuery(cached.name, 'A', { id: 0x1111 }).wire, 20);
  sendRaw(0, d.port, buildQuery(fixtures.services[2].name, 'A', { id: 0x2222 }).wire, 20);
  await waitFor(async () => (await d.metric('nodelocaldns_malformed_queries_total', 'reason="source_port"')) === 40, 5000, 'source_port counter', d.logs);

  assert.equal(d.exited(), false, `daemon died:\n${d.logs().slice(-2000)}`);
  for (const svc of [cached, fixtures.services[3]]) {
    const udp = await queryUdp(server, svc.name, 'A');
    assert.deepEqual(answerData(udp.packet, 'A'), [svc.ipv4], `udp ${svc.name} after the attack`);
    const tcp = await queryTcp(server, svc.name, 'A');
    assert.deepEqual(answerData(tcp.packet, 'A'), [svc.ipv4], `tcp ${svc.name} after the attack`);
  }
  assert.equal(await d.metric('nodelocaldns_udp_send_errors_total'), 0, 'nothing was even tried: port 0 is dropped on arrival');
  assert.equal(await d.metric('coredns_panics_total'), 0);
  assert.doesNotMatch(d.logs(), /ERR_SOCKET_BAD_PORT|uncaught/i);
});

test('running out of file descriptors on accept does not end the process', { skip }, async () => {
  const d = await startDaemon('emfile', 64);
  const server = { host: '127.0.0.1', port: d.port };
  const sockets: net.Socket[] = [];
  try {
    // 64 descriptors: about 30 are the runtime's; 150 connections exhaust the rest.
    await Promise.all(
      Array.from({ length: 150 }, () => {
        const s = net.connect({ host: '127.0.0.1', port: d.port });
        s.on('error', () => undefined);
        sockets.push(s);
        return new Promise<void>((res) => {
          s.once('connect', () => res());
          s.once('error', () => res());
          s.once('close', () => res());
        });
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.exited(), false, `daemon died:\n${d.logs().slice(-2000)}`);
  } finally {
    for (const s of sockets) s.destroy();
  }
  // Descriptors come back as the connections close; UDP and TCP answer again.
  const svc = fixtures.services[4];
  const answered = async (query: Promise<QueryResult>) => {
    const result = await query.catch(() => null);
    return result !== null && answerData(result.packet, 'A')[0] === svc.ipv4;
  };
  await waitFor(() => answered(queryUdp(server, svc.name, 'A', { timeoutMs: 1000 })), 10_000, 'udp answer after the descriptor storm', d.logs);
  await waitFor(() => answered(queryTcp(server, svc.name, 'A', { timeoutMs: 1000 })), 10_000, 'tcp answer after the descriptor storm', d.logs);
  assert.equal(d.exited(), false);
});
