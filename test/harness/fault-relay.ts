/**
 * A fault-injecting DNS relay for tests: listens on 127.0.0.1 (UDP and TCP on the same port),
 * sits between the daemon and a real upstream (BIND from ./upstream.ts) and forwards every DNS
 * message both ways, unless a fault mode says otherwise. Switch modes at any time with setMode().
 *
 * Modes (applied per query when it arrives, or per reply when it comes back):
 *   pass            forward unchanged
 *   blackhole       swallow queries (TCP connections stay open)
 *   slow            forward, delay each reply by `delayMs` (default 800)
 *   reset           TCP: reset the connection (RST) on each query; UDP: unaffected (passes)
 *   close-after     TCP: answer `closeAfter` queries per connection (default 5), then close it
 *                   gracefully; later queries on it are swallowed. UDP: unaffected
 *   garbage         reply random bytes without asking the upstream (TCP: in a well-formed frame,
 *                   or raw unframed bytes with `unframed: true`)
 *   wrong-id        forward, reply with ID+1
 *   wrong-question  forward, rewrite the reply into a poisoning attempt: the question becomes
 *                   `poisonName`, and the answer section holds A records with `attackerIp` for both
 *                   the original name and `poisonName`
 *   oversized       UDP: the genuine reply padded (EDNS Padding option) to `oversizeBytes` (default
 *                   60000), far above any advertised buffer, no TC. TCP: one 65,535-byte frame that
 *                   starts with the right ID and question, claims 65,535 answers, and is garbage
 *   truncate        UDP: an empty reply with TC set (the client must retry over TCP); TCP: passes
 *   kill            stop forwarding, close the listening sockets and every connection. Any other
 *                   mode after `kill` listens again on the same port.
 *
 * Only loopback traffic: the listener is on 127.0.0.1 and the upstream must be a loopback address.
 * stop() closes everything (sockets, timers) and is idempotent.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';

export type FaultMode =
  | 'pass'
  | 'blackhole'
  | 'slow'
  | 'reset'
  | 'close-after'
  | 'garbage'
  | 'wrong-id'
  | 'wrong-question'
  | 'oversized'
  | 'truncate'
  | 'kill';

export interface FaultOptions {
  /** slow: reply delay in ms (default 800). */
  delayMs?: number;
  /** close-after: queries answered per TCP connection before it is closed (default 5). */
  closeAfter?: number;
  /** garbage over TCP: write raw random bytes instead of a framed random message. */
  unframed?: boolean;
  /** wrong-question: the name the forged question asks for (default `poisoned.cluster.local`). */
  poisonName?: string;
  /** wrong-question: the address in the forged answers (default 192.0.2.66, TEST-NET-1). */
  attackerIp?: string;
  /** oversized (UDP): size of the padded reply (default 60000, at most 65000). */
  oversizeBytes?: number;
}

export interface FaultRelayStats {
  udpQueries: number;
  tcpQueries: number;
  tcpConnections: number;
  udpReplies: number; // datagrams sent back to clients (forwarded or forged)
  tcpReplies: number; // frames (or garbage writes) sent back to clients
  swallowed: number; // queries not forwarded nor answered
  resets: number; // TCP connections reset by `reset`
  closes: number; // TCP connections closed by `close-after`
  forged: number; // replies altered or invented by a fault mode
}

export interface FaultRelay {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  readonly mode: FaultMode;
  /** Live counters (mutated in place). */
  readonly stats: FaultRelayStats;
  /** Switches the fault mode; resolves once applied (for `kill`: sockets closed; leaving `kill`: listening again). */
  setMode(mode: FaultMode, opts?: FaultOptions): Promise<void>;
  /** Zeroes the counters. */
  resetStats(): void;
  /** Open TCP connections from clients right now. */
  readonly openConnections: number;
  stop(): Promise<void>;
}

export interface StartFaultRelayOptions {
  /** Listen on this port (e.g. to bring a relay back on the port of a stopped one); default 0 = any free port. */
  port?: number;
  mode?: FaultMode;
  opts?: FaultOptions;
}

const HOST = '127.0.0.1' as const;
const MAX_UDP_CLIENTS = 64; // upstream-side UDP sockets, one per client address
const DEFAULT_POISON_NAME = 'poisoned.cluster.local';
const DEFAULT_ATTACKER_IP = '192.0.2.66';

const zeroStats = (): FaultRelayStats => ({ udpQueries: 0, tcpQueries: 0, tcpConnections: 0, udpReplies: 0, tcpReplies: 0, swallowed: 0, resets: 0, closes: 0, forged: 0 });

function isLoopback(host: string): boolean {
  return host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** End of the question section of a message with one question, or -1. */
function questionEnd(msg: Buffer): number {
  if (msg.length < 12) return -1;
  let pos = 12;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= msg.length) return -1;
    const len = msg[pos]!;
    if (len === 0) return pos + 5 <= msg.length ? pos + 5 : -1;
    if (len >= 0xc0) return pos + 6 <= msg.length ? pos + 6 : -1;
    pos += 1 + len;
  }
  return -1;
}

function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** Reassembles 2-byte-length-framed messages from a stream. */
class Frames {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, onMessage: (msg: Buffer) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    while (this.buf.length - pos >= 2) {
      const len = this.buf.readUInt16BE(pos);
      if (this.buf.length - pos - 2 < len) break;
      onMessage(Buffer.from(this.buf.subarray(pos + 2, pos + 2 + len)));
      pos += 2 + len;
    }
    this.buf = pos < this.buf.length ? Buffer.from(this.buf.subarray(pos)) : Buffer.alloc(0);
  }
}

/** A random message of 12..512 bytes (the first two bytes are random too: it is not a reply). */
function garbage(): Buffer {
  return randomBytes(randomInt(12, 513));
}

/** The TCP `oversized` frame body: right ID and question, 65,535 claimed answers, random rest. */
function oversizedGarbage(query: Buffer): Buffer {
  const out = randomBytes(65535);
  const qEnd = questionEnd(query);
  const copyEnd = qEnd > 0 ? qEnd : 12;
  query.copy(out, 0, 0, copyEnd);
  out[2] = 0x80 | (query[2]! & 0x79); // QR, opcode and RD from the query
  out[3] = 0x80; // RA, NOERROR
  out.writeUInt16BE(qEnd > 0 ? 1 : 0, 4);
  out.writeUInt16BE(0xffff, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** An empty reply to `query` with TC set. */
function truncatedReply(query: Buffer): Buffer | null {
  const qEnd = questionEnd(query);
  if (qEnd < 0) return null;
  const out = Buffer.from(query.subarray(0, qEnd));
  out[2] = 0x80 | (query[2]! & 0x79) | 0x02; // QR, opcode, RD, TC
  out[3] = 0x80;
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  return out;
}

function withIdPlusOne(reply: Buffer): Buffer {
  const out = Buffer.from(reply);
  if (out.length >= 2) out.writeUInt16BE((out.readUInt16BE(0) + 1) & 0xffff, 0);
  return out;
}

/** The poisoning attempt: same ID, a different question, the attacker's address for both names. */
function poisoned(reply: Buffer, opts: FaultOptions): Buffer {
  const poisonName = opts.poisonName ?? DEFAULT_POISON_NAME;
  const ip = opts.attackerIp ?? DEFAULT_ATTACKER_IP;
  let original = poisonName;
  let type: 'A' | string = 'A';
  try {
    const decoded = dnsPacket.decode(reply);
    original = decoded.questions?.[0]?.name ?? poisonName;
    type = decoded.questions?.[0]?.type ?? 'A';
  } catch {
    // not decodable: forge anyway
  }
  const answers: Answer[] = [
    { name: original, type: 'A', class: 'IN', ttl: 3600, data: ip },
    { name: poisonName, type: 'A', class: 'IN', ttl: 3600, data: ip },
  ];
  const forged = dnsPacket.encode({
    type: 'response',
    id: reply.length >= 2 ? reply.readUInt16BE(0) : 0,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ name: poisonName, type: type as 'A', class: 'IN' }],
    answers,
  });
  return Buffer.from(forged);
}

/** The genuine reply, padded with an EDNS Padding option to `size` bytes (valid DNS, no TC). */
function padded(reply: Buffer, size: number): Buffer {
  try {
    const decoded = dnsPacket.decode(reply);
    const additionals = (decoded.additionals ?? []).filter((a) => a.type !== 'OPT');
    const base = Buffer.from(dnsPacket.encode({ ...decoded, additionals })).length;
    const padding = Math.max(0, Math.min(65000, size) - base - 11 - 4);
    const opt = { type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [{ code: 12, length: padding }] } as unknown as Answer;
    return Buffer.from(dnsPacket.encode({ ...decoded, additionals: [...additionals, opt] }));
  } catch {
    return reply;
  }
}

export async function startFaultRelay(upstream: { host: string; port: number }, options: StartFaultRelayOptions = {}): Promise<FaultRelay> {
  if (!isLoopback(upstream.host)) throw new Error(`fault relay: upstream ${upstream.host} is not a loopback address`);
  let mode: FaultMode = options.mode ?? 'pass';
  let opts: FaultOptions = options.opts ?? {};
  const stats = zeroStats();
  const timers = new Set<NodeJS.Timeout>();
  const tcpClients = new Set<net.Socket>();
  const tcpUpstreams = new Set<net.Socket>();
  const udpUpstreams = new Map<string, dgram.Socket>();
  let udpServer: dgram.Socket | null = null;
  let tcpServer: net.Server | null = null;
  let port = options.port ?? 0;
  let stopped = false;
  let modeEpoch = 0; // bumped by setMode

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  // --- UDP ---------------------------------------------------------------------------------------

  const sendUdp = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const server = udpServer;
    if (!server || mode === 'kill') return;
    stats.udpReplies++;
    server.send(msg, rinfo.port, rinfo.address, () => {});
  };

  /** One upstream-side socket per client address, so replies find their way back. */
  const udpUpstreamFor = (rinfo: dgram.RemoteInfo): dgram.Socket => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let sock = udpUpstreams.get(key);
    if (sock) return sock;
    if (udpUpstreams.size >= MAX_UDP_CLIENTS) {
      const [oldestKey, oldest] = udpUpstreams.entries().next().value as [string, dgram.Socket];
      udpUpstreams.delete(oldestKey);
      oldest.close();
    }
    sock = dgram.createSocket(net.isIPv6(upstream.host) ? 'udp6' : 'udp4');
    sock.on('error', () => {
      udpUpstreams.delete(key);
      sock!.close();
    });
    sock.on('message', (reply) => onUdpReply(reply, rinfo));
    udpUpstreams.set(key, sock);
    return sock;
  };

  const onUdpReply = (reply: Buffer, rinfo: dgram.RemoteInfo) => {
    switch (mode) {
      case 'kill':
      case 'blackhole':
        stats.swallowed++;
        return;
      case 'slow':
        later(opts.delayMs ?? 800, () => sendUdp(reply, rinfo));
        return;
      case 'wrong-id':
        stats.forged++;
        sendUdp(withIdPlusOne(reply), rinfo);
        return;
      case 'wrong-question':
        stats.forged++;
        sendUdp(poisoned(reply, opts), rinfo);
        return;
      case 'oversized':
        stats.forged++;
        sendUdp(padded(reply, opts.oversizeBytes ?? 60000), rinfo);
        return;
      default:
        sendUdp(reply, rinfo);
    }
  };

  const onUdpQuery = (query: Buffer, rinfo: dgram.RemoteInfo) => {
    stats.udpQueries++;
    switch (mode) {
      case 'kill':
      case 'blackhole':
        stats.swallowed++;
        return;
      case 'garbage':
        stats.forged++;
        sendUdp(garbage(), rinfo);
        return;
      case 'truncate': {
        const tc = truncatedReply(query);
        if (!tc) return;
        stats.forged++;
        sendUdp(tc, rinfo);
        return;
      }
      default:
        udpUpstreamFor(rinfo).send(query, upstream.port, upstream.host, () => {});
    }
  };

  // --- TCP ---------------------------------------------------------------------------------------

  const onTcpConnection = (client: net.Socket) => {
    if (mode === 'kill' || stopped) {
      client.destroy();
      return;
    }
    stats.tcpConnections++;
    tcpClients.add(client);
    client.setNoDelay(true);
    const fromClient = new Frames();
    const fromUpstream = new Frames();
    let up: net.Socket | null = null;
    // close-after counts from the moment the mode was set (a warm connection gets N more queries).
    let epoch = modeEpoch;
    let queries = 0; // queries received on this connection in this mode
    let answered = 0; // replies delivered on this connection in this mode
    let closing = false;
    const sameEpoch = () => {
      if (epoch === modeEpoch) return;
      epoch = modeEpoch;
      queries = 0;
      answered = 0;
    };

    const closeBoth = () => {
      client.destroy();
      up?.destroy();
    };
    const writeClient = (bytes: Buffer) => {
      if (client.destroyed || closing) return;
      stats.tcpReplies++;
      client.write(bytes);
    };
    const deliver = (reply: Buffer) => {
      if (client.destroyed || closing) return;
      writeClient(frame(reply));
      sameEpoch();
      if (mode === 'close-after' && ++answered >= (opts.closeAfter ?? 5)) {
        closing = true;
        stats.closes++;
        client.end();
        up?.destroy();
      }
    };
    const onUpstreamReply = (reply: Buffer) => {
      switch (mode) {
        case 'kill':
        case 'blackhole':
          stats.swallowed++;
          return;
        case 'slow':
          later(opts.delayMs ?? 800, () => deliver(reply));
          return;
        case 'wrong-id':
          stats.forged++;
          deliver(withIdPlusOne(reply));
          return;
        case 'wrong-question':
          stats.forged++;
          deliver(poisoned(reply, opts));
          return;
        default:
          deliver(reply);
      }
    };
    const upstreamConn = (): net.Socket => {
      if (up && !up.destroyed) return up;
      const s = net.connect({ host: upstream.host, port: upstream.port });
      s.setNoDelay(true);
      tcpUpstreams.add(s);
      s.on('data', (chunk: Buffer) => fromUpstream.push(chunk, onUpstreamReply));
      s.on('error', () => {});
      s.on('close', () => {
        tcpUpstreams.delete(s);
        // The upstream went away: so does this connection (a transparent proxy would do the same).
        if (up === s) client.end();
      });
      up = s;
      return s;
    };
    const onQuery = (query: Buffer) => {
      stats.tcpQueries++;
      sameEpoch();
      queries++;
      if (closing) {
        stats.swallowed++;
        return;
      }
      switch (mode) {
        case 'kill':
          closeBoth();
          return;
        case 'blackhole':
          stats.swallowed++;
          return;
        case 'reset':
          stats.resets++;
          client.resetAndDestroy();
          up?.destroy();
          return;
        case 'garbage':
          stats.forged++;
          writeClient(opts.unframed ? randomBytes(randomInt(1, 65)) : frame(garbage()));
          return;
        case 'oversized':
          stats.forged++;
          writeClient(frame(oversizedGarbage(query)));
          return;
        case 'close-after':
          if (queries > (opts.closeAfter ?? 5)) {
            stats.swallowed++;
            return;
          }
          upstreamConn().write(frame(query));
          return;
        default:
          upstreamConn().write(frame(query));
      }
    };
    client.on('data', (chunk: Buffer) => fromClient.push(chunk, onQuery));
    client.on('error', () => {});
    client.on('close', () => {
      tcpClients.delete(client);
      up?.destroy();
    });
  };

  // --- lifecycle ---------------------------------------------------------------------------------

  const listen = async (): Promise<void> => {
    // Bind TCP first (port 0 picks the port), then UDP on the same port; retry a few times if
    // the port is taken for UDP (only possible with port 0) or still held after a kill.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const tcp = net.createServer(onTcpConnection);
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: HOST, port, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        lastErr = err;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const boundPort = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address: HOST, port: boundPort, exclusive: true }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        lastErr = err;
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (port !== 0) await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      udp.on('message', onUdpQuery);
      udp.on('error', () => {});
      tcp.on('error', () => {});
      udpServer = udp;
      tcpServer = tcp;
      port = boundPort;
      return;
    }
    throw new Error(`fault relay: cannot listen on ${HOST}:${port} for UDP and TCP: ${(lastErr as Error)?.message}`);
  };

  const closeAll = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const c of tcpClients) c.destroy();
    tcpClients.clear();
    for (const u of tcpUpstreams) u.destroy();
    tcpUpstreams.clear();
    for (const s of udpUpstreams.values()) s.close();
    udpUpstreams.clear();
    const udp = udpServer;
    const tcp = tcpServer;
    udpServer = null;
    tcpServer = null;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  };

  await listen();
  if (mode === 'kill') await closeAll();

  return {
    host: HOST,
    get port() {
      return port;
    },
    get address() {
      return `${HOST}:${port}`;
    },
    get mode() {
      return mode;
    },
    stats,
    get openConnections() {
      return tcpClients.size;
    },
    async setMode(next: FaultMode, nextOpts: FaultOptions = {}) {
      if (stopped) throw new Error('fault relay: stopped');
      const wasKilled = mode === 'kill';
      mode = next;
      opts = nextOpts;
      modeEpoch++;
      if (next === 'kill' && !wasKilled) await closeAll();
      else if (next !== 'kill' && wasKilled) await listen();
    },
    resetStats() {
      Object.assign(stats, zeroStats());
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      mode = 'kill';
      await closeAll();
    },
  };
}
