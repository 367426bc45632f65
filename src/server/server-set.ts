// Owns every DNS listener (UDP + TCP per bind address and port) and their zone routers. apply()
// moves to a new set of blocks: listeners that stay keep their sockets and only swap routers, new
// ones are bound, removed ones are closed. A failed bind undoes the new listeners and reports it.
import { isIP } from 'node:net';
import type { Config } from '../config/types.js';
import type { DnsStats } from '../metrics/dns-stats.js';
import type { BlockRuntime } from './block.js';
import type { QueryPipeline } from './pipeline.js';
import { UdpListener } from './udp-listener.js';
import { TcpListener } from './tcp-listener.js';
import { ZoneRouter } from './zone-router.js';
import type { InheritedListener } from './handover.js';
import { nldError, type Failure } from '../errors.js';

export interface ListenerPair {
  readonly host: string;
  readonly configuredPort: number;
  readonly server: string; // dns://IP:port label (configured port)
  readonly udp: UdpListener;
  readonly tcp: TcpListener;
}

export function serverLabel(host: string, port: number): string {
  return isIP(host) === 6 ? `dns://[${host}]:${port}` : `dns://${host}:${port}`;
}

const listenerKey = (host: string, port: number) => `${host}|${port}`;

export type ApplyResult = { ok: true } | Failure;

export class ServerSet {
  private readonly pairs = new Map<string, ListenerPair>();

  constructor(
    private readonly pipeline: QueryPipeline,
    private readonly dnsStats: DnsStats,
    private readonly reusePort: boolean,
    private readonly inherited?: Map<string, InheritedListener>,
  ) {}

  /** The listener addresses a config asks for, with the blocks bound to each. */
  static plan(blocks: readonly BlockRuntime[]): Map<string, { host: string; port: number; blocks: BlockRuntime[] }> {
    const plan = new Map<string, { host: string; port: number; blocks: BlockRuntime[] }>();
    for (const block of blocks) {
      for (const host of block.config.bind) {
        const key = listenerKey(host, block.config.port);
        const entry = plan.get(key) ?? { host, port: block.config.port, blocks: [] };
        entry.blocks.push(block);
        plan.set(key, entry);
      }
    }
    return plan;
  }

  async apply(blocks: readonly BlockRuntime[], config: Config): Promise<ApplyResult> {
    const plan = ServerSet.plan(blocks);
    const added: ListenerPair[] = [];
    for (const [key, want] of plan) {
      if (this.pairs.has(key)) continue;
      const server = serverLabel(want.host, want.port);
      const router = new ZoneRouter(server, want.blocks, this.dnsStats);
      const bound = await this.bind(want.host, want.port, server, router, config);
      if (!bound.ok) {
        await Promise.all(added.map((p) => closePair(p, 0)));
        return { ok: false, error: bound.error };
      }
      added.push(bound.pair);
    }
    // Everything bound: switch routers of listeners that stay, then close the ones that go.
    for (const [key, pair] of this.pairs) {
      const want = plan.get(key);
      if (want) {
        const router = new ZoneRouter(pair.server, want.blocks, this.dnsStats);
        pair.udp.router = router;
        pair.tcp.router = router;
      }
    }
    const removed = [...this.pairs.entries()].filter(([key]) => !plan.has(key));
    for (const [key] of removed) this.pairs.delete(key);
    for (const pair of added) this.pairs.set(listenerKey(pair.host, pair.configuredPort), pair);
    await Promise.all(removed.map(([, pair]) => closePair(pair, 1000)));
    return { ok: true };
  }

  private async bind(host: string, port: number, server: string, router: ZoneRouter, config: Config): Promise<{ ok: true; pair: ListenerPair } | Failure> {
    const inherited = this.inherited?.get(listenerKey(host, port));
    if (inherited?.udp && inherited.tcp) {
      this.inherited!.delete(listenerKey(host, port));
      const udp = new UdpListener({ host, port, receiveBufferBytes: config.udp.receiveBufferBytes, sendBufferBytes: config.udp.sendBufferBytes }, router, this.pipeline, this.dnsStats);
      const tcp = new TcpListener(
        { host, port, ...tcpLimits(config) },
        router,
        this.pipeline,
        this.dnsStats,
      );
      await udp.start(inherited.udp, inherited);
      await tcp.start(inherited.tcp, inherited);
      return { ok: true, pair: { host, configuredPort: port, server, udp, tcp } };
    }
    // With port 0 (tests), TCP takes the port the kernel gave UDP; retry if that one is taken for
    // TCP. On a busy machine (thousands of client connections in the ephemeral range) a handful of
    // tries is not enough, and each try is cheap.
    for (let attempt = 0; attempt < 50; attempt++) {
      const udp = new UdpListener({ host, port, receiveBufferBytes: config.udp.receiveBufferBytes, sendBufferBytes: config.udp.sendBufferBytes, reusePort: this.reusePort }, router, this.pipeline, this.dnsStats);
      try {
        const udpPort = await udp.start();
        const tcp = new TcpListener(
          { host, port: udpPort, ...tcpLimits(config), reusePort: this.reusePort },
          router,
          this.pipeline,
          this.dnsStats,
        );
        try {
          await tcp.start();
        } catch (err) {
          await udp.close();
          if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
          return { ok: false, error: nldError('NLD_ERR_LISTEN', ['tcp', host, udpPort, (err as Error).message], { host, port: udpPort }) };
        }
        return { ok: true, pair: { host, configuredPort: port, server, udp, tcp } };
      } catch (err) {
        return { ok: false, error: nldError('NLD_ERR_LISTEN', ['udp', host, port, (err as Error).message], { host, port }) };
      }
    }
    return { ok: false, error: nldError('NLD_ERR_LISTEN_NO_FREE_PORT', [host], { host }) };
  }

  /**
   * Stop reading new queries (UDP) and accepting connections (TCP); keep sockets for replies.
   * `leaveReusePortGroup` (stop, never a handover): UDP sockets bound with SO_REUSEPORT leave the
   * group instead, so queries go to the instances that stay (see UdpListener.leaveReusePortGroup).
   */
  async stopReceiving(leaveReusePortGroup = false): Promise<void> {
    for (const p of this.pairs.values()) {
      if (!(leaveReusePortGroup && (await p.udp.leaveReusePortGroup()))) p.udp.stopReceiving();
      await p.tcp.stopAccepting();
    }
  }

  listeners(): ListenerPair[] {
    return [...this.pairs.values()];
  }

  async close(graceMs: number): Promise<void> {
    const pairs = [...this.pairs.values()];
    this.pairs.clear();
    await Promise.all(pairs.map((p) => closePair(p, graceMs)));
  }
}

function tcpLimits(config: Config) {
  const t = config.tcp;
  return {
    readTimeoutMs: t.readTimeoutMs,
    idleTimeoutMs: t.idleTimeoutMs,
    writeTimeoutMs: t.writeTimeoutMs,
    maxConnections: t.maxConnections,
    maxInFlightPerConnection: t.maxQueriesInFlightPerConnection,
    maxQueuedBytesPerConnection: t.maxQueuedBytesPerConnection,
  };
}

async function closePair(pair: ListenerPair, graceMs: number): Promise<void> {
  await Promise.all([pair.udp.close(), pair.tcp.close(graceMs)]);
}
