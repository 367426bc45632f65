// Decides whether an upstream reply may be cached, in which store, and for how long.
// CoreDNS semantics (plugin/pkg/response/typify.go, plugin/cache) with RFC 2308 negative TTLs.
import { RCODE } from '../dns/constants.js';
import type { ReplyAnalysis } from '../dns/reply.js';
import type { CacheConfig } from '../config/types.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from './stats.js';

export type Classification =
  | { readonly store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL; readonly ttlSeconds: number }
  | { readonly store: -1; readonly ttlSeconds: -1; readonly reason: string };

const uncacheable = (reason: string): Classification => ({ store: -1, ttlSeconds: -1, reason });

const clamp = (ttl: number, min: number, max: number): number => Math.min(max, Math.max(min, ttl));

/** Classifies a reply and computes its clamped TTL. */
export function classifyReply(a: ReplyAnalysis, config: CacheConfig): Classification {
  if (a.truncated) return uncacheable('truncated');
  switch (a.rcode) {
    case RCODE.NOERROR: {
      if (a.answerCount > 0 || (a.hasNs && !a.hasSoa)) {
        // Answer or referral. TTL = smallest TTL of any record (CoreDNS msgTTL).
        const ttl = clamp(a.minTtl === 0xffffffff ? config.success.minTtlSeconds : a.minTtl, config.success.minTtlSeconds, config.success.maxTtlSeconds);
        return ttl > 0 ? { store: CACHE_SUCCESS, ttlSeconds: ttl } : uncacheable('ttl 0');
      }
      if (a.hasSoa) return denial(a, config); // NODATA
      return uncacheable('NOERROR without answer or SOA');
    }
    case RCODE.NXDOMAIN:
      // RFC 2308 §5: without an SOA there is no negative TTL, so do not cache this denial.
      return a.hasSoa ? denial(a, config) : uncacheable('NXDOMAIN without SOA');
    case RCODE.SERVFAIL:
    case RCODE.NOTIMP:
      // CoreDNS keeps upstream server errors briefly in the denial store (`servfail`, default 5 s).
      return config.servfailTtlSeconds > 0 ? { store: CACHE_DENIAL, ttlSeconds: config.servfailTtlSeconds } : uncacheable('servfail caching off');
    default:
      return uncacheable(`rcode ${a.rcode}`);
  }
}

function denial(a: ReplyAnalysis, config: CacheConfig): Classification {
  const negative = a.soaNegativeTtl >= 0 ? a.soaNegativeTtl : a.minTtl;
  const ttl = clamp(negative, config.denial.minTtlSeconds, config.denial.maxTtlSeconds);
  return ttl > 0 ? { store: CACHE_DENIAL, ttlSeconds: ttl } : uncacheable('ttl 0');
}
