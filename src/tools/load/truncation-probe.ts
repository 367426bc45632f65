// Why did getaddrinfo fail? It only says EAI_NODATA / EAI_NONAME / EAI_AGAIN. A reply that did
// not fit in 512 bytes is a common cause: glibc takes a truncated reply without records and
// without AA/RA for a lame answer and never retries over TCP, and musl before 1.2.4 never retries
// at all. The probe asks the same names the resolver asked (the search walk of resolv-conf.ts),
// over UDP without EDNS as glibc and musl do by default, and says whether a reply came back
// truncated. The answer is kept per name for the rest of the run: truncation depends on the
// answer's size, and the probe must not add a query to every failed lookup.
import { randomInt } from 'node:crypto';
import { HEADER_SIZE, TYPE } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/records.js';
import { encodeName } from '../../dns/names.js';
import { encodeQuery } from '../../dns/question.js';
import type { ServerAddress } from '../args.js';
import { exchange } from '../exchange.js';
import { searchCandidates, searchGoesOn, type ResolvConf } from '../resolv-conf.js';

/** True when asking `name` as the stub resolver would got a truncated (TC) UDP reply. */
export async function lookupWasTruncated(name: string, family: 0 | 4 | 6, conf: Pick<ResolvConf, 'search' | 'ndots'>, server: ServerAddress, timeoutMs: number): Promise<boolean> {
  const qtypes = family === 4 ? [TYPE.A] : family === 6 ? [TYPE.AAAA] : [TYPE.A, TYPE.AAAA];
  for (const candidate of searchCandidates(name, conf)) {
    const encoded = encodeName(candidate);
    if (!encoded.ok) return false;
    let goOn = true;
    for (const qtype of qtypes) {
      const query = encodeQuery({ id: randomInt(65536), name: encoded.wire, qtype });
      const result = await exchange(server, query, HEADER_SIZE + encoded.wire.length + 4, false, timeoutMs);
      if (!result.ok) return false;
      const decoded = decodeMessage(result.reply);
      if (!decoded.ok) return false;
      if (decoded.message.truncated) return true;
      goOn &&= searchGoesOn(decoded.message.rcode, decoded.message.answer.length);
    }
    if (!goOn) return false;
  }
  return false;
}

/** Probes each name once per run. */
export class TruncationProbe {
  private readonly known = new Map<string, Promise<boolean>>();

  constructor(
    private readonly conf: Pick<ResolvConf, 'search' | 'ndots'>,
    private readonly server: ServerAddress | null, // null: resolv.conf lists no usable nameserver
    private readonly family: 0 | 4 | 6,
    private readonly timeoutMs: number,
  ) {}

  truncated(name: string): Promise<boolean> {
    if (!this.server) return Promise.resolve(false);
    let answer = this.known.get(name);
    if (!answer) this.known.set(name, (answer = lookupWasTruncated(name, this.family, this.conf, this.server, this.timeoutMs)));
    return answer;
  }
}
