// CoreDNS `whoami` (plugin/whoami): answers with the client's address and port: an A or AAAA
// record for the query name and an SRV `_udp.NAME` / `_tcp.NAME` whose port is the client's, both
// in the additional section, AA set, TTL 0. It comes after forward in plugin.cfg, so it answers
// only in blocks without forward (or for names forward's `except` leaves out).
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { TYPE } from '../dns/constants.js';
import { peerAddress, replyTo } from './common.js';
import type { Record } from './message.js';

export function parseWhoamiDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 0 || d.block) return b.issue(d.line, 'whoami', 'takes no arguments');
  b.set('whoami', true, d.line);
}

/** The whoami reply for a query from `remote` ("ip:port" or "[ipv6]:port"). */
export function whoamiReply(query: Buffer, name: string, qclass: number, remote: string, tcp: boolean): Buffer | null {
  const peer = peerAddress(remote);
  if (!peer) return null;
  const ip = peer.address;
  const port = Buffer.alloc(6);
  port.writeUInt16BE(peer.port, 4);
  const proto = tcp ? '_tcp' : '_udp';
  const additional: Record[] = [
    { name, type: ip.length === 4 ? TYPE.A : TYPE.AAAA, class: qclass, ttl: 0, rdata: [ip] },
    { name: name === '.' ? `${proto}.` : `${proto}.${name}`, type: TYPE.SRV, class: qclass, ttl: 0, rdata: [port, { name: '.' }] },
  ];
  return replyTo(query, { rcode: 0, authoritative: true, answer: [], additional });
}
