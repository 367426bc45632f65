// Per-query counters for the coredns_dns_* metrics, kept in typed arrays so the hot path only
// increments numbers; metrics/registry.ts turns them into Prometheus series at scrape time.
// Buckets and label values follow CoreDNS 1.13 (plugin/metrics/vars).
import { parseType } from '../dns/qtypes.js';
import { DURATION_BUCKETS, HistogramCounts, RCODE_SLOTS } from '../util/histogram.js';

/** CoreDNS's fixed list for the `type` label; anything else is "other". */
export const QTYPE_LABELS = ['A', 'AAAA', 'CNAME', 'DNSKEY', 'DS', 'MX', 'NSEC3', 'NSEC', 'NS', 'PTR', 'RRSIG', 'SOA', 'SRV', 'TXT', 'HTTPS', 'IXFR', 'AXFR', 'ANY', 'other'] as const;
const OTHER_TYPE = QTYPE_LABELS.length - 1;
const TYPE_INDEX = new Uint8Array(65536).fill(OTHER_TYPE);
QTYPE_LABELS.forEach((label, i) => {
  if (label !== 'other') TYPE_INDEX[parseType(label)!] = i;
});

/** Who wrote the reply: "cache" for everything the cache+forward chain answered, "" for server-written errors. */
export const PLUGIN_LABELS = ['cache', ''] as const;
export const PLUGIN_CACHE = 0;
export const PLUGIN_NONE = 1;

export const PROTO_LABELS = ['udp', 'tcp'] as const;
export const PROTO_UDP = 0;
export const PROTO_TCP = 1;
export const FAMILY_LABELS = ['1', '2'] as const; // CoreDNS: 1 = IPv4, 2 = IPv6

export const SIZE_BUCKETS = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000];

/** Counters for one (server, zone) pair: `server` = dns://IP:port, `zone` = "cluster.local." or "dropped". */
export class ZoneStats {
  /** requests[(proto * 2 + family) * types + type] */
  readonly requests = new Float64Array(2 * 2 * QTYPE_LABELS.length);
  /** responses[rcode * 2 + plugin] */
  readonly responses = new Float64Array(RCODE_SLOTS * 2);
  doRequests = 0;
  readonly duration = new HistogramCounts(DURATION_BUCKETS);
  readonly requestSize = [new HistogramCounts(SIZE_BUCKETS), new HistogramCounts(SIZE_BUCKETS)];
  readonly responseSize = [new HistogramCounts(SIZE_BUCKETS), new HistogramCounts(SIZE_BUCKETS)];

  constructor(readonly server: string, readonly zone: string) {}

  onRequest(proto: number, family: number, qtype: number, size: number, dnssecOk: boolean): void {
    this.requests[(proto * 2 + family) * QTYPE_LABELS.length + TYPE_INDEX[qtype & 0xffff]]++;
    if (dnssecOk) this.doRequests++;
    this.requestSize[proto].observe(size);
  }

  onResponse(proto: number, rcode: number, plugin: number, size: number, seconds: number): void {
    this.responses[(rcode < RCODE_SLOTS ? rcode : 0) * 2 + plugin]++;
    this.responseSize[proto].observe(size);
    this.duration.observe(seconds);
  }
}

/** All ZoneStats of the process, created lazily; survives reloads so counters never go backwards. */
export class DnsStats {
  private readonly byKey = new Map<string, ZoneStats>();
  panics = 0;
  /** Packets we could not use, by reason (not in CoreDNS's metrics, which never sees them). */
  readonly malformed = { short: 0, response: 0, formerr: 0, notimp: 0, tcpFrame: 0, badvers: 0, sourcePort: 0 };
  /** Listener events that are not about one query: UDP replies the socket refused, TCP connections we closed. */
  readonly listener = { udpSendErrors: 0, tcpReadTimeouts: 0, tcpWriteTimeouts: 0, tcpEvicted: 0 };

  zone(server: string, zone: string): ZoneStats {
    const key = `${server}|${zone}`;
    let stats = this.byKey.get(key);
    if (!stats) {
      stats = new ZoneStats(server, zone);
      this.byKey.set(key, stats);
    }
    return stats;
  }

  all(): IterableIterator<ZoneStats> {
    return this.byKey.values();
  }
}
