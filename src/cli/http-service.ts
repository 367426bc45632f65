// The health (/health, /ready) and metrics (/metrics) listeners as a daemon service. When both
// are configured on the same address they share one server. Started after the DNS listeners are
// bound; rebound on reload only if their address changed.
import type { Registry } from 'prom-client';
import type { Config, HostPort } from '../config/types.js';
import type { DaemonService } from '../daemon.js';
import type { Logger } from '../log/logger.js';
import { startHttpServer, type HttpServerHandle } from '../metrics/http.js';
import type { HealthState } from '../health/health.js';

/** How long to keep trying an address in use (a predecessor is releasing it). */
const BIND_RETRY_MS = 10_000;

const same = (a: HostPort | null, b: HostPort | null) => (a === null && b === null) || (a !== null && b !== null && a.host === b.host && a.port === b.port);

export class HttpService implements DaemonService {
  readonly name = 'http';
  private readonly retries = new Set<NodeJS.Timeout>();
  private servers: { listen: HostPort; handle: HttpServerHandle; routes: 'health' | 'metrics' | 'both' }[] = [];
  private health: HostPort | null = null;
  private metrics: HostPort | null = null;
  private readonly extraMetrics: HostPort | null;

  constructor(
    private readonly registry: Registry,
    readonly healthState: HealthState,
    private readonly logger: Logger,
    extraMetricsListen: HostPort | null = null, // node-cache's -metrics-listen-address (9353)
    private readonly beforeScrape?: () => Promise<void>,
  ) {
    this.extraMetrics = extraMetricsListen;
  }

  async afterListen(config: Config): Promise<void> {
    await this.bind(config);
    this.healthState.markReady();
  }

  async reload(config: Config): Promise<void> {
    if (same(config.health.listen, this.health) && same(config.metrics.listen, this.metrics)) return;
    await this.closeServers();
    await this.bind(config);
  }

  lameduck(): void {
    this.healthState.enterLameduck();
  }

  private async bind(config: Config): Promise<void> {
    this.health = config.health.listen;
    this.metrics = config.metrics.listen;
    const wanted: { listen: HostPort; routes: 'health' | 'metrics' | 'both' }[] = [];
    if (this.health && this.metrics && same(this.health, this.metrics)) wanted.push({ listen: this.health, routes: 'both' });
    else {
      if (this.health) wanted.push({ listen: this.health, routes: 'health' });
      if (this.metrics) wanted.push({ listen: this.metrics, routes: 'metrics' });
    }
    if (this.extraMetrics && !wanted.some((w) => same(w.listen, this.extraMetrics))) wanted.push({ listen: this.extraMetrics, routes: 'metrics' });
    await Promise.all(wanted.map((w) => this.bindOne(w)));
  }

  /** One listener; an address still held by a predecessor (handover) is retried for a while. */
  private async bindOne(w: { listen: HostPort; routes: 'health' | 'metrics' | 'both' }, deadline = Date.now() + BIND_RETRY_MS): Promise<void> {
    {
      try {
        const handle = await startHttpServer({
          host: w.listen.host,
          port: w.listen.port,
          routes: {
            ...(w.routes !== 'health' ? { registry: this.registry, beforeScrape: this.beforeScrape } : {}),
            ...(w.routes !== 'metrics' ? { health: this.healthState } : {}),
          },
          log: this.logger,
        });
        this.servers.push({ listen: w.listen, handle, routes: w.routes });
        this.logger.info({ listen: handle.url, routes: w.routes }, 'http listener started');
        if (w.routes !== 'metrics') this.healthState.startSelfCheck(`${handle.url}/health`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && Date.now() < deadline) {
          const retry = setTimeout(() => void this.bindOne(w, deadline), 100);
          retry.unref();
          this.retries.add(retry);
          return;
        }
        // Like node-cache: a side listener that cannot bind is logged, never fatal for DNS.
        this.logger.error({ listen: `${w.listen.host}:${w.listen.port}`, err: (err as Error).message }, 'http listener failed');
      }
    }
  }

  /** Bound addresses (tests use port 0). */
  urls(): { url: string; routes: string }[] {
    return this.servers.map((s) => ({ url: s.handle.url, routes: s.routes }));
  }

  private async closeServers(): Promise<void> {
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    this.healthState.stopSelfCheck();
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map((s) => s.handle.close()));
  }

  async close(): Promise<void> {
    this.healthState.stop();
    await this.closeServers();
  }
}
