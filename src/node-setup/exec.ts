// Runs one external command (ip, iptables, ...) from an argv array with child_process.execFile:
// never through a shell. A failing, missing or timed-out command is returned as a value
// ({ ok: false, code, stderr, error }), never thrown. `netns` runs the command inside a network
// namespace (`ip netns exec NAME argv...`), which is how the tests stay off the host's network.
import { execFile } from 'node:child_process';

export interface ExecOptions {
  /** Run inside this network namespace (`ip netns exec NAME ...`). */
  readonly netns?: string;
  /** Kill the command after this long; default 10 s (iptables waits up to 5 s for the lock). */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly ok: boolean;
  /** Exit code; -1 when the command could not be started, timed out or died from a signal. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The argv that was actually run (including any `ip netns exec` prefix). */
  readonly argv: readonly string[];
  /** One-line description for logs: the command, how it failed and its stderr. '' when ok. */
  readonly error: string;
}

/** The signature the node setup modules call; tests inject wrappers around runCommand. */
export type Exec = (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export const DEFAULT_EXEC_TIMEOUT_MS = 10_000;

/** The argv with the netns prefix applied, if any. */
export function withNetns(argv: readonly string[], netns?: string): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : [...argv];
}

/** Quotes an argv for log lines (not for a shell: nothing is ever run through one). */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (a === '' || /[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

interface ExecFailure {
  readonly code?: number | string;
  readonly killed?: boolean;
  readonly signal?: NodeJS.Signals | null;
  readonly message?: string;
}

function describeFailure(err: ExecFailure, timeoutMs: number): { code: number; how: string } {
  if (typeof err.code === 'number') return { code: err.code, how: `exited ${err.code}` };
  if (err.killed || err.signal) return { code: -1, how: err.killed && err.signal === 'SIGTERM' ? `timed out after ${timeoutMs}ms` : `killed by ${err.signal}` };
  return { code: -1, how: `could not start (${err.code ?? err.message ?? 'unknown error'})` };
}

/**
 * `ip netns exec` exits 1 when it cannot exec the command, the same code iptables uses for "no such
 * rule"; its message tells them apart, so a missing binary is never mistaken for an absent rule.
 */
function netnsExecFailed(netns: string | undefined, stderr: string): boolean {
  return !!netns && /^exec of ".*" failed:/m.test(stderr);
}

/** Runs argv (optionally inside a netns) and resolves with the outcome; never rejects. */
export const runCommand: Exec = (argv, options = {}) => {
  const full = withNetns(argv, options.netns);
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  return new Promise((resolve) => {
    if (full.length === 0) {
      resolve({ ok: false, code: -1, stdout: '', stderr: '', argv: full, error: 'empty command' });
      return;
    }
    execFile(full[0]!, full.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const out = String(stdout ?? '');
      const errText = String(stderr ?? '');
      if (!err) {
        resolve({ ok: true, code: 0, stdout: out, stderr: errText, argv: full, error: '' });
        return;
      }
      const { code, how } = netnsExecFailed(options.netns, errText) ? { code: -1, how: 'could not start' } : describeFailure(err as ExecFailure, timeoutMs);
      const detail = errText.trim() || out.trim();
      const error = `${formatArgv(full)}: ${how}${detail ? `: ${detail}` : ''}`;
      resolve({ ok: false, code, stdout: out, stderr: errText, argv: full, error });
    });
  });
};
