// UDP exchanges with one upstream over one connected socket; replies are matched by ID and
// question, anything else (late, spoofed, garbage) is dropped and counted.
import { createSocket, type Socket } from 'node:dgram';
import type { UpstreamAddress } from '../config/types.js';
import { replyMatchesQuestion, withId } from '../dns/reply.js';
import { freshId } from './ids.js';
import { UpstreamError } from './errors.js';
import type { PendingQuery } from './pending.js';
import { systemTimers, type Timers } from '../util/clock.js';

type Pending = PendingQuery;

export class UdpTransport {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly pending = new Map<number, Pending>();
  mismatched = 0;

  constructor(
    private readonly addr: UpstreamAddress,
    private readonly bufferBytes: number,
    private readonly timers: Timers = systemTimers,
  ) {}

  private open(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise((resolve, reject) => {
      const socket = createSocket({ type: this.addr.family === 6 ? 'udp6' : 'udp4', recvBufferSize: this.bufferBytes, sendBufferSize: this.bufferBytes });
      socket.on('message', (msg) => this.onReply(msg));
      socket.on('error', (err) => {
        this.failAll(new UpstreamError('closed', this.addr.label, err.message));
        socket.close();
        if (this.socket === socket) this.socket = null;
        this.connecting = null;
        reject(new UpstreamError('connect', this.addr.label, err.message));
      });
      socket.connect(this.addr.port, this.addr.host, () => {
        socket.unref();
        this.socket = socket;
        resolve(socket);
      });
    });
    return this.connecting;
  }

  async exchange(query: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer> {
    const socket = await this.open();
    const id = freshId(this.pending);
    if (id === undefined) throw new UpstreamError('busy', this.addr.label);
    const sent = withId(query, id);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.timers.schedule(() => {
        this.pending.delete(id);
        reject(new UpstreamError('timeout', this.addr.label, `no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { sent, questionEnd, resolve, reject, timer });
      socket.send(sent, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        p.timer.cancel();
        p.reject(new UpstreamError('closed', this.addr.label, err.message));
      });
    });
  }

  private onReply(msg: Buffer): void {
    if (msg.length < 12) {
      this.mismatched++;
      return;
    }
    const id = (msg[0] << 8) | msg[1];
    const p = this.pending.get(id);
    if (!p || !replyMatchesQuestion(msg, p.sent, p.questionEnd)) {
      this.mismatched++;
      return;
    }
    this.pending.delete(id);
    p.timer.cancel();
    p.resolve(msg);
  }

  private failAll(err: UpstreamError): void {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    this.pending.clear();
  }

  close(): void {
    this.failAll(new UpstreamError('closed', this.addr.label, 'closed by us'));
    this.socket?.close();
    this.socket = null;
    this.connecting = null;
  }
}
