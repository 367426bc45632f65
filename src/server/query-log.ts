// Optional per-query log in CoreDNS's `log` plugin format (Common Log Format variant):
//   {remote}:{port} - {id} "{type} {class} {name} {proto} {size} {do} {bufsize}" {rcode} {rflags} {rsize} {duration}
// Types, classes and rcodes as miekg/dns spells them (dns/qtypes.ts: NAPTR, CH, TYPE65534).
// Sampled: with sampleRate 0.01 about one query in a hundred is written. The name is escaped as
// CoreDNS prints it (\. \" \DDD ...), so a forged label cannot add or shift fields.
import type { Logger } from '../log/logger.js';
import type { ParsedQuery } from '../dns/query.js';
import { keyToPresentationName } from '../dns/presentation.js';
import { className, flagNames, rcodeName, typeName } from '../dns/qtypes.js';

export function formatQueryLine(remote: string, query: ParsedQuery, tcp: boolean, requestSize: number, reply: Buffer, seconds: number): string {
  const bufsize = tcp ? 65535 : query.udpPayload;
  return `${remote} - ${query.id} "${typeName(query.qtype)} ${className(query.qclass)} ${keyToPresentationName(query.key)} ${tcp ? 'tcp' : 'udp'} ${requestSize} ${query.dnssecOk} ${bufsize}" ${rcodeName(reply[3] & 0x0f)} ${flagNames(reply).join(',')} ${reply.length} ${seconds.toFixed(6)}s`;
}

export class QueryLog {
  constructor(private readonly logger: Logger) {}

  /** `requestSize`: the client's whole message in bytes, OPT included (CoreDNS `{size}` = state.Req.Len()). */
  write(sampleRate: number, remote: string, query: ParsedQuery, tcp: boolean, reply: Buffer, seconds: number, requestSize: number): void {
    if (sampleRate < 1 && Math.random() >= sampleRate) return;
    this.logger.info(formatQueryLine(remote, query, tcp, requestSize, reply, seconds));
  }
}
