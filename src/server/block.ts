// The runtime of one server block: its parts assembled. The cache handler (cache/handler.ts) takes
// every cache decision and fetches what it misses from next(): the local-answer plugins (template,
// hosts), else the forwarder for the names forward takes.
import type { ServerBlockConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { ResponseCache } from '../cache/response-cache.js';
import { CacheHandler, type Fetched, type Next } from '../cache/handler.js';
import { Forwarder } from '../forward/forwarder.js';
import { WireZones } from './zone-router.js';
import { BlockPlugins } from '../plugins/chain.js';
import { nldError, type NldError } from '../errors.js';
import type { BackgroundErrorSink } from '../util/background.js';

/** The client gets REFUSED (not SERVFAIL) for a name forward excepts and for max_concurrent, as in CoreDNS. */
export function isRefusal(error: NldError): boolean {
  return error.code === 'NLD_ERR_FORWARD_EXCEPTED' || error.code === 'NLD_ERR_FORWARD_MAX_CONCURRENT';
}

export class BlockRuntime {
  readonly handler: CacheHandler;
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
    this.handler = new CacheHandler(cache, this.nextStep(), forwarder !== null);
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

  /**
   * What the cache sits in front of, chosen once: the forwarder itself when nothing else answers
   * or refuses (no template/hosts, no `except`), else next().
   */
  private nextStep(): Next {
    const forwarder = this.forwarder;
    if (forwarder !== null && this.excepted === null && !this.plugins?.answersLocally) return forwarder.forward.bind(forwarder);
    return (query, questionEnd, clientUsedTcp, seenBefore, key) => this.next(query, questionEnd, clientUsedTcp, seenBefore, key);
  }

  /** template and hosts come after the cache and before forward (CoreDNS plugin.cfg); forward takes the names `except` leaves. */
  private next(query: Buffer, questionEnd: number, clientUsedTcp: boolean, seenBefore: boolean, key: string): Fetched | Promise<Fetched> {
    const local = this.plugins?.answersLocally ? this.plugins.answerLocally(query) : null;
    if (local) return local.ok ? local : { ok: false, error: nldError(local.quiet ? 'NLD_ERR_LOCAL_SERVFAIL' : 'NLD_ERR_LOCAL_ANSWER', [local.detail]) };
    const forwarder = this.forwarder;
    if (!forwarder) return { ok: false, error: nldError('NLD_ERR_NO_FORWARD') };
    if (!this.forwards(key)) return { ok: false, error: nldError('NLD_ERR_FORWARD_EXCEPTED') };
    return forwarder.forward(query, questionEnd, clientUsedTcp, seenBefore);
  }

  /** Closes what this block owns, except parts handed to a successor on reload. */
  close(keep?: { cache?: boolean; forwarder?: boolean }): void {
    if (!keep?.cache) this.cache?.clear();
    if (!keep?.forwarder) this.forwarder?.close();
    this.plugins?.close();
  }
}
