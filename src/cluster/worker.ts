// A worker process (workers > 1): serves DNS on listeners shared through the cluster module and
// does nothing else. The primary owns config, node setup, HTTP and signals, and drives this
// process with messages; if the primary goes away, the worker exits.
import { Daemon } from '../daemon.js';
import { createLogger } from '../log/logger.js';
import { installCrashPolicy } from '../cli/crash-policy.js';
import { takeSnapshot } from './snapshot.js';
import { REUSE_PORT_SUPPORTED } from '../util/features.js';
import type { FromWorker, ToWorker } from './messages.js';

const send = (msg: FromWorker): void => {
  process.send?.(msg);
};

export function runWorker(): void {
  let daemon: Daemon | null = null;
  // Terminal signals reach the whole process group; the primary decides when we stop.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGHUP'] as const) process.on(signal, () => {});
  process.on('disconnect', () => process.exit(0));
  // As in the primary (cli/crash-policy.ts); the primary owns the node setup and restarts workers.
  installCrashPolicy({
    logger: createLogger(),
    countPanic: () => {
      if (daemon) daemon.dnsStats.panics++;
    },
    fatal: async () => daemon?.stop(0),
  });
  process.on('message', (msg: ToWorker) => {
    void (async () => {
      switch (msg.type) {
        case 'start': {
          const logger = createLogger(msg.config.log.level).child({ worker: Number(process.env.NLD_WORKER_INDEX ?? 0) });
          // With SO_REUSEPORT (Node >= 22.12) each worker binds its own socket and the kernel spreads
          // queries; older Node shares the primary's socket through the cluster module.
          daemon = new Daemon({ logger, reusePort: REUSE_PORT_SUPPORTED });
          try {
            await daemon.start(msg.config);
            send({ type: 'ready' });
          } catch (err) {
            send({ type: 'failed', error: (err as Error).message });
          }
          return;
        }
        case 'reload': {
          const result = daemon ? await daemon.reload(msg.config) : { ok: false as const, error: 'not started' };
          send({ type: 'reloaded', id: msg.id, ok: result.ok, ...(result.ok ? {} : { error: result.error }) });
          return;
        }
        case 'stats':
          if (daemon) send({ type: 'stats', id: msg.id, snapshot: takeSnapshot(daemon) });
          return;
        case 'detect-loops':
          send({ type: 'loops', finding: daemon ? await daemon.detectLoops() : null });
          return;
        case 'stop':
          await daemon?.stop(0);
          process.exit(0);
      }
    })();
  });
}
