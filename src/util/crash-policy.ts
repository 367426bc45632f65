// What the process does with an error nothing else caught. Every pod on the node resolves through
// this daemon, so the policy keeps serving wherever the damage is confined to one query or one
// operation, and stops cleanly where the state of the process can no longer be trusted.
//
// Keep serving (counted in coredns_panics_total, logged at most once per 5 s with a count):
// - an exception while handling one query: the listeners catch it around the query (a TCP
//   connection is then closed). CoreDNS does the same: it recovers a panic in one query, counts
//   it and keeps serving. These never reach this module.
// - an unhandled promise rejection: our promise chains belong to one query (a miss waiting for the
//   upstream) or one operation (a reload, a node sync, a health probe); the rejection ended that
//   chain and nothing else. Node's default since v15 is to exit, which would turn a bug in one
//   lookup into a node-wide outage.
//
// Exit with teardown (exit code 1):
// - an uncaught exception: it came out of a timer or an event handler outside the query path (a
//   socket or server event, the node sync, the health self-check). The object that threw may be
//   half-updated (a listener without its socket, a pool holding a dead connection), and a daemon
//   that looks alive but answers wrongly is worse than a restart. The node setup is torn down
//   first (rules and interface removed while the listeners still answer), so the kube-dns
//   ClusterIP falls back to kube-dns through kube-proxy's DNAT instead of hitting a dead
//   listener; the kubelet restarts the container and the rules come back on start. If the
//   teardown itself hangs or throws, the process exits anyway after FATAL_EXIT_MS.
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** Longest a fatal teardown may take before the process exits regardless. */
export const FATAL_EXIT_MS = 10_000;

export interface CrashPolicyOptions {
  readonly logger: Logger;
  /** Counts one recovered error (coredns_panics_total). */
  readonly countPanic: () => void;
  /** Tears down and stops serving; the process exits with code 1 when it settles. */
  readonly fatal: (reason: string) => Promise<void>;
  /** Longest the teardown may take (default FATAL_EXIT_MS). */
  readonly fatalExitMs?: number;
}

/** Installs the process-wide handlers; returns a function that removes them. */
export function installCrashPolicy(options: CrashPolicyOptions): () => void {
  const exit = (code: number) => process.exit(code);
  const deadlineMs = options.fatalExitMs ?? FATAL_EXIT_MS;
  const rejections = new RateLimitedLog(options.logger);
  let dying = false;

  const onRejection = (reason: unknown): void => {
    options.countPanic();
    rejections.report('unhandledRejection', `unhandled promise rejection (still serving): ${describe(reason)}`);
  };

  const onException = (err: unknown): void => {
    if (dying) {
      options.logger.fatal({ err: describe(err) }, 'uncaught exception during the fatal teardown; exiting now');
      options.logger.flush();
      exit(1);
      return;
    }
    dying = true;
    options.logger.fatal({ err: describe(err) }, 'uncaught exception: tearing down and exiting');
    const timer = setTimeout(() => {
      options.logger.fatal(`teardown did not finish within ${deadlineMs / 1000}s; exiting`);
      options.logger.flush();
      exit(1);
    }, deadlineMs);
    timer.unref();
    options.fatal('uncaught exception').then(
      () => {
        clearTimeout(timer);
        options.logger.flush();
        exit(1);
      },
      (teardownErr: unknown) => {
        clearTimeout(timer);
        options.logger.fatal({ err: describe(teardownErr) }, 'teardown failed');
        options.logger.flush();
        exit(1);
      },
    );
  };

  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
