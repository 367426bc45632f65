// Lookup backends for `node-local-dns load`.
//
// - Raw DNS (--server): queries (dns/question.ts: header with RD, one
//   question, optional EDNS OPT) are written into a scratch buffer owned by
//   each worker, so a lookup allocates nothing.
//   UDP shares a few sockets between workers and matches replies by ID,
//   source and question; TCP keeps one persistent connection per worker with
//   2-byte length framing and reconnects when it closes. Each worker has one
//   timeout timer that is re-armed with refresh() rather than re-created.
// - System (--system): dns.promises.lookup (getaddrinfo), so resolv.conf
//   search/ndots/timeout apply exactly as for an application. getaddrinfo
//   does not say why it failed; a failure is asked again once per name over
//   UDP (truncation-probe.ts) and counted as 'truncated' when the reply was.
//
// Every lookup resolves to an Outcome; nothing here throws per lookup.

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { promises as dnsPromises } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { FLAG_QR, FLAG_TC, HEADER_SIZE, MAX_NAME_WIRE_LENGTH, OUR_EDNS_PAYLOAD, TYPE } from '../../dns/constants.js';
import { encodeName } from '../../dns/names.js';
import { skipName } from '../../dns/query.js';
import { queryLength, writeQuery } from '../../dns/question.js';
import { replyMatchesQuestion } from '../../dns/reply.js';
import { FrameReader } from '../../dns/tcp-framing.js';
import { formatServer, parseServer } from '../args.js';
import { parseResolvConf, type ResolvConf } from '../resolv-conf.js';
import { TruncationProbe } from './truncation-probe.js';
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
    return new SystemBackend(options.hosts, options.types, options.timeoutMs, options.concurrency, systemResolvConf());
  }
  const config: RawConfig = {
    server: options.server as ServerAddress,
    names: options.hosts.map(wireName),
    types: options.types,
    edns: options.edns,
    timeoutMs: options.timeoutMs,
    workers: options.concurrency,
  };
  return options.tcp ? new TcpBackend(config) : new UdpBackend(config);
}

// ---------------------------------------------------------------------------
// Wire format: queries from dns/question, names from dns/names, matching from dns/reply

const EDNS = { payload: OUR_EDNS_PAYLOAD };
/** 2-byte TCP length prefix + the longest query: header, 255-byte name, type/class, OPT. */
const SCRATCH_SIZE = 2 + queryLength({ id: 0, name: new Uint8Array(MAX_NAME_WIRE_LENGTH), qtype: 0, edns: EDNS });

/** Wire form of a name the options already validated. */
function wireName(name: string): Buffer {
  const encoded = encodeName(name);
  if (!encoded.ok) throw new Error(encoded.error); // parseLoadArgs rejected it already
  return encoded.wire;
}

/** Writes the query at offset 2 of `buf` and its length into bytes 0-1 (the TCP prefix); returns the length. */
function writeFramedQuery(buf: Buffer, id: number, name: Buffer, qtype: number, edns: boolean): number {
  const length = writeQuery(buf, 2, { id, name, qtype, edns: edns ? EDNS : null });
  buf.writeUInt16BE(length, 0);
  return length;
}

const RCODE_OUTCOME: Record<number, Outcome> = { 2: 'servfail', 3: 'nxdomain', 5: 'refused' };

/**
 * Classify a reply to `query` (the query message, question at byte 12).
 * Returns null when it is not a reply to that question, so it is ignored.
 */
export function classifyReply(msg: Buffer, query: Buffer, questionLength: number, qtype: number): Outcome | null {
  if (msg.length < HEADER_SIZE || !(msg[2] & FLAG_QR)) return null; // not a response
  const rcode = msg[3] & 0x0f;
  const qdcount = msg.readUInt16BE(4);
  if (qdcount === 1) {
    if (!replyMatchesQuestion(msg, query, HEADER_SIZE + questionLength)) return null;
  } else if (!(qdcount === 0 && rcode !== 0)) {
    return null; // only error replies may omit the question
  }
  if (msg[2] & FLAG_TC) return 'truncated';
  if (rcode !== 0) return RCODE_OUTCOME[rcode] ?? 'other-rcode';
  return answerOutcome(msg, HEADER_SIZE + questionLength, msg.readUInt16BE(6), qtype);
}

/** 'ok' if the answer section holds a record of the asked type, else 'nodata'. */
function answerOutcome(msg: Buffer, off: number, ancount: number, qtype: number): Outcome {
  for (let i = 0; i < ancount; i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return 'malformed';
    const type = msg.readUInt16BE(off);
    if (type === qtype || qtype === TYPE.ANY) return 'ok';
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
  /** The query message inside buf (after the 2-byte TCP prefix), for matching replies. */
  readonly message: Buffer;
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
        q.length = writeFramedQuery(q.buf, q.id, name, q.qtype, this.config.edns);
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
      const buf = Buffer.alloc(SCRATCH_SIZE);
      const q: Query = {
        slot,
        qtype: t.code,
        buf,
        message: buf.subarray(2),
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
    const outcome = classifyReply(msg, q.message, q.questionLength, q.qtype);
    if (outcome !== null) this.complete(q, outcome);
  }
}

// ---------------------------------------------------------------------------
// TCP: one persistent connection per worker, 2-byte length framing

class TcpChannel {
  socket: net.Socket | null = null;

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
  }

  private connect(): net.Socket {
    const socket = net.createConnection({ host: this.server.address, port: this.server.port });
    socket.setNoDelay(true);
    const reader = new FrameReader(); // a new connection starts a new stream
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) reader.push(chunk, this.onMessage);
    });
    socket.on('error', () => {
      // 'close' follows and does the bookkeeping.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return; // an old connection we already replaced
      this.socket = null;
      this.onLost();
    });
    this.socket = socket;
    return socket;
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
      const outcome = classifyReply(msg, q.message, q.questionLength, q.qtype);
      if (outcome !== null) this.complete(q, outcome);
      return;
    }
  }
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

  private readonly probe: TruncationProbe;

  constructor(
    private readonly hosts: string[],
    types: QueryType[],
    private readonly timeoutMs: number,
    workers: number,
    conf: ResolvConf,
  ) {
    const names = types.map((t) => t.name).sort().join(',');
    this.family = names === 'A' ? 4 : names === 'AAAA' ? 6 : 0;
    this.description = `getaddrinfo (family ${this.family === 0 ? 'any' : `IPv${this.family}`})`;
    for (let w = 0; w < workers; w++) this.slots.push({ abandoned: undefined, resolve: null, timer: null });
    const server = conf.nameservers[0] ? parseServer('nameserver', conf.nameservers[0]) : null;
    this.probe = new TruncationProbe(conf, server, this.family, Math.min(timeoutMs, 2000));
  }

  lookup(worker: number, hostIndex: number): Promise<Outcome> {
    const slot = this.slots[worker];
    return new Promise<Outcome>((resolve) => {
      slot.resolve = resolve;
      this.armTimer(slot);
      const started = performance.now();
      const call: Promise<void> = dnsPromises.lookup(this.hosts[hostIndex], { all: true, family: this.family }).then(
        (addresses): void => this.settle(slot, call, addresses.length > 0 ? 'ok' : 'nodata'),
        (err: unknown): Promise<void> => this.settleFailure(slot, call, this.hosts[hostIndex], outcomeFromLookupError(err, performance.now() - started)),
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

  /** A failed lookup caused by a truncated reply is counted as truncated (asked once per name). */
  private async settleFailure(slot: SystemSlot, call: Promise<void>, host: string, outcome: Outcome): Promise<void> {
    const truncated = outcome !== 'network-error' && (await this.probe.truncated(host).catch(() => false));
    this.settle(slot, call, truncated ? 'truncated' : outcome);
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

/** /etc/resolv.conf as getaddrinfo reads it; empty when unreadable (the probe then stays quiet). */
function systemResolvConf(): ResolvConf {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return parseResolvConf('');
  }
}
