// Real pod resolvers against the daemon: getaddrinfo() from glibc (dynamic) and musl (static,
// Debian's musl 1.2.3, which never retries over TCP) looks up headless services of 40 and 100
// endpoints, whose A RRsets do not fit in 512 bytes. dig is no use here: it retries over TCP
// whatever the truncated reply looks like; the C libraries do not. glibc takes a reply with no
// answer and AA and RA clear for a lame referral before it looks at TC.
//
// One network namespace holds everything, on its loopback: BIND9 as kube-dns (authoritative for
// cluster.local with `recursion no`, so its answers have AA set and RA clear) on 127.0.0.1:53, the
// daemon (dist/node-local-dns.cjs, run by this Node) on 169.254.20.10:53 forwarding cluster.local
// to it over TCP as the official Corefile does, and the pod's resolv.conf (nameserver
// 169.254.20.10, the kubelet's search list, ndots:5) bind-mounted by `ip netns exec` from
// /etc/netns/<ns>/. Each resolver looks up its own services by their short names (search list),
// first cold (cache miss), then warm (cache hit). Expected, as with node-cache: glibc gets every
// address (TC with AA and records -> retry over TCP), musl the whole records that fit in 512 bytes.
// Needs root, ip netns, named, gcc and musl-gcc (scripts/install-test-deps.sh); skipped otherwise.
// The namespace, its processes, /etc/netns/<ns> and the temp dir are removed in after() and on exit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBundle, BUNDLE, httpGet, metricSum, netnsUnavailable, nsRun, REPO_ROOT, removeNamespaceSync, run } from './topology.js';
import { generateZone, renderZoneText, type ZoneRecord } from '../harness/zone.js';
import { waitFor } from '../harness/wait.js';
import { authoritativeNamedConf } from '../harness/named-conf.js';

const DAEMON_IP = '169.254.20.10';
const KUBE_DNS_IP = '127.0.0.1'; // BIND, on the namespace's own loopback
const METRICS_URL = `http://${DAEMON_IP}:9253/metrics`;
const POD_RESOLV_CONF = `search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${DAEMON_IP}\noptions ndots:5\n`;
const SOURCE = join(REPO_ROOT, 'test', 'resolvers', 'getaddrinfo.c');
const ZONE = 'cluster.local';
const NAMESPACE_SUFFIX = 'default.svc.cluster.local';
const LIBCS = ['glibc', 'musl'] as const;
type Libc = (typeof LIBCS)[number];

function whyUnavailable(): string | null {
  const why = netnsUnavailable();
  if (why) return why;
  for (const tool of ['gcc', 'musl-gcc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', timeout: 10_000 }).status !== 0) return `${tool} is not installed (scripts/install-test-deps.sh)`;
  }
  return null;
}
const skip = whyUnavailable();

// ---- the data: one headless service per (resolver, endpoint count) -------------------------------

interface Headless {
  short: string; // what the application asks for; the search list makes it <short>.default.svc.cluster.local
  fqdn: string;
  addresses: string[];
}

/** hl40-glibc, hl100-musl, ...: 10.200.<k>.<i> endpoints (k distinct per service). */
function headless(libc: Libc, endpoints: number, k: number): Headless {
  const short = `hl${endpoints}-${libc}`;
  return { short, fqdn: `${short}.${NAMESPACE_SUFFIX}`, addresses: Array.from({ length: endpoints }, (_, i) => `10.200.${k}.${i + 1}`) };
}

const SERVICES = LIBCS.flatMap((libc, li) => [40, 100].map((n, ni) => headless(libc, n, li * 2 + ni)));
const READY = headless('glibc', 1, 9); // answers the readiness probe, never looked up by the tests
READY.short = 'ready';
READY.fqdn = `ready.${NAMESPACE_SUFFIX}`;

/** Whole A records (compressed owner: 16 bytes each) that fit in 512 bytes after header and question. */
function fitIn512(fqdn: string): number {
  const question = fqdn.length + 2 + 4; // wire name (labels + root) + type + class
  return Math.floor((512 - 12 - question) / 16);
}

function clusterZoneText(): string {
  const base = generateZone({ services: 2 }).zones.find((z) => z.origin === ZONE)!;
  const extra: ZoneRecord[] = [...SERVICES, READY].flatMap((s) => s.addresses.map((ip) => ({ name: s.fqdn, ttl: 30, type: 'A' as const, value: ip })));
  return renderZoneText(ZONE, [...base.records, ...extra]);
}

// ---- the namespace, BIND, the daemon ---------------------------------------------------------------

const NS = `nld-res-${randomBytes(3).toString('hex')}`;
let dir = '';
let daemon: ChildProcess | undefined;
let daemonOutput = '';
const binaries = {} as Record<Libc, string>;

function cleanupSync(): void {
  removeNamespaceSync(NS); // kills named and the daemon (they run in it), deletes it and /etc/netns/<ns>
  if (dir) rmSync(dir, { recursive: true, force: true });
}


async function digAnswers(server: string, name: string): Promise<boolean> {
  const r = await nsRun(NS, ['dig', '+short', '+time=1', '+tries=1', `@${server}`, name, 'A'], { check: false, timeoutMs: 5000 });
  return r.code === 0 && r.stdout.trim().length > 0;
}

async function setUp(): Promise<void> {
  process.once('exit', cleanupSync);
  dir = mkdtempSync(join(tmpdir(), `${NS}-`));
  ensureBundle();
  await run(['gcc', '-O1', '-Wall', '-o', (binaries.glibc = join(dir, 'getaddrinfo-glibc')), SOURCE]);
  await run(['musl-gcc', '-static', '-O1', '-Wall', '-o', (binaries.musl = join(dir, 'getaddrinfo-musl')), SOURCE]);

  await run(['ip', 'netns', 'add', NS]);
  await run(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
  await run(['ip', '-n', NS, 'addr', 'add', `${DAEMON_IP}/32`, 'dev', 'lo']);
  mkdirSync(join('/etc/netns', NS), { recursive: true });
  writeFileSync(join('/etc/netns', NS, 'resolv.conf'), POD_RESOLV_CONF);

  // kube-dns: BIND, authoritative only (AA set, RA clear), as test/netns/topology.ts runs it.
  writeFileSync(join(dir, `${ZONE}.zone`), clusterZoneText());
  writeFileSync(
    join(dir, 'named.conf'),
    authoritativeNamedConf({ dir, port: 53, listenOn: KUBE_DNS_IP, zones: [{ origin: ZONE, file: `${dir}/${ZONE}.zone` }] }),
  );
  const namedLog = openSync(join(dir, 'named.log'), 'a');
  spawn('ip', ['netns', 'exec', NS, 'named', '-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', namedLog, namedLog] }).on('error', () => undefined);
  closeSync(namedLog);
  await waitFor(() => digAnswers(KUBE_DNS_IP, READY.fqdn), 20_000, 'BIND', () => readFileSync(join(dir, 'named.log'), 'utf8').slice(-2000), 100);

  // The daemon: the official Corefile's cluster.local block (cache success 9984 30 / denial 9984 5, forward force_tcp).
  writeFileSync(
    join(dir, 'config.yaml'),
    `servers:
  - zones: [${ZONE}]
    bind: [${DAEMON_IP}]
    port: 53
    cache:
      success: { capacity: 9984, maxTTL: 30, minTTL: 5 }
      denial: { capacity: 9984, maxTTL: 5, minTTL: 5 }
    forward:
      to: ["${KUBE_DNS_IP}:53"]
      forceTCP: true
metrics:
  listen: ${DAEMON_IP}:9253
`,
  );
  daemon = spawn('ip', ['netns', 'exec', NS, process.execPath, BUNDLE, '--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => (daemonOutput = (daemonOutput + d.toString()).slice(-20_000));
  daemon.stdout!.on('data', keep);
  daemon.stderr!.on('data', keep);
  daemon.on('error', () => undefined);
  await waitFor(() => digAnswers(DAEMON_IP, READY.fqdn), 20_000, 'node-local-dns', () => daemonOutput.slice(-4000), 100);
}

async function tearDown(): Promise<void> {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  cleanupSync();
  process.removeListener('exit', cleanupSync);
}

// ---- lookups and counters ---------------------------------------------------------------------------

interface Lookup {
  addresses: string[]; // distinct, as printed
  error?: string;
}

async function getaddrinfo(libc: Libc, name: string): Promise<Lookup> {
  const r = await nsRun(NS, [binaries[libc], name, 'unspec'], { check: false, timeoutMs: 60_000 });
  const lines = r.stdout.split('\n').filter(Boolean);
  const error = lines.find((l) => l.startsWith('error:')) ?? (r.code !== 0 ? `exit ${r.code}: ${r.stderr.trim()}` : undefined);
  return { addresses: [...new Set(lines.filter((l) => !l.startsWith('error:')))], error };
}

interface Counters {
  hits: number;
  misses: number;
  udp: number;
  tcp: number;
}

async function counters(): Promise<Counters> {
  const r = await httpGet(NS, METRICS_URL);
  assert.equal(r.status, 200);
  return {
    hits: metricSum(r.body, 'coredns_cache_hits_total'),
    misses: metricSum(r.body, 'coredns_cache_misses_total'),
    udp: metricSum(r.body, 'coredns_dns_requests_total', { proto: 'udp' }),
    tcp: metricSum(r.body, 'coredns_dns_requests_total', { proto: 'tcp' }),
  };
}

const diff = (a: Counters, b: Counters): Counters => ({ hits: b.hits - a.hits, misses: b.misses - a.misses, udp: b.udp - a.udp, tcp: b.tcp - a.tcp });

// ---- tests ------------------------------------------------------------------------------------------

describe('pod resolvers: glibc and musl getaddrinfo for headless services larger than 512 bytes', { skip: skip ?? false }, () => {
  before(setUp, { timeout: 120_000 });
  after(tearDown, { timeout: 30_000 });

  for (const svc of SERVICES) {
    const libc = svc.short.endsWith('glibc') ? 'glibc' : 'musl';
    const n = svc.addresses.length;
    const expected = libc === 'glibc' ? n : fitIn512(svc.fqdn);
    const how = libc === 'glibc' ? 'all of them (TC with AA and records: glibc retries over TCP)' : `the ${expected} whole records that fit in 512 bytes (musl 1.2.3 does not retry over TCP)`;
    test(`${libc}, ${n} endpoints, cold then warm: ${how}`, async (t) => {
      for (const phase of ['cold', 'warm'] as const) {
        const before0 = await counters();
        const got = await getaddrinfo(libc, svc.short);
        const d = diff(before0, await counters());
        t.diagnostic(`${libc} ${phase} ${svc.short}: ${got.addresses.length}/${n} addresses ${got.error ?? ''} (udp ${d.udp}, tcp ${d.tcp}, cache hits ${d.hits}, misses ${d.misses})`);
        assert.equal(got.error, undefined, `${phase}: getaddrinfo failed (${got.error})\n${daemonOutput.slice(-2000)}`);
        assert.equal(got.addresses.length, expected, `${phase}: ${got.addresses.length} addresses`);
        for (const a of got.addresses) assert.ok(svc.addresses.includes(a), `${a} is an endpoint of ${svc.fqdn}`);
        // Cold: the A and AAAA lookups miss; warm: everything is a hit. glibc's retry is visible as TCP requests.
        if (phase === 'cold') assert.ok(d.misses >= 2, `cold lookup misses the cache (${JSON.stringify(d)})`);
        else assert.ok(d.misses === 0 && d.hits >= 2, `warm lookup is served from the cache (${JSON.stringify(d)})`);
        if (libc === 'glibc') assert.ok(d.tcp >= 1, `glibc retried over TCP (${JSON.stringify(d)})`);
        else assert.equal(d.tcp, 0, `musl never uses TCP (${JSON.stringify(d)})`);
      }
    });
  }
});
