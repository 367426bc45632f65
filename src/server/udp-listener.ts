// A UDP listener on one address: large socket buffers (bursts otherwise drop and glibc clients
// wait 5 s), every datagram handed to the pipeline, replies sent back to the sender. Nothing a
// datagram does can throw out of here: a datagram from source port 0 (no reply is possible;
// socket.send would throw ERR_SOCKET_BAD_PORT) is dropped and counted, a failed send is counted,
// and an exception while handling one query is counted as a panic.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { QueryPipeline, ReplyChannel } from './pipeline.js';
import type { ZoneRouter } from './zone-router.js';
import type { DnsStats } from '../metrics/dns-stats.js';

export interface UdpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly reusePort?: boolean;
}

export class UdpListener implements ReplyChannel<RemoteInfo> {
  readonly tcp = false;
  readonly familyIndex: number;
  private socket: Socket | null = null;
  /** Replies to queries read while leaving the SO_REUSEPORT group (socket connected); close() sends them. */
  private held: [Buffer, RemoteInfo][] | null = null;

  constructor(
    readonly options: UdpListenerOptions,
    public router: ZoneRouter,
    private readonly pipeline: QueryPipeline,
    private readonly dnsStats: DnsStats,
  ) {
    this.familyIndex = isIP(options.host) === 6 ? 1 : 0;
  }

  private readonly receive = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port === 0) {
      // RFC 768: source port 0 means "no reply expected"; nothing can be sent back to it.
      this.dnsStats.malformed.sourcePort++;
      return;
    }
    try {
      this.pipeline.handle(msg, this, rinfo);
    } catch (err) {
      this.pipeline.panic(err, this.router.server); // no reply: the client retries
    }
  };

  private readonly onSocketError = (): void => {
    this.dnsStats.listener.udpSendErrors++; // after bind, only sends report errors
  };

  /** Binds (or adopts a socket inherited from a predecessor); resolves with the bound port. */
  start(inherited?: Socket, backlog?: { udpBacklog?: [Buffer, RemoteInfo][]; stopBuffering?: () => void }): Promise<number> {
    if (inherited) {
      // The socket first: replayed queries that hit the cache (a warm start) are answered at once,
      // through send(), which needs it.
      this.socket = inherited;
      inherited.on('message', this.receive);
      backlog?.stopBuffering?.();
      for (const [msg, rinfo] of backlog?.udpBacklog?.splice(0) ?? []) this.receive(msg, rinfo);
      inherited.on('error', this.onSocketError);
      try {
        inherited.setRecvBufferSize(this.options.receiveBufferBytes);
        inherited.setSendBufferSize(this.options.sendBufferBytes);
      } catch {
        // capped by the kernel; the predecessor's sizes stay
      }
      return Promise.resolve(inherited.address().port);
    }
    return new Promise((resolve, reject) => {
      const socket = createSocket({
        type: this.familyIndex === 1 ? 'udp6' : 'udp4',
        reuseAddr: true,
        ...(this.options.reusePort ? { reusePort: true } : {}),
        recvBufferSize: this.options.receiveBufferBytes,
        sendBufferSize: this.options.sendBufferBytes,
        ...(this.familyIndex === 1 ? { ipv6Only: true } : {}),
      } as Parameters<typeof createSocket>[0]);
      socket.once('error', reject);
      socket.on('message', this.receive);
      socket.bind(this.options.port, this.options.host, () => {
        socket.off('error', reject);
        socket.on('error', this.onSocketError);
        this.socket = socket;
        resolve(socket.address().port);
      });
    });
  }

  send(reply: Buffer, peer: RemoteInfo): void {
    if (this.held) {
      this.held.push([reply, peer]); // leaving the reuseport group: sent by close()
      return;
    }
    // No callback: Node then tries a synchronous send (uv_udp_try_send) and allocates no send
    // request; a failure is emitted as 'error' on the socket, which we count. Argument checks
    // (a bad port) and a socket closed under us throw instead: counted the same way.
    try {
      this.socket?.send(reply, peer.port, peer.address);
    } catch {
      this.dnsStats.listener.udpSendErrors++;
    }
  }

  discard(_peer: RemoteInfo): void {
    // nothing is held per datagram
  }

  rawSocket(): Socket | null {
    return this.socket;
  }

  /**
   * Stops reading datagrams but keeps the socket open so replies to queries in flight still go
   * out (handover). Node has no public API for this; uses the handle's recvStop when present.
   */
  stopReceiving(): void {
    const socket = this.socket as unknown as Record<symbol, { handle?: { recvStop?: () => number } }> | null;
    if (!socket) return;
    const stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
    const handle = stateSymbol ? socket[stateSymbol]?.handle : undefined;
    if (handle?.recvStop) handle.recvStop();
  }

  remote(peer: RemoteInfo): string {
    return peer.family === 'IPv6' ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
  }

  get port(): number {
    return this.socket?.address().port ?? this.options.port;
  }

  /**
   * Shutdown beside another instance on the same port (surge rollout, SO_REUSEPORT): the kernel
   * drops the datagrams still queued on a socket when it closes, and recvStop would let new ones
   * queue up until then (a glibc client waits 5 s for each). A connected UDP socket is skipped by
   * the reuseport group's hash selection (Linux), so connecting the socket to its own address sends
   * every new datagram to the other instances, while we keep reading and answering what was
   * already queued. Node refuses a destination on a connected socket, so those replies are held
   * and close() sends them right after disconnecting. False (nothing changed) when the socket was
   * not bound with SO_REUSEPORT by us or cannot be connected; the caller then stops receiving.
   * Never used for a handover: the successor shares this very socket.
   */
  leaveReusePortGroup(): Promise<boolean> {
    const socket = this.socket;
    if (!socket || !this.options.reusePort) return Promise.resolve(false);
    const { address, port } = socket.address();
    this.held = [];
    return new Promise((resolve) => {
      socket.connect(port, address, (err?: Error) => {
        if (!err) return resolve(true);
        const held = this.held ?? [];
        this.held = null;
        for (const [reply, peer] of held) this.send(reply, peer);
        resolve(false);
      });
    });
  }

  close(): Promise<void> {
    const socket = this.socket;
    const held = this.held;
    this.socket = null;
    this.held = null;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const closeNow = () => socket.close(() => resolve());
      if (!held) return closeNow();
      socket.disconnect(); // back in the group for the instant the held replies take to leave
      let left = held.length;
      if (left === 0) return closeNow();
      for (const [reply, peer] of held) socket.send(reply, peer.port, peer.address, () => --left === 0 && closeNow());
    });
  }
}
