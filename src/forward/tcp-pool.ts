// The pooled, pipelined TCP connections to one upstream. Queries go to the open connection with
// the fewest in flight; a new connection is opened only when all are busy and the pool has room.
// Connections idle longer than `expire` are closed by a sweep.
import type { UpstreamAddress } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { TcpConnection } from './tcp-connection.js';
import type { UpstreamStats } from './stats.js';

/** Above this many queries in flight on every connection, open another (if the pool allows). */
const BUSY_CONNECTION_INFLIGHT = 32;

export class TcpPool {
  private readonly connections: TcpConnection[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly addr: UpstreamAddress,
    private readonly maxConnections: number,
    private readonly expireMs: number,
    private readonly clock: Clock,
    private readonly stats: UpstreamStats,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(expireMs, 10_000)));
    this.sweeper.unref();
  }

  exchange(query: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer> {
    const conn = this.pick(timeoutMs);
    return conn.exchange(query, questionEnd, timeoutMs, this.clock.nowMs());
  }

  private pick(connectTimeoutMs: number): TcpConnection {
    let best: TcpConnection | undefined;
    for (const c of this.connections) {
      if (!c.closed && (!best || c.inflight < best.inflight)) best = c;
    }
    if (best && (best.inflight < BUSY_CONNECTION_INFLIGHT || this.connections.length >= this.maxConnections)) {
      this.stats.connCacheHits++;
      return best;
    }
    this.stats.connCacheMisses++;
    const conn = new TcpConnection(this.addr, connectTimeoutMs, this.clock.nowMs(), (closed) => this.remove(closed));
    this.connections.push(conn);
    return conn;
  }

  private remove(conn: TcpConnection): void {
    const i = this.connections.indexOf(conn);
    if (i >= 0) this.connections.splice(i, 1);
  }

  private sweep(): void {
    const now = this.clock.nowMs();
    for (const c of [...this.connections]) {
      if (c.inflight === 0 && now - c.lastUsedMs > this.expireMs) c.destroy();
    }
  }

  get size(): number {
    return this.connections.length;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const c of [...this.connections]) c.destroy();
  }
}
