// Runs the built bundle (dist/node-local-dns.cjs) as a real process, on loopback, forwarding
// cluster.local to a test upstream, with a metrics listener; for tests where the process itself
// is under test (does it survive, how much memory does it take). Killed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pickFreePort } from './upstream.js';
import { waitFor } from './wait.js';

/** NLD_BUNDLE measures another build (e.g. before and after a change). */
export const BUNDLE = process.env.NLD_BUNDLE ?? 'dist/node-local-dns.cjs';

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  logs(): string;
  exited(): boolean;
  /** Value of one series on /metrics (NaN when absent). */
  metric(name: string, labels?: string): Promise<number>;
  /** Resident memory now and at its peak (VmRSS, VmHWM), in MiB. */
  memory(): { rssMiB: number; peakMiB: number };
  stop(): Promise<void>;
}

export interface DaemonProcessOptions {
  /** Directory for the config file. */
  readonly dir: string;
  readonly name: string;
  /** host:port of the upstream. */
  readonly upstream: string;
  /** Extra top-level YAML (e.g. a `tcp:` block). */
  readonly top?: string;
  /** Limit on the process's file descriptors (through prlimit). */
  readonly nofile?: number;
  /** Node flags; the image runs with --max-semi-space-size=1. */
  readonly nodeArgs?: string[];
}

/** The servers: list of one cluster.local block on 127.0.0.1:`port`, forwarding over TCP (`forward`: more forward fields). */
export function clusterBlockYaml(port: number, upstream: string, forward = ''): string {
  return `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: ${port}
    cache: { success: { capacity: 1000, maxTTL: 30 }, denial: { capacity: 1000, maxTTL: 5 } }
    forward: { to: ["${upstream}"], forceTCP: true${forward ? `, ${forward}` : ''} }
`;
}

export async function startDaemonProcess(o: DaemonProcessOptions): Promise<DaemonProcess> {
  const port = await pickFreePort();
  const metricsPort = await pickFreePort();
  const file = join(o.dir, `${o.name}.yaml`);
  writeFileSync(
    file,
    `${clusterBlockYaml(port, o.upstream)}metrics: { listen: "127.0.0.1:${metricsPort}" }
${o.top ?? ''}
`,
  );
  const argv = [process.execPath, ...(o.nodeArgs ?? []), BUNDLE, '--config', file];
  const child = o.nofile ? spawn('prlimit', [`--nofile=${o.nofile}:${o.nofile}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => logs.includes('node-local-dns serving') || exited, 10_000, 'daemon start', () => logs.slice(-2000));
  if (exited) throw new Error(`daemon exited at start:\n${logs.slice(-2000)}`);
  const status = (field: string) => Number(/(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field)) ?? '')?.[1] ?? NaN) / 1024;
  return {
    child,
    port,
    metricsPort,
    logs: () => logs,
    exited: () => exited,
    async metric(name, labels = '') {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      return line ? Number(line.split(' ')[1]) : NaN;
    },
    memory: () => ({ rssMiB: status('VmRSS:'), peakMiB: status('VmHWM:') }),
    async stop() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
  };
}
