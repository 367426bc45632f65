// Live one-line progress for `node-local-dns load`.
//
// On a TTY the line is rewritten in place (`\r` + clear-to-end-of-line)
// about four times a second: elapsed time, lookups so far, current lookups
// per second, errors and p99 so far. When the stream is not a TTY, or with
// --quiet or --json, it writes nothing at all.

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface ProgressSnapshot {
  elapsedMs: number;
  lookups: number;
  errors: number;
  p99Ms: number;
}

const PROGRESS_INTERVAL_MS = 250;

export function progressEnabled(out: OutStream, quiet: boolean, json: boolean): boolean {
  return out.isTTY === true && !quiet && !json;
}

export class ProgressLine {
  private timer: NodeJS.Timeout | null = null;
  private lastLookups = 0;
  private lastElapsedMs = 0;

  constructor(
    private readonly out: OutStream,
    private readonly enabled: boolean,
  ) {}

  start(snapshot: () => ProgressSnapshot): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.out.write(`\r${this.format(snapshot())}\x1b[K`), PROGRESS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stop updating and erase the line so the report starts on a clean row. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.out.write('\r\x1b[K');
  }

  /** Format one progress line; the rate is measured since the previous line. */
  format(s: ProgressSnapshot): string {
    const dt = s.elapsedMs - this.lastElapsedMs;
    const rate = dt > 0 ? ((s.lookups - this.lastLookups) * 1000) / dt : 0;
    this.lastLookups = s.lookups;
    this.lastElapsedMs = s.elapsedMs;
    return (
      `${(s.elapsedMs / 1000).toFixed(1)}s  ${s.lookups.toLocaleString('en-US')} lookups  ` +
      `${Math.round(rate).toLocaleString('en-US')}/s  ` +
      `errors ${s.errors.toLocaleString('en-US')}  p99 ${s.lookups > 0 ? `${s.p99Ms.toFixed(3)} ms` : '-'}`
    );
  }
}
