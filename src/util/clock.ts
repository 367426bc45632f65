// Time source. Cache and forwarder take a Clock so tests can move time by hand.
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => performance.now() };

/** A clock tests advance explicitly. */
export class ManualClock implements Clock {
  constructor(private now = 1_000_000) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}
