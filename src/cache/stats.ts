// Counters for the coredns_cache_* metrics of one cache (one server block). Plain numbers on the
// hot path; read at scrape time. `server` and `zones` are the CoreDNS label values.

export const CACHE_SUCCESS = 0;
export const CACHE_DENIAL = 1;
export const CACHE_TYPE_LABELS = ['success', 'denial'] as const;

export class CacheStats {
  requests = 0;
  readonly hits = [0, 0]; // by CACHE_SUCCESS / CACHE_DENIAL (stale hits included, as in CoreDNS)
  misses = 0;
  drops = 0; // upstream replies whose question did not match
  servedStale = 0;
  prefetches = 0;
  readonly evictions = [0, 0];

  constructor(
    readonly servers: readonly string[], // every dns://IP:port the block listens on
    public zones: string, // the block's zones joined with "," (updated when a reload changes them)
    readonly entries: () => readonly [number, number], // live entry counts (success, denial)
  ) {}
}
