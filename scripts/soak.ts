// Soak test (issue 6, item 8): the built daemon (dist/node-local-dns.cjs) as a child process in
// front of a fault relay and a real BIND9, all on 127.0.0.1, under a bounded mixed load for
// SOAK_SECONDS (default 600): cache hits, misses over a wildcard name, NXDOMAIN, AAAA, UDP and
// pipelined TCP clients, while the relay flaps the upstream between black hole and pass. Every
// SOAK_SAMPLE_SECONDS (default 5) it samples the daemon's RSS (/proc/PID/status VmRSS) and open
// file descriptors (/proc/PID/fd). At the end it prints a JSON report and exits non-zero if RSS
// or fds grew beyond a threshold in the last half, if the daemon died, or if too many queries got
// no answer at all.
//
//   node --import tsx scripts/soak.ts                  10 minutes
//   SOAK_SECONDS=20 node --import tsx scripts/soak.ts  short mode (flaps every 5 s, samples every 2 s)
//
// Environment: SOAK_SECONDS (600), SOAK_QPS (UDP queries/s, 2000), SOAK_FLAP_SECONDS (20, at most a
// quarter of the run), SOAK_SAMPLE_SECONDS (5, at most a tenth of the run), SOAK_RSS_GROWTH_MIB
// (24), SOAK_FD_GROWTH (16), SOAK_MAX_UNANSWERED_PCT (1). The dist bundle is rebuilt with `npm run
// build` when missing or older than src/ (SOAK_NO_BUILD=1 to skip the staleness check).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, pickFreePort, type Upstream } from '../test/harness/upstream.js';
import { startFaultRelay, type FaultRelay } from '../test/harness/fault-relay.js';
import { fixtures } from '../test/harness/zone.js';
import { buildQuery } from '../src/dns/reply.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'node-local-dns.cjs');

const num = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};
const DURATION_S = num('SOAK_SECONDS', 600);
const QPS = num('SOAK_QPS', 2000);
const FLAP_S = Math.min(num('SOAK_FLAP_SECONDS', 20), Math.max(2, DURATION_S / 4));
const SAMPLE_S = Math.min(num('SOAK_SAMPLE_SECONDS', 5), Math.max(1, DURATION_S / 10));
const RSS_GROWTH_MIB = num('SOAK_RSS_GROWTH_MIB', 24);
const FD_GROWTH = num('SOAK_FD_GROWTH', 16);
const MAX_UNANSWERED_PCT = num('SOAK_MAX_UNANSWERED_PCT', 1);

// Load shape (bounded in time AND count).
const UDP_SOCKETS = 4;
const UDP_WINDOW = 256; // outstanding queries per socket at most
const TCP_CLIENT_EVERY_MS = 50; // a new TCP client this often ...
const TCP_MAX_OPEN = 20; // ... unless this many are open
const TCP_QUERIES_PER_CLIENT = 10;
const CLIENT_TIMEOUT_MS = 4000; // daemon deadline is 2 s: anything later is "unanswered"
const MAX_QUERIES = Math.ceil((QPS + (1000 / TCP_CLIENT_EVERY_MS) * TCP_QUERIES_PER_CLIENT) * DURATION_S * 1.2) + 1000;

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const rcodeName = (r: number) => RCODES[r] ?? `RCODE${r}`;

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

const TYPE_A = 1;
const TYPE_AAAA = 28;

const encodeQuery = (id: number, name: string, qtype: number): Buffer => buildQuery(name, qtype, id);

type Kind = 'hit' | 'miss' | 'nxdomain' | 'aaaa';
let missCounter = 0;
const hitNames = fixtures.services.slice(0, 200).map((s) => s.name);
const nxNames = Array.from({ length: 50 }, (_, i) => `nx-${i}.nope.${fixtures.origin}`);

/** 60% hits (200 names), 25% unique misses (wildcard), 10% NXDOMAIN (50 names + unique), 5% AAAA. */
function nextQuestion(): { name: string; qtype: number; kind: Kind } {
  const r = Math.random();
  if (r < 0.6) return { name: hitNames[Math.floor(Math.random() * hitNames.length)]!, qtype: TYPE_A, kind: 'hit' };
  if (r < 0.85) return { name: `m-${(missCounter++).toString(36)}.${fixtures.wildcard.suffix}`, qtype: TYPE_A, kind: 'miss' };
  if (r < 0.95) {
    const name = Math.random() < 0.5 ? nxNames[Math.floor(Math.random() * nxNames.length)]! : `nx-${(missCounter++).toString(36)}.nope.${fixtures.origin}`;
    return { name, qtype: TYPE_A, kind: 'nxdomain' };
  }
  return { name: hitNames[Math.floor(Math.random() * 20)]!, qtype: TYPE_AAAA, kind: 'aaaa' };
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

const counts = {
  sent: 0,
  answered: 0,
  unanswered: 0, // no reply within CLIENT_TIMEOUT_MS (UDP) or TCP client gave up
  backpressure: 0, // UDP sends skipped because the window was full
  tcpClients: 0,
  tcpErrors: 0,
  byRcode: {} as Record<string, number>,
  byKind: {} as Record<string, Record<string, number>>,
};
// Latency histogram: 1 ms buckets up to 5 s.
const latency = new Uint32Array(5001);
let sentInInterval = 0;

function record(kind: Kind, rcode: string, ms: number): void {
  counts.answered++;
  counts.byRcode[rcode] = (counts.byRcode[rcode] ?? 0) + 1;
  const k = (counts.byKind[kind] ??= {});
  k[rcode] = (k[rcode] ?? 0) + 1;
  latency[Math.min(5000, Math.max(0, Math.round(ms)))]!++;
}

function percentile(q: number): number {
  let total = 0;
  for (const c of latency) total += c;
  if (total === 0) return 0;
  let acc = 0;
  for (let i = 0; i < latency.length; i++) {
    acc += latency[i]!;
    if (acc >= q * total) return i;
  }
  return latency.length - 1;
}

// ---------------------------------------------------------------------------------------------
// Load: UDP sockets with a window, pipelined TCP clients
// ---------------------------------------------------------------------------------------------

interface Outstanding {
  at: number;
  kind: Kind;
}

class UdpLoad {
  private readonly socket = dgram.createSocket('udp4');
  private readonly outstanding = new Map<number, Outstanding>();
  private nextId = Math.floor(Math.random() * 65536);

  constructor(private readonly server: { host: string; port: number }) {
    this.socket.on('message', (msg) => {
      if (msg.length < 4) return;
      const o = this.outstanding.get(msg.readUInt16BE(0));
      if (!o) return;
      this.outstanding.delete(msg.readUInt16BE(0));
      record(o.kind, rcodeName(msg[3]! & 0x0f), performance.now() - o.at);
    });
    this.socket.on('error', () => {});
  }

  bind(): Promise<void> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
  }

  send(): boolean {
    if (this.outstanding.size >= UDP_WINDOW) return false;
    let id = this.nextId++ & 0xffff;
    for (let i = 0; this.outstanding.has(id) && i < 65536; i++) id = this.nextId++ & 0xffff;
    const q = nextQuestion();
    this.outstanding.set(id, { at: performance.now(), kind: q.kind });
    counts.sent++;
    sentInInterval++;
    this.socket.send(encodeQuery(id, q.name, q.qtype), this.server.port, this.server.host);
    return true;
  }

  /** Counts queries older than the client timeout as unanswered. */
  expire(now: number): void {
    for (const [id, o] of this.outstanding) {
      if (now - o.at > CLIENT_TIMEOUT_MS) {
        this.outstanding.delete(id);
        counts.unanswered++;
      }
    }
  }

  get pending(): number {
    return this.outstanding.size;
  }

  close(): void {
    this.socket.close();
  }
}

const openTcp = new Set<net.Socket>();

/** One TCP client: connect, send TCP_QUERIES_PER_CLIENT pipelined queries, read the replies, close. */
function tcpClient(server: { host: string; port: number }): void {
  counts.tcpClients++;
  const socket = net.connect({ host: server.host, port: server.port });
  openTcp.add(socket);
  const pending = new Map<number, Outstanding>();
  let buf = Buffer.alloc(0);
  const finish = () => {
    clearTimeout(timer);
    counts.unanswered += pending.size;
    pending.clear();
    socket.destroy();
    openTcp.delete(socket);
  };
  const timer = setTimeout(finish, CLIENT_TIMEOUT_MS);
  socket.setNoDelay(true);
  socket.on('connect', () => {
    const frames: Buffer[] = [];
    for (let i = 0; i < TCP_QUERIES_PER_CLIENT; i++) {
      const id = (i * 6007 + Math.floor(Math.random() * 6000)) & 0xffff;
      if (pending.has(id)) continue;
      const q = nextQuestion();
      const msg = encodeQuery(id, q.name, q.qtype);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      frames.push(len, msg);
      pending.set(id, { at: performance.now(), kind: q.kind });
      counts.sent++;
      sentInInterval++;
    }
    socket.write(Buffer.concat(frames));
  });
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + msg.length);
      if (msg.length < 4) continue;
      const o = pending.get(msg.readUInt16BE(0));
      if (!o) continue;
      pending.delete(msg.readUInt16BE(0));
      record(o.kind, rcodeName(msg[3]! & 0x0f), performance.now() - o.at);
    }
    if (pending.size === 0) finish();
  });
  socket.on('error', () => {
    counts.tcpErrors++;
    finish();
  });
  socket.on('close', finish);
}

// ---------------------------------------------------------------------------------------------
// Daemon child process and /proc sampling
// ---------------------------------------------------------------------------------------------

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): string {
  const missing = !existsSync(DIST);
  const stale = !missing && process.env.SOAK_NO_BUILD !== '1' && newestMtime(path.join(ROOT, 'src')) > statSync(DIST).mtimeMs;
  if (!missing && !stale) return 'existing build';
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status})`);
  return missing ? 'built (was missing)' : 'rebuilt (older than src/)';
}

function procStatus(pid: number): { rssKiB: number; fds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return { rssKiB: rss ? Number(rss[1]) : 0, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + 15_000;
  const probe = encodeQuery(4242, fixtures.kubernetes.name, TYPE_A);
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode} before serving`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => (s.close(), resolve(false)), 300);
      s.on('message', (m) => {
        clearTimeout(t);
        s.close();
        resolve(m.readUInt16BE(0) === 4242 && (m[3]! & 0x0f) === 0);
      });
      s.on('error', () => (clearTimeout(t), s.close(), resolve(false)));
      s.send(probe, port, '127.0.0.1');
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error('daemon did not answer within 15 s');
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

interface Sample {
  t: number; // seconds since load start
  rssMiB: number;
  fds: number;
  clientConns: number; // our TCP clients open at that moment (each holds one daemon fd)
  qps: number;
  upstream: string; // relay mode during the interval that ended with this sample (exact when flaps fall on sample boundaries)
}

const mibOf = (kib: number) => Math.round((kib / 1024) * 10) / 10;

async function main(): Promise<number> {
  const build = ensureBuilt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nld-soak-'));
  let bind: Upstream | null = null;
  let relay: FaultRelay | null = null;
  let child: ChildProcess | null = null;
  const udp: UdpLoad[] = [];
  const timers: NodeJS.Timeout[] = [];
  let output = '';
  const stopAll = async () => {
    for (const t of timers) clearInterval(t);
    for (const u of udp) u.close();
    for (const s of openTcp) s.destroy();
    if (child) await stopChild(child);
    await relay?.stop();
    await bind?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    bind = await startUpstream({ kind: 'bind', queryLog: false });
    relay = await startFaultRelay({ host: bind.host, port: bind.port });
    const port = await pickFreePort();
    const configPath = path.join(dir, 'soak.yaml');
    writeFileSync(
      configPath,
      `# node-local-dns soak config (scripts/soak.ts)
servers:
  - zones: [cluster.local, 10.in-addr.arpa]
    bind: [127.0.0.1]
    port: ${port}
    cache:
      success: { capacity: 9984, maxTTL: 30, minTTL: 5 }
      denial: { capacity: 9984, maxTTL: 5, minTTL: 5 }
    forward:
      to: ["${relay.address}"]
      forceTCP: true
      timeout: 2s
      attemptTimeout: 1s
      healthCheck: 500ms
      maxConcurrent: 1000
log: { level: warn }
`,
    );
    child = spawn(process.execPath, [DIST, '--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const daemon = child;
    process.once('exit', () => daemon.exitCode === null && daemon.kill('SIGKILL')); // even if we die unexpectedly
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-16_384);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    await waitReady(port, child);
    const pid = child.pid!;
    const server = { host: '127.0.0.1', port };
    for (let i = 0; i < UDP_SOCKETS; i++) {
      const u = new UdpLoad(server);
      await u.bind();
      udp.push(u);
    }

    const samples: Sample[] = [];
    const started = performance.now();
    const endAt = started + DURATION_S * 1000;
    const live = () => performance.now() < endAt && counts.sent < MAX_QUERIES && child!.exitCode === null;
    let upstreamState = 'pass';
    let flaps = 0;
    let lastSampleAt = started;

    const sample = () => {
      const now = performance.now();
      const s = procStatus(pid);
      if (!s) return;
      samples.push({
        t: Math.round((now - started) / 100) / 10,
        rssMiB: mibOf(s.rssKiB),
        fds: s.fds,
        clientConns: openTcp.size,
        qps: Math.round(sentInInterval / Math.max(0.001, (now - lastSampleAt) / 1000)),
        upstream: upstreamState,
      });
      sentInInterval = 0;
      lastSampleAt = now;
    };
    sample();

    // UDP pacing: every 10 ms send the share of QPS due, window permitting.
    let credit = 0;
    let lastTick = performance.now();
    timers.push(
      setInterval(() => {
        if (!live()) return;
        const now = performance.now();
        credit = Math.min(QPS, credit + (QPS * (now - lastTick)) / 1000);
        lastTick = now;
        let i = 0;
        while (credit >= 1 && counts.sent < MAX_QUERIES) {
          credit--;
          if (!udp[i++ % udp.length]!.send()) counts.backpressure++;
        }
      }, 10),
    );
    timers.push(setInterval(() => live() && openTcp.size < TCP_MAX_OPEN && tcpClient(server), TCP_CLIENT_EVERY_MS));
    timers.push(setInterval(() => udp.forEach((u) => u.expire(performance.now())), 500));
    timers.push(setInterval(sample, SAMPLE_S * 1000)); // before the flap timer: at a shared boundary, sample first
    timers.push(
      setInterval(() => {
        if (!live()) return;
        upstreamState = upstreamState === 'pass' ? 'blackhole' : 'pass';
        flaps++;
        void relay!.setMode(upstreamState === 'pass' ? 'pass' : 'blackhole');
      }, FLAP_S * 1000),
    );

    while (live()) await sleep(200);
    const loadSeconds = (performance.now() - started) / 1000;
    sample(); // end of load
    const died = child.exitCode !== null ? `daemon exited with ${child.exitCode} during the soak` : null;
    // Let the last answers arrive, then count what never did.
    for (const t of timers.splice(0)) clearInterval(t);
    await relay.setMode('pass');
    const drainUntil = performance.now() + CLIENT_TIMEOUT_MS + 500;
    while (performance.now() < drainUntil && (udp.some((u) => u.pending > 0) || openTcp.size > 0)) await sleep(50);
    for (const u of udp) u.expire(Infinity);
    for (const s of openTcp) s.destroy();
    await sleep(3000); // idle: pooled and client connections close
    const idle = procStatus(pid);

    // Growth in the last half: the highest sample of the third quarter vs the highest of the last
    // quarter. Fds count without our own TCP client connections (those pile up while the upstream
    // is black-holed and are load, not leak); after the load, idle fds must be back near the start.
    const q3 = samples.filter((s) => s.t >= loadSeconds / 2 && s.t < (loadSeconds * 3) / 4);
    const q4 = samples.filter((s) => s.t >= (loadSeconds * 3) / 4);
    const maxOf = (xs: Sample[], f: (s: Sample) => number) => (xs.length ? Math.max(...xs.map(f)) : NaN);
    const round1 = (x: number) => Math.round(x * 10) / 10;
    const rssGrowth = round1(maxOf(q4, (s) => s.rssMiB) - maxOf(q3, (s) => s.rssMiB));
    const ownFds = (s: Sample) => s.fds - s.clientConns;
    const fdGrowth = maxOf(q4, ownFds) - maxOf(q3, ownFds);
    const idleFdGrowth = idle && samples[0] ? idle.fds - samples[0].fds : NaN;
    const unansweredPct = counts.sent ? (100 * counts.unanswered) / counts.sent : 0;
    const failures: string[] = [];
    if (died) failures.push(died);
    if (!(rssGrowth <= RSS_GROWTH_MIB)) failures.push(`RSS grew by ${rssGrowth} MiB in the last half (limit ${RSS_GROWTH_MIB})`);
    if (!(fdGrowth <= FD_GROWTH)) failures.push(`open fds (without client connections) grew by ${fdGrowth} in the last half (limit ${FD_GROWTH})`);
    if (!(idleFdGrowth <= FD_GROWTH)) failures.push(`idle after the load, the daemon holds ${idleFdGrowth} more fds than at the start (limit ${FD_GROWTH})`);
    if (unansweredPct > MAX_UNANSWERED_PCT) failures.push(`${unansweredPct.toFixed(2)}% of queries got no answer (limit ${MAX_UNANSWERED_PCT}%)`);

    const report = {
      ok: failures.length === 0,
      failures,
      build,
      durationSeconds: Math.round(loadSeconds * 10) / 10,
      load: { targetUdpQps: QPS, tcpClientsEveryMs: TCP_CLIENT_EVERY_MS, tcpQueriesPerClient: TCP_QUERIES_PER_CLIENT, flapSeconds: FLAP_S, flaps },
      queries: {
        sent: counts.sent,
        answered: counts.answered,
        unanswered: counts.unanswered,
        unansweredPct: Math.round(unansweredPct * 1000) / 1000,
        backpressureSkips: counts.backpressure,
        qps: Math.round(counts.sent / loadSeconds),
        tcpClients: counts.tcpClients,
        tcpErrors: counts.tcpErrors,
      },
      rcodes: counts.byRcode,
      errorsByRcode: Object.fromEntries(Object.entries(counts.byRcode).filter(([k]) => k !== 'NOERROR' && k !== 'NXDOMAIN')),
      byKind: counts.byKind,
      latencyMs: { p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), p999: percentile(0.999) },
      rssMiB: { start: samples[0]?.rssMiB, peak: Math.max(...samples.map((s) => s.rssMiB)), end: samples.at(-1)?.rssMiB, idle: idle ? mibOf(idle.rssKiB) : null, lastHalfGrowth: rssGrowth },
      fds: { start: samples[0]?.fds, peak: Math.max(...samples.map((s) => s.fds)), end: samples.at(-1)?.fds, idle: idle?.fds ?? null, lastHalfGrowthWithoutClients: fdGrowth, idleMinusStart: idleFdGrowth },
      thresholds: { rssGrowthMiB: RSS_GROWTH_MIB, fdGrowth: FD_GROWTH, maxUnansweredPct: MAX_UNANSWERED_PCT },
      samples,
    };
    console.log(JSON.stringify(report, null, 2));
    if (!report.ok) console.error(`soak FAILED: ${failures.join('; ')}\n--- daemon output (tail) ---\n${output}`);
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(2);
  },
);
