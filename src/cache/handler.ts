// The cache of one server block as the query path sees it: every cache decision, in the order of
// CoreDNS's plugin/cache/handler.go. lookup() is the hit path, synchronous and allocation-free
// beyond the cache's own Lookup: a fresh hit may start a prefetch, a stale hit (serve_stale
// immediate) a refresh, both in the background. Anything else is a miss(): coalesced with
// identical misses and refreshes, fetched from what the cache sits in front of (the block's local
// answers or forwarder: `Next`), classified (policy.ts) and stored; when that fails, an entry
// still in the serve_stale window answers instead (serve_stale verify, and immediate after a
// failed refresh). A block without a cache still coalesces its misses here.
import { HEADER_SIZE } from '../dns/constants.js';
import { queryFromKey, toTemplate, type ReplyAnalysis, type ReplyTemplate } from '../dns/reply.js';
import type { NldError } from '../errors.js';
import { inBackground, type BackgroundErrorSink } from '../util/background.js';
import { Coalescer } from './coalescer.js';
import { classifyReply } from './policy.js';
import { FRESH, type Lookup, type ResponseCache } from './response-cache.js';

/** What a miss gives the client: a reply template, or the error behind REFUSED/SERVFAIL (server/block.ts isRefusal). */
export type MissOutcome =
  | {
      readonly ok: true;
      readonly template: ReplyTemplate;
      readonly ttlSeconds: number; // -1: leave the template's TTLs
      readonly fromCache: boolean; // a stale entry answered for a failed upstream (rendered authoritative)
    }
  | { readonly ok: false; readonly error: NldError };

/** What the next step (local answers or the forwarder) returned; a ForwardResult is one. */
export type Fetched = { readonly ok: true; readonly reply: Buffer; readonly analysis: ReplyAnalysis } | { readonly ok: false; readonly error: NldError };

/**
 * What the cache sits in front of (CoreDNS's next plugin); Forwarder.forward is one. `query` is the
 * client's bytes (or a query built from the key for a refresh); `seenBefore`: the name was asked
 * before, so it may use the upstream capacity reserved for known names (forward/concurrency.ts).
 */
export type Next = (query: Buffer, questionEnd: number, clientUsedTcp: boolean, seenBefore: boolean, key: string) => Fetched | Promise<Fetched>;

export class CacheHandler {
  private readonly coalescer = new Coalescer<MissOutcome>();

  constructor(
    readonly cache: ResponseCache | null,
    private readonly next: Next,
    /** Whether background refreshes may run (the block forwards; CoreDNS prefetches from upstream only). */
    private readonly refreshes: boolean,
  ) {}

  /**
   * A usable entry (fresh, or stale under serve_stale immediate), or undefined for a miss. A popular
   * entry near its expiry starts a prefetch, a stale one a refresh (CoreDNS starts both before
   * writing the reply, and counts both as prefetches).
   */
  lookup(key: string, onError: BackgroundErrorSink): Lookup | undefined {
    const cache = this.cache;
    if (cache === null) return undefined;
    const hit = cache.lookup(key);
    if (hit === undefined) return undefined;
    if (hit.state === FRESH) {
      if (cache.shouldPrefetch(hit)) {
        cache.stats.prefetches++;
        this.refresh(key, onError);
      }
    } else {
      cache.stats.servedStale++;
      if (!hit.entry.refreshing) {
        cache.stats.prefetches++;
        this.refresh(key, onError);
      }
    }
    return hit;
  }

  /** Fetches a miss (one exchange per key at a time) and stores a cacheable reply; a failure may be answered by a stale entry. */
  miss(key: string, query: Buffer, questionEnd: number, clientUsedTcp: boolean): Promise<MissOutcome> {
    const shared = this.coalescer.run(key, () => this.fetchAndStore(key, query, questionEnd, clientUsedTcp, 0));
    // Each waiting client gets (and counts) its own stale answer, as each would from a lookup.
    return this.cache?.config.serveStale ? shared.then((outcome) => this.orStale(key, outcome)) : shared;
  }

  /**
   * Background refresh for prefetch and serve_stale, coalesced with any miss for the same key. A
   * bug in it goes to `onError` (counted and logged like one in a client's query), never to the
   * process's unhandled-rejection policy.
   */
  refresh(key: string, onError: BackgroundErrorSink): void {
    if (!this.refreshes || this.coalescer.has(key)) return;
    const entry = this.cache?.peek(key);
    if (entry) entry.refreshing = true;
    const query = queryFromKey(key, 0);
    const questionEnd = HEADER_SIZE + key.length - 1;
    const refreshed = this.coalescer.run(key, () => this.fetchAndStore(key, query, questionEnd, true, entry?.hits ?? 0)).finally(() => {
      if (entry) entry.refreshing = false;
    });
    inBackground('cache refresh', refreshed, onError);
  }

  /** Whether a miss or refresh for `key` is being fetched now. */
  fetching(key: string): boolean {
    return this.coalescer.has(key);
  }

  private async fetchAndStore(key: string, query: Buffer, questionEnd: number, clientUsedTcp: boolean, carriedHits: number): Promise<MissOutcome> {
    const cache = this.cache;
    const fetched = await this.next(query, questionEnd, clientUsedTcp, cache?.seenBefore(key) ?? false, key);
    if (!fetched.ok) return fetched;
    const analysis = fetched.analysis;
    const template = toTemplate(fetched.reply, analysis, questionEnd);
    if (cache === null) return { ok: true, template, ttlSeconds: -1, fromCache: false };
    const decision = classifyReply(analysis, cache.config);
    if (decision.store === -1) return { ok: true, template, ttlSeconds: -1, fromCache: false };
    cache.insert(key, template, decision.store, decision.ttlSeconds, carriedHits);
    return { ok: true, template, ttlSeconds: decision.ttlSeconds, fromCache: false };
  }

  /** serve_stale: the upstream failed, so an entry within the stale window (TTL 0) beats SERVFAIL (RFC 8767). */
  private orStale(key: string, outcome: MissOutcome): MissOutcome {
    if (outcome.ok) return outcome;
    const cache = this.cache!;
    const stale = cache.staleFallback(key);
    if (stale === undefined) return outcome;
    cache.stats.servedStale++;
    return { ok: true, template: stale, ttlSeconds: 0, fromCache: true };
  }
}
