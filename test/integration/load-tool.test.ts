// Integration tests for `node-local-dns load` against a real BIND9 on
// loopback (authoritative for test.local, recursion off), plus a UDP sink
// that never answers (timeouts) and a closed TCP port (network errors).
// All traffic stays on 127.0.0.1; --system is only used with `localhost`,
// which getaddrinfo answers from /etc/hosts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../../src/tools/load/run.js';
import type { LoadReport } from '../../src/tools/load/report.js';
import { freePort, startBind, type BindServer } from '../load-helpers/bind.js';

let bind: BindServer;
let server: string;
let scratch: string;

before(async () => {
  bind = await startBind();
  server = `127.0.0.1:${bind.port}`;
  scratch = mkdtempSync(join(tmpdir(), 'nld-load-test-'));
});

after(async () => {
  await bind?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runLoad(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

async function runJson(argv: string[]): Promise<LoadReport> {
  const r = await run([...argv, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LoadReport;
}

function assertOrderedLatency(report: LoadReport): void {
  const l = report.summary.latencyMs;
  const chain = [l.min, l.p50, l.p90, l.p99, l.p999, l.max];
  for (let i = 1; i < chain.length; i++) assert.ok(chain[i - 1] <= chain[i], `latency not ordered: ${JSON.stringify(l)}`);
  assert.ok(l.min > 0);
  assert.ok(l.min <= l.avg && l.avg <= l.max);
}

test('UDP load against BIND: lookups succeed, percentiles ordered', async () => {
  const report = await runJson(['--server', server, '--host', 'a.test.local', '-c', '20', '-d', '2']);
  const s = report.summary;
  assert.ok(s.lookups > 0);
  assert.equal(s.errors, 0);
  assert.equal(s.ok, s.lookups);
  assert.deepEqual(s.errorsByKind, {});
  assert.ok(s.elapsedMs >= 2000 && s.elapsedMs < 6000, `elapsed ${s.elapsedMs}`);
  assert.ok(s.lookupsPerSecond > 0);
  assert.equal(report.stoppedBy, 'duration');
  assert.equal(report.target, `udp ${server}`);
  assertOrderedLatency(report);
  assert.ok(report.series.length >= 2);
  assert.equal(
    report.series.reduce((n, x) => n + x.count, 0),
    s.lookups,
  );
  assert.equal('histogram' in report, false);
});

test('text report is an aligned table', async () => {
  const r = await run(['--server', server, '--host', 'a.test.local', '-c', '4', '-d', '0.5']);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^node-local-dns load: udp 127\.0\.0\.1:\d+, type A, 4 workers, a\.test\.local/);
  assert.match(r.stdout, /lookups\s+[\d,]+\s+[\d,.]+\/s/);
  assert.match(r.stdout, /errors\s+0\s+0%/);
  assert.match(r.stdout, /latency \(ms\)\s+min\s+avg\s+p50\s+p90\s+p99\s+p99\.9\s+max/);
  assert.doesNotMatch(r.stdout, /\r/); // no progress line when stdout is not a TTY
});

test('NXDOMAIN, NODATA and REFUSED are counted as errors by kind', async () => {
  const report = await runJson([
    '--server', server,
    '--host', 'a.test.local',
    '--host', 'missing.test.local',
    '--host', 'v6only.test.local', // has AAAA only: NODATA for A
    '--host', 'example.com', // not BIND's zone, recursion off: REFUSED
    '-c', '4', '--max-count', '400',
  ]);
  const s = report.summary;
  assert.equal(s.lookups, 400);
  assert.equal(report.stoppedBy, 'max-count');
  assert.equal(s.ok, 100);
  assert.deepEqual(s.errorsByKind, { nodata: 100, nxdomain: 100, refused: 100 });
  assert.equal(s.errors, 300);
});

test('CNAME chains count as answers; --type A,AAAA asks both like glibc', async () => {
  const cname = await runJson(['--server', server, '--host', 'alias.test.local', '-c', '2', '--max-count', '50']);
  assert.equal(cname.summary.ok, 50);

  const pair = await runJson([
    '--server', server,
    '--host', 'both.test.local', '--host', 'a.test.local', '--host', 'v6only.test.local',
    '--type', 'A,AAAA', '-c', '3', '--max-count', '90',
  ]);
  assert.equal(pair.queriesPerLookup, 2);
  assert.deepEqual(pair.types, ['A', 'AAAA']);
  assert.equal(pair.summary.ok, 90); // either family answering is a successful getaddrinfo

  const aaaa = await runJson(['--server', server, '--host', 'a.test.local', '--type', 'AAAA', '--max-count', '20']);
  assert.deepEqual(aaaa.summary.errorsByKind, { nodata: 20 });
});

test('a server that never answers produces timeouts', async () => {
  const sink = dgram.createSocket('udp4');
  let received = 0;
  sink.on('message', () => received++);
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  try {
    const started = Date.now();
    const report = await runJson([
      '--server', `127.0.0.1:${sink.address().port}`,
      '--host', 'a.test.local',
      '-c', '5', '-d', '1', '--timeout-ms', '200', '-l', '100',
    ]);
    const s = report.summary;
    assert.ok(s.lookups >= 5);
    assert.equal(s.ok, 0);
    assert.deepEqual(s.errorsByKind, { timeout: s.lookups });
    assert.equal(s.overLimit, s.lookups);
    assert.ok(s.latencyMs.min >= 190, `min ${s.latencyMs.min}`);
    assert.ok(received >= s.lookups);
    assert.ok(Date.now() - started < 5000, 'the run ends soon after the duration');
  } finally {
    sink.close();
  }
});

test('IPv6 loopback server ([::1]:port) over UDP', async (t) => {
  // A tiny responder that turns every query into a REFUSED reply.
  const refuser = dgram.createSocket('udp6');
  refuser.on('message', (msg, rinfo) => {
    const reply = Buffer.from(msg);
    reply[2] |= 0x80; // QR
    reply[3] = (reply[3] & 0xf0) | 5; // REFUSED
    refuser.send(reply, rinfo.port, rinfo.address);
  });
  const bound = await new Promise<boolean>((resolve) => {
    refuser.once('error', () => resolve(false));
    refuser.bind(0, '::1', () => resolve(true));
  });
  if (!bound) {
    t.skip('no IPv6 loopback here');
    return;
  }
  try {
    const report = await runJson([
      '--server', `[::1]:${refuser.address().port}`, '--host', 'a.test.local', '-c', '3', '--max-count', '60',
    ]);
    assert.equal(report.target, `udp [::1]:${refuser.address().port}`);
    assert.deepEqual(report.summary.errorsByKind, { refused: 60 });
  } finally {
    refuser.close();
  }
});

test('--tcp mode works over persistent connections', async () => {
  const report = await runJson([
    '--server', server, '--tcp', '--host', 'a.test.local', '--host', 'missing.test.local', '-c', '8', '-d', '1',
  ]);
  const s = report.summary;
  assert.equal(report.target, `tcp ${server}`);
  assert.ok(s.lookups > 0);
  assert.ok(s.ok > 0);
  assert.deepEqual(Object.keys(s.errorsByKind), ['nxdomain']);
  assert.ok(Math.abs(s.ok - (s.errorsByKind.nxdomain ?? 0)) <= 8, 'names alternate');
  assertOrderedLatency(report);
});

test('--tcp with --edns and A,AAAA pipelines both questions on one connection', async () => {
  const report = await runJson([
    '--server', server, '--tcp', '--edns', '--type', 'A,AAAA', '--host', 'both.test.local', '-c', '2', '--max-count', '200',
  ]);
  assert.equal(report.summary.ok, 200);
});

test('--tcp to a closed port is a network error, and the run still ends', async () => {
  const port = await freePort();
  const report = await runJson(['--server', `127.0.0.1:${port}`, '--tcp', '--host', 'a.test.local', '-c', '2', '-d', '0.3']);
  const s = report.summary;
  assert.ok(s.lookups > 0);
  assert.equal(s.ok, 0);
  // Refused connects are network errors; on a loaded machine a rare connect may instead time out.
  const { 'network-error': refused = 0, timeout = 0, ...others } = s.errorsByKind;
  assert.deepEqual(others, {});
  assert.equal(refused + timeout, s.lookups);
  assert.ok(refused >= s.lookups * 0.9, `network errors ${refused} of ${s.lookups}`);
});

test('--html writes one self-contained page with charts', async () => {
  const file = join(scratch, 'report.html');
  const r = await run(['--server', server, '--host', 'a.test.local', '-c', '4', '-d', '1.2', '--html', file, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const html = readFileSync(file, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'histogram, latency and throughput charts');
  assert.match(html, /Latency histogram/);
  assert.match(html, /Latency over time/);
  assert.match(html, /p99/);
  assert.doesNotMatch(html, /<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
});

test('--html to an unwritable path fails with exit code 1 after the report', async () => {
  const r = await run([
    '--server', server, '--host', 'a.test.local', '--max-count', '5', '--html', join(scratch, 'no', 'such', 'dir.html'),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /lookups/);
  assert.match(r.stderr, /--html/);
});

test('--server 10.0.0.1 is refused before any socket is opened', async () => {
  const calls: string[] = [];
  const originals = {
    createSocket: dgram.createSocket,
    createConnection: net.createConnection,
    connect: net.connect,
    socketConnect: net.Socket.prototype.connect,
  };
  dgram.createSocket = ((...args: unknown[]) => {
    calls.push('dgram.createSocket');
    return (originals.createSocket as (...a: unknown[]) => dgram.Socket)(...args);
  }) as typeof dgram.createSocket;
  net.createConnection = ((...args: unknown[]) => {
    calls.push('net.createConnection');
    return (originals.createConnection as (...a: unknown[]) => net.Socket)(...args);
  }) as typeof net.createConnection;
  net.connect = net.createConnection;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    calls.push('Socket.connect');
    return (originals.socketConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  try {
    for (const extra of [[], ['--tcp']]) {
      const r = await run(['--server', '10.0.0.1', '--host', 'a.test.local', '-c', '1', '-d', '1', ...extra]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /refusing --server 10\.0\.0\.1: it is neither a loopback address/);
      assert.match(r.stderr, /--allow-remote/);
    }
    assert.deepEqual(calls, []);
  } finally {
    dgram.createSocket = originals.createSocket;
    net.createConnection = originals.createConnection;
    net.connect = originals.connect;
    net.Socket.prototype.connect = originals.socketConnect;
  }
});

test('bad options exit 2 with a message; --help exits 0', async () => {
  const bad = await run(['--server', server, '--host', 'a.test.local', '-d', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /-d must be greater than 0/);
  const none = await run(['--host', 'a.test.local']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--server.*--system/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: node-local-dns load/);
});

test('--system resolves through getaddrinfo (localhost from /etc/hosts)', async () => {
  const report = await runJson(['--system', '--host', 'localhost', '-c', '2', '--max-count', '40']);
  assert.match(report.target, /^getaddrinfo/);
  assert.equal(report.summary.lookups, 40);
  assert.equal(report.summary.ok, 40);
});

test('--max-count stops exactly; duration bounds a run that would go on', async () => {
  const capped = await runJson(['--server', server, '--host', 'a.test.local', '-c', '7', '--max-count', '123']);
  assert.equal(capped.summary.lookups, 123);
  assert.equal(capped.stoppedBy, 'max-count');
  const started = Date.now();
  const timed = await runJson(['--server', server, '--host', 'a.test.local', '-c', '2', '-d', '300ms', '--max-count', '1000000000']);
  assert.equal(timed.stoppedBy, 'duration');
  assert.ok(Date.now() - started < 4000);
});
