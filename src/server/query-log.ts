// Optional per-query log in CoreDNS's `log` plugin format (Common Log Format variant):
//   {remote}:{port} - {id} "{type} {class} {name} {proto} {size} {do} {bufsize}" {rcode} {rflags} {rsize} {duration}
// Sampled: with sampleRate 0.01 about one query in a hundred is written. The name is escaped as
// CoreDNS prints it (\. \" \DDD ...), so a forged label cannot add or shift fields.
import type { Logger } from '../log/logger.js';
import type { ParsedQuery } from '../dns/query.js';
import { keyToPresentationName } from '../dns/presentation.js';
import { QTYPE_LABELS, RCODE_LABELS, qtypeIndex } from '../metrics/dns-stats.js';

const FLAG_NAMES: [number, number, string][] = [
  [2, 0x80, 'qr'],
  [2, 0x04, 'aa'],
  [2, 0x02, 'tc'],
  [2, 0x01, 'rd'],
  [3, 0x80, 'ra'],
  [3, 0x20, 'ad'],
  [3, 0x10, 'cd'],
];

export function formatQueryLine(remote: string, query: ParsedQuery, tcp: boolean, requestSize: number, reply: Buffer, seconds: number): string {
  const typeIndex = qtypeIndex(query.qtype);
  const type = QTYPE_LABELS[typeIndex] === 'other' ? `TYPE${query.qtype}` : QTYPE_LABELS[typeIndex];
  const cls = query.qclass === 1 ? 'IN' : `CLASS${query.qclass}`;
  const bufsize = tcp ? 65535 : query.udpPayload;
  const rcode = RCODE_LABELS[reply[3] & 0x0f] ?? String(reply[3] & 0x0f);
  const flags = FLAG_NAMES.filter(([byte, mask]) => reply[byte] & mask)
    .map(([, , n]) => n)
    .join(',');
  return `${remote} - ${query.id} "${type} ${cls} ${keyToPresentationName(query.key)} ${tcp ? 'tcp' : 'udp'} ${requestSize} ${query.dnssecOk} ${bufsize}" ${rcode} ${flags} ${reply.length} ${seconds.toFixed(6)}s`;
}

export class QueryLog {
  constructor(private readonly logger: Logger) {}

  /** `requestSize`: the client's whole message in bytes, OPT included (CoreDNS `{size}` = state.Req.Len()). */
  write(sampleRate: number, remote: string, query: ParsedQuery, tcp: boolean, reply: Buffer, seconds: number, requestSize: number): void {
    if (sampleRate < 1 && Math.random() >= sampleRate) return;
    this.logger.info(formatQueryLine(remote, query, tcp, requestSize, reply, seconds));
  }
}
