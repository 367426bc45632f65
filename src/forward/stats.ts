// Counters for the coredns_proxy_* and coredns_forward_* metrics. Plain numbers on the hot path;
// metrics/registry.ts reads them at scrape time.
import { HistogramCounts, DURATION_BUCKETS, RCODE_SLOTS } from '../util/histogram.js';

/** One upstream (`to` label = ip:port). */
export class UpstreamStats {
  /** Reply durations by rcode, observed only when a reply arrived (CoreDNS semantics). */
  readonly durationByRcode: HistogramCounts[] = Array.from({ length: RCODE_SLOTS }, () => new HistogramCounts(DURATION_BUCKETS));
  connCacheHits = 0; // query sent on an already open pooled connection
  connCacheMisses = 0; // query needed a new connection
  healthcheckFailures = 0;
  constructor(readonly to: string) {}
}

/** One forwarder (one server block). */
export class ForwardStats {
  maxConcurrentRejects = 0;
  healthcheckBroken = 0; // all upstreams were down when a query arrived
  constructor(readonly upstreams: readonly UpstreamStats[]) {}
}
