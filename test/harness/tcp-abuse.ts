// TCP clients that misbehave on purpose, and a well-behaved one to measure what others still get.
// Everything is bounded in time and in connections, and talks to the given (loopback) server only.
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { answerData, frameTcp, queryTcp, type DnsServer } from './dns-client.js';

/** Raises this process's descriptor limit (root: prlimit on our own pid); returns the limit in force. */
export function raiseFdLimit(want: number): number {
  const current = () => Number(spawnSync('sh', ['-c', `prlimit --pid ${process.pid} --nofile --output SOFT --noheadings`], { encoding: 'utf8' }).stdout.trim());
  if (current() < want) spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`]);
  return current();
}

/** Opens one connection; resolves once connected (or failed: then the socket is already closed). */
function open(server: DnsServer): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ host: server.host, port: server.port });
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

export interface NonReader {
  readonly socket: net.Socket;
  /** Resolves with ms from the first write to the close by the server. */
  readonly closed: Promise<number>;
  readonly bytesWritten: () => number;
}

/**
 * Pipelines `totalBytes` of copies of one query and never reads a reply: every reply the server
 * queues stays queued.
 */
export async function nonReadingPipeliner(server: DnsServer, query: Buffer, totalBytes: number): Promise<NonReader> {
  const socket = await open(server);
  socket.pause(); // and no 'data' listener: Node reads one buffer's worth, then nothing
  const framed = frameTcp(query);
  const batch = Buffer.concat(Array.from({ length: Math.ceil(totalBytes / framed.length) }, (_, i) => {
    const f = Buffer.from(framed);
    f.writeUInt16BE(i & 0xffff, 2); // distinct IDs
    return f;
  }));
  const started = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  socket.write(batch);
  return { socket, closed, bytesWritten: () => socket.bytesWritten };
}

export interface FloodStats {
  opened: number;
  /** Connections the server closed, and how long each had lived (ms). */
  closedByServer: number[];
  /** Connects that failed (refused or reset before connecting). */
  failed: number;
}

/**
 * Keeps `connections` connections open until `untilMs` (performance.now()), reopening each one the
 * server closes. `everyMs` > 0: each sends one byte of a never-finished frame every `everyMs`
 * (slowloris); 0: each sends nothing.
 */
export async function connectionFlood(server: DnsServer, opts: { connections: number; everyMs: number; untilMs: number }): Promise<FloodStats> {
  const stats: FloodStats = { opened: 0, closedByServer: [], failed: 0 };
  const trickle = Buffer.concat([Buffer.from([0x01, 0x00]), Buffer.alloc(254, 0x41)]); // promises 256 bytes
  const slot = async (): Promise<void> => {
    while (performance.now() < opts.untilMs) {
      const s = await open(server);
      if (s.destroyed || !s.remotePort) {
        stats.failed++;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      stats.opened++;
      const born = performance.now();
      let next = 0;
      const sendByte = () => s.write(trickle.subarray(next, ++next)); // the test ends long before the frame would
      const timer = opts.everyMs > 0 ? setInterval(sendByte, opts.everyMs) : null;
      if (timer) sendByte();
      const closedByServer = await new Promise<boolean>((resolve) => {
        const stop = setTimeout(() => resolve(false), Math.max(0, opts.untilMs - performance.now()));
        s.once('close', () => {
          clearTimeout(stop);
          resolve(true);
        });
      });
      if (timer) clearInterval(timer);
      if (!closedByServer) {
        s.destroy();
        return;
      }
      stats.closedByServer.push(performance.now() - born);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, slot));
  return stats;
}

export interface LookupStats {
  answered: number;
  /** Connection reset or closed before the answer. */
  refused: number;
  /** No answer within the timeout. */
  lost: number;
  latenciesMs: number[];
  errors: string[];
}

/**
 * Legitimate lookups, each on a new connection as a stub resolver retrying over TCP does:
 * `count` of them, one every `everyMs`, each given `timeoutMs`.
 */
export async function legitimateTcpLookups(server: DnsServer, names: { name: string; ipv4: string }[], opts: { count: number; everyMs: number; timeoutMs: number }): Promise<LookupStats> {
  const stats: LookupStats = { answered: 0, refused: 0, lost: 0, latenciesMs: [], errors: [] };
  const one = async (i: number) => {
    const { name, ipv4 } = names[i % names.length];
    const started = performance.now();
    try {
      const r = await queryTcp(server, name, 'A', { timeoutMs: opts.timeoutMs });
      if (answerData(r.packet, 'A')[0] === ipv4) {
        stats.answered++;
        stats.latenciesMs.push(performance.now() - started);
      } else stats.errors.push(`${name}: ${r.packet.rcode}`);
    } catch (err) {
      const message = (err as Error).message;
      if (/timed out/.test(message)) stats.lost++;
      else stats.refused++;
      stats.errors.push(message);
    }
  };
  const running: Promise<void>[] = [];
  for (let i = 0; i < opts.count; i++) {
    running.push(one(i));
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
  await Promise.all(running);
  return stats;
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
