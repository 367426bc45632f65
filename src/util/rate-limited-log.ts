// Error lines that can repeat thousands of times a second (a bug hit by every query, an upstream
// outage): per key the first one is logged at once, the rest of a window are summed up in one
// line at its end.
import type { Logger } from '../log/logger.js';

type Fields = Readonly<Record<string, unknown>>;

/** The line that ends a window in which `count` more reports arrived; `last` is the newest one's. */
export type SummaryText = (count: number, last: string, windowSeconds: number) => string;

const defaultSummary: SummaryText = (count, last, seconds) => `${count} more like this in the last ${seconds}s, the last: ${last}`;

export interface ReportDetail {
  /** On the first line and on the summary (e.g. the zone). */
  readonly fields?: Fields;
  /** On the first line only. */
  readonly lineFields?: Fields;
  /** What the summary quotes of this report; default the whole message. */
  readonly last?: string;
}

export class RateLimitedLog {
  private readonly windows = new Map<string, { count: number; last: string }>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 5000,
    private readonly summary: SummaryText = defaultSummary,
  ) {}

  report(key: string, message: string, detail: ReportDetail = {}): void {
    const last = detail.last ?? message;
    const window = this.windows.get(key);
    if (window) {
      window.count++;
      window.last = last;
      return;
    }
    this.logger.error({ ...detail.fields, ...detail.lineFields }, message);
    this.windows.set(key, { count: 0, last });
    const timer = setTimeout(() => {
      const w = this.windows.get(key);
      this.windows.delete(key);
      if (w && w.count > 0) this.logger.error({ ...detail.fields, suppressed: w.count }, this.summary(w.count, w.last, this.windowMs / 1000));
    }, this.windowMs);
    timer.unref();
  }
}
