// A TCP listener on one address (RFC 7766): many queries per connection, answered as they complete
// (any order). What one client can hold is bounded:
// - per connection, the queries being answered plus the replies written but not yet taken by the
//   kernel (maxQueriesInFlightPerConnection), and the bytes of those replies
//   (maxQueuedBytesPerConnection): over either, reading stops, mid-chunk if need be, until the
//   client reads; a client that takes nothing for writeTimeout is closed;
// - time, with CoreDNS's deadlines (miekg/dns sets one read deadline per message): the first frame
//   must arrive whole within readTimeout of the connect, every later one within idleTimeout of the
//   moment the connection went idle (nothing being answered or waiting to be written). A trickle
//   of bytes does not extend them;
// - connections: at maxConnections the idlest connection is closed to make room (RFC 7766 §6.2.3:
//   under pressure, close idle connections first) instead of refusing the new one.
// Frames too short for a DNS header, zero-length ones included, are counted and skipped; the
// connection stays open, as in miekg/dns.
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { FrameReader, frame } from '../dns/tcp-framing.js';
import { BatchedWriter } from '../util/batched-writer.js';
import type { QueryPipeline, ReplyChannel } from './pipeline.js';
import type { ZoneRouter } from './zone-router.js';
import type { DnsStats } from '../metrics/dns-stats.js';

export interface TcpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly readTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxInFlightPerConnection: number;
  readonly maxQueuedBytesPerConnection: number;
  readonly reusePort?: boolean;
}

/**
 * Asked of listen(2); the kernel caps it at net.core.somaxconn (4096 by default since Linux 5.4),
 * which is what Go, and so CoreDNS, asks for. Node's default is 511.
 */
const LISTEN_BACKLOG = 65_535;

/** When looking for an idle connection to close at the cap, how many of the oldest to look at. */
const EVICTION_SCAN = 64;

/** State of one client connection. */
export class TcpClient {
  /** Queries handed to the pipeline and not answered yet. */
  inFlight = 0;
  /** Replies written to the socket and not yet taken by the kernel. */
  queued = 0;
  /** Reading stopped because the connection is over a limit. */
  paused = false;
  /** A frame loop is running for this connection (resume must not start another). */
  delivering = false;
  /** While idle: the next whole frame must have arrived by then (Date.now() ms). */
  readDeadline: number;
  /** While replies are queued: when the kernel last took one (Date.now() ms). */
  writeProgressAt = 0;
  readonly reader = new FrameReader();
  readonly writer: BatchedWriter;
  /** Per-write callback, created once per connection. */
  readonly onFlushed: () => void;
  /** Per-frame callback, created once per connection. */
  readonly onFrame: (msg: Buffer) => boolean;

  constructor(
    readonly socket: Socket,
    listener: TcpListener,
    readDeadline: number,
  ) {
    this.writer = new BatchedWriter(socket);
    this.readDeadline = readDeadline;
    this.onFlushed = () => listener.flushed(this);
    this.onFrame = (msg) => listener.frame(this, msg);
  }

  get idle(): boolean {
    return this.inFlight + this.queued === 0;
  }
}

export class TcpListener implements ReplyChannel<TcpClient> {
  readonly tcp = true;
  readonly familyIndex: number;
  private server: Server | null = null;
  /** Oldest activity first: a connection moves to the end when a query arrives on it. */
  private readonly clients = new Set<TcpClient>();
  private lastTouched: TcpClient | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly options: TcpListenerOptions,
    public router: ZoneRouter,
    private readonly pipeline: QueryPipeline,
    private readonly dnsStats: DnsStats,
  ) {
    this.familyIndex = isIP(options.host) === 6 ? 1 : 0;
  }

  /** Listens (or adopts a server inherited from a predecessor); resolves with the bound port. */
  start(inherited?: Server, backlog?: { tcpBacklog?: Socket[]; stopBufferingTcp?: () => void }): Promise<number> {
    if (inherited) {
      inherited.on('connection', (socket: Socket) => this.accept(socket));
      inherited.on('error', this.onServerError);
      backlog?.stopBufferingTcp?.();
      for (const socket of backlog?.tcpBacklog?.splice(0) ?? []) this.accept(socket);
      this.server = inherited;
      this.startSweeping();
      return Promise.resolve(this.port);
    }
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(
        {
          host: this.options.host,
          port: this.options.port,
          backlog: LISTEN_BACKLOG,
          exclusive: false,
          ...(this.options.reusePort ? { reusePort: true } : {}),
          ...(this.familyIndex === 1 ? { ipv6Only: true } : {}),
        },
        () => {
          server.off('error', reject);
          server.on('error', this.onServerError);
          this.server = server;
          this.startSweeping();
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : this.options.port);
        },
      );
    });
  }

  /**
   * After listen(), a server only reports accept() failures (EMFILE/ENFILE when the process runs
   * out of descriptors; libuv has already shed the pending connection). Without a listener the
   * 'error' event would throw and end the process.
   */
  private readonly onServerError = (): void => {};

  private accept(socket: Socket): void {
    if (this.clients.size >= this.options.maxConnections) this.evictIdlest();
    const client = new TcpClient(socket, this, Date.now() + this.options.readTimeoutMs);
    this.clients.add(client);
    socket.on('data', (chunk: Buffer) => {
      client.delivering = true;
      client.reader.push(chunk, client.onFrame);
      client.delivering = false;
      if (client.paused) socket.pause();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clients.delete(client);
      if (this.lastTouched === client) this.lastTouched = null;
    });
  }

  /** One complete frame from a client; returns false to stop reading (over a limit, or closed). */
  frame(client: TcpClient, msg: Buffer): boolean {
    if (client.socket.destroyed) return false;
    if (msg.length < 12) {
      // Not even a DNS header (zero-length frames too): nothing to answer. miekg/dns skips it
      // and reads on, with the idle deadline for the next frame.
      this.dnsStats.malformed.tcpFrame++;
      client.readDeadline = Date.now() + this.options.idleTimeoutMs;
      return true;
    }
    if (this.lastTouched !== client) {
      this.clients.delete(client);
      this.clients.add(client);
      this.lastTouched = client;
    }
    client.inFlight++;
    try {
      this.pipeline.handle(msg, this, client);
    } catch (err) {
      // A bug while handling one query: counted; the connection's accounting cannot be
      // trusted any more, so it is closed (the client reconnects and asks again).
      this.pipeline.panic(err, this.router.server);
      client.socket.destroy();
      return false;
    }
    if (client.idle) client.readDeadline = Date.now() + this.options.idleTimeoutMs;
    if (!client.paused && this.overLimit(client)) client.paused = true;
    return !client.paused;
  }

  private overLimit(client: TcpClient): boolean {
    return client.inFlight + client.queued >= this.options.maxInFlightPerConnection || client.socket.writableLength >= this.options.maxQueuedBytesPerConnection;
  }

  send(reply: Buffer, client: TcpClient): void {
    client.inFlight--;
    const socket = client.socket;
    if (socket.destroyed) return;
    if (client.queued++ === 0) client.writeProgressAt = Date.now();
    client.writer.write(frame(reply), client.onFlushed); // replies of the same tick (pipelined hits) share one segment
    if (!client.paused && this.overLimit(client)) {
      client.paused = true; // a late reply (a miss) can push the queue over: stop reading too
      if (!client.delivering) socket.pause();
    }
  }

  discard(client: TcpClient): void {
    client.inFlight--;
    this.becameLighter(client);
  }

  /** The kernel took one queued reply (or the write failed because the connection is gone). */
  flushed(client: TcpClient): void {
    client.queued--;
    client.writeProgressAt = Date.now();
    this.becameLighter(client);
  }

  private becameLighter(client: TcpClient): void {
    if (client.socket.destroyed) return;
    if (client.idle) client.readDeadline = Date.now() + this.options.idleTimeoutMs;
    if (!client.paused || this.overLimit(client)) return;
    client.paused = false;
    if (client.delivering) return; // the frame loop running now carries on
    client.delivering = true;
    client.reader.resume(client.onFrame); // frames held back when reading stopped
    client.delivering = false;
    if (!client.paused) client.socket.resume();
  }

  /** Closes the connection that has waited longest without a query, preferring one with nothing in flight. */
  private evictIdlest(): void {
    let victim: TcpClient | null = null;
    let scanned = 0;
    for (const c of this.clients) {
      victim ??= c;
      if (c.idle) {
        victim = c;
        break;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (!victim) return;
    this.dnsStats.listener.tcpEvicted++;
    this.forget(victim);
  }

  private forget(client: TcpClient): void {
    this.clients.delete(client); // now, not on 'close': the slot is free for the new connection
    if (this.lastTouched === client) this.lastTouched = null;
    client.socket.destroy();
  }

  /** Enforces the read and write deadlines; a coarse timer, so they hold within a quarter of the shortest. */
  private startSweeping(): void {
    if (this.sweepTimer) return;
    const period = Math.min(1000, Math.max(50, Math.min(this.options.readTimeoutMs, this.options.idleTimeoutMs, this.options.writeTimeoutMs) / 4));
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), period);
    this.sweepTimer.unref();
  }

  private sweep(now: number): void {
    for (const c of this.clients) {
      if (c.idle) {
        if (now >= c.readDeadline) {
          this.dnsStats.listener.tcpReadTimeouts++;
          this.forget(c);
        }
      } else if (c.queued > 0 && now - c.writeProgressAt >= this.options.writeTimeoutMs) {
        this.dnsStats.listener.tcpWriteTimeouts++;
        this.forget(c);
      }
    }
  }

  rawServer(): Server | null {
    return this.server;
  }

  /** Handover: stop accepting connections; existing ones keep being served until close(). */
  stopAccepting(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      setTimeout(resolve, 100).unref(); // close() waits for clients; do not
    });
  }

  remote(client: TcpClient): string {
    const s = client.socket;
    return s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
  }

  get connectionCount(): number {
    return this.clients.size;
  }

  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : this.options.port;
  }

  /** Stops accepting; open connections get `graceMs` to finish in-flight queries, then are closed. */
  close(graceMs = 0): Promise<void> {
    const server = this.server;
    this.server = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      const deadline = Date.now() + graceMs;
      const closeIdle = () => {
        for (const c of this.clients) if (c.inFlight <= 0 || Date.now() >= deadline) c.socket.destroy();
        if (this.clients.size > 0) setTimeout(closeIdle, 20).unref();
      };
      closeIdle();
    });
  }
}
