// The guard's standby relay: bound only while the guard owns the node's DNS path, on the relayed
// local IPs at the relay port (the guard's DNAT rules send port 53 there). It is the daemon's own
// engine (server/, forward/) with a forward-only config: every zone to the upstream Service over
// TCP, a small short-lived cache so a long outage does not double kube-dns's load, and the same
// drain-before-close stop. SO_REUSEPORT where Node has it: during a surge rollout two guards may
// relay at once.
import { Daemon } from '../daemon.js';
import { loadConfigText, formatIssue } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { DnsStats } from '../metrics/dns-stats.js';
import { REUSE_PORT_SUPPORTED } from '../util/features.js';
import { isIPv6 } from 'node:net';

export interface RelayOptions {
  readonly bind: readonly string[];
  readonly port: number;
  /** Upstream addresses (IP, port 53 implied), e.g. the kube-dns-upstream ClusterIP. */
  readonly upstreams: readonly string[];
}

const hostPort = (ip: string) => (isIPv6(ip) ? `[${ip}]:53` : `${ip}:53`);

/** The relay's config, through the same schema as users' YAML (so it is validated the same way). */
export function relayConfig(options: RelayOptions): Config {
  const yaml = `servers:
  - zones: ["."]
    bind: ${JSON.stringify(options.bind)}
    port: ${options.port}
    cache: { success: { capacity: 2000, maxTTL: 30 }, denial: { capacity: 2000, maxTTL: 5 } }
    forward: { to: ${JSON.stringify(options.upstreams.map(hostPort))}, forceTCP: true, timeout: 4s }
`;
  const result = loadConfigText(yaml, 'guard relay');
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('; '));
  return result.config;
}

export class StandbyRelay {
  private daemon: Daemon | null = null;
  /** Kept across the relay's periods of service, so its request count only grows. */
  private readonly stats = new DnsStats();

  constructor(
    private readonly options: RelayOptions,
    private readonly logger: Logger,
  ) {}

  get listening(): boolean {
    return this.daemon !== null;
  }

  /** Binds the relay; rejects with the reason (e.g. the address is missing). Idempotent. */
  async start(): Promise<void> {
    if (this.daemon) return;
    const daemon = new Daemon({ logger: this.logger, dnsStats: this.stats, reusePort: REUSE_PORT_SUPPORTED });
    await daemon.start(relayConfig(this.options));
    this.daemon = daemon;
  }

  /** Stops receiving, answers what is in flight, closes. Idempotent. */
  async stop(): Promise<void> {
    const daemon = this.daemon;
    this.daemon = null;
    await daemon?.stop(0);
  }

  /** Queries the relay received since the guard started (for the guard's metrics). */
  requests(): number {
    let total = 0;
    for (const zone of this.stats.all()) for (const n of zone.requests) total += n;
    return total;
  }
}
