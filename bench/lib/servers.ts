// Starting and stopping the servers under test, each pinned to the server core with taskset,
// all forwarding cluster.local to the same upstream on 127.0.0.1.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { pickFreePort } from '../../test/harness/upstream.js';
import { runToCompletion, startProcess, type Managed } from './procs.js';
import { waitAnswering } from './udp.js';
import { treePids } from './proc.js';
import type { BenchRuntime } from './runtime.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type ServerId = 'nld' | 'nld-nometrics' | 'nld-2w' | 'bare' | 'unbound' | 'dnsmasq' | 'bind-udp' | 'bind-tcp';
export const ALL_SERVERS: ServerId[] = ['nld', 'nld-nometrics', 'nld-2w', 'bare', 'unbound', 'dnsmasq', 'bind-udp', 'bind-tcp'];
/** Not servers under test: the upstream itself, queried directly (misses only) to show its ceiling. */
export const UPSTREAM_DIRECT: ServerId[] = ['bind-udp', 'bind-tcp'];

export const SERVER_LABELS: Record<ServerId, string> = {
  nld: 'node-local-dns',
  'nld-nometrics': 'node-local-dns (metrics off)',
  'nld-2w': 'node-local-dns (2 workers)',
  bare: 'bare Node responder',
  unbound: 'unbound',
  dnsmasq: 'dnsmasq',
  'bind-udp': 'upstream BIND queried directly over UDP',
  'bind-tcp': 'upstream BIND queried directly over TCP',
};

export interface RunningServer {
  id: ServerId;
  label: string;
  port: number;
  /** Root of the process tree (taskset execs the server, so this is the server itself). */
  pid: number;
  proc: Managed;
  /** Processes in the tree (workers, forks). */
  processes: number;
  notes: string[];
  stop(): Promise<void>;
}

export interface ServerContext {
  upstreamPort: number;
  /** PID of the upstream BIND (for the bind-* pseudo servers). */
  upstreamPid: number;
  /** taskset CPU list for servers (undefined = no pinning). */
  cpu?: string;
  daemon: DaemonCommand;
  /** The node binary and environment (the image's ENV) our daemon and the bare responder run with. */
  runtime: BenchRuntime;
  /** Extra node flags for our daemon (e.g. --cpu-prof). */
  nodeFlags?: string[];
  tmp: string;
}

const PROBE = '_bench-probe.cluster.local';

function pinned(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}

function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    const p = path.join(dir || '.', name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export const haveBinary = (name: string) => findBinary(name) !== undefined;

// ---------------------------------------------------------------------------
// Our daemon: which command runs it
// ---------------------------------------------------------------------------

export interface DaemonCommand {
  kind: 'dist' | 'tsx-main' | 'fallback';
  /** node arguments before the config flag */
  args: string[];
  note: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The image's V8 flags (Dockerfile NODE_OPTIONS), for callers that pass them as arguments. */
export { IMAGE_NODE_FLAGS } from './runtime.js';

/** dist/node-local-dns.cjs, rebuilt first when missing or older than src/; fallbacks while the CLI is missing. */
export async function resolveDaemon(log: (s: string) => void): Promise<DaemonCommand> {
  const main = path.join(ROOT, 'src/main.ts');
  const dist = path.join(ROOT, 'dist/node-local-dns.cjs');
  if (!existsSync(main)) {
    return {
      kind: 'fallback',
      args: ['--import', 'tsx', path.join(ROOT, 'bench/lib/daemon-fallback.ts')],
      note: 'src/main.ts missing: ran src/daemon.ts via bench/lib/daemon-fallback.ts (tsx loader, no HTTP, no workers)',
    };
  }
  const stale = !existsSync(dist) || statSync(dist).mtimeMs < Math.max(newestMtime(path.join(ROOT, 'src')), statSync(path.join(ROOT, 'package.json')).mtimeMs);
  if (stale) {
    log('bench: dist/node-local-dns.cjs missing or older than src/, running npm run build');
    const r = await runToCompletion('build', 'npm', ['run', 'build'], 180_000, { cwd: ROOT });
    if (r.code !== 0 || !existsSync(dist)) {
      log(`bench: build failed (exit ${r.code}), using node --import tsx src/main.ts\n${r.output.slice(-1500)}`);
      return { kind: 'tsx-main', args: ['--import', 'tsx', main], note: 'build failed: ran src/main.ts through tsx' };
    }
  }
  return { kind: 'dist', args: [dist], note: 'dist/node-local-dns.cjs' };
}

// ---------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------

/** The official node-local-dns cluster.local block: force_tcp, success 9984/30, denial 9984/5. */
export function daemonConfigYaml(o: { port: number; upstreamPort: number; metricsPort?: number; healthPort?: number; workers?: number }): string {
  const lines = [
    '# generated by bench: official node-local-dns cluster.local block',
    'servers:',
    '  - zones: [cluster.local]',
    '    bind: [127.0.0.1]',
    `    port: ${o.port}`,
    '    cache:',
    '      success: { capacity: 9984, maxTTL: 30 }',
    '      denial: { capacity: 9984, maxTTL: 5 }',
    '    forward:',
    `      to: ["127.0.0.1:${o.upstreamPort}"]`,
    '      forceTCP: true',
    '  - zones: [in-addr.arpa, ip6.arpa]',
    '    bind: [127.0.0.1]',
    `    port: ${o.port}`,
    '    cache: { success: { maxTTL: 30 }, denial: { maxTTL: 30 } }',
    '    forward:',
    `      to: ["127.0.0.1:${o.upstreamPort}"]`,
    '      forceTCP: true',
  ];
  if (o.healthPort) lines.push('health:', `  listen: 127.0.0.1:${o.healthPort}`);
  if (o.metricsPort) lines.push('metrics:', `  listen: 127.0.0.1:${o.metricsPort}`);
  lines.push('log:', '  level: warn');
  if (o.workers && o.workers > 1) lines.push(`workers: ${o.workers}`);
  return lines.join('\n') + '\n';
}

function unboundConf(dir: string, port: number, upstreamPort: number): string {
  return `# generated by bench: unbound as a forwarding cache for cluster.local
server:
  directory: "${dir}"
  chroot: ""
  username: ""
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  interface: 127.0.0.1
  port: ${port}
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  num-threads: 1
  so-reuseport: no
  so-rcvbuf: 8m
  so-sndbuf: 8m
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  qname-minimisation: no
  msg-cache-size: 16m
  rrset-cache-size: 32m
  domain-insecure: "cluster.local"
  # Nothing may leave the machine: everything but cluster.local is refused.
  local-zone: "." refuse
  local-zone: "cluster.local." transparent
remote-control:
  control-enable: no
forward-zone:
  name: "cluster.local"
  forward-addr: 127.0.0.1@${upstreamPort}
  forward-tcp-upstream: yes
`;
}

// ---------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------

let bareJs: string | undefined;
function compileBare(tmp: string): string {
  if (bareJs) return bareJs;
  const out = path.join(tmp, 'bare-responder.mjs');
  buildSync({ entryPoints: [path.join(ROOT, 'bench/lib/bare-responder.ts')], outfile: out, format: 'esm', platform: 'node', target: 'node20', bundle: false, logLevel: 'warning' });
  bareJs = out;
  return out;
}

async function launch(id: ServerId, cmd: string, args: string[], port: number, notes: string[], cleanup: () => void, env?: NodeJS.ProcessEnv): Promise<RunningServer> {
  const proc = startProcess(id, cmd, args, { cwd: ROOT, env: env ?? process.env });
  try {
    await waitAnswering(port, PROBE, 20_000, () => proc.running);
  } catch (err) {
    await proc.stop(500);
    cleanup();
    throw new Error(`${id} did not start: ${(err as Error).message}\n$ ${cmd} ${args.join(' ')}\n${proc.output().slice(-3000)}`);
  }
  const processes = treePids(proc.pid).length;
  return {
    id,
    label: SERVER_LABELS[id],
    port,
    pid: proc.pid,
    proc,
    processes,
    notes,
    async stop() {
      await proc.stop(5000);
      cleanup();
    },
  };
}

export async function startServer(id: ServerId, ctx: ServerContext): Promise<RunningServer> {
  if (id === 'bind-udp' || id === 'bind-tcp') {
    // The shared upstream (pinned with the client): not started or stopped here.
    const proc = { pid: ctx.upstreamPid, running: true, output: () => '', stop: async () => {} } as unknown as Managed;
    return { id, label: SERVER_LABELS[id], port: ctx.upstreamPort, pid: ctx.upstreamPid, proc, processes: treePids(ctx.upstreamPid).length, notes: ['named -n 1, authoritative, pinned to the client core'], stop: async () => {} };
  }
  const port = await pickFreePort();
  const dir = mkdtempSync(path.join(ctx.tmp, `${id}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const notes: string[] = [];
  switch (id) {
    case 'nld':
    case 'nld-nometrics':
    case 'nld-2w': {
      const fallback = ctx.daemon.kind === 'fallback';
      if (id === 'nld-2w' && fallback) throw new Error('workers need the daemon CLI (src/main.ts)');
      const withMetrics = id !== 'nld-nometrics' && !fallback;
      const conf = daemonConfigYaml({
        port,
        upstreamPort: ctx.upstreamPort,
        metricsPort: withMetrics ? await pickFreePort() : undefined,
        healthPort: withMetrics ? await pickFreePort() : undefined,
        workers: id === 'nld-2w' ? 2 : 1,
      });
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, conf);
      notes.push(ctx.daemon.note, ctx.runtime.label);
      if (fallback && id === 'nld') notes.push('metrics not served by the fallback launcher');
      const [cmd, args] = pinned(ctx.cpu, ctx.runtime.node, [...(ctx.nodeFlags ?? []), ...ctx.daemon.args, '--config', file]);
      return launch(id, cmd, args, port, notes, cleanup, { ...process.env, ...ctx.runtime.env });
    }
    case 'bare': {
      const js = compileBare(ctx.tmp);
      const [cmd, args] = pinned(ctx.cpu, ctx.runtime.node, [js, '--port', String(port)]);
      notes.push('one prepared reply, ID patched (not a real cache)', ctx.runtime.label);
      return launch(id, cmd, args, port, notes, cleanup, { ...process.env, ...ctx.runtime.env });
    }
    case 'unbound': {
      const conf = path.join(dir, 'unbound.conf');
      writeFileSync(conf, unboundConf(dir, port, ctx.upstreamPort));
      const [cmd, args] = pinned(ctx.cpu, findBinary('unbound') ?? 'unbound', ['-d', '-c', conf]);
      notes.push('1 thread, forward-tcp-upstream');
      return launch(id, cmd, args, port, notes, cleanup);
    }
    case 'dnsmasq': {
      const args = [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
        '--user=root',
        '--pid-file=',
        `--server=/cluster.local/127.0.0.1#${ctx.upstreamPort}`,
        '--cache-size=10000',
        '--dns-forward-max=1000',
      ];
      const [cmd, a] = pinned(ctx.cpu, findBinary('dnsmasq') ?? 'dnsmasq', args);
      notes.push('forwards over UDP (no TCP-upstream option)');
      return launch(id, cmd, a, port, notes, cleanup);
    }
  }
}

export function makeTmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'nld-bench-'));
}
