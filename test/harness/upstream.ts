/**
 * Real authoritative DNS servers for integration tests and benchmarks.
 *
 * `startUpstream()` starts BIND (`named`, default), unbound or dnsmasq on
 * 127.0.0.1 with its own temp dir, serving the zones from ./zone.ts with
 * recursion disabled (nothing is ever forwarded off the machine). It waits
 * until the server answers over UDP and TCP, then returns a handle that can
 * count the queries the server received (from its query log), pause/resume
 * it (SIGSTOP/SIGCONT = black hole), restart it on the same port, and stop it.
 *
 * Leak protection: every server runs in its own process group. A process
 * 'exit' handler SIGKILLs all of them, and a tiny detached watchdog shell per
 * server (blocked reading a pipe from this process) kills the group and
 * removes the temp dir as soon as this process dies, even by SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { queryTcp, queryUdp } from './dns-client.js';
import { defaultZone, type ZoneFile, type ZoneRecord } from './zone.js';
import { authoritativeNamedConf } from './named-conf.js';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

export type UpstreamKind = 'bind' | 'unbound' | 'dnsmasq';

export interface StartUpstreamOptions {
  /** Server implementation (default 'bind'). */
  kind?: UpstreamKind;
  /** Fixed port on 127.0.0.1; default picks a free port (retrying on conflicts). */
  port?: number;
  /** Zones to serve (default: `defaultZone.zones` from zone.ts). dnsmasq needs `records`. */
  zones?: ZoneFile[];
  /** Log every query (needed by queryCount; default true). Turn off for benchmarks. */
  queryLog?: boolean;
  /** Worker threads (named -n, unbound num-threads). Default: named = its default, unbound = 1. */
  workers?: number;
  /** Extra config: lines inside named `options {}`, unbound `server:`, or dnsmasq conf lines. */
  extraConfig?: string;
  /** How long to wait for the server to answer (default 15000 ms). */
  startTimeoutMs?: number;
}

export interface QueryLogEntry {
  /** Query name as received (case preserved, no trailing dot). */
  name: string;
  type: string;
  /** Client address, e.g. `127.0.0.1#40000` (bind) or `127.0.0.1`. */
  client: string;
  /** From BIND's `T` flag; unbound/dnsmasq do not log it ('unknown'). */
  transport: 'udp' | 'tcp' | 'unknown';
  line: string;
}

export interface QueryFilter {
  /** Case-insensitive qname match (trailing dot optional). */
  name?: string;
  /** Query type, e.g. 'A'. */
  type?: string;
  transport?: 'udp' | 'tcp';
}

export interface QueryCountOptions extends QueryFilter {
  /**
   * Wait until the count has been stable for this long (default 25 ms) so
   * queries still in flight are included. 0 = read once. Capped at ~2 s total.
   */
  settleMs?: number;
}

export interface Upstream {
  readonly kind: UpstreamKind;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  /** Temp dir with config, zone files and logs (removed by stop()). */
  readonly dir: string;
  /** PID of the current server process (changes on restart). */
  readonly pid: number | undefined;
  readonly paused: boolean;
  /** Number of queries received since start (harness readiness probes excluded). */
  queryCount(opts?: QueryCountOptions): Promise<number>;
  /** Parsed query-log entries (probes excluded), optionally filtered. */
  queries(opts?: QueryCountOptions): Promise<QueryLogEntry[]>;
  /** Resolves with the count once at least `count` matching queries were logged; rejects on timeout (default 5000 ms). */
  waitForQueries(count: number, opts?: QueryFilter & { timeoutMs?: number }): Promise<number>;
  /** Captured stdout+stderr of the server (last 64 KiB). */
  output(): string;
  /** SIGSTOP the server: packets are queued by the kernel but never answered. */
  pause(): void;
  /** SIGCONT: the server processes whatever queued up meanwhile. */
  resume(): void;
  /** Stop the process, wait `downtimeMs` (default 0), start again on the SAME port with the same data. */
  restart(opts?: { downtimeMs?: number }): Promise<void>;
  /** SIGTERM, SIGKILL after 2 s, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Constants and small helpers

/**
 * SIGSTOP is delivered asynchronously: a multi-threaded server can still answer a packet for a
 * moment. Waits (at most 500 ms) until every thread of `pid` is in the stopped state.
 */
function waitUntilStopped(pid: number | undefined): void {
  if (!pid) return;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 500;
  while (Date.now() < deadline) {
    let allStopped = true;
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'latin1');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't') allStopped = false;
      }
    } catch {
      return; // gone
    }
    if (allStopped) return;
    Atomics.wait(sleeper, 0, 0, 2);
  }
}
// ---------------------------------------------------------------------------

const HOST = '127.0.0.1' as const;
/** Readiness probes query this (NXDOMAIN) name; log lines for it are ignored. */
const PROBE_LABEL = '_harness-probe';
const OUTPUT_LIMIT = 64 * 1024;
const PORT_CONFLICT_RE = /address (already )?in use/i;

const normName = (n: string) => n.replace(/\.$/, '').toLowerCase();
const isProbe = (name: string) => normName(name).startsWith(`${PROBE_LABEL}.`);

function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir || '.', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found in PATH or /usr/sbin (run scripts/install-test-deps.sh)`);
}

// ---------------------------------------------------------------------------
// Free port selection
// ---------------------------------------------------------------------------

/** Low end of the kernel's ephemeral range; we pick below it so clients' source ports never collide. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const tcp = net.createServer();
    tcp.once('error', () => resolve(false));
    tcp.listen({ host: HOST, port, exclusive: true }, () => {
      const udp = dgram.createSocket('udp4');
      udp.once('error', () => {
        udp.close();
        tcp.close(() => resolve(false));
      });
      udp.bind({ address: HOST, port, exclusive: true }, () => {
        udp.close();
        tcp.close(() => resolve(true));
      });
    });
  });
}

/** A port in [10000, ephemeralLow) free on 127.0.0.1 for both UDP and TCP right now. */
export async function pickFreePort(): Promise<number> {
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10000 + Math.floor(Math.random() * (high - 10000));
    if (await canBind(port)) return port;
  }
  throw new Error('pickFreePort: no free UDP+TCP port found on 127.0.0.1 after 200 attempts');
}

// ---------------------------------------------------------------------------
// Per-implementation configuration
// ---------------------------------------------------------------------------

interface ServerLayout {
  dir: string;
  port: number;
  logPath: string;
  zones: ZoneFile[];
  opts: StartUpstreamOptions;
}

interface KindAdapter {
  binary: string;
  writeConfig(l: ServerLayout): Promise<void>;
  args(l: ServerLayout): string[];
  parseLogLine(line: string): QueryLogEntry | null;
  /** Extra diagnostics when startup fails (e.g. named -f logs config errors to syslog only). */
  diagnose?(l: ServerLayout): Promise<string>;
}

/** Runs a short command and returns its combined output (for error messages only). */
function runForOutput(binary: string, args: string[], timeoutMs = 10000): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (err) => resolve(`${binary} failed: ${err.message}`));
    child.on('close', (code) => resolve(`$ ${path.basename(binary)} ${args.join(' ')} (exit ${code})\n${out}`));
  });
}

const zonePath = (dir: string, origin: string) => path.join(dir, `${origin}.zone`);

async function writeZoneFiles(l: ServerLayout): Promise<void> {
  await Promise.all(l.zones.map((z) => fs.writeFile(zonePath(l.dir, z.origin), z.text)));
}

const bindAdapter: KindAdapter = {
  binary: 'named',
  async writeConfig(l) {
    await writeZoneFiles(l);
    const q = (p: string) => JSON.stringify(p);
    const conf = `// generated by test/harness/upstream.ts\n${authoritativeNamedConf({
      dir: l.dir,
      port: l.port,
      listenOn: '127.0.0.1',
      zones: l.zones.map((z) => ({ origin: z.origin, file: zonePath(l.dir, z.origin) })),
      extraOptions: `  allow-transfer { none; };
  querylog ${l.opts.queryLog === false ? 'no' : 'yes'};
  tcp-clients 10000;
  tcp-listen-queue 1024;
${l.opts.extraConfig ?? ''}`,
      extraStatements: `logging {
  channel q { file ${q(l.logPath)}; print-time yes; severity info; };
  category queries { q; };
  channel err { stderr; print-time yes; severity info; };
  category default { err; };
  category query-errors { null; };
  category lame-servers { null; };
};`,
    })}`;
    await fs.writeFile(path.join(l.dir, 'named.conf'), conf);
  },
  args(l) {
    const args = ['-f', '-4', '-c', path.join(l.dir, 'named.conf')];
    if (l.opts.workers) args.push('-n', String(l.opts.workers));
    return args;
  },
  diagnose(l) {
    return runForOutput(findBinary('named-checkconf'), ['-z', path.join(l.dir, 'named.conf')]);
  },
  parseLogLine(line) {
    // 23-Nov-2025 16:36:46.092 client @0x7f.. 127.0.0.1#45537 (name): query: name IN A +E(0)TK (127.0.0.1)
    const m = / client @\S+ (\S+) \([^)]*\): query: (\S+) \S+ (\S+) ([-+]\S*) /.exec(line);
    if (!m) return null;
    return { client: m[1]!, name: m[2]!, type: m[3]!, transport: m[4]!.includes('T') ? 'tcp' : 'udp', line };
  },
};

const unboundAdapter: KindAdapter = {
  binary: 'unbound',
  async writeConfig(l) {
    await writeZoneFiles(l);
    const q = (p: string) => JSON.stringify(p);
    const conf = `# generated by test/harness/upstream.ts
server:
  directory: ${q(l.dir)}
  chroot: ""
  username: ""
  pidfile: ${q(path.join(l.dir, 'unbound.pid'))}
  use-syslog: no
  logfile: ${q(l.logPath)}
  log-time-ascii: yes
  log-queries: ${l.opts.queryLog === false ? 'no' : 'yes'}
  verbosity: 1
  interface: 127.0.0.1
  port: ${l.port}
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  so-reuseport: no
  num-threads: ${l.opts.workers ?? 1}
  incoming-num-tcp: 1000
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  # Never resolve anything: refuse all but the served zones, and forbid any outgoing query.
  outgoing-interface: 127.0.0.1
  do-not-query-localhost: yes
  do-not-query-address: 0.0.0.0/0
  local-zone: "." refuse
${l.zones.map((z) => `  local-zone: ${q(z.origin + '.')} transparent`).join('\n')}
${l.opts.extraConfig ?? ''}
remote-control:
  control-enable: no
${l.zones
  .map(
    (z) => `auth-zone:
  name: ${q(z.origin + '.')}
  zonefile: ${q(zonePath(l.dir, z.origin))}
  for-downstream: yes
  for-upstream: no
  fallback-enabled: no`,
  )
  .join('\n')}
`;
    await fs.writeFile(path.join(l.dir, 'unbound.conf'), conf);
  },
  args(l) {
    return ['-d', '-c', path.join(l.dir, 'unbound.conf')];
  },
  parseLogLine(line) {
    // [1700000000] unbound[123:0] info: 127.0.0.1 svc-0.default.svc.cluster.local. A IN
    const m = / info: (\S+) (\S+)\. (\S+) (\S+)$/.exec(line);
    if (!m) return null;
    return { client: m[1]!, name: m[2]!, type: m[3]!, transport: 'unknown', line };
  },
};

/** dnsmasq has no zone files: records are translated to its options (no SOA/NS; lower fidelity). */
function dnsmasqRecordLines(records: ZoneRecord[]): string[] {
  const lines: string[] = [];
  for (const r of records) {
    switch (r.type) {
      case 'A':
      case 'AAAA':
        if (r.name.startsWith('*.')) lines.push(`address=/${r.name.slice(2)}/${r.value}`);
        else lines.push(`host-record=${r.name},${r.value},${r.ttl}`);
        break;
      case 'CNAME':
        lines.push(`cname=${r.name},${r.value},${r.ttl}`);
        break;
      case 'SRV':
        lines.push(`srv-host=${r.name},${r.value.target},${r.value.port},${r.value.priority},${r.value.weight}`);
        break;
      case 'TXT':
        lines.push(`txt-record=${r.name},${r.value.map((s) => `"${s}"`).join(',')}`);
        break;
      case 'PTR':
        lines.push(`ptr-record=${r.name},${r.value}`);
        break;
      case 'SOA':
      case 'NS':
        break;
    }
  }
  return lines;
}

const dnsmasqAdapter: KindAdapter = {
  binary: 'dnsmasq',
  async writeConfig(l) {
    const missing = l.zones.filter((z) => !z.records?.length).map((z) => z.origin);
    if (missing.length) throw new Error(`dnsmasq upstream needs structured records; zones without: ${missing.join(', ')}`);
    const lines = [
      '# generated by test/harness/upstream.ts',
      `port=${l.port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'user=root',
      'edns-packet-max=1232',
      'local-ttl=30',
      ...(l.opts.queryLog === false ? [] : ['log-queries']),
      `log-facility=${l.logPath}`,
      ...l.zones.map((z) => `local=/${z.origin}/`),
      ...l.zones.flatMap((z) => dnsmasqRecordLines(z.records)),
      l.opts.extraConfig ?? '',
    ];
    await fs.writeFile(path.join(l.dir, 'dnsmasq.conf'), lines.join('\n') + '\n');
  },
  args(l) {
    return ['--keep-in-foreground', '--pid-file', `--conf-file=${path.join(l.dir, 'dnsmasq.conf')}`];
  },
  parseLogLine(line) {
    // Nov 23 16:30:00 dnsmasq[123]: query[A] svc-0.default.svc.cluster.local from 127.0.0.1
    const m = /: query\[(\w+)\] (\S+) from (\S+)$/.exec(line);
    if (!m) return null;
    return { type: m[1]!, name: m[2]!, client: m[3]!, transport: 'unknown', line };
  },
};

const ADAPTERS: Record<UpstreamKind, KindAdapter> = { bind: bindAdapter, unbound: unboundAdapter, dnsmasq: dnsmasqAdapter };

// ---------------------------------------------------------------------------
// Process supervision (leak protection)
// ---------------------------------------------------------------------------

/** Live server processes, killed synchronously when this process exits. */
const live = new Set<ServerProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killNow();
  });
}

const WATCHDOG_SCRIPT = `trap '' INT TERM HUP
while read -r _; do :; done
kill -s KILL -- -"$1" 2>/dev/null
rm -rf -- "$2"`;

/** One spawned server process in its own process group, with a watchdog and captured output. */
class ServerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private out = '';
  private watchdog: ChildProcess | undefined;

  constructor(binary: string, args: string[], private readonly dir: string) {
    this.child = spawn(binary, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const capture = (chunk: Buffer) => {
      this.out = (this.out + chunk.toString()).slice(-OUTPUT_LIMIT);
    };
    this.child.stdout!.on('data', capture);
    this.child.stderr!.on('data', capture);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        capture(Buffer.from(`spawn ${binary} failed: ${err.message}\n`));
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        this.disarmWatchdog();
        resolve();
      });
    });
    // Do not keep the test process alive just because a server runs.
    this.child.unref();
    for (const s of [this.child.stdout, this.child.stderr]) (s as unknown as net.Socket | null)?.unref?.();
    if (this.child.pid !== undefined) {
      live.add(this);
      installExitHook();
      this.armWatchdog(this.child.pid);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.pid !== undefined && this.exitCode === null && this.exitSignal === null;
  }

  output(): string {
    return this.out;
  }

  /** Sends a signal to the whole process group (dnsmasq forks TCP children). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      /* already gone */
    }
  }

  /** SIGTERM (after SIGCONT in case it is stopped), SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    this.disarmWatchdog();
    if (!this.running) return this.exited;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Children of the group (dnsmasq TCP workers) may outlive the leader.
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      /* none left */
    }
  }

  /** Synchronous kill for the process 'exit' hook. */
  killNow(): void {
    this.disarmWatchdog();
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private armWatchdog(pgid: number): void {
    const wd = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'watchdog', String(pgid), this.dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    wd.on('error', () => {
      /* best effort: the exit hook still covers normal exits */
    });
    wd.unref();
    (wd.stdin as unknown as net.Socket).unref?.();
    (wd.stdin as Writable).on('error', () => {});
    this.watchdog = wd;
  }

  private disarmWatchdog(): void {
    const wd = this.watchdog;
    this.watchdog = undefined;
    if (!wd || wd.pid === undefined) return;
    try {
      process.kill(wd.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    wd.stdin?.destroy();
  }
}

// ---------------------------------------------------------------------------
// Query log reader (incremental)
// ---------------------------------------------------------------------------

class QueryLog {
  private offset = 0;
  private partial = '';
  private readonly entries: QueryLogEntry[] = [];

  constructor(
    private readonly file: string,
    private readonly parse: (line: string) => QueryLogEntry | null,
  ) {}

  /** Reads lines appended since the last call. Missing file (not yet created / removed) = nothing new. */
  async refresh(): Promise<QueryLogEntry[]> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.file, 'r');
    } catch {
      return this.entries;
    }
    try {
      const { size } = await fh.stat();
      if (size < this.offset) this.offset = 0; // truncated
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        this.offset += bytesRead;
        const text = this.partial + buf.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) {
          const e = this.parse(line);
          if (e && !isProbe(e.name)) this.entries.push(e);
        }
      }
    } finally {
      await fh.close();
    }
    return this.entries;
  }
}

function matches(e: QueryLogEntry, f: QueryFilter): boolean {
  if (f.name !== undefined && normName(e.name) !== normName(f.name)) return false;
  if (f.type !== undefined && e.type.toUpperCase() !== f.type.toUpperCase()) return false;
  if (f.transport !== undefined && e.transport !== f.transport) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------

/** Polls until the server answers the probe with NXDOMAIN over UDP, then over TCP. */
async function waitReady(name: string, proc: ServerProcess, port: number, timeoutMs: number, zone: string): Promise<void> {
  const server = { host: HOST, port };
  const probe = `${PROBE_LABEL}.${zone}`;
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.running) {
      throw new Error(`${name} exited during startup (code ${proc.exitCode}, signal ${proc.exitSignal})`);
    }
    try {
      const udp = await queryUdp(server, probe, 'TXT', { timeoutMs: 100 });
      if (udp.packet.rcode !== 'NXDOMAIN') throw new Error(`UDP probe answered ${udp.packet.rcode} (zone not loaded?)`);
      const tcp = await queryTcp(server, probe, 'TXT', { timeoutMs: 1000 });
      if (tcp.packet.rcode !== 'NXDOMAIN') throw new Error(`TCP probe answered ${tcp.packet.rcode}`);
      if (PORT_CONFLICT_RE.test(proc.output())) throw new Error('port conflict reported by the server');
      return;
    } catch (err) {
      lastError = (err as Error).message;
      if (lastError.startsWith('port conflict')) throw err;
    }
    await sleep(50);
  }
  throw new Error(`${name} did not answer on ${HOST}:${port} within ${timeoutMs}ms (${lastError})`);
}

/**
 * Throws unless `port` is bindable. Needed because named (SO_REUSEPORT) and
 * dnsmasq would otherwise silently share a port held by another server.
 * Retries briefly: a just-stopped server's sockets may take a moment to go.
 */
async function assertPortFree(port: number, waitMs = 2000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await canBind(port))) {
    if (Date.now() >= deadline) {
      const e = new Error(`port ${port} on ${HOST} is already in use (UDP or TCP)`);
      (e as Error & { portConflict?: boolean }).portConflict = true;
      throw e;
    }
    await sleep(50);
  }
}

/** Spawns the server and waits until it is ready; kills it and throws with its output on failure. */
async function launch(adapter: KindAdapter, l: ServerLayout): Promise<ServerProcess> {
  const proc = new ServerProcess(findBinary(adapter.binary), adapter.args(l), l.dir);
  const name = adapter.binary;
  try {
    await waitReady(name, proc, l.port, l.opts.startTimeoutMs ?? 15000, l.zones[0]?.origin ?? 'cluster.local');
    return proc;
  } catch (err) {
    await proc.stop(500);
    const diagnostics = adapter.diagnose ? `\n--- diagnostics ---\n${(await adapter.diagnose(l)).trim()}` : '';
    const e = new Error(
      `${name} failed to start on ${HOST}:${l.port}: ${(err as Error).message}\n--- output ---\n${proc.output().trim()}${diagnostics}`,
    );
    (e as Error & { portConflict?: boolean }).portConflict = PORT_CONFLICT_RE.test(proc.output());
    throw e;
  }
}

/** Starts a real authoritative server on 127.0.0.1 and waits until it answers. */
export async function startUpstream(opts: StartUpstreamOptions = {}): Promise<Upstream> {
  const kind = opts.kind ?? 'bind';
  const adapter = ADAPTERS[kind];
  if (!adapter) throw new Error(`startUpstream: unknown kind ${String(kind)}`);
  const zones = opts.zones ?? defaultZone.zones;
  if (zones.length === 0) throw new Error('startUpstream: no zones');
  const dir = mkdtempSync(path.join(os.tmpdir(), `nld-upstream-${kind}-`));
  const logPath = path.join(dir, 'query.log');

  let proc: ServerProcess | undefined;
  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = opts.port ?? (await pickFreePort());
      if (opts.port !== undefined) await assertPortFree(port, 0);
      const layout: ServerLayout = { dir, port, logPath, zones, opts };
      await adapter.writeConfig(layout);
      try {
        proc = await launch(adapter, layout);
        break;
      } catch (err) {
        const retry = opts.port === undefined && attempt < 5 && (err as { portConflict?: boolean }).portConflict;
        if (!retry) throw err;
        await fs.rm(logPath, { force: true });
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return makeHandle(kind, adapter, { dir, port, logPath, zones, opts }, proc);
}

function makeHandle(kind: UpstreamKind, adapter: KindAdapter, layout: ServerLayout, first: ServerProcess): Upstream {
  let proc: ServerProcess | undefined = first;
  let paused = false;
  let stopped = false;
  const log = new QueryLog(layout.logPath, adapter.parseLogLine);

  const filtered = async (f: QueryFilter) => (await log.refresh()).filter((e) => matches(e, f));

  const settledCount = async (opts: QueryCountOptions): Promise<number> => {
    const settleMs = opts.settleMs ?? 25;
    let count = (await filtered(opts)).length;
    const hardStop = Date.now() + Math.max(2000, settleMs * 4);
    let stableSince = Date.now();
    while (Date.now() - stableSince < settleMs && Date.now() < hardStop) {
      await sleep(Math.min(10, settleMs));
      const now = (await filtered(opts)).length;
      if (now !== count) {
        count = now;
        stableSince = Date.now();
      }
    }
    return count;
  };

  const handle: Upstream = {
    kind,
    host: HOST,
    port: layout.port,
    address: `${HOST}:${layout.port}`,
    dir: layout.dir,
    get pid() {
      return proc?.pid;
    },
    get paused() {
      return paused;
    },
    queryCount: (opts = {}) => settledCount(opts),
    async queries(opts = {}) {
      await settledCount(opts);
      return filtered(opts);
    },
    async waitForQueries(count, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? 5000;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const n = (await filtered(opts)).length;
        if (n >= count) return n;
        if (Date.now() >= deadline) {
          throw new Error(`${kind} at ${handle.address}: expected >= ${count} queries matching ${JSON.stringify(opts)}, saw ${n} after ${timeoutMs}ms`);
        }
        await sleep(10);
      }
    },
    output: () => proc?.output() ?? '',
    pause() {
      if (!proc?.running) throw new Error(`${kind} at ${handle.address}: cannot pause, not running`);
      proc.signal('SIGSTOP');
      waitUntilStopped(proc.pid);
      paused = true;
    },
    resume() {
      proc?.signal('SIGCONT');
      paused = false;
    },
    async restart({ downtimeMs = 0 } = {}) {
      if (stopped) throw new Error(`${kind} at ${handle.address}: cannot restart after stop()`);
      await proc?.stop();
      proc = undefined;
      paused = false;
      if (downtimeMs > 0) await sleep(downtimeMs);
      await assertPortFree(layout.port);
      proc = await launch(adapter, layout);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await log.refresh(); // keep counts readable after the log is gone
      await proc?.stop();
      paused = false;
      await fs.rm(layout.dir, { recursive: true, force: true });
    },
  };
  return handle;
}
