/**
 * Minimal DNS client for tests: one query over UDP, one over TCP (RFC 1035
 * 2-byte length framing), or several pipelined on one TCP connection.
 *
 * Encoding/decoding is done with `dns-packet`. Every call has a timeout and
 * always closes its socket, whatever the outcome. Errors carry the server,
 * name and type so a failing test says what it was doing.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, RecordType, Answer } from 'dns-packet';

export interface DnsServer {
  host: string;
  port: number;
}

export interface EdnsOptions {
  /** Advertised UDP payload size (default 1232). */
  udpSize?: number;
  /** DNSSEC OK bit. */
  do?: boolean;
}

export interface QueryOptions {
  /** Message ID (default random). Ignored when `raw` is given. */
  id?: number;
  /** Recursion Desired (default true, like stub resolvers). */
  rd?: boolean;
  /** Checking Disabled bit (default false). */
  cd?: boolean;
  /** Add an OPT record; omitted = no EDNS (like glibc's default). */
  edns?: EdnsOptions;
  /** Default 2000 ms. */
  timeoutMs?: number;
  /** Send these bytes instead of an encoded query (name/type then only label errors). */
  raw?: Buffer;
}

/** Any record except the OPT pseudo-record (which only appears in additionals). */
export type RecordAnswer = Exclude<Answer, { type: 'OPT' }>;

/** dns-packet's decode result, with the fields its typings omit and sections always present. */
export type DnsResponse = Omit<DecodedPacket, 'id' | 'questions' | 'answers' | 'authorities' | 'additionals'> & {
  id: number;
  rcode: string;
  opcode: string;
  questions: NonNullable<DecodedPacket['questions']>;
  answers: RecordAnswer[];
  authorities: RecordAnswer[];
  additionals: Answer[];
};

export interface QueryResult {
  packet: DnsResponse;
  raw: Buffer;
  /** Round-trip time in milliseconds. */
  rtt: number;
}

export interface Question {
  name: string;
  type: RecordType;
  /** Per-question options (id, rd, cd, edns; timeoutMs/raw are ignored). */
  opts?: Omit<QueryOptions, 'timeoutMs' | 'raw'>;
}

export interface PipelinedResult extends QueryResult {
  /** Position (0-based) in which this reply arrived on the connection. */
  arrivalIndex: number;
}

const DEFAULT_TIMEOUT_MS = 2000;

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

/** Encodes a standard query; returns the wire bytes and the ID used. */
export function buildQuery(name: string, type: RecordType, opts: QueryOptions = {}): { wire: Buffer; id: number } {
  if (opts.raw) return { wire: opts.raw, id: opts.raw.length >= 2 ? opts.raw.readUInt16BE(0) : -1 };
  const id = opts.id ?? randomInt(0, 0x10000);
  let flags = 0;
  if (opts.rd ?? true) flags |= dnsPacket.RECURSION_DESIRED;
  if (opts.cd) flags |= dnsPacket.CHECKING_DISABLED;
  const packet: Packet = { type: 'query', id, flags, questions: [{ name, type, class: 'IN' }] };
  if (opts.edns) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: opts.edns.udpSize ?? 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: opts.edns.do ? dnsPacket.DNSSEC_OK : 0,
        flag_do: !!opts.edns.do,
        options: [],
      },
    ];
  }
  return { wire: dnsPacket.encode(packet), id };
}

/** Decodes a response, normalising missing sections to empty arrays. */
export function decodeResponse(raw: Buffer): DnsResponse {
  const p = dnsPacket.decode(raw) as DnsResponse;
  p.questions ??= [];
  p.answers ??= [];
  p.authorities ??= [];
  p.additionals ??= [];
  return p;
}

const describe = (server: DnsServer, name: string, type: string) => `${name} ${type} @${server.host}:${server.port}`;

function decodeOrThrow(raw: Buffer, what: string): DnsResponse {
  try {
    return decodeResponse(raw);
  } catch (err) {
    throw new Error(`undecodable response to ${what} (${raw.length} bytes: ${raw.subarray(0, 32).toString('hex')}): ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------

/** One query over UDP. Replies with a different ID are ignored (as a resolver would). */
export function queryUdp(server: DnsServer, name: string, type: RecordType, opts: QueryOptions = {}): Promise<QueryResult> {
  const what = describe(server, name, type);
  const { wire, id } = buildQuery(name, type, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
  return new Promise<QueryResult>((resolve, reject) => {
    const start = performance.now();
    let done = false;
    const finish = (err: Error | null, result?: QueryResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => finish(new Error(`UDP query ${what} timed out after ${timeoutMs}ms`)), timeoutMs);
    socket.on('error', (err) => finish(new Error(`UDP query ${what} failed: ${err.message}`)));
    socket.on('message', (msg) => {
      if (msg.length < 2 || (id >= 0 && msg.readUInt16BE(0) !== id)) return;
      const rtt = performance.now() - start;
      try {
        finish(null, { packet: decodeOrThrow(msg, `UDP ${what}`), raw: msg, rtt });
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.send(wire, server.port, server.host, (err) => {
      if (err) finish(new Error(`UDP send ${what} failed: ${err.message}`));
    });
  });
}

// ---------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------

/** Prefixes a message with its 2-byte length. */
export function frameTcp(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/**
 * Opens a TCP connection, writes `messages` (each framed) in one go and calls
 * `onMessage` for each framed reply until it returns true (done).
 */
function tcpExchange(
  server: DnsServer,
  messages: Buffer[],
  timeoutMs: number,
  what: string,
  onMessage: (msg: Buffer) => boolean,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`TCP ${what} timed out after ${timeoutMs}ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(Buffer.concat(messages.map(frameTcp))));
    socket.on('error', (err) => finish(new Error(`TCP ${what} failed: ${err.message}`)));
    socket.on('close', () => finish(new Error(`TCP ${what}: connection closed by server before all replies arrived`)));
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        try {
          if (onMessage(msg)) return finish(null);
        } catch (err) {
          return finish(err as Error);
        }
      }
    });
  });
}

/** One query over TCP. */
export async function queryTcp(server: DnsServer, name: string, type: RecordType, opts: QueryOptions = {}): Promise<QueryResult> {
  const what = describe(server, name, type);
  const { wire, id } = buildQuery(name, type, opts);
  const start = performance.now();
  let result: QueryResult | undefined;
  await tcpExchange(server, [wire], opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, `query ${what}`, (msg) => {
    if (id >= 0 && msg.length >= 2 && msg.readUInt16BE(0) !== id) return false;
    result = { packet: decodeOrThrow(msg, `TCP ${what}`), raw: Buffer.from(msg), rtt: performance.now() - start };
    return true;
  });
  return result!;
}

/**
 * Sends all questions back-to-back on ONE TCP connection and collects every
 * reply, matched by ID (replies may arrive in any order). Results are returned
 * in question order; `arrivalIndex` tells the order they arrived in.
 * IDs must be unique (random unique IDs are assigned when not given).
 */
export async function queryTcpPipelined(
  server: DnsServer,
  questions: Question[],
  opts: { timeoutMs?: number } = {},
): Promise<PipelinedResult[]> {
  if (questions.length === 0) return [];
  const used = new Set<number>();
  const queries = questions.map((q) => {
    let id = q.opts?.id;
    while (id === undefined || (q.opts?.id === undefined && used.has(id))) id = randomInt(0, 0x10000);
    if (used.has(id)) throw new Error(`queryTcpPipelined: duplicate id ${id} (${q.name} ${q.type})`);
    used.add(id);
    return { ...buildQuery(q.name, q.type, { ...q.opts, id }), q };
  });
  const byId = new Map(queries.map((x, i) => [x.id, i]));
  const results: PipelinedResult[] = new Array(questions.length);
  let arrived = 0;
  const start = performance.now();
  const what = `pipelined ${questions.length} queries (${questions[0]!.name} ...) @${server.host}:${server.port}`;
  await tcpExchange(server, queries.map((x) => x.wire), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS * 2, what, (msg) => {
    const idx = msg.length >= 2 ? byId.get(msg.readUInt16BE(0)) : undefined;
    if (idx === undefined || results[idx]) throw new Error(`${what}: unexpected reply id ${msg.length >= 2 ? msg.readUInt16BE(0) : '?'}`);
    const q = questions[idx]!;
    const packet = decodeOrThrow(msg, `TCP ${describe(server, q.name, q.type)}`);
    results[idx] = { packet, raw: Buffer.from(msg), rtt: performance.now() - start, arrivalIndex: arrived++ };
    return arrived === questions.length;
  });
  return results;
}

// ---------------------------------------------------------------------------
// Small accessors for assertions
// ---------------------------------------------------------------------------

/** Data of answers of a given type, e.g. `answerData(p, 'A')` -> ['10.96.0.1']. */
export function answerData<T = unknown>(packet: DnsResponse, type: string, section: 'answers' | 'authorities' | 'additionals' = 'answers'): T[] {
  return packet[section].filter((a) => a.type === type).map((a) => (a as unknown as { data: T }).data);
}

/** The OPT pseudo-record of a response, if any. */
export function optRecord(packet: DnsResponse): Extract<Answer, { type: 'OPT' }> | undefined {
  return packet.additionals.find((a): a is Extract<Answer, { type: 'OPT' }> => a.type === 'OPT');
}
