/**
 * Test zone generator.
 *
 * Produces the authoritative data served by the test upstreams
 * (test/harness/upstream.ts): a `cluster.local` zone shaped like what
 * CoreDNS/kube-dns serves (services in namespaces, the kubernetes API
 * service, CNAME chain, SRV, NODATA/NXDOMAIN cases, an oversized TXT RRset,
 * records with special TTLs, a mixed-case owner, a wildcard) and a reverse
 * zone `10.in-addr.arpa` with PTRs for every service IP.
 *
 * The output is available three ways:
 *   - `records`: structured records (used to build dnsmasq configs),
 *   - `zones`: RFC 1035 zone-file text per zone (used by BIND and unbound),
 *   - `fixtures`: a typed description of "what should be answered" so tests
 *     can assert on names/IPs/TTLs without hard-coding them.
 *
 * Names are absolute and written WITHOUT the trailing dot (the dns-packet
 * convention); the zone-file renderer adds the dot.
 */

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export interface SoaValue {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  /** Negative-caching TTL (RFC 2308). */
  minimum: number;
}

export interface SrvValue {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

interface RecordBase {
  /** Absolute owner name without trailing dot (case preserved). */
  name: string;
  ttl: number;
}

export type ZoneRecord =
  | (RecordBase & { type: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'PTR'; value: string })
  | (RecordBase & { type: 'TXT'; value: string[] })
  | (RecordBase & { type: 'SRV'; value: SrvValue })
  | (RecordBase & { type: 'SOA'; value: SoaValue });

export type ZoneRecordType = ZoneRecord['type'];

/** One zone: its origin, its records and its zone-file text. */
export interface ZoneFile {
  /** Zone apex without trailing dot, e.g. `cluster.local`. */
  origin: string;
  text: string;
  records: ZoneRecord[];
}

export interface ServiceFixture {
  index: number;
  namespace: string;
  name: string;
  ipv4: string;
  /** Only some services (every `aaaaEvery`-th) have an AAAA record. */
  ipv6?: string;
  ttl: number;
}

export interface AddressFixture {
  name: string;
  ipv4: string;
  ttl: number;
}

export interface ZoneFixtures {
  origin: string;
  reverseOrigin: string;
  /** TTL of the SOA RR itself and of records without an explicit TTL. */
  defaultTtl: number;
  soa: SoaValue & { name: string; ttl: number };
  /** TTL an RFC 2308 cache should use for negative answers: min(SOA TTL, MINIMUM). */
  negativeTtl: number;
  ns: { name: string; target: string; ipv4: string; ttl: number };
  namespaces: string[];
  services: ServiceFixture[];
  /** `kubernetes.default.svc.cluster.local` -> 10.96.0.1 */
  kubernetes: AddressFixture;
  /** Name with several A records (headless-service style RRset). */
  headless: { name: string; ipv4s: string[]; ttl: number };
  /** cname1 -> cname2 -> target (an A record in the same zone). */
  cnameChain: { names: string[]; target: string; ipv4: string; ttl: number };
  /** CNAME pointing outside every served zone (answer is the CNAME only). */
  cnameOutOfZone: { name: string; target: string; ttl: number };
  srv: SrvValue & { name: string; ttl: number; targetIpv4: string };
  /** Has A but no AAAA: AAAA query is NOERROR/NODATA. */
  nodata: AddressFixture & { missingType: 'AAAA' };
  /** Has AAAA but no A: A query is NOERROR/NODATA. */
  v6only: { name: string; ipv6: string; ttl: number; missingType: 'A' };
  /** Does not exist in cluster.local: NXDOMAIN with SOA in authority. */
  nxdomain: { name: string };
  /** Not inside any served zone: REFUSED from BIND/unbound. */
  outOfZone: { name: string };
  /** TXT RRset whose answer is far larger than 1232 (and 4096) bytes. */
  bigTxt: { name: string; strings: string[]; ttl: number; approxAnswerBytes: number };
  /** TXT RRset between 1232 and 4096 bytes. */
  mediumTxt: { name: string; strings: string[]; ttl: number; approxAnswerBytes: number };
  ttls: { ttl60: AddressFixture; ttl1: AddressFixture; ttl0: AddressFixture };
  /** Owner written in mixed case in the zone file. */
  mixedCase: AddressFixture;
  /** `*.wild.cluster.local` A: any `<anything>.wild.cluster.local` resolves (cache-miss traffic). */
  wildcard: { pattern: string; suffix: string; ipv4: string; ttl: number };
  /** Reverse entries: one per address record in cluster.local (kubernetes + services + specials). */
  ptrs: Array<{ name: string; ipv4: string; target: string; ttl: number }>;
}

export interface GenerateZoneOptions {
  /** Number of `svc-N.<ns>.svc.cluster.local` services (default 1000). */
  services?: number;
  /** Number of namespaces, or explicit names (default 4: default, kube-system, ns-2, ns-3). */
  namespaces?: number | string[];
  /** Every N-th service (N % aaaaEvery == 0) also gets an AAAA record (default 10). */
  aaaaEvery?: number;
  /** SOA serial (default 2024010101). */
  serial?: number;
}

export interface GeneratedZone {
  zones: ZoneFile[];
  records: ZoneRecord[];
  fixtures: ZoneFixtures;
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const ORIGIN = 'cluster.local';
const REVERSE_ORIGIN = '10.in-addr.arpa';
const DEFAULT_TTL = 30;
const SOA_MINIMUM = 5;
const MAX_SERVICES = 250 * 256 * 150; // keeps 10.(96+x) within 10.0.0.0/8

// ---------------------------------------------------------------------------
// Address helpers
// ---------------------------------------------------------------------------

/** IPv4 of service N: 10.96.1.1 .. (250 addresses per /24, .0 and .251+ unused). */
export function serviceIpv4(index: number): string {
  const block = Math.floor(index / 250) + 1;
  const second = 96 + Math.floor(block / 256);
  return `10.${second}.${block % 256}.${(index % 250) + 1}`;
}

/** IPv6 of service N in RFC 5952 canonical form (what dns-packet decodes to). */
export function serviceIpv6(index: number): string {
  const v = index + 1;
  const hi = Math.floor(v / 0x10000);
  const lo = v % 0x10000;
  return hi === 0 ? `fd00:10:96::${lo.toString(16)}` : `fd00:10:96::${hi.toString(16)}:${lo.toString(16)}`;
}

/** `10.96.0.1` -> `1.0.96.10.in-addr.arpa` */
export function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

function namespaceList(spec: number | string[] | undefined): string[] {
  if (Array.isArray(spec)) {
    if (spec.length === 0) throw new Error('generateZone: namespaces must not be empty');
    return spec;
  }
  const count = spec ?? 4;
  if (!Number.isInteger(count) || count < 1) throw new Error(`generateZone: bad namespaces count ${count}`);
  const base = ['default', 'kube-system'];
  const out = base.slice(0, count);
  for (let i = out.length; i < count; i++) out.push(`ns-${i}`);
  return out;
}

/** Deterministic TXT string of exactly `len` bytes. */
function txtString(label: string, i: number, len: number): string {
  const head = `${label}-${String(i).padStart(2, '0')}-`;
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(len / 36)).slice(0, len - head.length);
}

// ---------------------------------------------------------------------------
// Record construction
// ---------------------------------------------------------------------------

function buildFixtures(opts: Required<Omit<GenerateZoneOptions, 'namespaces'>> & { namespaces: string[] }): ZoneFixtures {
  const { namespaces } = opts;
  const svcName = (i: number, ns: string) => `svc-${i}.${ns}.svc.${ORIGIN}`;
  const services: ServiceFixture[] = [];
  for (let i = 0; i < opts.services; i++) {
    // Block assignment keeps svc-0 and svc-1 in the first namespace ("default").
    const namespace = namespaces[Math.floor((i * namespaces.length) / opts.services)]!;
    const svc: ServiceFixture = { index: i, namespace, name: svcName(i, namespace), ipv4: serviceIpv4(i), ttl: DEFAULT_TTL };
    if (i % opts.aaaaEvery === 0) svc.ipv6 = serviceIpv6(i);
    services.push(svc);
  }
  const first = services[0];
  const second = services[1] ?? services[0];
  if (!first || !second) throw new Error('generateZone: need at least 1 service');

  const bigStrings = Array.from({ length: 20 }, (_, i) => txtString('big', i, 200));
  const mediumStrings = Array.from({ length: 8 }, (_, i) => txtString('medium', i, 200));
  // Per TXT RR in an answer: 2 (compressed owner) + 10 (type/class/ttl/rdlen) + 1 + string.
  const txtBytes = (s: string[]) => s.reduce((n, x) => n + 13 + x.length, 0);

  const fixtures: ZoneFixtures = {
    origin: ORIGIN,
    reverseOrigin: REVERSE_ORIGIN,
    defaultTtl: DEFAULT_TTL,
    soa: {
      name: ORIGIN,
      ttl: DEFAULT_TTL,
      mname: `ns.dns.${ORIGIN}`,
      rname: `hostmaster.${ORIGIN}`,
      serial: opts.serial,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: SOA_MINIMUM,
    },
    negativeTtl: Math.min(DEFAULT_TTL, SOA_MINIMUM),
    ns: { name: ORIGIN, target: `ns.dns.${ORIGIN}`, ipv4: '127.0.0.1', ttl: DEFAULT_TTL },
    namespaces,
    services,
    kubernetes: { name: `kubernetes.default.svc.${ORIGIN}`, ipv4: '10.96.0.1', ttl: DEFAULT_TTL },
    headless: { name: `headless.default.svc.${ORIGIN}`, ipv4s: ['10.96.0.10', '10.96.0.11', '10.96.0.12'], ttl: DEFAULT_TTL },
    cnameChain: { names: [`cname1.${ORIGIN}`, `cname2.${ORIGIN}`], target: first.name, ipv4: first.ipv4, ttl: DEFAULT_TTL },
    cnameOutOfZone: { name: `external.${ORIGIN}`, target: 'target.example.invalid', ttl: DEFAULT_TTL },
    srv: {
      name: `_http._tcp.${second.name}`,
      ttl: DEFAULT_TTL,
      priority: 0,
      weight: 100,
      port: 80,
      target: second.name,
      targetIpv4: second.ipv4,
    },
    nodata: { name: `v4only.${ORIGIN}`, ipv4: '10.96.0.30', ttl: DEFAULT_TTL, missingType: 'AAAA' },
    v6only: { name: `v6only.${ORIGIN}`, ipv6: 'fd00:10:96::ffff:1', ttl: DEFAULT_TTL, missingType: 'A' },
    nxdomain: { name: `does-not-exist.${ORIGIN}` },
    outOfZone: { name: 'outside.example' },
    bigTxt: { name: `big.${ORIGIN}`, strings: bigStrings, ttl: DEFAULT_TTL, approxAnswerBytes: txtBytes(bigStrings) },
    mediumTxt: { name: `medium.${ORIGIN}`, strings: mediumStrings, ttl: DEFAULT_TTL, approxAnswerBytes: txtBytes(mediumStrings) },
    ttls: {
      ttl60: { name: `ttl60.${ORIGIN}`, ipv4: '10.96.0.60', ttl: 60 },
      ttl1: { name: `ttl1.${ORIGIN}`, ipv4: '10.96.0.61', ttl: 1 },
      ttl0: { name: `ttl0.${ORIGIN}`, ipv4: '10.96.0.62', ttl: 0 },
    },
    mixedCase: { name: `MixedCase.Example.${ORIGIN}`, ipv4: '10.96.0.40', ttl: DEFAULT_TTL },
    wildcard: { pattern: `*.wild.${ORIGIN}`, suffix: `wild.${ORIGIN}`, ipv4: '10.96.0.20', ttl: DEFAULT_TTL },
    ptrs: [],
  };
  return fixtures;
}

function forwardRecords(f: ZoneFixtures): ZoneRecord[] {
  const r: ZoneRecord[] = [];
  const a = (name: string, value: string, ttl = DEFAULT_TTL) => r.push({ name, ttl, type: 'A', value });
  r.push({ name: ORIGIN, ttl: f.soa.ttl, type: 'SOA', value: soaValue(f) });
  r.push({ name: ORIGIN, ttl: f.ns.ttl, type: 'NS', value: f.ns.target });
  a(f.ns.target, f.ns.ipv4);
  a(f.kubernetes.name, f.kubernetes.ipv4);
  for (const ip of f.headless.ipv4s) a(f.headless.name, ip);
  const [c1, c2] = f.cnameChain.names as [string, string];
  r.push({ name: c1, ttl: f.cnameChain.ttl, type: 'CNAME', value: c2 });
  r.push({ name: c2, ttl: f.cnameChain.ttl, type: 'CNAME', value: f.cnameChain.target });
  r.push({ name: f.cnameOutOfZone.name, ttl: f.cnameOutOfZone.ttl, type: 'CNAME', value: f.cnameOutOfZone.target });
  const { name: srvName, ttl: srvTtl, priority, weight, port, target } = f.srv;
  r.push({ name: srvName, ttl: srvTtl, type: 'SRV', value: { priority, weight, port, target } });
  a(f.nodata.name, f.nodata.ipv4);
  r.push({ name: f.v6only.name, ttl: f.v6only.ttl, type: 'AAAA', value: f.v6only.ipv6 });
  for (const s of f.bigTxt.strings) r.push({ name: f.bigTxt.name, ttl: f.bigTxt.ttl, type: 'TXT', value: [s] });
  for (const s of f.mediumTxt.strings) r.push({ name: f.mediumTxt.name, ttl: f.mediumTxt.ttl, type: 'TXT', value: [s] });
  for (const t of Object.values(f.ttls)) a(t.name, t.ipv4, t.ttl);
  a(f.mixedCase.name, f.mixedCase.ipv4);
  a(f.wildcard.pattern, f.wildcard.ipv4);
  for (const s of f.services) {
    a(s.name, s.ipv4, s.ttl);
    if (s.ipv6) r.push({ name: s.name, ttl: s.ttl, type: 'AAAA', value: s.ipv6 });
  }
  return r;
}

function soaValue(f: ZoneFixtures): SoaValue {
  const { mname, rname, serial, refresh, retry, expire, minimum } = f.soa;
  return { mname, rname, serial, refresh, retry, expire, minimum };
}

/** PTR for every A record with a concrete owner (skips the wildcard and NS glue). */
function reverseRecords(f: ZoneFixtures, forward: ZoneRecord[]): ZoneRecord[] {
  const r: ZoneRecord[] = [
    { name: REVERSE_ORIGIN, ttl: f.soa.ttl, type: 'SOA', value: soaValue(f) },
    { name: REVERSE_ORIGIN, ttl: f.ns.ttl, type: 'NS', value: f.ns.target },
  ];
  const seen = new Set<string>();
  for (const rec of forward) {
    if (rec.type !== 'A' || rec.name.startsWith('*') || rec.name === f.ns.target) continue;
    if (!rec.value.startsWith('10.') || seen.has(rec.value)) continue;
    seen.add(rec.value);
    const name = reverseName(rec.value);
    r.push({ name, ttl: DEFAULT_TTL, type: 'PTR', value: rec.name });
    f.ptrs.push({ name, ipv4: rec.value, target: rec.name, ttl: DEFAULT_TTL });
  }
  return r;
}

// ---------------------------------------------------------------------------
// Zone-file rendering
// ---------------------------------------------------------------------------

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);

function quoteTxt(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function rdataText(rec: ZoneRecord): string {
  switch (rec.type) {
    case 'A':
    case 'AAAA':
      return rec.value;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return fqdn(rec.value);
    case 'TXT':
      return rec.value.map(quoteTxt).join(' ');
    case 'SRV':
      return `${rec.value.priority} ${rec.value.weight} ${rec.value.port} ${fqdn(rec.value.target)}`;
    case 'SOA': {
      const v = rec.value;
      return `${fqdn(v.mname)} ${fqdn(v.rname)} ${v.serial} ${v.refresh} ${v.retry} ${v.expire} ${v.minimum}`;
    }
  }
}

/** Renders records as zone-file text; every RR carries an explicit TTL. */
export function renderZoneText(origin: string, records: ZoneRecord[]): string {
  const lines = [`; generated by test/harness/zone.ts`, `$ORIGIN ${fqdn(origin)}`, `$TTL ${DEFAULT_TTL}`];
  for (const rec of records) lines.push(`${fqdn(rec.name)}\t${rec.ttl}\tIN\t${rec.type}\t${rdataText(rec)}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/** Builds the cluster.local + 10.in-addr.arpa zones. Deterministic for given options. */
export function generateZone(options: GenerateZoneOptions = {}): GeneratedZone {
  const services = options.services ?? 1000;
  if (!Number.isInteger(services) || services < 2 || services > MAX_SERVICES) {
    throw new Error(`generateZone: services must be an integer in [2, ${MAX_SERVICES}], got ${services}`);
  }
  const fixtures = buildFixtures({
    services,
    namespaces: namespaceList(options.namespaces),
    aaaaEvery: options.aaaaEvery ?? 10,
    serial: options.serial ?? 2024010101,
  });
  const forward = forwardRecords(fixtures);
  const reverse = reverseRecords(fixtures, forward);
  const zones: ZoneFile[] = [
    { origin: ORIGIN, records: forward, text: renderZoneText(ORIGIN, forward) },
    { origin: REVERSE_ORIGIN, records: reverse, text: renderZoneText(REVERSE_ORIGIN, reverse) },
  ];
  return { zones, records: [...forward, ...reverse], fixtures };
}

/** All records with this owner (case-insensitive) and, optionally, type. Wildcards are not expanded. */
export function findRecords(zone: GeneratedZone, name: string, type?: ZoneRecordType): ZoneRecord[] {
  const want = name.replace(/\.$/, '').toLowerCase();
  return zone.records.filter((r) => r.name.toLowerCase() === want && (type === undefined || r.type === type));
}

/** The default test data set (1000 services). */
export const defaultZone: GeneratedZone = generateZone();

/** Fixtures of `defaultZone`: what the default upstream answers. */
export const fixtures: ZoneFixtures = defaultZone.fixtures;
