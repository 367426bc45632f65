// A DNS worker thread (workers > 1): serves DNS on its own SO_REUSEPORT sockets and does nothing
// else. The main thread owns config, node setup, HTTP and signals and drives this thread with
// messages; the thread dies with the process. Cache fills are shared with the other workers.
import { parentPort } from 'node:worker_threads';
import { Daemon } from '../daemon.js';
import { createLogger } from '../log/logger.js';
import { installCrashPolicy } from '../util/crash-policy.js';
import { takeSnapshot } from './snapshot.js';
import { FillSharing } from './fill-sharing.js';
import { BackgroundFailures, inBackground } from '../util/background.js';
import { describeThrown, nldError } from '../errors.js';
import type { WorkerThreadData } from '../util/thread-data.js';
import type { FromWorker, ToWorker } from './messages.js';

export function runWorkerThread(data: WorkerThreadData): void {
  const port = parentPort!;
  const send = (msg: FromWorker) => port.postMessage(msg);
  let daemon: Daemon | null = null;
  const sharing = new FillSharing(() => daemon?.blockRuntimes().flatMap((b) => (b.cache ? [b.cache] : [])) ?? []);
  // As in the main thread (cli/crash-policy.ts), for this thread: a rejection is counted and
  // serving goes on; an uncaught exception stops this worker's daemon and ends the thread, and the
  // main thread starts a new worker (the node setup stays with the main thread).
  const countPanic = (): void => {
    if (daemon) daemon.dnsStats.panics++;
  };
  installCrashPolicy({ logger: createLogger().child({ worker: data.index }), countPanic, fatal: async () => daemon?.stop(0) });
  // Each message is handled unawaited: a bug in one is counted and logged, as in a query.
  const background = new BackgroundFailures(countPanic, createLogger().child({ worker: data.index }));
  port.on('message', (msg: ToWorker) => {
    const handled = (async () => {
      switch (msg.type) {
        case 'start': {
          const logger = createLogger(msg.config.log.level).child({ worker: data.index });
          daemon = new Daemon({ logger, reusePort: true, alwaysCountQueries: false });
          try {
            await daemon.start(msg.config);
            sharing.attach();
            send({ type: 'ready' });
          } catch (err) {
            send({ type: 'failed', error: (err as Error).message });
          }
          return;
        }
        case 'reload': {
          // The main thread waits for this answer: a reload that throws still gets one.
          const result = daemon
            ? await daemon.reload(msg.config).catch((err: unknown) => ({ ok: false as const, error: nldError('NLD_ERR_BACKGROUND_TASK', ['worker reload', describeThrown(err)]) }))
            : { ok: false as const, error: nldError('NLD_ERR_NOT_RUNNING', ['reload', 'new']) };
          sharing.attach();
          send({ type: 'reloaded', id: msg.id, ok: result.ok, ...(result.ok ? {} : { error: result.error }) });
          return;
        }
        case 'stats':
          if (daemon) send({ type: 'stats', id: msg.id, snapshot: takeSnapshot(daemon) });
          return;
        case 'peer':
          sharing.addPeer(msg.index, msg.port);
          return;
        case 'stop':
          await daemon?.stop(0);
          sharing.close();
          send({ type: 'stopped' });
          port.close();
      }
    })();
    inBackground(`worker ${msg.type}`, handled, background.report);
  });
}
