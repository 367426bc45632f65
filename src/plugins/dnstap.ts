// CoreDNS `dnstap SOCKET|unix://PATH|tcp://ADDR [full] [WRITEBUFFER] [QUEUE] { identity; version; extra; skipverify }`
// (plugin/dnstap): a CLIENT_QUERY and a CLIENT_RESPONSE dnstap message (https://dnstap.info) for
// every query the block gets, sent as Frame Streams data frames (bidirectional handshake: READY,
// ACCEPT, START) over a Unix or TCP socket, the wire messages included with `full`. As in CoreDNS,
// at most QUEUE x 10,000 messages wait while the socket is away (more are dropped and counted),
// and the connection is retried (here every second while messages wait). Identity defaults to the
// host name, version to "node-local-dns-VERSION". `tls://` endpoints and `extra` are accepted with
// a warning (nothing sent / field left out).
import net from 'node:net';
import { hostname } from 'node:os';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import type { DnstapConfig } from '../config/types.js';
import { VERSION } from '../version.js';

const MAX_WRITE_BUFFER = 1024;
const MAX_QUEUE = 4096;
const QUEUE_UNIT = 10_000;
const RETRY_MS = 1000;

export function parseDnstapDirective(d: Directive, b: BlockBuilder): void {
  const args = d.args.map((a) => a.text);
  if (args.length < 1) return b.issue(d.line, 'dnstap', 'needs a socket path, unix://PATH or tcp://HOST:PORT');
  const [endpoint, full, writeBuffer, queue] = args;
  for (const [text, max, what] of [
    [writeBuffer, MAX_WRITE_BUFFER, 'write buffer (MiB)'],
    [queue, MAX_QUEUE, 'queue (x10k messages)'],
  ] as const) {
    if (text !== undefined && !(/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= max)) return b.issue(d.line, 'dnstap', `${what} must be between 1 and ${max}, got ${JSON.stringify(text)}`);
  }
  if (endpoint.startsWith('tls://')) {
    b.ignore('dnstap', d.line, `TLS endpoints are not supported; nothing is sent to ${endpoint}`);
    return;
  }
  const raw: { [k: string]: unknown } = { endpoint, full: full === 'full' };
  if (queue !== undefined) raw.queue = Number(queue);
  for (const sub of d.block ?? []) {
    const value = sub.args.map((a) => a.text);
    if ((sub.name === 'identity' || sub.name === 'version') && value.length === 1) raw[sub.name] = value[0];
    else if (sub.name === 'skipverify') continue;
    else if (sub.name === 'extra') b.ignore('dnstap', sub.line, 'extra: the field is left out');
    else return b.issue(sub.line, `dnstap.${sub.name}`, `invalid option ${JSON.stringify([sub.name, ...value].join(' '))}; supported: identity, version, extra, skipverify`);
  }
  b.push('dnstap', raw, d.line);
}

// ---------------------------------------------------------------------------------------------
// Protocol Buffers for dnstap.proto (the fields CoreDNS sets).

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const uintField = (field: number, n: number): Buffer => Buffer.from([...key(field, 0), ...varint(n)]);
const bytesField = (field: number, b: Uint8Array): Buffer => Buffer.concat([Buffer.from([...key(field, 2), ...varint(b.length)]), b]);
function fixed32Field(field: number, n: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = field * 8 + 5;
  b.writeUInt32LE(n >>> 0, 1);
  return b;
}

export const CLIENT_QUERY = 5;
export const CLIENT_RESPONSE = 6;

export interface TapEvent {
  readonly type: typeof CLIENT_QUERY | typeof CLIENT_RESPONSE;
  readonly tcp: boolean;
  readonly address: Buffer; // client, 4 or 16 bytes
  readonly port: number;
  readonly queryTimeMs: number; // epoch ms (with fraction)
  readonly responseTimeMs?: number;
  readonly message?: Buffer; // wire, with `full`
}

function timeFields(secField: number, nsecField: number, ms: number): Buffer[] {
  const sec = Math.floor(ms / 1000);
  return [uintField(secField, sec), fixed32Field(nsecField, Math.round((ms - sec * 1000) * 1e6) % 1e9)];
}

/** One Dnstap protobuf (type MESSAGE) for an event. */
export function encodeDnstap(identity: Buffer, version: Buffer, e: TapEvent): Buffer {
  const parts = [
    uintField(1, e.type),
    uintField(2, e.address.length === 4 ? 1 : 2), // socket_family INET / INET6
    uintField(3, e.tcp ? 2 : 1), // socket_protocol UDP / TCP
    bytesField(4, e.address),
    uintField(6, e.port),
    ...timeFields(8, 9, e.queryTimeMs),
  ];
  if (e.type === CLIENT_QUERY && e.message) parts.push(bytesField(10, e.message));
  if (e.type === CLIENT_RESPONSE) {
    parts.push(...timeFields(12, 13, e.responseTimeMs ?? e.queryTimeMs));
    if (e.message) parts.push(bytesField(14, e.message));
  }
  const message = Buffer.concat(parts);
  return Buffer.concat([bytesField(1, identity), bytesField(2, version), bytesField(14, message), uintField(15, 1)]);
}

// ---------------------------------------------------------------------------------------------
// Frame Streams (bidirectional): READY → ACCEPT → START, then data frames; STOP on close.

export const CONTENT_TYPE = 'protobuf:dnstap.Dnstap';
export const CONTROL = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;

/** A control frame: escape (0), length, type, and the content-type field unless STOP/FINISH. */
export function controlFrame(type: number, contentType: string | null = CONTENT_TYPE): Buffer {
  const field = contentType === null ? Buffer.alloc(0) : Buffer.concat([u32(1), u32(contentType.length), Buffer.from(contentType, 'latin1')]);
  return Buffer.concat([u32(0), u32(4 + field.length), u32(type), field]);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export class DnstapStats {
  sent = 0;
  dropped = 0;
}

/** One Frame Streams connection to a dnstap collector with a bounded queue; never throws. */
export class DnstapWriter {
  private socket: net.Socket | null = null;
  private state: 'idle' | 'connecting' | 'handshake' | 'ready' | 'closed' = 'idle';
  private queue: Buffer[] = [];
  private retry: NodeJS.Timeout | null = null;
  private readonly identity: Buffer;
  private readonly version: Buffer;
  readonly stats = new DnstapStats();

  constructor(readonly config: DnstapConfig) {
    this.identity = Buffer.from(config.identity ?? hostname(), 'utf8');
    this.version = Buffer.from(config.version ?? `node-local-dns-${VERSION}`, 'utf8');
  }

  /** Queues one message; sends at once when connected. */
  tap(e: TapEvent): void {
    if (this.state === 'closed') return;
    if (this.queue.length >= this.config.queue * QUEUE_UNIT) {
      this.stats.dropped++;
      return;
    }
    const payload = encodeDnstap(this.identity, this.version, e);
    const frame = Buffer.concat([u32(payload.length), payload]);
    if (this.state === 'ready') {
      this.socket!.write(frame);
      this.stats.sent++;
      return;
    }
    this.queue.push(frame);
    if (this.state === 'idle' && !this.retry) this.connect();
  }

  private connect(): void {
    this.state = 'connecting';
    const e = this.config.endpoint;
    const socket = e.kind === 'unix' ? net.connect({ path: e.path }) : net.connect({ host: e.host, port: e.port });
    this.socket = socket;
    let pending = Buffer.alloc(0);
    socket.on('connect', () => {
      this.state = 'handshake';
      socket.write(controlFrame(CONTROL.READY));
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.state !== 'handshake') return; // FINISH or anything else after START is ignored
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 12) return;
      const length = pending.readUInt32BE(4);
      if (pending.length < 8 + length) return;
      if (pending.readUInt32BE(0) !== 0 || pending.readUInt32BE(8) !== CONTROL.ACCEPT) {
        socket.destroy();
        return;
      }
      socket.write(controlFrame(CONTROL.START));
      this.state = 'ready';
      for (const frame of this.queue) socket.write(frame);
      this.stats.sent += this.queue.length;
      this.queue = [];
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state === 'closed') return;
      this.state = 'idle';
      this.retry = setTimeout(() => {
        this.retry = null;
        if (this.queue.length > 0 && this.state === 'idle') this.connect();
      }, RETRY_MS);
      this.retry.unref();
    });
  }

  /** Sends STOP and closes; queued messages that never got a connection are dropped. */
  close(): void {
    if (this.retry) clearTimeout(this.retry);
    const socket = this.socket;
    const ready = this.state === 'ready';
    this.state = 'closed';
    this.stats.dropped += this.queue.length;
    this.queue = [];
    if (!socket) return;
    if (ready) socket.end(controlFrame(CONTROL.STOP, null));
    else socket.destroy();
  }
}

/** "unix:///p", "/p" → unix; "tcp://host:port" → TCP. */
export function dnstapEndpoint(text: string): DnstapConfig['endpoint'] | string {
  if (text.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
    if (!m || Number(m[2]) > 65535) return `must be tcp://HOST:PORT, got ${JSON.stringify(text)}`;
    return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }
  const path = text.replace(/^unix:\/\//, '');
  return path === '' ? `must be a socket path, got ${JSON.stringify(text)}` : { kind: 'unix', path };
}
