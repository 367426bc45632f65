// The path of one query, the same for UDP and TCP: parse what the decision needs, pick the zone,
// ask the block's cache handler (cache/handler.ts: a hit now, or a miss answered when it returns)
// and render the reply; error replies for everything else. Counts everything; logs nothing per
// query unless the block has a query log. Never throws out of handle().
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import { forwardableQuery, isInternetClass, parseQuery, type ParsedQuery, type QueryRejection } from '../dns/query.js';
import { clientLimit, errorReply, renderReply } from '../dns/reply.js';
import { RCODE, TYPE } from '../dns/constants.js';
import { PLUGIN_CACHE, PLUGIN_NONE, PROTO_TCP, PROTO_UDP, type DnsStats, type ZoneStats } from '../metrics/dns-stats.js';
import type { ZoneRouter, Route } from './zone-router.js';
import type { MissOutcome } from '../cache/handler.js';
import { isRefusal } from './block.js';
import { BackgroundFailures } from '../util/background.js';
import { QueryLog } from './query-log.js';
import { RateLimitedErrorLog } from './error-log.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { keyToPresentationName } from '../dns/presentation.js';
import { LoopProbeRegistry } from './loop-detect.js';
import { chaosKind, chaosReply, isLocalAddress, NOT_CHAOS, remoteAddress } from './chaos.js';
import type { Tracer } from '../plugins/trace.js';

/** Where replies for one listener go. `peer` is the rinfo (UDP) or the connection (TCP). */
export interface ReplyChannel<P> {
  readonly tcp: boolean;
  readonly familyIndex: number; // 0 = IPv4, 1 = IPv6 (CoreDNS family label 1/2)
  readonly router: ZoneRouter;
  send(reply: Buffer, peer: P): void;
  /** A query that gets no reply at all (dropped): frees what send() would have freed. */
  discard(peer: P): void;
  remote(peer: P): string; // "ip:port", for the query log
}

export class QueryPipeline {
  private readonly queryLog: QueryLog;
  private readonly errors: RateLimitedErrorLog;
  private readonly panics: RateLimitedLog;
  /** A failed background refresh: counted in coredns_panics_total and logged, like a failed query. */
  private readonly background: BackgroundFailures;
  inFlight = 0;
  readonly loopProbes = new LoopProbeRegistry();
  /**
   * Per-query coredns_dns_* counting (two clock reads and a few array increments per query). Off
   * when nothing serves /metrics, which is also how the benchmark measures what metrics cost.
   */
  countQueries = true;
  /** CoreDNS `trace`: spans of replies to Zipkin; null (the usual case) costs one check per reply. */
  tracer: Tracer | null = null;

  constructor(
    private readonly dnsStats: DnsStats,
    logger: Logger,
  ) {
    this.queryLog = new QueryLog(logger.child({ component: 'log' }));
    this.errors = new RateLimitedErrorLog(logger.child({ component: 'errors' }));
    this.panics = new RateLimitedLog(logger.child({ component: 'server' }));
    this.background = new BackgroundFailures(() => this.dnsStats.panics++, logger.child({ component: 'server' }));
  }

  handle<P>(received: Buffer, channel: ReplyChannel<P>, peer: P): void {
    const started = this.countQueries || this.tracer !== null ? performance.now() : 0;
    const parsed = parseQuery(received);
    if (!parsed.ok) {
      this.reject(received, parsed, channel, peer);
      return;
    }
    let query = parsed.query;
    // Z bit, an answer/authority record or trailing bytes (accepted, as CoreDNS does): from here on
    // the query is header, question and OPT only, which is also what is forwarded.
    let msg = query.plain ? received : forwardableQuery(received, query);
    if (query.qtype === TYPE.HINFO && this.loopProbes.active) this.loopProbes.note(query.key);
    if (query.ednsVersion !== 0) {
      // RFC 6891 §6.1.3: we speak EDNS version 0 only; CoreDNS answers this before any plugin.
      this.dnsStats.malformed.badvers++;
      channel.send(errorReply(msg, RCODE.BADVERS, query.questionEnd, query), peer);
      return;
    }
    const proto = channel.tcp ? PROTO_TCP : PROTO_UDP;
    const route = channel.router.match(query.key);
    if (!isInternetClass(query)) {
      // id.server and the instance check, for clients on this node only; REFUSED below otherwise.
      const kind = chaosKind(query);
      if (kind !== NOT_CHAOS && isLocalAddress(remoteAddress(channel.remote(peer)))) {
        channel.send(chaosReply(msg, query, kind), peer);
        return;
      }
    }
    if (!route || !isInternetClass(query)) {
      // Outside every zone (or not class IN): REFUSED, counted under zone="dropped" like CoreDNS.
      const stats = channel.router.dropped;
      if (this.countQueries) stats.onRequest(proto, channel.familyIndex, query.qtype, received.length, query.dnssecOk);
      this.reply(errorReply(msg, RCODE.REFUSED, query.questionEnd, query), stats, proto, PLUGIN_NONE, started, channel, peer);
      return;
    }
    if (this.countQueries) route.stats.onRequest(proto, channel.familyIndex, query.qtype, received.length, query.dnssecOk);
    const block = route.block;
    if (block.plugins !== null) {
      // bufsize/rewrite change the query; dns64/loadbalance/rewrite wrap the replies (src/plugins/chain.ts).
      const entered = block.plugins.enter(msg, query, channel, peer, this);
      if (entered !== null) {
        if (entered.rcode !== 0) {
          this.reply(errorReply(msg, entered.rcode, query.questionEnd, query), route.stats, proto, PLUGIN_NONE, started, channel, peer, route, query, msg.length);
          return;
        }
        ({ msg, query, channel } = entered);
      }
    }
    // The hit path (cache/handler.ts may start a prefetch or stale refresh): copy + patch, no decode.
    const hit = block.handler.lookup(query.key, this.background.report);
    if (hit !== undefined) {
      const reply = renderReply(hit.entry, msg, query, { ttl: hit.ttlSeconds, authoritative: true, limit: clientLimit(query, channel.tcp) });
      this.reply(reply, route.stats, proto, PLUGIN_CACHE, started, channel, peer, route, query, msg.length);
      return;
    }
    if (!block.forwards(query.key) && !block.plugins?.answersLocally) {
      const whoami = block.plugins?.whoamiReply(msg, query, channel.remote(peer), channel.tcp);
      const reply = whoami
        ? renderReply(whoami, msg, query, { ttl: -1, authoritative: true, limit: clientLimit(query, channel.tcp) })
        : errorReply(msg, block.forwarder ? RCODE.REFUSED : RCODE.SERVFAIL, query.questionEnd, query);
      this.reply(reply, route.stats, proto, PLUGIN_NONE, started, channel, peer, route, query, msg.length);
      return;
    }
    this.inFlight++;
    block.handler.miss(query.key, msg, query.questionEnd, channel.tcp).then(
      (outcome) => {
        this.inFlight--;
        try {
          this.answerMiss(outcome, msg, query, route, channel, peer, proto, started);
        } catch (err) {
          this.failMiss(err, msg, query, route, channel, peer, proto, started);
        }
      },
      (err: unknown) => {
        this.inFlight--;
        this.failMiss(err, msg, query, route, channel, peer, proto, started);
      },
    );
  }

  /**
   * A bug on the miss path: counted as a panic, logged, and the client still gets SERVFAIL. If even
   * that throws, the query is discarded so that its TCP in-flight slot is freed. Never throws.
   */
  private failMiss<P>(err: unknown, msg: Buffer, query: ParsedQuery, route: Route, channel: ReplyChannel<P>, peer: P, proto: number, started: number): void {
    this.dnsStats.panics++;
    try {
      this.errors.report(route.zone, RCODE.SERVFAIL, keyToPresentationName(query.key), query.qtype, `internal error: ${(err as Error)?.stack ?? String(err)}`);
      this.reply(errorReply(msg, RCODE.SERVFAIL, query.questionEnd, query), route.stats, proto, PLUGIN_NONE, started, channel, peer, route, query, msg.length);
    } catch {
      channel.discard(peer);
    }
  }

  panic(err: unknown, server: string): void {
    this.dnsStats.panics++;
    this.panics.report('panic', `Recovered from panic in server: "${server}" ${(err as Error)?.stack ?? String(err)}`);
  }

  private answerMiss<P>(outcome: MissOutcome, msg: Buffer, query: ParsedQuery, route: Route, channel: ReplyChannel<P>, peer: P, proto: number, started: number): void {
    if (outcome.ok) {
      // fromCache: a stale entry answered for a failed upstream (serve_stale), authoritative like a hit.
      const reply = renderReply(outcome.template, msg, query, { ttl: outcome.ttlSeconds, authoritative: outcome.fromCache, limit: clientLimit(query, channel.tcp) });
      this.reply(reply, route.stats, proto, PLUGIN_CACHE, started, channel, peer, route, query, msg.length);
      return;
    }
    const rcode = isRefusal(outcome.error) ? RCODE.REFUSED : RCODE.SERVFAIL;
    if (outcome.error.code !== 'NLD_ERR_LOCAL_SERVFAIL') this.errors.report(route.zone, rcode, keyToPresentationName(query.key), query.qtype, outcome.error.message);
    this.reply(errorReply(msg, rcode, query.questionEnd, query), route.stats, proto, PLUGIN_NONE, started, channel, peer, route, query, msg.length);
  }

  private reply<P>(reply: Buffer, stats: ZoneStats, proto: number, plugin: number, started: number, channel: ReplyChannel<P>, peer: P, route?: Route, query?: ParsedQuery, requestSize = 0): void {
    channel.send(reply, peer);
    const seconds = this.countQueries ? (performance.now() - started) / 1000 : 0;
    if (this.countQueries) stats.onResponse(proto, reply[3] & 0x0f, plugin, reply.length, seconds);
    const log = route?.block.config.log;
    if (log && query) this.queryLog.write(log.sampleRate, channel.remote(peer), query, channel.tcp, reply, seconds, requestSize);
    if (this.tracer !== null && query) this.tracer.record(query, channel.tcp, channel.remote(peer), reply, started, performance.now());
  }

  /** Drops or answers a query parseQuery rejected; FORMERR and NOTIMP carry an OPT when the query did (RFC 6891 §7). */
  private reject<P>(msg: Buffer, rejection: QueryRejection, channel: ReplyChannel<P>, peer: P): void {
    const m = this.dnsStats.malformed;
    switch (rejection.problem) {
      case 'drop-short':
        m.short++;
        channel.discard(peer);
        return;
      case 'drop-response':
        m.response++; // never answer a response: that would make us a reflector
        channel.discard(peer);
        return;
      case 'notimp':
        m.notimp++;
        channel.send(errorReply(msg, RCODE.NOTIMP, 12, rejection), peer);
        return;
      default:
        m.formerr++;
        channel.send(errorReply(msg, RCODE.FORMERR, rejection.questionEnd, rejection), peer);
    }
  }
}
