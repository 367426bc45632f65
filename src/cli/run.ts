// The `run` command: resolve the config (YAML, node-cache flags + Corefile template, or the
// embedded default), start the daemon with its services (node interface and iptables, health and
// metrics HTTP), reload on file changes and SIGUSR1, and shut down on SIGTERM/SIGINT/SIGQUIT.
import { rmSync } from 'node:fs';
import { writeFileWithMode } from '../util/write-file.js';
import type { CliFlags } from '../config/flags.js';
import { resolveConfig, type ResolvedConfig } from '../config/sources.js';
import { formatIssue } from '../config/load.js';
import type { Config } from '../config/types.js';
import { watchPaths, type PathWatcher } from '../config/watch.js';
import { Daemon, type DaemonService } from '../daemon.js';
import { createLogger, type Logger } from '../log/logger.js';
import { DnsStats } from '../metrics/dns-stats.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { HealthState } from '../health/health.js';
import { SetupErrors } from '../node-setup/setup-errors.js';
import { NodeSetup, shutdownAwareNodeService } from '../node-setup/node-setup.js';
import { HttpService } from './http-service.js';
import { PprofService } from '../plugins/pprof.js';
import { installCrashPolicy } from '../util/crash-policy.js';
import { BackgroundFailures, inBackground } from '../util/background.js';
import { describeThrown } from '../errors.js';
import { VERSION } from '../version.js';
import { REUSE_PORT_SUPPORTED } from '../util/features.js';
import { WorkerPool } from '../cluster/primary.js';
import { StatsAggregate } from '../cluster/snapshot.js';
import { announceFailure, announceReady, isSuccessor, receiveListeners, takeInheritedCacheSnapshot } from '../server/handover.js';

/** Reloads pick up file changes within this period (ConfigMap updates arrive as symlink swaps). */
const CONFIG_POLL_MS = 2000;

/** What serves: the Daemon (`workers: 1`), or the pool of worker threads (`workers` > 1). */
export type Engine = Pick<Daemon, 'start' | 'reload' | 'stop' | 'detectLoops' | 'handOver' | 'caches' | 'forwarders' | 'pluginsEnabled' | 'pluginSamples' | 'reloadFailures'>;

export interface RunHandle {
  readonly daemon: Engine;
  readonly http: HttpService;
  /** Never rejects: a reload that throws is counted, logged and resolves false. */
  reload(reason: string): Promise<boolean>;
  shutdown(signal: string): Promise<void>;
  /** Never rejects: a handover that throws is counted and logged, and serving goes on. */
  handOver(): Promise<void>;
}

/** Starts serving; resolves once listeners are bound. Exits the process on fatal start errors. */
export async function runDaemon(flags: CliFlags, env: NodeJS.ProcessEnv = process.env): Promise<RunHandle> {
  const bootLogger = createLogger(flags.logLevel ?? 'info');
  // -quiet (CoreDNS: no initialization output): the start banner only at debug level.
  bootLogger[flags.quiet ? 'debug' : 'info']({ version: VERSION, node: process.version }, `Starting node-local-dns ${VERSION}`);
  for (const w of flags.warnings) bootLogger.warn(w);
  const setupErrors = new SetupErrors();
  const first = resolveConfig(flags, env);
  setupErrors.counts.configmap += first.configmapErrors;
  if (!first.ok) {
    for (const issue of first.issues) bootLogger.fatal(formatIssue(issue));
    bootLogger.flush();
    process.exit(1);
  }
  const logger = flags.logLevel ? bootLogger : createLogger(first.config.log.level);
  logResolved(logger, first);

  const workers = first.config.workers;
  // The metrics registry is built before the pool and reads the pool's aggregate counters.
  const aggregate = workers > 1 ? new StatsAggregate() : null;
  let pool: WorkerPool | null = null;
  const dnsStats = aggregate ? aggregate.dns : new DnsStats();
  let invalidConfigs = 0;
  // Reloads from the watcher, the timer and SIGUSR1, the loop probe and the handover run unawaited:
  // a bug in one is counted in coredns_panics_total and logged, and serving goes on.
  const background = new BackgroundFailures(() => dnsStats.panics++, logger.child({ component: 'background' }));
  let ignored = first.config.ignored;
  const services: DaemonService[] = [];
  // The engine is created below; the registry reads it lazily at scrape time.
  let daemon: Engine;
  const metrics = createMetricsRegistry({
    dns: dnsStats,
    caches: () => daemon.caches(),
    forwarders: () => daemon.forwarders(),
    setupErrors,
    reloadFailed: () => daemon.reloadFailures + invalidConfigs,
    pluginsEnabled: () => daemon.pluginsEnabled(),
    ignoredDirectives: () => ignored,
    pluginSamples: () => daemon.pluginSamples(),
    version: VERSION,
  });
  const health = new HealthState({ stats: metrics.health, log: logger.child({ component: 'health' }) });
  const nodeSetup = first.config.node ? new NodeSetup(first.config.node, { logger: logger.child({ component: 'node' }), setupErrors }) : null;
  if (nodeSetup) services.push(shutdownAwareNodeService(nodeSetup, logger.child({ component: 'node' })));
  const http = new HttpService(metrics.registry, health, logger.child({ component: 'http' }), first.setupMetricsListen, aggregate ? () => pool?.refreshStats() ?? Promise.resolve() : undefined);
  services.push(http);
  services.push(new PprofService(logger.child({ component: 'pprof' })));
  if (flags.pidFile) services.push(pidFileService(flags.pidFile));

  const successor = isSuccessor();
  const inherited = successor ? await receiveListeners() : undefined;
  if (successor) logger.info({ listeners: [...(inherited?.keys() ?? [])] }, 'taking over listening sockets from the previous process');
  if (aggregate) daemon = pool = new WorkerPool({ logger, services, stats: aggregate, inherited });
  // Warm start (single process): the predecessor's cache from the handover, else the snapshot file
  // NLD_CACHE_SNAPSHOT (written when a daemon shuts down; see deploy/README.md).
  else daemon = new Daemon({ logger, dnsStats, services, inherited, reusePort: REUSE_PORT_SUPPORTED, alwaysCountQueries: false, warmCache: successor ? takeInheritedCacheSnapshot() : null, ...(env.NLD_CACHE_SNAPSHOT ? { cacheSnapshotFile: env.NLD_CACHE_SNAPSHOT } : {}) });
  try {
    await daemon.start(first.config);
    if (successor) announceReady();
  } catch (err) {
    if (successor) announceFailure((err as Error).message);
    logger.fatal({ err: (err as Error).message }, 'cannot start');
    nodeSetup?.close();
    await http.close().catch(() => {});
    logger.flush();
    process.exit(1);
  }

  let reloading: Promise<boolean> = Promise.resolve(true);
  const reload = (reason: string): Promise<boolean> => {
    // A reload that throws is reported and fails; `reloading` must never stay rejected, or every
    // later reload would fail with it.
    reloading = reloading
      .then(() => reloadOnce(reason))
      .catch((err: unknown) => {
        background.report('reload', err);
        return false;
      });
    return reloading;
  };
  const reloadOnce = async (reason: string): Promise<boolean> => {
    const next = resolveConfig(flags, env);
    setupErrors.counts.configmap += next.configmapErrors;
    if (!next.ok) {
      invalidConfigs++;
      for (const issue of next.issues) logger.error({ reason }, `invalid config, keeping the last good one: ${formatIssue(issue)}`);
      return false;
    }
    if (next.config.node && !first.config.node) logger.warn('node setup cannot be turned on by a reload; restart to enable it');
    const result = await daemon.reload(next.config);
    if (!result.ok) {
      logger.error({ reason, err: result.error.message, code: result.error.code }, 'reload failed, keeping the last good config');
      return false;
    }
    if (result.changed) {
      ignored = next.config.ignored;
      logger.level = next.config.log.level;
      logResolved(logger, next, `reloaded (${reason})`);
    }
    watcher?.close();
    watcher = watch(next.sources);
    scheduleReloads(next.config.reload.intervalMs);
    return true;
  };

  const watch = (paths: string[]): PathWatcher | null =>
    paths.length === 0 ? null : watchPaths(paths, () => void reload('config changed'), { pollMs: CONFIG_POLL_MS, onError: (err) => logger.error({ err }, 'config watch failed') });
  let watcher = watch(first.sources);
  // `reload.interval` (Corefile `reload INTERVAL`): also re-resolve the config on a timer; a
  // reload that finds nothing changed is a no-op. Files are watched anyway.
  let reloadTimer: NodeJS.Timeout | null = null;
  let reloadTimerMs = 0;
  const scheduleReloads = (ms: number) => {
    if (ms === reloadTimerMs) return;
    if (reloadTimer) clearInterval(reloadTimer);
    reloadTimerMs = ms;
    reloadTimer = ms > 0 ? setInterval(() => void reload('interval'), ms) : null;
    reloadTimer?.unref();
  };
  scheduleReloads(first.config.reload.intervalMs);

  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string, lameduckMs = signal === 'SIGQUIT' ? 0 : undefined): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ signal }, 'shutting down');
      watcher?.close();
      scheduleReloads(0);
      await daemon.stop(lameduckMs);
      logger.info('stopped');
      logger.flush();
    })();
    return stopping;
  };
  // Unhandled rejections: counted and logged, still serving; uncaught exceptions: teardown, exit 1
  // (crash-policy.ts says why).
  installCrashPolicy({ logger, countPanic: () => dnsStats.panics++, fatal: (reason) => shutdown(reason, 0) });
  // CoreDNS `loop`: a forwarding loop is fatal, but unlike CoreDNS we tear down first, so the node
  // is not left with rules pointing at a dead listener.
  const detectLoops = daemon.detectLoops().then(async (loop) => {
    if (!loop) return;
    logger.fatal({ zone: loop.zone, upstreams: loop.upstreams }, loop.message);
    await shutdown('loop detected');
    process.exit(1);
  });
  inBackground('loop detection', detectLoops, background.report);
  const handOver = async (): Promise<void> => {
    if (stopping) return;
    logger.info('SIGUSR2: starting a successor on our sockets');
    const result = await daemon.handOver();
    if (!result.ok) {
      logger.error({ err: result.error.message, code: result.error.code }, 'handover failed, still serving');
      return;
    }
    watcher?.close();
    scheduleReloads(0);
    logger.info({ successor: result.pid }, 'handed over; exiting without teardown');
    logger.flush();
    process.exit(0);
  };
  const handOverReported = (): Promise<void> => handOver().catch((err: unknown) => background.report('handover', err));
  return { daemon, http, reload, shutdown, handOver: handOverReported };
}



/** Installs signal handlers as CoreDNS/node-cache do: TERM/INT/QUIT stop, USR1 reloads, HUP is ignored. */
export function installSignalHandlers(handle: RunHandle, logger: Logger = createLogger()): void {
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1 && signal === 'SIGINT') process.exit(2); // second Ctrl-C: give up waiting
    handle.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.fatal({ err: describeThrown(err) }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGQUIT', () => stop('SIGQUIT'));
  process.on('SIGUSR1', () => void handle.reload('SIGUSR1'));
  process.on('SIGUSR2', () => void handle.handOver());
  process.on('SIGHUP', () => logger.info('SIGHUP ignored (use SIGUSR1 to reload)'));
}

function logResolved(logger: Logger, resolved: ResolvedConfig & { ok: true }, message = 'config loaded'): void {
  for (const w of resolved.warnings) logger.warn(w);
  const ignored = resolved.config.ignored;
  if (ignored.length > 0) {
    // One line per start or reload; counted in nodelocaldns_config_ignored_directives{plugin}.
    const list = ignored.map((d) => `${d.plugin} (${d.at}): ${d.reason}`);
    logger.warn({ ignored: list }, `Corefile directives accepted but not applied: ${list.join('; ')}`);
  }
  logger.info({ source: resolved.description, mode: resolved.mode }, message);
  if (resolved.corefile) logger.info({ corefile: resolved.corefile }, 'generated Corefile');
}

/** Writes the pidfile once serving (CoreDNS writes it after all servers started); removes it on stop. */
function pidFileService(path: string): DaemonService {
  return {
    name: 'pidfile',
    async afterListen(_config: Config) {
      writeFileWithMode(path, `${process.pid}\n`);
    },
    async close() {
      rmSync(path, { force: true });
    },
    async detach() {
      // the successor wrote its own pid there
    },
  };
}
