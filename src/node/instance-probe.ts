// Asks a DNS address which node-local-dns instance answers it (`id.server. CH TXT`), from several
// source ports so that SO_REUSEPORT spreads the probes over every instance bound there. Used on
// shutdown: if another instance answers, it took over and the rules and addresses stay.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';

function idQuery(): Buffer {
  const name = Buffer.from('\x02id\x06server\x00', 'latin1');
  const out = Buffer.alloc(12 + name.length + 4);
  randomBytes(2).copy(out, 0);
  out.writeUInt16BE(1, 4);
  name.copy(out, 12);
  out.writeUInt16BE(16, 12 + name.length); // TXT
  out.writeUInt16BE(3, 14 + name.length); // CH
  return out;
}

function readTxt(reply: Buffer): string | null {
  // header(12) + question(name 11 + 4) + answer owner(2) type(2) class(2) ttl(4) rdlen(2) + txt
  const start = 12 + 11 + 4 + 12;
  if (reply.length <= start || (reply[3] & 0x0f) !== 0) return null;
  const len = reply[start];
  return reply.subarray(start + 1, start + 1 + len).toString('utf8');
}

/** Instance ids seen answering `host:port` within `timeoutMs` (`probes` separate sockets). */
export async function instancesAnswering(host: string, port: number, probes = 8, timeoutMs = 300): Promise<Set<string>> {
  const seen = new Set<string>();
  await Promise.all(
    Array.from(
      { length: probes },
      () =>
        new Promise<void>((resolve) => {
          const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
          const done = () => {
            clearTimeout(timer);
            socket.close();
            resolve();
          };
          const timer = setTimeout(done, timeoutMs);
          socket.on('error', done);
          socket.on('message', (msg) => {
            const id = readTxt(msg);
            if (id) seen.add(id);
            done();
          });
          socket.send(idQuery(), port, host);
        }),
    ),
  );
  return seen;
}
