// CoreDNS's `errors` plugin: one line per failed query, in its text, as the `msg` of our JSON
// log line, so log searches and alerts written for CoreDNS keep matching:
//   [ERROR] plugin/errors: 2 name.default.svc.cluster.local. A: <error>
// (`%d %s %s: %s` = rcode, lower-cased qname, qtype; plugin/errors/errors.go). During an upstream
// outage that is thousands of lines a second, so per zone the first error is logged at once and
// the rest of a 5 s window is summed up in one line, as `errors { consolidate 5s ... }` does:
//   [ERROR] plugin/errors: 1234 errors like '<last error>' occurred in last 5s
import type { Logger } from '../log/logger.js';
import { typeName } from '../dns/qtypes.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';

const WINDOW_MS = 5000;
const PREFIX = '[ERROR] plugin/errors: ';

export class RateLimitedErrorLog {
  private readonly log: RateLimitedLog;

  constructor(logger: Logger) {
    this.log = new RateLimitedLog(logger, WINDOW_MS, (count, last, seconds) => `${PREFIX}${count} errors like '${last}' occurred in last ${seconds}s`);
  }

  /** One failed query: `qname` lower-cased with the trailing dot, as CoreDNS's request.Name(). */
  report(zone: string, rcode: number, qname: string, qtype: number, error: string): void {
    this.log.report(zone, `${PREFIX}${rcode} ${qname} ${typeName(qtype)}: ${error}`, { fields: { zone }, lineFields: { rcode }, last: error });
  }
}
