// The primary process when `workers` > 1: forks the worker processes that serve DNS (they share
// each listening socket through the cluster module), and owns everything else: the services
// (node setup, HTTP, pidfile), reloads (validated here, then applied by every worker) and
// shutdown. Metrics are the sum of the workers' counters, gathered at scrape time.
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ServiceGroup, type DaemonService } from '../service-group.js';
import { pluginsEnabledFor, type ReloadResult } from '../daemon.js';
import type { LoopFinding } from '../server/loop-detect.js';
import { StatsAggregate } from './snapshot.js';
import type { FromWorker, ToWorker } from './messages.js';
import { INSTANCE_TOKEN, INSTANCE_TOKEN_ENV } from '../server/chaos.js';

const WORKER_START_TIMEOUT_MS = 15_000;
const STATS_TIMEOUT_MS = 500;
const WORKER_STOP_TIMEOUT_MS = 10_000;

export class ClusterPrimary {
  private readonly services: ServiceGroup;
  private readonly workers = new Map<number, Worker>(); // by worker index
  private current: Config | null = null;
  private stopping = false;
  private requestId = 0;
  reloadFailuresHere = 0;

  constructor(
    private readonly logger: Logger,
    services: readonly DaemonService[],
    readonly stats: StatsAggregate = new StatsAggregate(),
  ) {
    this.services = new ServiceGroup(services, logger);
  }

  get dnsStats() {
    return this.stats.dns;
  }

  get reloadFailures(): number {
    return this.reloadFailuresHere + this.stats.reloadFailures;
  }

  async start(config: Config): Promise<void> {
    this.current = config;
    await this.services.beforeListen(config);
    await Promise.all(Array.from({ length: config.workers }, (_, i) => this.startWorker(i, config)));
    await this.services.afterListen(config);
    this.logger.info({ workers: config.workers, zones: config.servers.map((s) => s.zones.join(' ')) }, 'node-local-dns serving');
  }

  private startWorker(index: number, config: Config): Promise<void> {
    // One instance: the workers answer the shutdown instance check with the primary's token.
    const worker = cluster.fork({ NLD_WORKER_INDEX: String(index), [INSTANCE_TOKEN_ENV]: INSTANCE_TOKEN });
    this.workers.set(index, worker);
    worker.on('exit', (code, signal) => {
      this.stats.retire(worker.id);
      if (this.workers.get(index) !== worker || this.stopping) return;
      this.logger.error({ worker: index, code, signal }, 'worker exited; starting a new one');
      this.workers.delete(index);
      if (this.current) this.startWorker(index, this.current).catch((err) => this.logger.error({ worker: index, err: (err as Error).message }, 'worker restart failed'));
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${index} did not start in ${WORKER_START_TIMEOUT_MS} ms`)), WORKER_START_TIMEOUT_MS);
      const onMessage = (msg: FromWorker) => {
        if (msg.type !== 'ready' && msg.type !== 'failed') return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        if (msg.type === 'ready') resolve();
        else reject(new Error(`worker ${index}: ${msg.error}`));
      };
      worker.on('message', onMessage);
      worker.send({ type: 'start', config } satisfies ToWorker);
    });
  }

  /** Sends a request to every worker and collects one matching reply from each (or times out). */
  private ask<T extends FromWorker>(make: (id: number) => ToWorker, match: (msg: FromWorker, id: number) => msg is T, timeoutMs: number): Promise<Map<Worker, T>> {
    const id = ++this.requestId;
    const replies = new Map<Worker, T>();
    const workers = [...this.workers.values()].filter((w) => w.isConnected());
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const w of workers) w.off('message', handlers.get(w)!);
        resolve(replies);
      };
      const timer = setTimeout(done, timeoutMs);
      const handlers = new Map<Worker, (msg: FromWorker) => void>();
      for (const w of workers) {
        const handler = (msg: FromWorker) => {
          if (!match(msg, id)) return;
          replies.set(w, msg);
          if (replies.size === workers.length) done();
        };
        handlers.set(w, handler);
        w.on('message', handler);
        w.send(make(id));
      }
      if (workers.length === 0) done();
    });
  }

  /** Gathers every worker's counters into `stats` (before a scrape). */
  async refreshStats(): Promise<void> {
    const replies = await this.ask((id) => ({ type: 'stats', id }), (m, id): m is Extract<FromWorker, { type: 'stats' }> => m.type === 'stats' && m.id === id, STATS_TIMEOUT_MS);
    for (const [worker, reply] of replies) this.stats.update(worker.id, reply.snapshot);
    this.stats.recompute();
  }

  async reload(config: Config): Promise<ReloadResult> {
    if (!this.current || this.stopping) return { ok: false, error: 'not running' };
    if (JSON.stringify(config) === JSON.stringify(this.current)) return { ok: true, changed: false };
    if (config.workers !== this.current.workers) this.logger.warn({ from: this.current.workers, to: config.workers }, 'a change of workers takes effect at the next restart');
    await this.services.beforeListen(config);
    const replies = await this.ask(
      (id) => ({ type: 'reload', id, config }),
      (m, id): m is Extract<FromWorker, { type: 'reloaded' }> => m.type === 'reloaded' && m.id === id,
      WORKER_START_TIMEOUT_MS,
    );
    const failed = [...replies.values()].find((r) => !r.ok);
    if (failed || replies.size < this.workers.size) {
      this.reloadFailuresHere++;
      return { ok: false, error: failed?.error ?? 'a worker did not answer the reload' };
    }
    this.current = config;
    await this.services.reload(config);
    return { ok: true, changed: true };
  }

  async detectLoops(): Promise<LoopFinding | null> {
    const first = this.workers.get(0);
    if (!first) return null;
    return new Promise((resolve) => {
      const onMessage = (msg: FromWorker) => {
        if (msg.type !== 'loops') return;
        first.off('message', onMessage);
        resolve(msg.finding);
      };
      first.on('message', onMessage);
      first.send({ type: 'detect-loops' } satisfies ToWorker);
    });
  }

  async handOver(): Promise<{ ok: true; pid: number | undefined } | { ok: false; error: string }> {
    return { ok: false, error: 'handover (SIGUSR2) needs workers: 1; with several workers, roll out with SO_REUSEPORT instead' };
  }

  async stop(lameduckMs = this.current?.health.lameduckMs ?? 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.services.lameduck();
    if (lameduckMs > 0) await new Promise((r) => setTimeout(r, lameduckMs));
    await this.services.beforeClose();
    await Promise.all(
      [...this.workers.values()].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.isConnected()) return resolve();
            const timer = setTimeout(() => {
              w.process.kill('SIGKILL');
              resolve();
            }, WORKER_STOP_TIMEOUT_MS);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.send({ type: 'stop' } satisfies ToWorker);
          }),
      ),
    );
    await this.services.close();
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
}
