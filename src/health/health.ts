// Process health and readiness, with CoreDNS semantics: `health` answers 200 "OK" for as long as the
// process serves (also during lameduck); `ready` answers 200 "OK" only once everything is up and
// 503 before that and while shutting down. A self-check GETs our own /health every second and
// feeds coredns_health_request_duration_seconds / coredns_health_request_failures_total
// (CoreDNS plugin/health/overloaded.go). The HTTP side lives in metrics/http.ts.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HistogramCounts } from '../util/histogram.js';
import type { Logger } from '../log/logger.js';

/** plugin.SlimTimeBuckets. */
export const SLIM_TIME_BUCKETS: readonly number[] = [0.00025, 0.0025, 0.025, 0.25, 2.5];

/** starting → ready → lameduck → stopped; phases only move forward. */
export type HealthPhase = 'starting' | 'ready' | 'lameduck' | 'stopped';
const PHASE_ORDER: Record<HealthPhase, number> = { starting: 0, ready: 1, lameduck: 2, stopped: 3 };

/** Counters of the self-check; published by metrics/registry.ts at scrape time. */
export class HealthStats {
  readonly duration = new HistogramCounts(SLIM_TIME_BUCKETS);
  failures = 0;
}

/** What an HTTP endpoint answers: status code and a short text body. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

const OK: HttpAnswer = { status: 200, body: 'OK' };
const STARTING: HttpAnswer = { status: 503, body: 'starting' };
const SHUTTING_DOWN: HttpAnswer = { status: 503, body: 'Shutting down' };

export interface HealthOptions {
  readonly stats?: HealthStats;
  readonly log?: Logger;
  readonly intervalMs?: number; // self-check period (CoreDNS: 1 s)
  readonly timeoutMs?: number; // self-check timeout (CoreDNS: 3 s)
  readonly slowMs?: number; // warn when a self-check takes longer (CoreDNS: 1 s)
}

export class HealthState {
  readonly stats: HealthStats;
  private current: HealthPhase = 'starting';
  private timer: NodeJS.Timeout | undefined;
  private inflight: http.ClientRequest | undefined;
  private readonly log: Logger | undefined;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly slowMs: number;

  constructor(options: HealthOptions = {}) {
    this.stats = options.stats ?? new HealthStats();
    this.log = options.log;
    this.intervalMs = options.intervalMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.slowMs = options.slowMs ?? 1000;
  }

  get phase(): HealthPhase {
    return this.current;
  }

  /** All listeners are up: /ready turns 200. */
  markReady(): void {
    this.advance('ready');
  }

  /** Shutdown began: /ready turns 503, /health stays 200 (CoreDNS lameduck). */
  enterLameduck(): void {
    this.advance('lameduck');
  }

  /** Enter lameduck and wait `ms` before the caller closes the DNS listeners. */
  async lameduck(ms: number): Promise<void> {
    this.enterLameduck();
    if (ms > 0) await sleep(ms);
  }

  /** Listeners are closed: both endpoints answer 503 and the self-check ends. */
  stop(): void {
    this.advance('stopped');
    this.stopSelfCheck();
  }

  /** GET /health. */
  healthAnswer(): HttpAnswer {
    return this.current === 'stopped' ? SHUTTING_DOWN : OK;
  }

  /** GET /ready. */
  readyAnswer(): HttpAnswer {
    if (this.current === 'ready') return OK;
    return this.current === 'starting' ? STARTING : SHUTTING_DOWN;
  }

  /** Probe `url` (our own http://host:port/health) every interval; the timer does not hold the process open. */
  startSelfCheck(url: string): void {
    this.stopSelfCheck();
    if (this.current === 'stopped') return;
    this.timer = setInterval(() => this.checkOnce(url), this.intervalMs);
    this.timer.unref();
  }

  /** Stop probing; an in-flight probe is aborted and not counted. */
  stopSelfCheck(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const req = this.inflight;
    this.inflight = undefined;
    req?.destroy();
  }

  private advance(to: HealthPhase): void {
    if (PHASE_ORDER[to] > PHASE_ORDER[this.current]) this.current = to;
  }

  private checkOnce(url: string): void {
    if (this.inflight) return; // previous probe still running: skip this tick, like Go's ticker
    const started = performance.now();
    const req = http.get(url, { agent: false, timeout: this.timeoutMs });
    this.inflight = req;
    const finish = (err?: Error): void => {
      if (this.inflight !== req) return; // aborted by stopSelfCheck, or already finished
      this.inflight = undefined;
      this.record((performance.now() - started) / 1000, url, err);
    };
    req.on('response', (res) => {
      res.resume();
      finish(res.statusCode === 200 ? undefined : new Error(`HTTP status ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
    req.on('error', finish);
  }

  private record(seconds: number, url: string, err: Error | undefined): void {
    this.stats.duration.observe(seconds);
    if (err) {
      this.stats.failures++;
      this.log?.warn({ url, err: err.message }, 'local health request failed');
    } else if (seconds * 1000 > this.slowMs) {
      this.log?.warn({ url, seconds }, 'local health request took more than 1s');
    }
  }
}
