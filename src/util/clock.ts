// Time source and timers. Cache and forwarder take a Clock, and the forwarder's transports take
// Timers, so tests can move time by hand (ManualClock is both) instead of sleeping.
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

export interface Timers {
  /** Runs `fn` after `ms`. `unref`: the timer alone does not keep the process alive. */
  schedule(fn: () => void, ms: number, opts?: { unref?: boolean }): Timer;
}

export const systemClock: Clock = { nowMs: () => performance.now() };

export const systemTimers: Timers = {
  schedule(fn, ms, opts) {
    const handle = setTimeout(fn, ms);
    if (opts?.unref) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A clock tests advance explicitly; its timers fire, in due order, as advance() passes them. */
export class ManualClock implements Clock, Timers {
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(private now = 1_000_000) {}

  nowMs(): number {
    return this.now;
  }

  schedule(fn: () => void, ms: number): Timer {
    const timer: ManualTimer = { due: this.now + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.cancelled || t.due > until) continue;
        if (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq)) next = t;
      }
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next && !t.cancelled);
      this.now = Math.max(this.now, next.due);
      next.fn();
    }
    this.now = until;
  }
}
