// CoreDNS's `errors` plugin logs every failed query; during an upstream outage that is thousands of
// lines a second. We log the first error per zone at once, then at most one summary per interval
// ("N errors like ... in the last 5s"), like `errors { consolidate }`.
import type { Logger } from '../log/logger.js';

const WINDOW_MS = 5000;

export class RateLimitedErrorLog {
  private readonly windows = new Map<string, { count: number; last: string; timer: NodeJS.Timeout }>();

  constructor(private readonly logger: Logger) {}

  report(zone: string, message: string): void {
    const window = this.windows.get(zone);
    if (window) {
      window.count++;
      window.last = message;
      return;
    }
    this.logger.error({ zone }, message);
    const timer = setTimeout(() => {
      const w = this.windows.get(zone);
      this.windows.delete(zone);
      if (w && w.count > 0) this.logger.error({ zone, suppressed: w.count }, `${w.count} more errors in the last ${WINDOW_MS / 1000}s, last: ${w.last}`);
    }, WINDOW_MS);
    timer.unref();
    this.windows.set(zone, { count: 0, last: message, timer });
  }
}
