// Every process the bench starts goes through here: each runs in its own process group (so
// forked children such as dnsmasq's TCP helpers or cluster workers die with it), is killed
// with SIGTERM then SIGKILL by stopAll(), and synchronously SIGKILLed by an 'exit' hook so an
// error, SIGINT or SIGTERM never leaves a server running.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly running: boolean;
  /** Last 64 KiB of stdout+stderr (unless stdout is redirected by the caller). */
  output(): string;
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;
const live = new Set<Managed>();
let hooksInstalled = false;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // spawned detached: pid is the process group id
  } catch {
    /* group gone */
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const m of live) killGroup(m.pid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${live.size} process(es)\n`);
      for (const m of live) killGroup(m.pid, 'SIGKILL');
      process.exit(130);
    });
  }
}

export interface StartOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
  /** Where stdout goes: captured in memory (default) or a file descriptor (e.g. from openSync). */
  stdoutFd?: number;
}

/** Spawns `cmd args` in its own process group and tracks it until it exits. */
export function startProcess(name: string, cmd: string, args: string[], opts: StartOptions = {}): Managed {
  installHooks();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', opts.stdoutFd ?? 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error')
    child.on('error', () => {});
    throw new Error(`${name}: could not start ${cmd}`);
  }
  let out = '';
  const append = (c: Buffer) => {
    out += c.toString();
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      append(Buffer.from(`spawn error: ${err.message}\n`));
      running = false;
      resolve(null);
    });
    child.on('exit', (code) => {
      running = false;
      resolve(code);
    });
  });
  const pid = child.pid;
  const m: Managed = {
    name,
    child,
    pid,
    exited,
    get running() {
      return running;
    },
    output: () => out,
    async stop(graceMs = 3000) {
      if (running) {
        killGroup(pid, 'SIGCONT');
        killGroup(pid, 'SIGTERM');
        const t = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      killGroup(pid, 'SIGKILL'); // leftovers of the group
      live.delete(m);
    },
  };
  live.add(m);
  return m;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((m) => m.stop()));
}

/** Runs a command to completion with a hard time limit; returns exit code and output. */
export async function runToCompletion(
  name: string,
  cmd: string,
  args: string[],
  timeoutMs: number,
  opts: StartOptions = {},
): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  const m = startProcess(name, cmd, args, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void m.stop(1000);
  }, timeoutMs);
  const code = await m.exited;
  clearTimeout(timer);
  await m.stop(0);
  return { code, output: m.output(), timedOut };
}

export { sleep };
