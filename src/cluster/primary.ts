// `workers: N` (N > 1): N DNS workers in one process. The main thread is worker 0 (a Daemon like
// `workers: 1`), and N-1 worker threads each run their own Daemon; every worker binds its own
// SO_REUSEPORT UDP and TCP sockets on each listener address, so the kernel spreads queries over
// them (hence Node >= 22.12, checked by the config schema). The main thread owns everything
// else: the services (node setup, HTTP, pidfile), reloads (applied by every worker), shutdown.
// Cache fills are broadcast between workers (fill-sharing.ts), so every worker's cache holds
// what any of them learned; metrics are the workers' counters summed at scrape time.
import { Worker, MessageChannel } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ServiceGroup, type DaemonService } from '../service-group.js';
import { Daemon, pluginsEnabledFor, type HandOverResult, type ReloadResult } from '../daemon.js';
import { nldError, type NldError } from '../errors.js';
import type { LoopFinding } from '../server/loop-detect.js';
import type { InheritedListener } from '../server/handover.js';
import { INSTANCE_ID } from '../util/instance-identity.js';
import { StatsAggregate, takeSnapshot } from './snapshot.js';
import { FillSharing } from './fill-sharing.js';
import type { WorkerThreadData } from '../util/thread-data.js';
import type { FromWorker, ToWorker } from './messages.js';

const WORKER_START_TIMEOUT_MS = 15_000;
const STATS_TIMEOUT_MS = 500;
const WORKER_STOP_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 500;
const MAIN_WORKER = 0;

export interface WorkerPoolOptions {
  readonly logger: Logger;
  readonly services: readonly DaemonService[];
  readonly stats?: StatsAggregate;
  /** Sockets inherited from a predecessor (SIGUSR2 handover): adopted by worker 0. */
  readonly inherited?: Map<string, InheritedListener>;
  /** The script a worker thread runs; default: workerEntry(). */
  readonly entry?: string;
}

interface ThreadWorker {
  readonly index: number;
  readonly thread: Worker;
}

/**
 * dist/node-local-dns-worker.cjs next to the running bundle (only the serving code), else the
 * running script itself (src/main.ts under tsx), which starts a worker when it runs in one.
 */
function workerEntry(): string {
  const running = typeof __filename === 'string' ? __filename : process.argv[1];
  const lean = join(dirname(running), 'node-local-dns-worker.cjs');
  return existsSync(lean) ? lean : process.argv[1];
}

export class WorkerPool {
  private readonly logger: Logger;
  private readonly services: ServiceGroup;
  readonly stats: StatsAggregate;
  private readonly main: Daemon;
  private readonly mainSharing: FillSharing;
  private readonly threads = new Map<number, ThreadWorker>(); // by index 1..N-1
  private readonly entry: string;
  private current: Config | null = null;
  private stopping = false;
  private requestId = 0;
  reloadFailures = 0;
  /** Worker threads started to replace one that exited. */
  restarts = 0;

  constructor(options: WorkerPoolOptions) {
    this.logger = options.logger;
    this.services = new ServiceGroup(options.services, options.logger);
    this.stats = options.stats ?? new StatsAggregate();
    this.entry = options.entry ?? workerEntry();
    this.main = new Daemon({ logger: options.logger.child({ worker: MAIN_WORKER }), reusePort: true, inherited: options.inherited, alwaysCountQueries: false });
    this.mainSharing = new FillSharing(() => this.main.blockRuntimes().flatMap((b) => (b.cache ? [b.cache] : [])));
  }

  get dnsStats() {
    return this.stats.dns;
  }

  async start(config: Config): Promise<void> {
    this.current = config;
    await this.services.beforeListen(config);
    await this.main.start(config);
    this.mainSharing.attach();
    try {
      await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => this.startThread(i + 1, config)));
    } catch (err) {
      this.stopping = true;
      await Promise.all([...this.threads.values()].map((w) => w.thread.terminate()));
      await this.main.stop(0);
      throw err;
    }
    await this.services.afterListen(config);
    this.logger.info({ workers: config.workers, zones: config.servers.map((s) => s.zones.join(' ')) }, 'node-local-dns serving');
  }

  private startThread(index: number, config: Config): Promise<void> {
    const workerData: WorkerThreadData = { nldWorker: true, index, instanceId: INSTANCE_ID };
    const thread = new Worker(this.entry, { workerData });
    const worker: ThreadWorker = { index, thread };
    this.threads.set(index, worker);
    this.connectFills(index, thread);
    thread.on('error', (err) => this.logger.error({ worker: index, err: err.message }, 'worker thread failed'));
    thread.on('exit', (code) => {
      this.stats.retire(thread.threadId);
      if (this.threads.get(index) !== worker || this.stopping) return;
      this.threads.delete(index);
      this.restarts++;
      this.logger.error({ worker: index, code }, 'worker thread exited; starting a new one');
      // A short pause, so that a worker failing at start does not spin.
      setTimeout(() => {
        if (this.current && !this.stopping && !this.threads.has(index)) {
          this.startThread(index, this.current).catch((err) => this.logger.error({ worker: index, err: (err as Error).message }, 'worker restart failed'));
        }
      }, RESTART_DELAY_MS);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${index} did not start in ${WORKER_START_TIMEOUT_MS} ms`)), WORKER_START_TIMEOUT_MS);
      const onMessage = (msg: FromWorker) => {
        if (msg.type !== 'ready' && msg.type !== 'failed') return;
        clearTimeout(timer);
        thread.off('message', onMessage);
        if (msg.type === 'ready') resolve();
        else reject(new Error(`worker ${index}: ${msg.error}`));
      };
      thread.on('message', onMessage);
      thread.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker ${index} exited with code ${code} while starting`));
      });
      this.send(thread, { type: 'start', config });
    });
  }

  /** A fill channel between the new worker and every other worker (the main thread included). */
  private connectFills(index: number, thread: Worker): void {
    const toMain = new MessageChannel();
    this.mainSharing.addPeer(index, toMain.port1);
    thread.postMessage({ type: 'peer', index: MAIN_WORKER, port: toMain.port2 } satisfies ToWorker, [toMain.port2]);
    for (const other of this.threads.values()) {
      if (other.index === index) continue;
      const channel = new MessageChannel();
      thread.postMessage({ type: 'peer', index: other.index, port: channel.port1 } satisfies ToWorker, [channel.port1]);
      other.thread.postMessage({ type: 'peer', index, port: channel.port2 } satisfies ToWorker, [channel.port2]);
    }
  }

  private send(thread: Worker, msg: ToWorker): void {
    thread.postMessage(msg);
  }

  /** Sends a request to every worker thread and collects one matching reply from each (or times out). */
  private ask<T extends FromWorker>(make: (id: number) => ToWorker, match: (msg: FromWorker, id: number) => msg is T, timeoutMs: number): Promise<Map<Worker, T>> {
    const id = ++this.requestId;
    const replies = new Map<Worker, T>();
    const threads = [...this.threads.values()].map((w) => w.thread);
    return new Promise((resolve) => {
      const handlers = new Map<Worker, (msg: FromWorker) => void>();
      const done = () => {
        clearTimeout(timer);
        for (const [t, h] of handlers) t.off('message', h);
        resolve(replies);
      };
      const timer = setTimeout(done, timeoutMs);
      for (const thread of threads) {
        const handler = (msg: FromWorker) => {
          if (!match(msg, id)) return;
          replies.set(thread, msg);
          if (replies.size === threads.length) done();
        };
        handlers.set(thread, handler);
        thread.on('message', handler);
        this.send(thread, make(id));
      }
      if (threads.length === 0) done();
    });
  }

  /** Gathers every worker's counters into `stats` (before a scrape). */
  async refreshStats(): Promise<void> {
    const replies = await this.ask((id) => ({ type: 'stats', id }), (m, id): m is Extract<FromWorker, { type: 'stats' }> => m.type === 'stats' && m.id === id, STATS_TIMEOUT_MS);
    this.stats.update(MAIN_WORKER, takeSnapshot(this.main));
    for (const [thread, reply] of replies) this.stats.update(thread.threadId, reply.snapshot);
    this.stats.recompute();
  }

  async reload(config: Config): Promise<ReloadResult> {
    if (!this.current || this.stopping) return { ok: false, error: nldError('NLD_ERR_NOT_RUNNING', ['reload', this.stopping ? 'stopping' : 'new']) };
    if (JSON.stringify(config) === JSON.stringify(this.current)) return { ok: true, changed: false };
    if (config.workers !== this.current.workers) this.logger.warn({ from: this.current.workers, to: config.workers }, 'a change of workers takes effect at the next restart');
    await this.services.beforeListen(config);
    const [mine, replies] = await Promise.all([
      this.main.reload(config),
      this.ask(
        (id) => ({ type: 'reload', id, config }),
        (m, id): m is Extract<FromWorker, { type: 'reloaded' }> => m.type === 'reloaded' && m.id === id,
        WORKER_START_TIMEOUT_MS,
      ),
    ]);
    this.mainSharing.attach();
    const failed: NldError | undefined = !mine.ok ? mine.error : [...replies.values()].find((r) => !r.ok)?.error;
    if (failed || replies.size < this.threads.size) {
      this.reloadFailures++;
      return { ok: false, error: failed ?? nldError('NLD_ERR_WORKER_RELOAD') };
    }
    this.current = config;
    await this.services.reload(config);
    return { ok: true, changed: true };
  }

  /** CoreDNS `loop`: probed through worker 0's listeners (every worker forwards the same way). */
  detectLoops(): Promise<LoopFinding | null> {
    return this.main.detectLoops();
  }

  /**
   * Restart without a gap (SIGUSR2): worker 0 hands its sockets to a successor process (as with
   * `workers: 1`), whose other workers bind their own SO_REUSEPORT sockets beside them. Once the
   * successor serves, our worker threads stop as on shutdown beside another instance: their UDP
   * sockets leave the SO_REUSEPORT group (new queries go to the successor), they answer what was
   * queued or in flight, and close; nothing is torn down.
   */
  async handOver(): Promise<HandOverResult> {
    if (!this.current || this.stopping) return { ok: false, error: nldError('NLD_ERR_NOT_RUNNING', ['hand over', this.stopping ? 'stopping' : 'new']) };
    const result = await this.main.handOver();
    if (!result.ok) return result;
    this.stopping = true;
    await Promise.all([this.services.detach(), ...[...this.threads.values()].map((w) => this.stopThread(w.thread))]);
    this.mainSharing.close();
    return result;
  }

  async stop(lameduckMs = this.current?.health.lameduckMs ?? 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.services.lameduck();
    if (lameduckMs > 0) {
      this.logger.info({ lameduckMs }, 'lameduck: still serving before shutdown');
      await new Promise((r) => setTimeout(r, lameduckMs));
    }
    await this.services.beforeClose();
    await Promise.all([...[...this.threads.values()].map((w) => this.stopThread(w.thread)), this.main.stop(0)]);
    this.mainSharing.close();
    await this.services.close();
  }

  private stopThread(thread: Worker): Promise<void> {
    return new Promise<void>((resolve) => {
      // terminate() settles when the thread is gone; the 'exit' handler below is what we wait for.
      const terminate = (): void => void thread.terminate().catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'worker terminate failed'));
      const timer = setTimeout(terminate, WORKER_STOP_TIMEOUT_MS);
      thread.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      thread.on('message', (msg: FromWorker) => {
        if (msg.type === 'stopped') terminate();
      });
      this.send(thread, { type: 'stop' });
    });
  }

  caches() {
    return this.stats.caches();
  }
  forwarders() {
    return this.stats.forwarders();
  }
  pluginsEnabled() {
    return this.current ? pluginsEnabledFor(this.current) : [];
  }
  pluginSamples() {
    return this.stats.pluginSamples();
  }
}
