// A closed-loop UDP load of distinct names from one socket: `window` queries outstanding, a new
// one sent for every answer, for `ms` and at most `maxQueries` queries (loopback servers only).
// Queries never answered within `resendAfterMs` are replaced so the window stays full.
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildQuery, decodeResponse, type DnsServer } from './dns-client.js';

export interface FloodOptions {
  readonly ms: number;
  readonly window: number;
  readonly maxQueries: number;
  /** The name of the i-th query (make them distinct: a random-subdomain flood). */
  readonly name: (i: number) => string;
  /** Give up on a query after this long and send another one instead. */
  readonly resendAfterMs: number;
  /** After the load, wait this long for the last answers before counting the unanswered ones. */
  readonly settleMs: number;
}

export interface FloodResult {
  sent: number;
  answered: number;
  rcodes: Record<string, number>;
  unanswered: number;
}

export async function udpFlood(server: DnsServer, o: FloodOptions): Promise<FloodResult> {
  const socket = dgram.createSocket('udp4');
  const outstanding = new Map<number, number>(); // id -> sent at
  const rcodes: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  const until = performance.now() + o.ms;
  let nextId = 0;
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const sendOne = () => {
    if (performance.now() >= until || sent >= o.maxQueries || outstanding.size >= 0xffff) return;
    let id = nextId++ & 0xffff;
    while (outstanding.has(id)) id = nextId++ & 0xffff;
    const { wire } = buildQuery(o.name(sent), 'A', { id });
    outstanding.set(id, performance.now());
    sent++;
    socket.send(wire, server.port, server.host);
  };
  socket.on('message', (msg) => {
    const id = msg.readUInt16BE(0);
    if (!outstanding.delete(id)) return;
    answered++;
    const rcode = decodeResponse(msg).rcode;
    rcodes[rcode] = (rcodes[rcode] ?? 0) + 1;
    sendOne();
  });
  for (let i = 0; i < o.window; i++) sendOne();
  while (performance.now() < until && sent < o.maxQueries) {
    await sleep(100);
    const now = performance.now();
    for (const [id, at] of outstanding) {
      if (now - at > o.resendAfterMs) {
        outstanding.delete(id);
        sendOne();
      }
    }
  }
  await sleep(o.settleMs);
  const unanswered = outstanding.size;
  socket.close();
  return { sent, answered, rcodes, unanswered };
}
