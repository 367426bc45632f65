// Lookup backends for `node-local-dns load`.
//
// - Raw DNS (--server): queries are built by hand (12-byte header with RD,
//   one question, optional EDNS OPT) into a scratch buffer owned by each
//   worker, so a lookup only patches an ID and copies the encoded name.
//   UDP shares a few sockets between workers and matches replies by ID,
//   source and question; TCP keeps one persistent connection per worker with
//   2-byte length framing and reconnects when it closes. Each worker has one
//   timeout timer that is re-armed with refresh() rather than re-created.
// - System (--system): dns.promises.lookup (getaddrinfo), so resolv.conf
//   search/ndots/timeout apply exactly as for an application.
//
// Every lookup resolves to an Outcome; nothing here throws per lookup.

import dgram from 'node:dgram';
import net from 'node:net';
import { promises as dnsPromises } from 'node:dns';
import { performance } from 'node:perf_hooks';
import type { LoadOptions, QueryType, ServerAddress } from './options.js';
import type { Outcome } from './stats.js';

export interface LookupBackend {
  /** DNS questions asked per lookup (several with --type A,AAAA). */
  readonly queriesPerLookup: number;
  /** Short description for the report, e.g. "udp 127.0.0.1:53". */
  readonly description: string;
  /** Look up hosts[hostIndex] on behalf of a worker (one lookup per worker at a time). */
  lookup(worker: number, hostIndex: number): Promise<Outcome>;
  /**
   * A promise to await before the worker's next lookup, or undefined when it
   * may go ahead (the system backend waits for abandoned getaddrinfo calls).
   */
  waitIdle(worker: number): Promise<void> | undefined;
  close(): void;
}

export function createBackend(options: LoadOptions): LookupBackend {
  if (options.mode === 'system') {
    return new SystemBackend(options.hosts, options.types, options.timeoutMs, options.concurrency);
  }
  const config: RawConfig = {
    server: options.server as ServerAddress,
    names: options.hosts.map(encodeName),
    types: options.types,
    edns: options.edns,
    timeoutMs: options.timeoutMs,
    workers: options.concurrency,
  };
  return options.tcp ? new TcpBackend(config) : new UdpBackend(config);
}

// ---------------------------------------------------------------------------
// Wire format

const HEADER_LENGTH = 12;
const OPT_LENGTH = 11;
const EDNS_UDP_SIZE = 1232;
const CLASS_IN = 1;
const TYPE_OPT = 41;
const TYPE_ANY = 255;
/** 2-byte TCP length prefix + header + longest name + type/class + OPT. */
const SCRATCH_SIZE = 2 + HEADER_LENGTH + 255 + 4 + OPT_LENGTH;

/** Encode a (validated) name as DNS labels; "a.b." and "a.b" are the same. */
export function encodeName(name: string): Buffer {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = bare === '' ? [] : bare.split('.');
  const out = Buffer.alloc(labels.reduce((n, l) => n + 1 + l.length, 1));
  let off = 0;
  for (const label of labels) {
    out[off++] = label.length;
    off += out.write(label, off, 'ascii');
  }
  out[off] = 0;
  return out;
}

/**
 * Write a complete query into buf at offset 2 (bytes 0-1 hold the TCP length
 * prefix). Returns the message length (without the prefix).
 */
export function writeQuery(buf: Buffer, id: number, name: Buffer, qtype: number, edns: boolean): number {
  let off = 2;
  buf.writeUInt16BE(id, off);
  buf.writeUInt16BE(0x0100, off + 2); // QUERY, RD
  buf.writeUInt16BE(1, off + 4); // QDCOUNT
  buf.writeUInt16BE(0, off + 6);
  buf.writeUInt16BE(0, off + 8);
  buf.writeUInt16BE(edns ? 1 : 0, off + 10); // ARCOUNT
  off += HEADER_LENGTH;
  off += name.copy(buf, off);
  buf.writeUInt16BE(qtype, off);
  buf.writeUInt16BE(CLASS_IN, off + 2);
  off += 4;
  if (edns) {
    buf[off] = 0; // root owner
    buf.writeUInt16BE(TYPE_OPT, off + 1);
    buf.writeUInt16BE(EDNS_UDP_SIZE, off + 3);
    buf.writeUInt32BE(0, off + 5); // extended rcode, version, flags
    buf.writeUInt16BE(0, off + 9); // rdlength
    off += OPT_LENGTH;
  }
  const length = off - 2;
  buf.writeUInt16BE(length, 0);
  return length;
}

/** Offset just past a (possibly compressed) name, or -1 if malformed. */
function skipName(msg: Buffer, off: number): number {
  while (off < msg.length) {
    const len = msg[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= msg.length ? off + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    off += len + 1;
  }
  return -1;
}

function asciiLower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

/** Does the reply's question equal ours (name compared case-insensitively)? */
function sameQuestion(msg: Buffer, query: Buffer, questionLength: number): boolean {
  if (msg.length < HEADER_LENGTH + questionLength) return false;
  const qStart = 2 + HEADER_LENGTH;
  for (let i = 0; i < questionLength; i++) {
    if (asciiLower(msg[HEADER_LENGTH + i]) !== asciiLower(query[qStart + i])) return false;
  }
  return true;
}

const RCODE_OUTCOME: Record<number, Outcome> = { 2: 'servfail', 3: 'nxdomain', 5: 'refused' };

/**
 * Classify a reply to `query` (scratch buffer as written by writeQuery).
 * Returns null when it is not a reply to that question, so it is ignored.
 */
export function classifyReply(msg: Buffer, query: Buffer, questionLength: number, qtype: number): Outcome | null {
  if (msg.length < HEADER_LENGTH) return null;
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) === 0) return null; // not a response
  const rcode = flags & 0x000f;
  const qdcount = msg.readUInt16BE(4);
  if (qdcount === 1) {
    if (!sameQuestion(msg, query, questionLength)) return null;
  } else if (!(qdcount === 0 && rcode !== 0)) {
    return null; // only error replies may omit the question
  }
  if (flags & 0x0200) return 'truncated';
  if (rcode !== 0) return RCODE_OUTCOME[rcode] ?? 'other-rcode';
  return answerOutcome(msg, HEADER_LENGTH + questionLength, msg.readUInt16BE(6), qtype);
}

/** 'ok' if the answer section holds a record of the asked type, else 'nodata'. */
function answerOutcome(msg: Buffer, off: number, ancount: number, qtype: number): Outcome {
  for (let i = 0; i < ancount; i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return 'malformed';
    const type = msg.readUInt16BE(off);
    if (type === qtype || qtype === TYPE_ANY) return 'ok';
    off += 10 + msg.readUInt16BE(off + 8);
  }
  return 'nodata';
}

/** Worse outcomes win when a lookup asks several questions (A + AAAA). */
const OUTCOME_RANK: Record<Outcome, number> = {
  nodata: 0,
  nxdomain: 1,
  ok: 2,
  malformed: 3,
  'other-rcode': 4,
  refused: 5,
  servfail: 6,
  truncated: 7,
  timeout: 8,
  'network-error': 9,
};

export function combineOutcomes(a: Outcome, b: Outcome): Outcome {
  return OUTCOME_RANK[b] > OUTCOME_RANK[a] ? b : a;
}

// ---------------------------------------------------------------------------
// Per-worker lookup state shared by the UDP and TCP backends

interface RawConfig {
  server: ServerAddress;
  names: Buffer[];
  types: QueryType[];
  edns: boolean;
  timeoutMs: number;
  workers: number;
}

/** One question of a lookup, with its own scratch buffer. */
interface Query {
  readonly slot: Slot;
  readonly qtype: number;
  readonly buf: Buffer;
  id: number;
  length: number;
  questionLength: number;
  pending: boolean;
  /** Send callback, created once. */
  readonly onSent: (err: Error | null) => void;
}

/** A worker's lookup in progress. */
interface Slot {
  readonly worker: number;
  readonly queries: Query[];
  remaining: number;
  outcome: Outcome;
  resolve: ((o: Outcome) => void) | null;
  timer: NodeJS.Timeout | null;
}

abstract class RawBackend implements LookupBackend {
  readonly queriesPerLookup: number;
  abstract readonly description: string;
  protected readonly slots: Slot[] = [];

  constructor(protected readonly config: RawConfig) {
    this.queriesPerLookup = config.types.length;
    for (let w = 0; w < config.workers; w++) this.slots.push(this.makeSlot(w));
  }

  lookup(worker: number, hostIndex: number): Promise<Outcome> {
    const slot = this.slots[worker];
    return new Promise<Outcome>((resolve) => {
      slot.resolve = resolve;
      slot.remaining = slot.queries.length;
      slot.outcome = 'nodata';
      const name = this.config.names[hostIndex];
      for (const q of slot.queries) {
        q.id = this.allocateId(q);
        q.length = writeQuery(q.buf, q.id, name, q.qtype, this.config.edns);
        q.questionLength = name.length + 4;
        q.pending = true;
      }
      this.armTimer(slot);
      try {
        this.send(slot);
      } catch {
        // e.g. socket already closed; fail on a later turn so a worker loop never spins synchronously
        setImmediate(() => this.fail(slot, 'network-error'));
      }
    });
  }

  waitIdle(): undefined {
    return undefined;
  }

  close(): void {
    for (const slot of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      this.fail(slot, 'network-error');
    }
  }

  protected abstract allocateId(q: Query): number;
  protected abstract send(slot: Slot): void;
  /** Forget a query (reply arrived or gave up). */
  protected abstract release(q: Query): void;
  protected onTimeout(_slot: Slot): void {}

  /** A query got its answer (or failed): record it and finish the lookup when all are in. */
  protected complete(q: Query, outcome: Outcome): void {
    if (!q.pending) return;
    q.pending = false;
    this.release(q);
    const slot = q.slot;
    slot.outcome = slot.remaining === slot.queries.length ? outcome : combineOutcomes(slot.outcome, outcome);
    if (--slot.remaining === 0) this.finish(slot);
  }

  /** Fail every pending query of a slot with the same outcome. */
  protected fail(slot: Slot, outcome: Outcome): void {
    for (const q of slot.queries) this.complete(q, outcome);
  }

  private finish(slot: Slot): void {
    const resolve = slot.resolve;
    slot.resolve = null;
    resolve?.(slot.outcome);
  }

  private armTimer(slot: Slot): void {
    if (slot.timer) {
      slot.timer.refresh();
      return;
    }
    slot.timer = setTimeout(() => {
      if (slot.resolve === null) return; // the lookup this timer was armed for has finished
      this.onTimeout(slot);
      this.fail(slot, 'timeout');
    }, this.config.timeoutMs);
  }

  private makeSlot(worker: number): Slot {
    const slot: Slot = { worker, queries: [], remaining: 0, outcome: 'nodata', resolve: null, timer: null };
    for (const t of this.config.types) {
      const q: Query = {
        slot,
        qtype: t.code,
        buf: Buffer.alloc(SCRATCH_SIZE),
        id: 0,
        length: 0,
        questionLength: 0,
        pending: false,
        onSent: (err) => {
          if (err) this.complete(q, 'network-error');
        },
      };
      slot.queries.push(q);
    }
    return slot;
  }
}

// ---------------------------------------------------------------------------
// UDP: a few shared sockets, replies matched through a 64K-entry ID table

const UDP_RECV_BUFFER = 4 * 1024 * 1024;
const WORKERS_PER_SOCKET = 64;
const MAX_UDP_SOCKETS = 8;

interface UdpSocketState {
  socket: dgram.Socket;
  inFlight: (Query | undefined)[];
  nextId: number;
}

class UdpBackend extends RawBackend {
  readonly description: string;
  private readonly sockets: UdpSocketState[] = [];

  constructor(config: RawConfig) {
    super(config);
    const { server } = config;
    const count = Math.min(MAX_UDP_SOCKETS, Math.ceil(config.workers / WORKERS_PER_SOCKET));
    for (let i = 0; i < count; i++) this.sockets.push(this.openSocket(server));
    this.description = `udp ${formatServer(server)}`;
  }

  override close(): void {
    super.close();
    for (const s of this.sockets) s.socket.close();
  }

  protected allocateId(q: Query): number {
    const state = this.socketOf(q.slot);
    for (let tries = 0; tries < 65536; tries++) {
      const id = state.nextId;
      state.nextId = (state.nextId + 1) & 0xffff;
      if (state.inFlight[id] === undefined) {
        state.inFlight[id] = q;
        return id;
      }
    }
    throw new Error('no free DNS message ID'); // impossible within LIMITS
  }

  protected send(slot: Slot): void {
    const { socket } = this.socketOf(slot);
    const { address, port } = this.config.server;
    for (const q of slot.queries) socket.send(q.buf, 2, q.length, port, address, q.onSent);
  }

  protected release(q: Query): void {
    const state = this.socketOf(q.slot);
    if (state.inFlight[q.id] === q) state.inFlight[q.id] = undefined;
  }

  private socketOf(slot: Slot): UdpSocketState {
    return this.sockets[slot.worker % this.sockets.length];
  }

  private openSocket(server: ServerAddress): UdpSocketState {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    const state: UdpSocketState = {
      socket,
      inFlight: new Array<Query | undefined>(65536).fill(undefined),
      nextId: Math.floor(Math.random() * 65536),
    };
    socket.on('message', (msg, rinfo) => this.onMessage(state, msg, rinfo));
    socket.on('error', () => {
      // Send failures are reported per query through the send callback.
    });
    socket.bind(0, () => {
      try {
        socket.setRecvBufferSize(UDP_RECV_BUFFER); // the kernel caps it at rmem_max
      } catch {
        // Keep the default buffer.
      }
    });
    return state;
  }

  private onMessage(state: UdpSocketState, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const { address, port } = this.config.server;
    if (rinfo.port !== port || rinfo.address !== address || msg.length < 2) return;
    const q = state.inFlight[msg.readUInt16BE(0)];
    if (q === undefined) return;
    const outcome = classifyReply(msg, q.buf, q.questionLength, q.qtype);
    if (outcome !== null) this.complete(q, outcome);
  }
}

// ---------------------------------------------------------------------------
// TCP: one persistent connection per worker, 2-byte length framing

class TcpChannel {
  socket: net.Socket | null = null;
  private rx = Buffer.alloc(4096);
  private rxLength = 0;

  constructor(
    private readonly server: ServerAddress,
    private readonly onMessage: (msg: Buffer) => void,
    private readonly onLost: () => void,
  ) {}

  /** Write frames (already length-prefixed), connecting first if needed. */
  write(frames: Buffer[]): void {
    const socket = this.socket ?? this.connect();
    socket.cork();
    for (const f of frames) socket.write(f);
    socket.uncork();
  }

  destroy(): void {
    this.socket?.destroy();
    this.socket = null;
    this.rxLength = 0;
  }

  private connect(): net.Socket {
    const socket = net.createConnection({ host: this.server.address, port: this.server.port });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.receive(chunk);
    });
    socket.on('error', () => {
      // 'close' follows and does the bookkeeping.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return; // an old connection we already replaced
      this.socket = null;
      this.rxLength = 0;
      this.onLost();
    });
    this.socket = socket;
    this.rxLength = 0;
    return socket;
  }

  private receive(chunk: Buffer): void {
    this.append(chunk);
    let start = 0;
    while (this.rxLength - start >= 2) {
      const length = this.rx.readUInt16BE(start);
      if (this.rxLength - start < 2 + length) break;
      this.onMessage(this.rx.subarray(start + 2, start + 2 + length));
      start += 2 + length;
    }
    if (start > 0) {
      this.rx.copy(this.rx, 0, start, this.rxLength);
      this.rxLength -= start;
    }
  }

  private append(chunk: Buffer): void {
    const needed = this.rxLength + chunk.length;
    if (needed > this.rx.length) {
      const grown = Buffer.alloc(Math.max(needed, this.rx.length * 2));
      this.rx.copy(grown, 0, 0, this.rxLength);
      this.rx = grown;
    }
    chunk.copy(this.rx, this.rxLength);
    this.rxLength = needed;
  }
}

class TcpBackend extends RawBackend {
  readonly description: string;
  private readonly channels: TcpChannel[] = [];
  private readonly nextIds: Uint16Array;

  constructor(config: RawConfig) {
    super(config);
    this.description = `tcp ${formatServer(config.server)}`;
    this.nextIds = new Uint16Array(config.workers);
    for (const slot of this.slots) {
      this.nextIds[slot.worker] = Math.floor(Math.random() * 65536);
      this.channels.push(
        new TcpChannel(
          config.server,
          (msg) => this.onMessage(slot, msg),
          () => this.fail(slot, 'network-error'),
        ),
      );
    }
  }

  override close(): void {
    super.close();
    for (const c of this.channels) c.destroy();
  }

  protected allocateId(q: Query): number {
    return this.nextIds[q.slot.worker]++;
  }

  protected send(slot: Slot): void {
    const frames = slot.queries.map((q) => q.buf.subarray(0, q.length + 2));
    this.channels[slot.worker].write(frames);
  }

  protected release(): void {}

  /** A server that misses the deadline gets a fresh connection next time. */
  protected override onTimeout(slot: Slot): void {
    this.channels[slot.worker].destroy();
  }

  private onMessage(slot: Slot, msg: Buffer): void {
    if (msg.length < 2) return;
    const id = msg.readUInt16BE(0);
    for (const q of slot.queries) {
      if (!q.pending || q.id !== id) continue;
      const outcome = classifyReply(msg, q.buf, q.questionLength, q.qtype);
      if (outcome !== null) this.complete(q, outcome);
      return;
    }
  }
}

function formatServer(s: ServerAddress): string {
  return s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

// ---------------------------------------------------------------------------
// System resolver: getaddrinfo through dns.promises.lookup

/** getaddrinfo returns EAI_AGAIN for SERVFAIL too; glibc's shortest timeout is 1 s. */
const EAI_AGAIN_TIMEOUT_MS = 1000;

export function outcomeFromLookupError(err: unknown, elapsedMs: number): Outcome {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOTFOUND': // EAI_NONAME and EAI_NODATA: NXDOMAIN, or no address of that family
      return 'nxdomain';
    case 'ENODATA':
      return 'nodata';
    case 'EAI_AGAIN':
      return elapsedMs >= EAI_AGAIN_TIMEOUT_MS ? 'timeout' : 'servfail';
    case 'ETIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'EAI_FAIL':
    case 'EFORMERR':
    case 'ENOTIMP':
      return 'other-rcode';
    case 'EBADRESP':
      return 'malformed';
    default:
      return 'network-error';
  }
}

interface SystemSlot {
  /** The getaddrinfo call still running after its lookup timed out. */
  abandoned: Promise<void> | undefined;
  resolve: ((o: Outcome) => void) | null;
  timer: NodeJS.Timeout | null;
}

class SystemBackend implements LookupBackend {
  readonly queriesPerLookup = 1;
  readonly description: string;
  private readonly family: 0 | 4 | 6;
  private readonly slots: SystemSlot[] = [];

  constructor(
    private readonly hosts: string[],
    types: QueryType[],
    private readonly timeoutMs: number,
    workers: number,
  ) {
    const names = types.map((t) => t.name).sort().join(',');
    this.family = names === 'A' ? 4 : names === 'AAAA' ? 6 : 0;
    this.description = `getaddrinfo (family ${this.family === 0 ? 'any' : `IPv${this.family}`})`;
    for (let w = 0; w < workers; w++) this.slots.push({ abandoned: undefined, resolve: null, timer: null });
  }

  lookup(worker: number, hostIndex: number): Promise<Outcome> {
    const slot = this.slots[worker];
    return new Promise<Outcome>((resolve) => {
      slot.resolve = resolve;
      this.armTimer(slot);
      const started = performance.now();
      const call: Promise<void> = dnsPromises.lookup(this.hosts[hostIndex], { all: true, family: this.family }).then(
        (addresses): void => this.settle(slot, call, addresses.length > 0 ? 'ok' : 'nodata'),
        (err: unknown): void => this.settle(slot, call, outcomeFromLookupError(err, performance.now() - started)),
      );
      slot.abandoned = call;
    });
  }

  /** After a timeout the getaddrinfo call still holds a threadpool thread: wait for it. */
  waitIdle(worker: number): Promise<void> | undefined {
    return this.slots[worker].abandoned;
  }

  close(): void {
    for (const slot of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      this.finish(slot, 'network-error');
    }
  }

  private settle(slot: SystemSlot, call: Promise<void>, outcome: Outcome): void {
    if (slot.abandoned === call) slot.abandoned = undefined;
    this.finish(slot, outcome);
  }

  private finish(slot: SystemSlot, outcome: Outcome): void {
    const resolve = slot.resolve;
    slot.resolve = null;
    resolve?.(outcome);
  }

  private armTimer(slot: SystemSlot): void {
    if (slot.timer) {
      slot.timer.refresh();
      return;
    }
    slot.timer = setTimeout(() => this.finish(slot, 'timeout'), this.timeoutMs);
  }
}
