/**
 * A scripted DNS server for the forwarder's own tests: UDP and TCP on 127.0.0.1, an OS-chosen port,
 * and a `behaviour` the test sets per query (answer, truncate, stay silent, close the connection).
 * Real sockets, so the forwarder's transports run unchanged; only what the server says is scripted.
 * stop() closes everything and is idempotent.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { RCODE } from '../../src/dns/constants.js';
import { frameTcp } from './dns-client.js';

export type Transport = 'udp' | 'tcp';

/** What the server does with one query. */
export type Behaviour =
  | { readonly kind: 'answer'; readonly answers?: Answer[]; readonly rcode?: Exclude<keyof typeof RCODE, 'BADVERS'> }
  | { readonly kind: 'truncate' } // UDP: empty reply with TC set
  | { readonly kind: 'silent' } // read it, never answer
  | { readonly kind: 'close' }; // TCP: close the connection (UDP: silent)

export interface ScriptedUpstream {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Queries seen, in arrival order (transport, name, type). */
  readonly seen: { transport: Transport; name: string; type: string }[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Decides the behaviour for each query; default: answer A 192.0.2.1. */
  behaviour: (query: DecodedPacket, transport: Transport) => Behaviour;
  stop(): Promise<void>;
}

const defaultAnswer = (q: DecodedPacket): Behaviour => ({
  kind: 'answer',
  answers: [{ type: 'A', name: q.questions?.[0]?.name ?? '.', ttl: 60, data: '192.0.2.1' }],
});

function reply(query: DecodedPacket, b: Extract<Behaviour, { kind: 'answer' | 'truncate' }>): Buffer {
  const truncated = b.kind === 'truncate';
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    // dns-packet encodes the rcode only from the low bits of `flags`.
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (truncated ? 0 : RCODE[b.rcode ?? 'NOERROR']),
    questions: query.questions,
    answers: truncated ? [] : (b.answers ?? []),
  } as dnsPacket.Packet);
}

/**
 * Binds a UDP socket on an OS-chosen port and `tcp` on the same number. Another process may hold
 * that TCP port: then the UDP socket is closed and both are tried again on a new port, so nothing
 * is left open when this fails.
 */
async function bindBoth(tcp: net.Server): Promise<{ udp: dgram.Socket; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const port = udp.address().port;
    const failed = await new Promise<Error | null>((resolve) => {
      tcp.once('error', resolve);
      tcp.listen(port, '127.0.0.1', () => {
        tcp.off('error', resolve);
        resolve(null);
      });
    });
    if (!failed) return { udp, port };
    await new Promise<void>((r) => udp.close(() => r()));
    if (attempt >= 20) throw failed;
  }
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const seen: ScriptedUpstream['seen'] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const tcp = net.createServer();
  const handle = (wire: Buffer, transport: Transport): { behaviour: Behaviour; query: DecodedPacket } | undefined => {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(wire);
    } catch {
      return undefined;
    }
    const q = query.questions?.[0];
    seen.push({ transport, name: q?.name ?? '', type: String(q?.type ?? '') });
    return { behaviour: server.behaviour(query, transport), query };
  };

  const { udp, port } = await bindBoth(tcp);
  udp.on('message', (msg, rinfo) => {
    const h = handle(msg, 'udp');
    if (!h || h.behaviour.kind === 'silent' || h.behaviour.kind === 'close') return;
    udp.send(reply(h.query, h.behaviour), rinfo.port, rinfo.address);
  });

  tcp.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + msg.length);
        const h = handle(msg, 'tcp');
        if (!h || h.behaviour.kind === 'silent') continue;
        if (h.behaviour.kind === 'close') {
          socket.destroy();
          return;
        }
        socket.write(frameTcp(reply(h.query, h.behaviour)));
      }
    });
  });

  let stopped = false;
  const server: ScriptedUpstream = {
    host: '127.0.0.1',
    port,
    seen,
    get connections() {
      return connections;
    },
    behaviour: defaultAnswer,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
  return server;
}
