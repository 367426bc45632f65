// Error lines that can repeat thousands of times a second (a bug hit by every query): per key the
// first one is logged at once, the rest of a window are summed up in one line at its end.
import type { Logger } from '../log/logger.js';

export class RateLimitedLog {
  private readonly windows = new Map<string, { count: number; last: string }>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 5000,
  ) {}

  report(key: string, message: string): void {
    const window = this.windows.get(key);
    if (window) {
      window.count++;
      window.last = message;
      return;
    }
    this.logger.error(message);
    this.windows.set(key, { count: 0, last: message });
    const timer = setTimeout(() => {
      const w = this.windows.get(key);
      this.windows.delete(key);
      if (w && w.count > 0) this.logger.error({ suppressed: w.count }, `${w.count} more like this in the last ${this.windowMs / 1000}s, the last: ${w.last}`);
    }, this.windowMs);
    timer.unref();
  }
}
