// The servers bench/attacks.ts attacks, each started the way node-cache is in the DaemonSet: the
// same Corefile and the same node-cache flags (-localip, -conf, no interface, no iptables), on
// 127.0.0.1 and unprivileged ports, with a high descriptor limit (prlimit) as containers have.
// - node-local-dns from this tree: dist/node-local-dns.cjs on the image's runtime and flags;
// - node-local-dns "before": the bundle built from an earlier commit (git archive into a temp dir);
// - node-cache: a binary given by NODE_CACHE_BIN (only to compare with; never a dependency).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pickFreePort } from '../../test/harness/upstream.js';
import { startProcess, type Managed } from './procs.js';
import type { BenchRuntime } from './runtime.js';
import { ROOT } from './servers.js';
import { waitAnswering } from './udp.js';

export type AttackServerId = 'nld' | 'nld-before' | 'node-cache';

export interface AttackServerSpec {
  readonly id: AttackServerId;
  readonly label: string;
  /** How it runs (for the report; node-cache's CoreDNS version is filled in from its start banner). */
  runtime: string;
  /** The command, given the node-cache flags. */
  command(flags: string[]): [string, string[]];
  readonly env: NodeJS.ProcessEnv;
}

export interface CorefileOptions {
  /** CoreDNS `cache success CAPACITY TTL` (max TTL of positive answers, s). */
  readonly successTtl: number;
  readonly serveStale: boolean;
}

/** The official nodelocaldns cluster.local block (cache, force_tcp), minus reload/loop/log. */
export function corefile(o: CorefileOptions & { port: number; upstream: string; metricsPort: number; healthPort: number }): string {
  return `cluster.local:${o.port} {
    errors
    cache {
        success 9984 ${o.successTtl}
        denial 9984 5${o.serveStale ? '\n        serve_stale 1h' : ''}
    }
    bind 127.0.0.1
    forward . ${o.upstream} {
        force_tcp
    }
    prometheus 127.0.0.1:${o.metricsPort}
    health 127.0.0.1:${o.healthPort}
}
`;
}

/** Descriptor limit for every server: 16,384 (containers have more), or what our hard limit allows. */
const hardNofile = Number(spawnSync('prlimit', ['--pid', String(process.pid), '--nofile', '--output', 'HARD', '--noheadings'], { encoding: 'utf8' }).stdout.trim());
export const SERVER_NOFILE = Number.isFinite(hardNofile) && hardNofile > 0 ? Math.min(16_384, hardNofile) : 16_384;
const PROBE = '_attack-probe.cluster.local';

export interface AttackServer {
  readonly spec: AttackServerSpec;
  readonly port: number;
  readonly pid: number;
  readonly proc: Managed;
  alive(): boolean;
  /** Resident memory now and its peak since start (VmRSS, VmHWM), MiB; NaN once gone. */
  memory(): { rssMiB: number; peakMiB: number };
  stop(): Promise<void>;
}

function statusMiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * `cpu`: taskset CPU list for the server (one core each, as bench/run.ts does: node-cache's Go
 * runtime then runs with GOMAXPROCS 1, like our single event loop); undefined = not pinned.
 */
export async function startAttackServer(spec: AttackServerSpec, o: CorefileOptions & { upstream: string; tmp: string; cpu?: string }): Promise<AttackServer> {
  const [port, metricsPort, healthPort, nodeMetricsPort, nodeHealthPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const dir = mkdtempSync(path.join(o.tmp, `${spec.id}-`));
  const conf = path.join(dir, 'Corefile');
  writeFileSync(conf, corefile({ ...o, port, metricsPort, healthPort }));
  // node-cache's own flags; the base Corefile is the same file (no __PILLAR__ to fill).
  const flags = ['-localip', '127.0.0.1', '-conf', conf, '-basecorefile', conf, '-setupinterface=false', '-setupiptables=false', '-skipteardown', '-health-port', String(nodeHealthPort), '-metrics-listen-address', `127.0.0.1:${nodeMetricsPort}`];
  const [cmd, args] = spec.command(flags);
  const pinned = o.cpu === undefined ? [cmd, ...args] : ['taskset', '-c', o.cpu, cmd, ...args];
  const proc = startProcess(spec.id, 'prlimit', [`--nofile=${SERVER_NOFILE}:${SERVER_NOFILE}`, '--', ...pinned], { cwd: dir, env: spec.env });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await waitAnswering(port, PROBE, 20_000, () => proc.running);
  } catch (err) {
    await proc.stop(500);
    cleanup();
    throw new Error(`${spec.id} did not start: ${(err as Error).message}\n$ ${cmd} ${args.join(' ')}\n${proc.output().slice(-2000)}`);
  }
  const banner = /CoreDNS-[\d.]+/.exec(proc.output())?.[0];
  if (spec.id === 'node-cache' && banner && !spec.runtime.includes(banner)) spec.runtime = `${spec.runtime}, ${banner} inside`;
  const pid = proc.pid; // prlimit and taskset exec the server: same pid
  return {
    spec,
    port,
    pid,
    proc,
    alive: () => proc.running,
    memory: () => ({ rssMiB: statusMiB(pid, 'VmRSS'), peakMiB: statusMiB(pid, 'VmHWM') }),
    async stop() {
      await proc.stop(3000);
      cleanup();
    },
  };
}

function nldSpec(id: AttackServerId, label: string, bundle: string, runtime: BenchRuntime): AttackServerSpec {
  return {
    id,
    label,
    runtime: runtime.label,
    command: (flags) => [runtime.node, [bundle, ...flags]],
    env: { ...process.env, ...runtime.env },
  };
}

export function currentSpec(runtime: BenchRuntime): AttackServerSpec {
  const bundle = path.join(ROOT, 'dist/node-local-dns.cjs');
  if (!existsSync(bundle)) throw new Error('dist/node-local-dns.cjs missing: run npm run build first');
  return nldSpec('nld', 'node-local-dns (now)', bundle, runtime);
}

/**
 * Builds the bundle of `commit` in a temp dir (git archive, node_modules linked, its own build
 * script); never touches the work tree. Undefined (with the reason) when that is not possible.
 */
export function beforeSpec(commit: string, runtime: BenchRuntime, tmp: string, log: (s: string) => void): AttackServerSpec | undefined {
  const dir = path.join(tmp, `before-${commit}`);
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git -C "${ROOT}" archive --format=tar "${commit}" | tar -x -C "${dir}"`], { encoding: 'utf8' });
  if (archive.status !== 0) {
    log(`attacks: cannot extract ${commit} (${archive.stderr.trim()}); "before" skipped`);
    return undefined;
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  const bundle = path.join(dir, 'dist/node-local-dns.cjs');
  if (build.status !== 0 || !existsSync(bundle)) {
    log(`attacks: building ${commit} failed; "before" skipped\n${(build.stdout + build.stderr).slice(-1500)}`);
    return undefined;
  }
  return nldSpec('nld-before', `node-local-dns before (${commit})`, bundle, runtime);
}

/** node-cache from NODE_CACHE_BIN (NODE_CACHE_LABEL names it in the report); undefined when unset. */
export function nodeCacheSpec(): AttackServerSpec | undefined {
  const bin = process.env.NODE_CACHE_BIN;
  if (!bin) return undefined;
  if (!existsSync(bin)) throw new Error(`NODE_CACHE_BIN=${bin}: no such file`);
  return {
    id: 'node-cache',
    label: process.env.NODE_CACHE_LABEL ?? 'node-cache',
    runtime: `${bin}, Go runtime`,
    command: (flags) => [bin, flags],
    env: process.env,
  };
}
