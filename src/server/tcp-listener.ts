// A TCP listener on one address (RFC 7766): many queries per connection, answered as they complete
// (any order), an idle timeout, a cap on connections and on queries in flight per connection
// (reading pauses at the cap). Malformed framing closes the connection.
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { FrameReader, frame } from '../dns/tcp-framing.js';
import { BatchedWriter } from '../util/batched-writer.js';
import type { QueryPipeline, ReplyChannel } from './pipeline.js';
import type { ZoneRouter } from './zone-router.js';
import type { DnsStats } from '../metrics/dns-stats.js';

export interface TcpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxInFlightPerConnection: number;
  readonly reusePort?: boolean;
}

/** State of one client connection. */
export class TcpClient {
  inFlight = 0;
  paused = false;
  readonly writer: BatchedWriter;
  constructor(readonly socket: Socket) {
    this.writer = new BatchedWriter(socket);
  }
}

export class TcpListener implements ReplyChannel<TcpClient> {
  readonly tcp = true;
  readonly familyIndex: number;
  private server: Server | null = null;
  private readonly clients = new Set<TcpClient>();
  rejectedConnections = 0;
  acceptErrors = 0;

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
      backlog?.stopBufferingTcp?.();
      for (const socket of backlog?.tcpBacklog?.splice(0) ?? []) this.accept(socket);
      inherited.maxConnections = this.options.maxConnections;
      inherited.on('error', this.onServerError);
      this.server = inherited;
      return Promise.resolve(this.port);
    }
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket));
      server.maxConnections = this.options.maxConnections;
      server.on('drop', () => this.rejectedConnections++);
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port, exclusive: false, ...(this.options.reusePort ? { reusePort: true } : {}), ...(this.familyIndex === 1 ? { ipv6Only: true } : {}) }, () => {
        server.off('error', reject);
        server.on('error', this.onServerError);
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : this.options.port);
      });
    });
  }

  /**
   * After listen(), a server only reports accept() failures (EMFILE/ENFILE when the process runs
   * out of descriptors; libuv has already shed the pending connection). Without a listener the
   * 'error' event would throw and end the process.
   */
  private readonly onServerError = (): void => {
    this.acceptErrors++;
  };

  private accept(socket: Socket): void {
    const client = new TcpClient(socket);
    this.clients.add(client);
    const reader = new FrameReader();
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk, (msg) => {
        if (msg.length < 12) {
          // Not even a DNS header: nothing to answer; the stream cannot be trusted any more.
          this.dnsStats.malformed.tcpFrame++;
          socket.destroy();
          return;
        }
        client.inFlight++;
        if (client.inFlight >= this.options.maxInFlightPerConnection && !client.paused) {
          client.paused = true;
          socket.pause();
        }
        try {
          this.pipeline.handle(msg, this, client);
        } catch (err) {
          // A bug while handling one query: counted; the connection's accounting cannot be
          // trusted any more, so it is closed (the client reconnects and asks again).
          this.pipeline.panic(err, this.router.server);
          socket.destroy();
        }
      });
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.clients.delete(client));
  }

  send(reply: Buffer, client: TcpClient): void {
    this.release(client);
    if (client.socket.destroyed) return;
    client.writer.write(frame(reply)); // replies of the same tick (pipelined hits) share one segment
  }

  discard(client: TcpClient): void {
    this.release(client);
  }

  private release(client: TcpClient): void {
    client.inFlight--;
    if (client.paused && client.inFlight < this.options.maxInFlightPerConnection) {
      client.paused = false;
      client.socket.resume();
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
