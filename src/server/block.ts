// The runtime of one server block: its cache, forwarder and coalescer, and the two operations the
// pipeline needs from it: resolve a miss (coalesced, cached) and refresh an entry in the background.
import type { ServerBlockConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { ResponseCache } from '../cache/response-cache.js';
import { Coalescer } from '../cache/coalescer.js';
import { classifyReply } from '../cache/policy.js';
import { Forwarder } from '../forward/forwarder.js';
import { queryFromKey, toTemplate, type ReplyTemplate } from '../dns/reply.js';
import { WireZones } from './zone-router.js';
import { HEADER_SIZE } from '../dns/constants.js';
import { BlockPlugins } from '../plugins/chain.js';
import { nldError, type NldError } from '../errors.js';
import { inBackground, type BackgroundErrorSink } from '../util/background.js';
import type { ForwardFailure } from '../forward/forwarder.js';

export type MissOutcome =
  | { readonly ok: true; readonly template: ReplyTemplate; readonly ttlSeconds: number /* -1: leave TTLs */ }
  | { readonly ok: false; readonly error: NldError<MissFailure> };

export type MissFailure = ForwardFailure | 'NLD_ERR_FORWARD_EXCEPTED' | 'NLD_ERR_NO_FORWARD' | 'NLD_ERR_LOCAL_ANSWER' | 'NLD_ERR_LOCAL_SERVFAIL';

/** The client gets REFUSED (not SERVFAIL) for a name forward excepts and for max_concurrent, as in CoreDNS. */
export function isRefusal(error: NldError<MissFailure>): boolean {
  return error.code === 'NLD_ERR_FORWARD_EXCEPTED' || error.code === 'NLD_ERR_FORWARD_MAX_CONCURRENT';
}

export class BlockRuntime {
  readonly coalescer = new Coalescer<MissOutcome>();
  /** forward's `except` zones; null when there are none. */
  private readonly excepted: WireZones<true> | null;

  constructor(
    readonly config: ServerBlockConfig,
    readonly cache: ResponseCache | null,
    readonly forwarder: Forwarder | null,
    readonly servers: readonly string[],
    readonly plugins: BlockPlugins | null = config.plugins ? new BlockPlugins(config.plugins) : null,
  ) {
    const except = forwarder?.config.except ?? [];
    this.excepted = except.length > 0 ? new WireZones(except.map((zone) => [zone, true] as const)) : null;
  }

  /** `onBackgroundError`: where a bug in a new forwarder's health probes goes (counted and logged). */
  static create(config: ServerBlockConfig, servers: readonly string[], clock: Clock, udpBufferBytes: number, reuse?: { cache?: ResponseCache | null; forwarder?: Forwarder | null }, onBackgroundError?: BackgroundErrorSink): BlockRuntime {
    const cache = reuse?.cache !== undefined ? reuse.cache : config.cache ? new ResponseCache(config.cache, clock, servers, config.zones.join(',')) : null;
    const forwarder = reuse?.forwarder !== undefined ? reuse.forwarder : config.forward ? new Forwarder(config.forward, clock, udpBufferBytes, onBackgroundError ? { onBackgroundError } : {}) : null;
    return new BlockRuntime(config, cache, forwarder, servers);
  }

  /** Whether forward takes this name: the block has one and its `except` does not list the name. */
  forwards(key: string): boolean {
    return this.forwarder !== null && (this.excepted === null || this.excepted.match(key) === undefined);
  }

  /** Forwards a miss (one exchange per key at a time) and stores a cacheable reply. */
  resolveMiss(key: string, query: Buffer, questionEnd: number, clientUsedTcp: boolean, carriedHits = 0): Promise<MissOutcome> {
    return this.coalescer.run(key, () => this.exchange(key, query, questionEnd, clientUsedTcp, carriedHits));
  }

  /**
   * Background refresh for prefetch and serve_stale, coalesced with any miss for the same key. A
   * bug in it goes to `onError` (counted and logged like one in a client's query), never to the
   * process's unhandled-rejection policy.
   */
  refresh(key: string, onError: BackgroundErrorSink): void {
    if (!this.forwarder || this.coalescer.has(key)) return;
    const entry = this.cache?.peek(key);
    if (entry) entry.refreshing = true;
    const query = queryFromKey(key, 0);
    const questionEnd = HEADER_SIZE + key.length - 1;
    const refreshed = this.resolveMiss(key, query, questionEnd, true, entry?.hits ?? 0).finally(() => {
      if (entry) entry.refreshing = false;
    });
    inBackground('cache refresh', refreshed, onError);
  }

  private async exchange(key: string, query: Buffer, questionEnd: number, clientUsedTcp: boolean, carriedHits: number): Promise<MissOutcome> {
    // template and hosts come after the cache and before forward (CoreDNS plugin.cfg).
    const local = this.plugins?.answersLocally ? this.plugins.answerLocally(query) : null;
    if (local && !local.ok) return { ok: false, error: nldError(local.quiet ? 'NLD_ERR_LOCAL_SERVFAIL' : 'NLD_ERR_LOCAL_ANSWER', [local.detail]) };
    const forwarder = this.forwarder;
    if (!local && !this.forwards(key)) return { ok: false, error: nldError(forwarder ? 'NLD_ERR_FORWARD_EXCEPTED' : 'NLD_ERR_NO_FORWARD') };
    // Names asked before get the upstream capacity a flood of new names cannot take (concurrency.ts).
    const seenBefore = this.cache?.seenBefore(key) ?? false;
    const result = local ?? (await forwarder!.forward(query, questionEnd, clientUsedTcp, seenBefore));
    if (!result.ok) return result;
    const analysis = result.analysis;
    const template = toTemplate(result.reply, analysis, questionEnd);
    if (!this.cache) return { ok: true, template, ttlSeconds: -1 };
    const decision = classifyReply(analysis, this.cache.config);
    if (decision.store === -1) return { ok: true, template, ttlSeconds: -1 };
    this.cache.insert(key, template, decision.store, decision.ttlSeconds, carriedHits);
    return { ok: true, template, ttlSeconds: decision.ttlSeconds };
  }

  /** Closes what this block owns, except parts handed to a successor on reload. */
  close(keep?: { cache?: boolean; forwarder?: boolean }): void {
    if (!keep?.cache) this.cache?.clear();
    if (!keep?.forwarder) this.forwarder?.close();
    this.plugins?.close();
  }
}
