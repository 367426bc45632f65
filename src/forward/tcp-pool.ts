// The pooled, pipelined TCP connections to one upstream. Queries go to the open connection with
// the fewest in flight; a new connection is opened only when all are busy and the pool has room.
// Connections idle longer than `expire` are closed by a sweep.
import type { UpstreamAddress } from '../config/types.js';
import { systemTimers, type Clock, type Timer, type Timers } from '../util/clock.js';
import { TcpConnection, type PooledConnection } from './tcp-connection.js';
import type { UpstreamStats } from './stats.js';

/** Above this many queries in flight on every connection, open another (if the pool allows). */
export const BUSY_CONNECTION_INFLIGHT = 32;

/** Opens a connection; it calls `onClose` once when it closes for any reason. */
export type ConnectionFactory = (addr: UpstreamAddress, connectTimeoutMs: number, nowMs: number, onClose: (conn: PooledConnection) => void, timers: Timers) => PooledConnection;

const openTcpConnection: ConnectionFactory = (addr, connectTimeoutMs, nowMs, onClose, timers) => new TcpConnection(addr, connectTimeoutMs, nowMs, onClose, timers);

export interface TcpPoolOptions {
  readonly maxConnections: number;
  readonly expireMs: number;
  readonly clock: Clock;
  readonly stats: UpstreamStats;
  readonly timers?: Timers;
  readonly connect?: ConnectionFactory; // default: a real TcpConnection
}

export class TcpPool {
  private readonly connections: PooledConnection[] = [];
  private sweeper: Timer | null = null;
  private readonly timers: Timers;
  private readonly connect: ConnectionFactory;
  private readonly sweepEveryMs: number;

  constructor(
    private readonly addr: UpstreamAddress,
    private readonly options: TcpPoolOptions,
  ) {
    this.timers = options.timers ?? systemTimers;
    this.connect = options.connect ?? openTcpConnection;
    this.sweepEveryMs = Math.max(1000, Math.min(options.expireMs, 10_000));
    this.scheduleSweep();
  }

  exchange(query: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer> {
    const conn = this.pick(timeoutMs);
    return conn.exchange(query, questionEnd, timeoutMs, this.options.clock.nowMs());
  }

  private pick(connectTimeoutMs: number): PooledConnection {
    let best: PooledConnection | undefined;
    for (const c of this.connections) {
      if (!c.closed && (!best || c.inflight < best.inflight)) best = c;
    }
    if (best && (best.inflight < BUSY_CONNECTION_INFLIGHT || this.connections.length >= this.options.maxConnections)) {
      this.options.stats.connCacheHits++;
      return best;
    }
    this.options.stats.connCacheMisses++;
    const conn = this.connect(this.addr, connectTimeoutMs, this.options.clock.nowMs(), (closed) => this.remove(closed), this.timers);
    this.connections.push(conn);
    return conn;
  }

  private remove(conn: PooledConnection): void {
    const i = this.connections.indexOf(conn);
    if (i >= 0) this.connections.splice(i, 1);
  }

  private scheduleSweep(): void {
    this.sweeper = this.timers.schedule(
      () => {
        this.sweep();
        this.scheduleSweep();
      },
      this.sweepEveryMs,
      { unref: true },
    );
  }

  private sweep(): void {
    const now = this.options.clock.nowMs();
    for (const c of [...this.connections]) {
      if (c.inflight === 0 && now - c.lastUsedMs > this.options.expireMs) c.destroy();
    }
  }

  get size(): number {
    return this.connections.length;
  }

  close(): void {
    this.sweeper?.cancel();
    this.sweeper = null;
    for (const c of [...this.connections]) c.destroy();
  }
}
