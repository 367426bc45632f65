// The plugins that answer from local data (template, hosts) run on a cache miss, after the cache
// and before forward as in CoreDNS's plugin.cfg; what they answer is cached like an upstream reply.
import { readName } from '../dns/names.js';
import { HEADER_SIZE } from '../dns/constants.js';

export interface LocalQuestion {
  readonly query: Buffer; // the query as forward would send it
  readonly name: string; // lower-case presentation name with trailing dot
  readonly qtype: number;
  readonly qclass: number;
}

/** A reply (wire, no OPT), or just an rcode the server answers with (SERVFAIL); `error` is for the errors log. */
export interface LocalAnswer {
  readonly rcode: number;
  readonly reply?: Buffer;
  readonly error?: string;
}

export interface LocalAnswerer {
  answer(q: LocalQuestion): LocalAnswer | null;
}

/** Reads the question of a query; null if it cannot (the pipeline parsed it already). */
export function localQuestion(query: Buffer): LocalQuestion | null {
  const n = readName(query, HEADER_SIZE);
  if (!n || n.end + 4 > query.length) return null;
  return { query, name: n.name.toLowerCase(), qtype: query.readUInt16BE(n.end), qclass: query.readUInt16BE(n.end + 2) };
}
