// One upstream server: its transports (pooled TCP, UDP), health state and counters. After a
// failed exchange a probe loop sends ". IN NS" every health-check interval until one gets any
// reply (CoreDNS forward semantics); each failed probe counts, and more than maxFails consecutive
// failures mark the upstream down, so queries skip it until a probe succeeds.
import type { ForwardConfig, UpstreamAddress } from '../config/types.js';
import { systemTimers, type Clock, type Timer, type Timers } from '../util/clock.js';
import { buildQuery } from '../dns/reply.js';
import { TYPE, HEADER_SIZE } from '../dns/constants.js';
import { TcpPool, type ConnectionFactory } from './tcp-pool.js';
import { UdpTransport } from './udp-transport.js';
import { UpstreamStats } from './stats.js';
import { UpstreamError } from './errors.js';
import { inBackground, type BackgroundErrorSink } from '../util/background.js';

const PROBE_TIMEOUT_MS = 1000;
const ROOT_NS_PROBE = buildQuery('.', TYPE.NS, 0);
const ROOT_NS_QUESTION_END = HEADER_SIZE + 1 + 4;

/** Test seams: timers (a ManualClock) and the TCP connection factory; where a bug in a health probe goes. */
export interface UpstreamSeams {
  readonly timers?: Timers;
  readonly connect?: ConnectionFactory;
  /** Default: rethrown, so it reaches the process policy (cli/crash-policy.ts) as an unhandled rejection. */
  readonly onBackgroundError?: BackgroundErrorSink;
}

const rethrow: BackgroundErrorSink = (_task, err) => {
  throw err;
};

export class Upstream {
  readonly stats: UpstreamStats;
  private readonly tcp: TcpPool;
  private readonly udp: UdpTransport;
  private readonly timers: Timers;
  private readonly onBackgroundError: BackgroundErrorSink;
  private fails = 0;
  private probing: Timer | null = null;
  private closed = false;

  constructor(
    readonly addr: UpstreamAddress,
    private readonly config: ForwardConfig,
    private readonly clock: Clock,
    udpBufferBytes: number,
    seams: UpstreamSeams = {},
  ) {
    this.timers = seams.timers ?? systemTimers;
    this.onBackgroundError = seams.onBackgroundError ?? rethrow;
    this.stats = new UpstreamStats(addr.label);
    this.tcp = new TcpPool(addr, { maxConnections: config.maxConnectionsPerUpstream, expireMs: config.expireMs, clock, stats: this.stats, timers: this.timers, connect: seams.connect });
    this.udp = new UdpTransport(addr, udpBufferBytes, this.timers);
  }

  /** Down when health checks are on and more than maxFails probes failed in a row. */
  get down(): boolean {
    return this.config.maxFails > 0 && this.fails > this.config.maxFails;
  }

  /** One attempt over the given transport. Observes the duration by rcode when a reply arrives. */
  async exchange(query: Buffer, questionEnd: number, tcp: boolean, timeoutMs: number): Promise<Buffer> {
    const started = this.clock.nowMs();
    const reply = tcp ? await this.tcp.exchange(query, questionEnd, timeoutMs) : await this.udp.exchange(query, questionEnd, timeoutMs);
    const rcode = reply[3] & 0x0f;
    this.stats.durationByRcode[rcode].observe((this.clock.nowMs() - started) / 1000);
    return reply;
  }

  /** Called after a failed exchange: start probing unless already probing or health checks are off. */
  noteFailure(): void {
    if (this.config.maxFails === 0 || this.probing || this.closed) return;
    this.scheduleProbe(0);
  }

  private scheduleProbe(delayMs: number): void {
    this.probing = this.timers.schedule(() => inBackground('upstream health probe', this.probe(), this.onBackgroundError), delayMs, { unref: true });
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.exchange(ROOT_NS_PROBE, ROOT_NS_QUESTION_END, this.config.forceTcp, PROBE_TIMEOUT_MS);
      this.fails = 0; // any reply, even SERVFAIL or REFUSED, means the server is alive
      this.probing = null;
    } catch (err) {
      if (!(err instanceof UpstreamError)) {
        this.probing = null; // a bug, not a failed probe: the next failed exchange starts probing again
        throw err;
      }
      this.fails++;
      this.stats.healthcheckFailures++;
      if (!this.closed) this.scheduleProbe(this.config.healthCheckMs);
    }
  }

  close(): void {
    this.closed = true;
    this.probing?.cancel();
    this.probing = null;
    this.tcp.close();
    this.udp.close();
  }

}
