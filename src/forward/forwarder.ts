// Forwards a query to the upstreams of one server block: transport choice (force_tcp, prefer_udp,
// or the client's, with a TCP retry on TC), policy order, skipping upstreams that are down,
// per-attempt timeout within a whole-query deadline, and the max_concurrent limit (with a share
// reserved for names seen before: concurrency.ts).
// Returns the upstream's reply bytes (ID as we sent it) or a failure value; never throws.
import type { ForwardConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { FLAG_TC } from '../dns/constants.js';
import { analyzeReply, type ReplyAnalysis } from '../dns/reply.js';
import { Upstream, type UpstreamSeams } from './upstream.js';
import { UpstreamPolicy } from './policy.js';
import { ForwardStats } from './stats.js';
import { UpstreamError } from './errors.js';
import { ConcurrencyLimit } from './concurrency.js';
import { nldError, type NldError } from '../errors.js';

export type ForwardResult =
  | { readonly ok: true; readonly reply: Buffer; readonly analysis: ReplyAnalysis; readonly upstream: string }
  | { readonly ok: false; readonly error: NldError<ForwardFailure> };

/** max_concurrent refused the query, or every upstream tried failed (within the deadline or not). */
export type ForwardFailure = 'NLD_ERR_FORWARD_MAX_CONCURRENT' | 'NLD_ERR_FORWARD_ALL_FAILED' | 'NLD_ERR_FORWARD_DEADLINE';

/** Give up after this many rounds over the upstream list, even with time left (a fast-failing upstream must not spin). */
const MAX_ROUNDS = 2;

export class Forwarder {
  readonly upstreams: readonly Upstream[];
  readonly stats: ForwardStats;
  private readonly policy: UpstreamPolicy<Upstream>;
  private readonly limit: ConcurrencyLimit;

  constructor(
    readonly config: ForwardConfig,
    private readonly clock: Clock,
    udpBufferBytes: number,
    seams: UpstreamSeams = {},
  ) {
    this.upstreams = config.to.map((addr) => new Upstream(addr, config, clock, udpBufferBytes, seams));
    this.stats = new ForwardStats(this.upstreams.map((u) => u.stats));
    this.policy = new UpstreamPolicy(config.policy, this.upstreams);
    this.limit = new ConcurrencyLimit(config.maxConcurrent);
  }

  get inFlight(): number {
    return this.limit.inFlight;
  }

  /**
   * Sends `query` (the client's bytes; the ID is replaced per attempt). `seenBefore`: the name was
   * asked before (cached, stale or recently used), so it may use the reserved share of maxConcurrent.
   */
  async forward(query: Buffer, questionEnd: number, clientUsedTcp: boolean, seenBefore = false): Promise<ForwardResult> {
    if (!this.limit.tryAcquire(seenBefore)) {
      this.stats.maxConcurrentRejects++;
      const limit = this.limit.limitFor(seenBefore);
      return { ok: false, error: nldError('NLD_ERR_FORWARD_MAX_CONCURRENT', [limit, seenBefore ? '' : ' for names not seen before']) };
    }
    try {
      return await this.tryUpstreams(query, questionEnd, clientUsedTcp);
    } finally {
      this.limit.release();
    }
  }

  private candidates(): Upstream[] {
    const ordered = this.policy.order();
    const healthy = ordered.filter((u) => !u.down);
    if (healthy.length > 0) return healthy;
    // Everything is down: CoreDNS counts this and tries one at random anyway.
    this.stats.healthcheckBroken++;
    return [ordered[Math.floor(Math.random() * ordered.length)]];
  }

  private async tryUpstreams(query: Buffer, questionEnd: number, clientUsedTcp: boolean): Promise<ForwardResult> {
    const deadline = this.clock.nowMs() + this.config.timeoutMs;
    const useTcp = this.config.forceTcp || (clientUsedTcp && !this.config.preferUdp);
    let lastError = 'no upstream tried';
    for (let round = 0; round < MAX_ROUNDS; round++) {
      for (const upstream of this.candidates()) {
        const remaining = deadline - this.clock.nowMs();
        if (remaining <= 0) return { ok: false, error: nldError('NLD_ERR_FORWARD_DEADLINE', [this.config.timeoutMs, lastError]) };
        const attemptMs = Math.min(this.config.attemptTimeoutMs, remaining);
        try {
          let reply = await upstream.exchange(query, questionEnd, useTcp, attemptMs);
          if (!useTcp && reply[2] & FLAG_TC) {
            // Truncated over UDP: ask again over TCP for the full answer (prefer_udp semantics).
            const left = Math.max(1, Math.min(this.config.attemptTimeoutMs, deadline - this.clock.nowMs()));
            reply = await upstream.exchange(query, questionEnd, true, left);
          }
          // A reply with our ID and question whose records cannot be read is an upstream failure
          // like any other: try the next upstream rather than answer SERVFAIL at once.
          const analysis = analyzeReply(reply);
          if (!analysis) throw new UpstreamError('malformed', upstream.addr.label, 'records cannot be read');
          return { ok: true, reply, analysis, upstream: upstream.addr.label };
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          lastError = err.message;
          upstream.noteFailure();
        }
      }
    }
    return { ok: false, error: nldError('NLD_ERR_FORWARD_ALL_FAILED', [lastError]) };
  }

  close(): void {
    for (const u of this.upstreams) u.close();
  }
}
