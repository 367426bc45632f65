// The guard's probe: a real DNS query, `id.server. CH TXT` (answered by the daemon itself, with its
// instance id, without touching cache or upstreams), sent to one local IP from the loopback address
// (127.0.0.1 / ::1). Loopback is the source on purpose: the guard's own redirect rules (see
// ./node-fallback.ts) exclude it, so while the guard relays the node's lookups its probes still
// reach the daemon's socket, not the relay.
//
// An answer counts as the daemon's when it carries an id of this host ("<hostname>/<pid>/<hex>",
// see server/chaos.ts) that is not the guard's own: the guard's relay answers with the guard's id,
// and kube-dns (BIND, CoreDNS) answers id.server with something else or not at all.
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import { randomInt } from 'node:crypto';
import { buildQuery } from '../dns/reply.js';
import { skipName } from '../dns/query.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';
import { INSTANCE_ID } from '../util/instance-identity.js';
import { CLASS_CH } from '../dns/constants.js';

export type ProbeResult = { readonly answered: true; readonly instance: string } | { readonly answered: false; readonly reason: string };

function idServerQuery(id: number): Buffer {
  const query = buildQuery('id.server', TYPE.TXT, id, false);
  query.writeUInt16BE(CLASS_CH, query.length - 2);
  return query;
}

/** The first TXT string of a NOERROR reply with our ID, or null. */
export function readIdServerReply(reply: Buffer, id: number): string | null {
  if (reply.length < HEADER_SIZE || reply.readUInt16BE(0) !== id || (reply[2]! & 0x80) === 0 || (reply[3]! & 0x0f) !== 0) return null;
  if (reply.readUInt16BE(4) !== 1 || reply.readUInt16BE(6) < 1) return null;
  const questionEnd = skipName(reply, HEADER_SIZE);
  if (questionEnd < 0) return null;
  const pos = skipName(reply, questionEnd + 4);
  if (pos < 0 || pos + 11 > reply.length || reply.readUInt16BE(pos) !== TYPE.TXT) return null;
  const rdLength = reply.readUInt16BE(pos + 8);
  const length = reply[pos + 10]!;
  if (length + 1 > rdLength || pos + 11 + length > reply.length) return null;
  return reply.subarray(pos + 11, pos + 11 + length).toString('utf8');
}

/** True for an id the daemon of this node writes (any worker thread's), other than the guard's own. */
export function isDaemonInstance(text: string, ownId = INSTANCE_ID, host = hostname()): boolean {
  return text !== ownId && !text.startsWith(`${ownId}/w`) && text.startsWith(`${host}/`);
}

/** One probe of `ip:port`; resolves within `timeoutMs`, never rejects. */
export function probeDaemon(ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const v6 = isIPv6(ip);
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    const id = randomInt(0, 0x10000);
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ answered: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('error', (err) => finish({ answered: false, reason: err.message }));
    socket.on('message', (msg) => {
      const text = readIdServerReply(msg, id);
      if (text === null) return; // not ours or not an answer: keep waiting
      finish(isDaemonInstance(text) ? { answered: true, instance: text } : { answered: false, reason: `answered by ${JSON.stringify(text)}, not a node-local-dns daemon` });
    });
    socket.bind(0, v6 ? '::1' : '127.0.0.1', () => {
      socket.send(idServerQuery(id), port, ip, (err) => {
        if (err) finish({ answered: false, reason: err.message });
      });
    });
  });
}
