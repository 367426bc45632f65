// The tools show what a pod sees, against real BIND and our daemon on loopback:
// `query` reports a truncated UDP reply and asks again over TCP (like dig), prints +short,
// -x and class CH answers, and --search walks a resolv.conf search list with ndots as glibc does;
// the load tool's getaddrinfo failure probe tells a truncated answer from other failures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { defaultZone, fixtures, renderZoneText, type ZoneRecord } from '../harness/zone.js';
import { startDaemon, type RunningDaemon } from '../harness/daemon.js';
import { runQuery } from '../../src/tools/query.js';
import { lookupWasTruncated } from '../../src/tools/load/truncation-probe.js';

// A headless service of 40 endpoints: about 680 bytes of answer, more than 512 without EDNS.
const ENDPOINTS = Array.from({ length: 40 }, (_, i) => `10.97.0.${i + 1}`);
const bigZone = (): { origin: string; records: ZoneRecord[]; text: string } => {
  const origin = 'big.test';
  const soa = { ...fixtures.soa, mname: `ns.${origin}`, rname: `hostmaster.${origin}` };
  const records: ZoneRecord[] = [
    { name: origin, ttl: 30, type: 'SOA', value: { mname: soa.mname, rname: soa.rname, serial: soa.serial, refresh: soa.refresh, retry: soa.retry, expire: soa.expire, minimum: soa.minimum } },
    { name: origin, ttl: 30, type: 'NS', value: `ns.${origin}` },
    { name: `ns.${origin}`, ttl: 30, type: 'A', value: '10.97.1.1' },
    { name: `small.${origin}`, ttl: 30, type: 'A', value: '10.97.1.2' },
    ...ENDPOINTS.map((ip): ZoneRecord => ({ name: `endpoints.${origin}`, ttl: 30, type: 'A', value: ip })),
  ];
  return { origin, records, text: renderZoneText(origin, records) };
};

let bind: Upstream;
let daemon: RunningDaemon;
let dir: string;

before(async () => {
  bind = await startUpstream({ kind: 'bind', zones: [...defaultZone.zones, bigZone()] });
  daemon = await startDaemon(`servers:\n  - zones: [cluster.local]\n    bind: [127.0.0.1]\n    port: 0\n    forward: { to: ["${bind.address}"] }\n`);
  dir = mkdtempSync(join(tmpdir(), 'nld-tools-'));
});

after(async () => {
  await daemon?.stop();
  await bind?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function query(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const code = await runQuery(argv, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

const atBind = () => ['@127.0.0.1', '-p', String(bind.port)];

test('a truncated UDP reply is reported and asked again over TCP, with every record', async () => {
  const { code, out } = await query([...atBind(), 'endpoints.big.test', 'A']);
  assert.equal(code, 0);
  assert.match(out, /^;; Truncated, retrying in TCP mode\.\n;; NOERROR, id \d+, flags: qr aa rd; tcp 127\.0\.0\.1#/);
  for (const ip of ENDPOINTS) assert.ok(out.includes(`endpoints.big.test.\t30\tIN\tA\t${ip}\n`), ip);
});

test('+ignore keeps the truncated reply and warns', async () => {
  const { code, out } = await query([...atBind(), '+ignore', 'endpoints.big.test']);
  assert.equal(code, 0);
  assert.match(out, /WARNING: truncated reply \(TC\)/);
  assert.match(out, /flags: qr aa tc rd; udp /);
});

test('+short prints the answer data only; -x asks the PTR of an address', async () => {
  const svc = fixtures.services[3];
  assert.equal((await query([...atBind(), '+short', svc.name])).out, `${svc.ipv4}\n`);
  const ptr = fixtures.ptrs[0];
  const reverse = await query([...atBind(), '-x', ptr.ipv4]);
  assert.equal(reverse.code, 0);
  assert.ok(reverse.out.includes(`${ptr.name}.\t${ptr.ttl}\tIN\tPTR\t${ptr.target}.\n`), reverse.out);
});

test('class CH: id.server TXT CH names the node-local-dns instance', async () => {
  const { code, out } = await query(['@127.0.0.1', '-p', String(daemon.port), 'id.server', 'TXT', 'CH']);
  assert.equal(code, 0);
  assert.match(out, /^;; NOERROR, .*flags: qr aa/);
  assert.match(out, /\nid\.server\.\t0\tCH\tTXT\t"[^"]+\/\d+\/[0-9a-f]{8}"\n/);
});

test('--search walks the search list as glibc does (ndots:5) and stops at the first answer', async () => {
  const conf = join(dir, 'resolv.conf');
  writeFileSync(conf, 'nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
  const svc = fixtures.services.find((s) => s.namespace === 'default')!;
  const short = svc.name.replace(/\.svc\.cluster\.local$/, ''); // "svc-0.default": one dot, below ndots
  const { code, out } = await query(['--search', '--resolv-conf', conf, '-p', String(bind.port), short]);
  assert.equal(code, 0);
  const asked = [...out.matchAll(/^;; (\S+) A: (\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(asked, [`${short}.default.svc.cluster.local. NXDOMAIN`, `${svc.name}. NOERROR`]);
  assert.ok(out.includes(`${svc.name}.\t${svc.ttl}\tIN\tA\t${svc.ipv4}`));

  const missing = await query(['--search', '--resolv-conf', conf, '-p', String(bind.port), 'nosuch.example']);
  const walked = [...missing.out.matchAll(/^;; (\S+) A: (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(walked, ['nosuch.example.default.svc.cluster.local.', 'nosuch.example.svc.cluster.local.', 'nosuch.example.cluster.local.', 'nosuch.example.']);
});

test('bad arguments exit 2 with the reason', async () => {
  assert.match((await query(['-x', 'not-an-address'])).err, /-x needs an IPv4 or IPv6 address/);
  assert.match((await query(['x', 'BOGUS'])).err, /unknown type BOGUS/);
  assert.match((await query(['+frob', 'x'])).err, /unknown option \+frob/);
  assert.equal((await query(['--search', '--resolv-conf', join(dir, 'nope'), 'x'])).code, 2);
});

test('getaddrinfo failure probe: a truncated answer is told apart from others', async () => {
  const server = { address: '127.0.0.1', port: bind.port, family: 4 as const };
  const conf = { search: ['big.test.'], ndots: 5 };
  assert.equal(await lookupWasTruncated('endpoints', 4, conf, server, 2000), true, '40 A records do not fit in 512 bytes');
  assert.equal(await lookupWasTruncated('small', 4, conf, server, 2000), false);
  assert.equal(await lookupWasTruncated('nosuch', 0, conf, server, 2000), false);
});
