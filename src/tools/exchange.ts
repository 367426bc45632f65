// One query, one reply, over UDP or TCP, with a deadline: what `query` and the load tool's
// getaddrinfo truncation probe send. Accepts only a reply from the server asked, with our ID and
// our question (or no question, as error replies may have). Failures are values.
import dgram from 'node:dgram';
import net from 'node:net';
import { HEADER_SIZE } from '../dns/constants.js';
import { replyMatchesQuestion } from '../dns/reply.js';
import { FrameReader, frame } from '../dns/tcp-framing.js';
import type { ServerAddress } from './args.js';

export type ExchangeResult = { ok: true; reply: Buffer; ms: number } | { ok: false; error: string };

/** `query` is a whole query message; `questionEnd` the offset just past its question. */
export function exchange(server: ServerAddress, query: Buffer, questionEnd: number, tcp: boolean, timeoutMs: number): Promise<ExchangeResult> {
  const started = performance.now();
  const answers = (reply: Buffer) => reply.length >= HEADER_SIZE && reply.readUInt16BE(0) === query.readUInt16BE(0) && (replyMatchesQuestion(reply, query, questionEnd) || reply.readUInt16BE(4) === 0);
  return new Promise((resolve) => {
    let finish: (result: ExchangeResult) => void;
    const timer = setTimeout(() => finish({ ok: false, error: `no reply from ${label(server)} over ${tcp ? 'TCP' : 'UDP'} in ${timeoutMs} ms` }), timeoutMs);
    if (tcp) {
      const socket = net.connect({ host: server.address, port: server.port });
      const reader = new FrameReader();
      finish = (result) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      socket.on('connect', () => socket.write(frame(query)));
      socket.on('data', (chunk) => reader.push(chunk, (msg) => answers(msg) && finish({ ok: true, reply: Buffer.from(msg), ms: performance.now() - started })));
      socket.on('error', (err) => finish({ ok: false, error: `${label(server)} over TCP: ${err.message}` }));
      socket.on('close', () => finish({ ok: false, error: `${label(server)} closed the TCP connection without a reply` }));
      return;
    }
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    finish = (result) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
      finish = () => {};
    };
    socket.on('message', (msg, from) => {
      if (from.port === server.port && from.address === server.address && answers(msg)) finish({ ok: true, reply: msg, ms: performance.now() - started });
    });
    socket.on('error', (err) => finish({ ok: false, error: `${label(server)} over UDP: ${err.message}` }));
    socket.send(query, server.port, server.address);
  });
}

const label = (s: ServerAddress): string => (s.family === 6 ? `[${s.address}]#${s.port}` : `${s.address}#${s.port}`);
