// Owns the lifecycle of everything that serves: blocks (cache + forwarder), DNS listeners, and the
// optional services around them (HTTP health/metrics, node interface and iptables). start() brings
// them up in dependency order; reload() swaps in a new config keeping sockets, caches and pools
// that did not change; stop() closes in reverse order after the lameduck period.
import type { Config, ServerBlockConfig } from './config/types.js';
import { ServiceGroup, type DaemonService } from './service-group.js';

export type { DaemonService };
import type { Logger } from './log/logger.js';
import { systemClock, type Clock } from './util/clock.js';
import { DnsStats } from './metrics/dns-stats.js';
import { BlockRuntime } from './server/block.js';
import { QueryPipeline } from './server/pipeline.js';
import { ServerSet, serverLabel } from './server/server-set.js';
import type { CacheStats } from './cache/stats.js';
import type { ForwardStats } from './forward/stats.js';
import { probeForLoop, type LoopFinding } from './server/loop-detect.js';
import { handOverTo, type InheritedListener } from './server/handover.js';
import { blockCacheId, decodeSnapshot, encodeSnapshot, restoreSnapshot, type SnapshotSource } from './cache/snapshot.js';
import { readFileSync, renameSync, statSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { Tracer } from './plugins/trace.js';
import { BackgroundFailures, inBackground } from './util/background.js';
import { nldError, type Failure } from './errors.js';
import { pluginSamples } from './plugins/metrics.js';
import type { PluginSample } from './metrics/plugin-families.js';

/**
 * Receive buffer of the sockets to UDP upstreams: their replies are bounded by maxConcurrent and
 * each one is awaited, so a large buffer cannot make anyone wait; a small one would lose answers
 * in a burst. (The listeners' buffer is kept small on purpose: see `udp.receiveBuffer`.)
 */
const UPSTREAM_UDP_BUFFER_BYTES = 8 << 20;

export type ReloadResult = { ok: true; changed: boolean } | Failure;
export type HandOverResult = { ok: true; pid: number | undefined } | Failure;

export interface DaemonOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly dnsStats?: DnsStats;
  readonly reusePort?: boolean;
  readonly services?: DaemonService[];
  /** Listening sockets inherited from a predecessor (restart without a gap). */
  readonly inherited?: Map<string, InheritedListener>;
  /** A predecessor's cache snapshot (cache/snapshot.ts), restored before the listeners serve. */
  readonly warmCache?: Buffer | null;
  /**
   * Warm start across restarts: read at start (if present) and written when shutdown begins, so
   * the next daemon on this node (a restart, a rollout's new pod) starts with this cache.
   */
  readonly cacheSnapshotFile?: string;
  /** Count per-query metrics even without a metrics listener (tests, embedding). Default true. */
  readonly alwaysCountQueries?: boolean;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export class Daemon {
  readonly dnsStats: DnsStats;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly pipeline: QueryPipeline;
  private readonly servers: ServerSet;
  private readonly services: ServiceGroup;
  private readonly background: BackgroundFailures;
  private blocks: BlockRuntime[] = [];
  private current: Config | null = null;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  reloadFailures = 0;
  private ownSnapshotMtimeMs = 0;
  private readonly alwaysCount: boolean;

  constructor(private readonly options: DaemonOptions) {
    this.alwaysCount = options.alwaysCountQueries ?? true;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.dnsStats = options.dnsStats ?? new DnsStats();
    this.pipeline = new QueryPipeline(this.dnsStats, this.logger);
    this.servers = new ServerSet(this.pipeline, this.dnsStats, options.reusePort ?? false, options.inherited);
    this.services = new ServiceGroup(options.services ?? [], this.logger);
    this.background = new BackgroundFailures(() => this.dnsStats.panics++, this.logger);
  }

  get config(): Config | null {
    return this.current;
  }

  /** Brings everything up. Rejects with a clear message if a listener cannot bind. */
  async start(config: Config): Promise<void> {
    if (this.state !== 'new') throw new Error(`daemon already ${this.state}`);
    this.pipeline.countQueries = this.countsQueries(config);
    await this.services.beforeListen(config);
    const blocks = this.buildBlocks(config, []);
    this.warmUp(blocks);
    const applied = await this.servers.apply(blocks, config);
    if (!applied.ok) {
      for (const b of blocks) b.close();
      throw Object.assign(new Error(applied.error.message), { code: applied.error.code }); // `code` as on Node's own errors
    }
    this.blocks = blocks;
    this.current = config;
    this.applyTrace(config);
    this.state = 'running';
    this.watchCacheSnapshot();
    await this.services.afterListen(config);
    this.logger.info(
      {
        listeners: this.servers.listeners().map((l) => `${l.host}:${l.udp.port} (udp+tcp)`),
        zones: config.servers.map((s) => s.zones.join(' ')),
        upstreams: config.servers.map((s) => s.forward?.to.map((u) => u.label).join(' ') ?? '-'),
      },
      'node-local-dns serving',
    );
  }

  /** Moves to a new config without closing sockets that stay. On failure the old config keeps serving. */
  async reload(config: Config): Promise<ReloadResult> {
    if (this.state !== 'running' || !this.current) return { ok: false, error: nldError('NLD_ERR_NOT_RUNNING', ['reload', this.state]) };
    if (sameJson(config, this.current)) return { ok: true, changed: false };
    await this.services.beforeListen(config);
    const old = this.blocks;
    const blocks = this.buildBlocks(config, old);
    const applied = await this.servers.apply(blocks, config);
    if (!applied.ok) {
      // Close only what the new blocks created; reused caches and forwarders stay with the old ones.
      for (const b of blocks) b.close({ cache: old.some((o) => o.cache === b.cache), forwarder: old.some((o) => o.forwarder === b.forwarder) });
      this.reloadFailures++;
      return { ok: false, error: applied.error };
    }
    for (const b of old) b.close({ cache: blocks.some((n) => n.cache === b.cache), forwarder: blocks.some((n) => n.forwarder === b.forwarder) });
    this.blocks = blocks;
    this.current = config;
    this.pipeline.countQueries = this.countsQueries(config);
    this.applyTrace(config);
    await this.services.reload(config);
    return { ok: true, changed: true };
  }

  /** CoreDNS `trace`: a tracer while configured, replaced when its settings change. */
  private applyTrace(config: Config): void {
    const current = this.pipeline.tracer;
    if (current && sameJson(current.config, config.trace)) return;
    if (current) inBackground('trace flush', current.close(), this.background.report);
    this.pipeline.tracer = config.trace ? new Tracer(config.trace) : null;
  }

  /** Query counting is on when /metrics is served (with workers > 1, by the main thread for all of them). */
  private countsQueries(config: Config): boolean {
    return this.alwaysCount || config.metrics.listen !== null;
  }

  /** Blocks for a config; caches and forwarders whose settings did not change are carried over. */
  private buildBlocks(config: Config, previous: readonly BlockRuntime[]): BlockRuntime[] {
    const claimed = new Set<BlockRuntime>();
    const claimedForwarders = new Set<BlockRuntime>();
    return config.servers.map((block) => {
      const servers = block.bind.map((host) => serverLabel(host, block.port));
      // Keep a cache across reloads (CoreDNS empties it) when its settings and listeners are the
      // same and it still serves one of the same zones; entries are keyed by name, so they stay valid.
      const cacheDonor = previous.find(
        (p) =>
          p.cache &&
          sameJson(p.config.cache, block.cache) &&
          sameJson(p.config.plugins, block.plugins) && // cached template/hosts/rewrite answers depend on them
          sameJson(p.servers, servers) &&
          p.config.zones.some((z) => block.zones.includes(z)) &&
          !claimed.has(p),
      );
      if (cacheDonor) {
        claimed.add(cacheDonor);
        cacheDonor.cache!.stats.zones = block.zones.join(',');
      }
      // Each block keeps its own forwarder (its own max_concurrent budget and pool), as at start:
      // two blocks with the same forward settings must not end up sharing one after a reload.
      const forwardDonor = previous.find((p) => p.forwarder && sameJson(p.config.forward, block.forward) && !claimedForwarders.has(p));
      if (forwardDonor) claimedForwarders.add(forwardDonor);
      const reuse = { ...(cacheDonor ? { cache: cacheDonor.cache } : {}), ...(forwardDonor ? { forwarder: forwardDonor.forwarder } : {}) };
      return BlockRuntime.create(block, servers, this.clock, Math.max(config.udp.receiveBufferBytes, UPSTREAM_UDP_BUFFER_BYTES), reuse, this.background.report);
    });
  }

  /**
   * CoreDNS `loop`: probes every block that has loop detection on through its own listener.
   * Returns the first loop found, or null.
   */
  async detectLoops(): Promise<LoopFinding | null> {
    const probes = this.blocks
      .filter((b) => b.config.loopDetect && b.forwarder)
      .map((b) => {
        const listener = this.servers.listeners().find((l) => b.config.bind.includes(l.host) && l.configuredPort === b.config.port);
        if (!listener) return null;
        const host = listener.host === '0.0.0.0' ? '127.0.0.1' : listener.host === '::' ? '::1' : listener.host;
        const waitMs = Math.min(b.forwarder!.config.timeoutMs, 2000);
        return probeForLoop({ zone: b.config.zones[0], host, port: listener.udp.port, upstreams: b.forwarder!.config.to.map((u) => u.label) }, this.pipeline.loopProbes, waitMs);
      });
    for (const finding of await Promise.all(probes)) if (finding) return finding;
    return null;
  }

  /**
   * One shutdown order for every path (fastify's close path as the model):
   *   1. lameduck: /ready 503, /health 200, still serving for `lameduckMs`
   *   2. node setup removes rules and addresses while the listeners still answer (node-cache's
   *      order: the ClusterIP falls back to kube-dns through kube-proxy's DNAT at once)
   *   3. stop receiving (UDP recvStop, or leaving the SO_REUSEPORT group; TCP stops accepting),
   *      sockets stay open for replies
   *   4. drain: every query in flight is answered, bounded by the forward deadline
   *   5. close listeners, then the blocks (caches, upstream pools)
   *   6. close the services in reverse order (pidfile, HTTP, node setup's timer and teardown)
   */
  async stop(lameduckMs = this.current?.health.lameduckMs ?? 0): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.services.lameduck();
    this.unwatchCacheSnapshot();
    this.writeCacheSnapshot(); // first: a successor already serving (surge rollout) merges it now
    if (lameduckMs > 0) {
      this.logger.info({ lameduckMs }, 'lameduck: still serving before shutdown');
      await new Promise((r) => setTimeout(r, lameduckMs));
    }
    await this.services.beforeClose();
    await this.servers.stopReceiving(true);
    await this.drainAndClose();
    await this.services.close();
    this.state = 'stopped';
  }

  /**
   * Restart without a gap: starts a successor process on our sockets; once it serves, we stop
   * reading, answer what is in flight, and release everything without teardown. On failure we
   * keep serving and return the error.
   */
  async handOver(): Promise<HandOverResult> {
    if (this.state !== 'running') return { ok: false, error: nldError('NLD_ERR_NOT_RUNNING', ['hand over', this.state]) };
    const listeners = this.servers.listeners().map((l) => ({ key: `${l.host}|${l.configuredPort}`, udp: l.udp.rawSocket()!, tcp: l.tcp.rawServer()! }));
    let child;
    try {
      child = await handOverTo(listeners, this.cacheSnapshot().data);
    } catch (err) {
      return { ok: false, error: nldError('NLD_ERR_HANDOVER_FAILED', [(err as Error).message]) };
    }
    this.state = 'stopping';
    this.unwatchCacheSnapshot();
    await this.servers.stopReceiving();
    await this.services.detach(); // frees the health and metrics ports for the successor at once
    await this.drainAndClose();
    this.state = 'stopped';
    return { ok: true, pid: child.pid };
  }

  /** Steps 4-5 of the shutdown order: answer what is in flight, then close sockets and pools. */
  private async drainAndClose(): Promise<void> {
    await this.drain(this.forwardDeadlineMs() + 500);
    if (this.pipeline.inFlight > 0) this.logger.warn({ inFlight: this.pipeline.inFlight }, 'queries still in flight after the forward deadline; closing');
    await new Promise((r) => setTimeout(r, 50)); // let the last replies leave before the sockets close
    await this.servers.close(0);
    for (const b of this.blocks) b.close();
  }

  /** The caches of the current blocks, each under the id its successor's block will look for. */
  private cacheSources(blocks: readonly BlockRuntime[] = this.blocks): SnapshotSource[] {
    return blocks.flatMap((b) => (b.cache ? [{ id: blockCacheId(b.config.zones), cache: b.cache }] : []));
  }

  /** Every usable cache entry, encoded (cache/snapshot.ts). */
  cacheSnapshot(): { data: Buffer; entries: number } {
    return encodeSnapshot(this.cacheSources(), this.clock);
  }

  /** Start: the predecessor's cache (handover) or the snapshot file, into the new blocks' caches. */
  private warmUp(blocks: readonly BlockRuntime[]): void {
    const sources: [string, Buffer | null][] = [['the previous process', this.options.warmCache ?? null]];
    const file = this.options.cacheSnapshotFile;
    if (file && !this.options.warmCache) sources.push([file, readSnapshotFile(file, this.logger)]);
    for (const [from, data] of sources) {
      if (!data) continue;
      const decoded = decodeSnapshot(data);
      if (!decoded.ok) {
        this.logger.warn({ from, err: decoded.error.message }, 'cache snapshot ignored');
        continue;
      }
      const { restored, skipped } = restoreSnapshot(decoded.blocks, this.cacheSources(blocks), this.clock);
      this.logger.info({ from, restored, skipped }, `warm start: ${restored} cache entries restored`);
    }
  }

  /**
   * Surge rollout: this daemon started beside its predecessor, which writes its snapshot only when
   * its shutdown begins. Poll the file (a stat per second) and merge what another daemon wrote.
   */
  private watchCacheSnapshot(): void {
    const file = this.options.cacheSnapshotFile;
    if (!file) return;
    watchFile(file, { interval: 1000, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs || cur.mtimeMs === 0 || cur.mtimeMs === this.ownSnapshotMtimeMs || this.state !== 'running') return;
      const data = readSnapshotFile(file, this.logger);
      const decoded = data ? decodeSnapshot(data) : null;
      if (!decoded?.ok) return;
      const { restored, skipped } = restoreSnapshot(decoded.blocks, this.cacheSources(), this.clock);
      this.logger.info({ from: file, restored, skipped }, `merged ${restored} cache entries another daemon wrote`);
    });
  }

  private unwatchCacheSnapshot(): void {
    if (this.options.cacheSnapshotFile) unwatchFile(this.options.cacheSnapshotFile);
  }

  private writeCacheSnapshot(): void {
    const file = this.options.cacheSnapshotFile;
    if (!file) return;
    try {
      const { data, entries } = this.cacheSnapshot();
      // Written whole, then renamed: a reader never sees half a snapshot. Cached answers are the
      // cluster's data: readable by root only.
      writeFileSync(`${file}.tmp`, data, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      this.ownSnapshotMtimeMs = statSync(file).mtimeMs;
      this.logger.info({ file, entries, bytes: data.length }, 'cache snapshot written for the next daemon');
    } catch (err) {
      this.logger.error({ file, err: (err as Error).message }, 'cannot write the cache snapshot');
    }
  }

  /** The longest whole-query forward deadline of the current blocks (a miss answers within it). */
  private forwardDeadlineMs(): number {
    return this.current?.servers.reduce((m, b) => Math.max(m, b.forward?.timeoutMs ?? 0), 0) ?? 0;
  }

  private async drain(maxMs: number): Promise<void> {
    const until = this.clock.nowMs() + maxMs;
    while (this.pipeline.inFlight > 0 && this.clock.nowMs() < until) await new Promise((r) => setTimeout(r, 10));
  }

  // Views for metrics, health and tests.
  listeners() {
    return this.servers.listeners();
  }
  caches(): CacheStats[] {
    return this.blocks.flatMap((b) => (b.cache ? [b.cache.stats] : []));
  }
  forwarders(): ForwardStats[] {
    return [...new Set(this.blocks.flatMap((b) => (b.forwarder ? [b.forwarder] : [])))].map((f) => f.stats);
  }
  blockRuntimes(): readonly BlockRuntime[] {
    return this.blocks;
  }
  pluginSamples(): PluginSample[] {
    return pluginSamples(this.blocks);
  }
  pluginsEnabled(): { server: string; zone: string; name: string }[] {
    return this.current ? pluginsEnabledFor(this.current) : [];
  }
  get running(): boolean {
    return this.state === 'running';
  }
}

/** coredns_plugin_enabled series for a config: one per listener, zone and plugin. */
export function pluginsEnabledFor(config: Config): { server: string; zone: string; name: string }[] {
  const out: { server: string; zone: string; name: string }[] = [];
  for (const block of config.servers) {
    for (const host of block.bind) {
      const server = serverLabel(host, block.port);
      for (const zone of block.zones) {
        for (const name of pluginNames(block)) out.push({ server, zone, name });
      }
    }
  }
  return out;
}

function pluginNames(block: ServerBlockConfig): string[] {
  const names = ['errors', 'prometheus'];
  if (block.cache) names.push('cache');
  if (block.forward) names.push('forward');
  if (block.log) names.push('log');
  if (block.loopDetect) names.push('loop');
  const p = block.plugins;
  if (p) {
    if (p.template.length > 0) names.push('template');
    if (p.hosts) names.push('hosts');
    if (p.rewrite.length > 0) names.push('rewrite');
    if (p.bufsize !== null) names.push('bufsize');
    if (p.loadbalance) names.push('loadbalance');
    if (p.whoami) names.push('whoami');
    if (p.dns64) names.push('dns64');
    if (p.dnstap.length > 0) names.push('dnstap');
  }
  return names;
}

/** The snapshot file's bytes, or null when there is none (a first start) or it cannot be read. */
function readSnapshotFile(file: string, logger: Logger): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ file, err: (err as Error).message }, 'cannot read the cache snapshot');
    return null;
  }
}
