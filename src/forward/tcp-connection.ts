// One pipelined TCP connection to an upstream (RFC 7766 §6.2.1.1): many queries in flight, each
// with its own ID; replies may come in any order and are matched by ID and question.
import { Socket } from 'node:net';
import { FrameReader, frame } from '../dns/tcp-framing.js';
import { replyMatchesQuestion } from '../dns/reply.js';
import { freshId } from './ids.js';
import { UpstreamError } from './errors.js';
import type { UpstreamAddress } from '../config/types.js';
import type { PendingQuery } from './pending.js';
import { BatchedWriter } from '../util/batched-writer.js';
import { systemTimers, type Timers } from '../util/clock.js';

type Pending = PendingQuery;

/** What the pool needs of one connection (TcpConnection; tests substitute their own). */
export interface PooledConnection {
  readonly inflight: number; // sent and unanswered, plus waiting for the connection to open
  readonly closed: boolean; // closed or retired: takes no new queries
  readonly lastUsedMs: number;
  exchange(query: Buffer, questionEnd: number, timeoutMs: number, nowMs: number): Promise<Buffer>;
  destroy(): void;
}

export class TcpConnection implements PooledConnection {
  private readonly socket: Socket;
  private readonly writer: BatchedWriter;
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  private readonly ready: Promise<void>;
  private closedWith: UpstreamError | null = null;
  lastUsedMs: number;
  mismatched = 0; // replies dropped for a wrong ID or question
  private replies = 0; // replies matched so far: progress marker for stall detection
  private retired = false; // stalled: takes no new queries, closes once the outstanding ones settle

  constructor(
    private readonly addr: UpstreamAddress,
    connectTimeoutMs: number,
    nowMs: number,
    private readonly onClose: (conn: TcpConnection) => void,
    private readonly timers: Timers = systemTimers,
  ) {
    this.lastUsedMs = nowMs;
    this.socket = new Socket();
    this.writer = new BatchedWriter(this.socket);
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      const timer = timers.schedule(() => {
        reject(new UpstreamError('connect', addr.label, 'connect timeout'));
        this.destroy(new UpstreamError('connect', addr.label, 'connect timeout'));
      }, connectTimeoutMs);
      this.socket.once('connect', () => {
        timer.cancel();
        resolve();
      });
      this.socket.once('error', (err) => {
        timer.cancel();
        reject(new UpstreamError('connect', addr.label, err.message));
      });
    });
    this.ready.catch(() => {}); // observed by send()
    this.socket.on('data', (chunk: Buffer) => this.reader.push(chunk, (msg) => this.onReply(msg)));
    this.socket.on('error', (err) => this.destroy(new UpstreamError('closed', addr.label, err.message)));
    this.socket.on('close', () => this.destroy(new UpstreamError('closed', addr.label, 'connection closed')));
    this.socket.connect({ host: addr.host, port: addr.port });
  }

  /** Queries sent and waiting for replies, plus those waiting for the connection to open. */
  get inflight(): number {
    return this.pending.size + this.connecting;
  }
  private connecting = 0;

  /** Closed, or retired after a stall: either way the pool must not send it new queries. */
  get closed(): boolean {
    return this.closedWith !== null || this.retired;
  }

  /** Sends `query` (ID is replaced) and resolves with the matching reply. */
  async exchange(query: Buffer, questionEnd: number, timeoutMs: number, nowMs: number): Promise<Buffer> {
    this.lastUsedMs = nowMs;
    this.connecting++;
    try {
      await this.ready;
    } finally {
      this.connecting--;
    }
    if (this.closedWith) throw this.closedWith;
    const id = freshId(this.pending);
    if (id === undefined) throw new UpstreamError('busy', this.addr.label);
    const sent = frame(query);
    sent[2] = id >> 8;
    sent[3] = id & 0xff;
    const repliesAtSend = this.replies;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.timers.schedule(() => {
        this.pending.delete(id);
        reject(new UpstreamError('timeout', this.addr.label, `no reply in ${timeoutMs} ms`));
        // Not one reply on this connection for a whole attempt: it is stalled (a black hole, a dead
        // backend behind a Service IP, or a stream desynchronised by a bad length prefix). Retire it
        // so later attempts get a fresh connection (CoreDNS drops a connection after a read error);
        // queries already on it keep their own timeouts, and it closes when the last one settles.
        if (this.replies === repliesAtSend) this.retired = true;
        if (this.retired && this.pending.size === 0) this.destroy(new UpstreamError('timeout', this.addr.label, 'stalled connection retired'));
      }, timeoutMs);
      this.pending.set(id, { sent: sent.subarray(2), questionEnd, resolve, reject, timer });
      this.writer.write(sent); // queries of the same tick share one segment
    });
  }


  private onReply(msg: Buffer): void {
    if (msg.length < 12) return;
    const id = (msg[0] << 8) | msg[1];
    const p = this.pending.get(id);
    if (!p || !replyMatchesQuestion(msg, p.sent, p.questionEnd)) {
      this.mismatched++; // late reply after a timeout, or a spoofing attempt: drop it
      return;
    }
    this.pending.delete(id);
    p.timer.cancel();
    this.replies++;
    p.resolve(msg);
    if (this.retired && this.pending.size === 0) this.destroy(new UpstreamError('closed', this.addr.label, 'stalled connection retired'));
  }

  /** Closes the connection; outstanding queries fail with `reason`. */
  destroy(reason = new UpstreamError('closed', this.addr.label, 'closed by us')): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(reason);
    }
    this.pending.clear();
    this.socket.destroy();
    this.onClose(this);
  }
}
