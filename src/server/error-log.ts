// CoreDNS's `errors` plugin: one line per failed query, in its text, as the `msg` of our JSON
// log line, so log searches and alerts written for CoreDNS keep matching:
//   [ERROR] plugin/errors: 2 name.default.svc.cluster.local. A: <error>
// (`%d %s %s: %s` = rcode, lower-cased qname, qtype; plugin/errors/errors.go). During an upstream
// outage that is thousands of lines a second, so per zone the first error is logged at once and
// the rest of a 5 s window is summed up in one line, as `errors { consolidate 5s ... }` does:
//   [ERROR] plugin/errors: 1234 errors like '<last error>' occurred in last 5s
import type { Logger } from '../log/logger.js';
import { typeName } from '../dns/qtypes.js';

const WINDOW_MS = 5000;
const PREFIX = '[ERROR] plugin/errors: ';

/** The errors plugin's text for one failed query. */
function formatErrorLine(rcode: number, qname: string, qtype: number, error: string): string {
  return `${PREFIX}${rcode} ${qname} ${typeName(qtype)}: ${error}`;
}

export class RateLimitedErrorLog {
  private readonly windows = new Map<string, { count: number; last: string; timer: NodeJS.Timeout }>();

  constructor(private readonly logger: Logger) {}

  /** One failed query: `qname` lower-cased with the trailing dot, as CoreDNS's request.Name(). */
  report(zone: string, rcode: number, qname: string, qtype: number, error: string): void {
    const window = this.windows.get(zone);
    if (window) {
      window.count++;
      window.last = error;
      return;
    }
    this.logger.error({ zone, rcode }, formatErrorLine(rcode, qname, qtype, error));
    const timer = setTimeout(() => {
      const w = this.windows.get(zone);
      this.windows.delete(zone);
      if (w && w.count > 0) this.logger.error({ zone, suppressed: w.count }, `${PREFIX}${w.count} errors like '${w.last}' occurred in last ${WINDOW_MS / 1000}s`);
    }, WINDOW_MS);
    timer.unref();
    this.windows.set(zone, { count: 0, last: error, timer });
  }
}
