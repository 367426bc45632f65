// Counters of one DNS worker as plain data (posted to the main thread), and their sum over all
// workers as the stats objects the metrics registry reads. Aggregate objects are created once
// per label set and updated in place, so the registry sees stable objects and counters that never
// go backwards (a worker that exits leaves its last counts behind).
import { DnsStats, type ZoneStats } from '../metrics/dns-stats.js';
import type { HistogramCounts } from '../util/histogram.js';
import { CacheStats } from '../cache/stats.js';
import { ForwardStats, UpstreamStats } from '../forward/stats.js';
import type { Daemon } from '../daemon.js';
import { PLUGIN_FAMILIES, type PluginSample } from '../metrics/plugin-families.js';

interface HistogramJson {
  counts: number[];
  sum: number;
}
interface ZoneJson {
  server: string;
  zone: string;
  requests: number[];
  responses: number[];
  doRequests: number;
  duration: HistogramJson;
  requestSize: HistogramJson[];
  responseSize: HistogramJson[];
}
interface CacheJson {
  servers: string[];
  zones: string;
  counts: number[]; // requests, hit s, hit d, misses, drops, stale, prefetch, evict s, evict d
  entries: [number, number];
}
interface UpstreamJson {
  to: string;
  durations: HistogramJson[];
  connCacheHits: number;
  connCacheMisses: number;
  healthcheckFailures: number;
}
export interface StatsSnapshot {
  zones: ZoneJson[];
  malformed: DnsStats['malformed'];
  listener: DnsStats['listener'];
  panics: number;
  caches: CacheJson[];
  forwarders: { maxConcurrentRejects: number; healthcheckBroken: number; upstreams: UpstreamJson[] }[];
  plugins: PluginSample[];
}

const histJson = (h: HistogramCounts): HistogramJson => ({ counts: Array.from(h.counts), sum: h.sum });

/** In a worker: everything the metrics need, as JSON. */
export function takeSnapshot(daemon: Daemon): StatsSnapshot {
  const zones: ZoneJson[] = [];
  for (const z of daemon.dnsStats.all()) {
    zones.push({
      server: z.server,
      zone: z.zone,
      requests: Array.from(z.requests),
      responses: Array.from(z.responses),
      doRequests: z.doRequests,
      duration: histJson(z.duration),
      requestSize: z.requestSize.map(histJson),
      responseSize: z.responseSize.map(histJson),
    });
  }
  return {
    zones,
    malformed: { ...daemon.dnsStats.malformed },
    listener: { ...daemon.dnsStats.listener },
    panics: daemon.dnsStats.panics,
    caches: daemon.caches().map((c) => ({
      servers: [...c.servers],
      zones: c.zones,
      counts: [c.requests, c.hits[0], c.hits[1], c.misses, c.drops, c.servedStale, c.prefetches, c.evictions[0], c.evictions[1]],
      entries: [...c.entries()] as [number, number],
    })),
    forwarders: daemon.forwarders().map((f) => ({
      maxConcurrentRejects: f.maxConcurrentRejects,
      healthcheckBroken: f.healthcheckBroken,
      upstreams: f.upstreams.map((u) => ({
        to: u.to,
        durations: u.durationByRcode.map(histJson),
        connCacheHits: u.connCacheHits,
        connCacheMisses: u.connCacheMisses,
        healthcheckFailures: u.healthcheckFailures,
      })),
    })),
    plugins: daemon.pluginSamples(),
  };
}

function addHist(target: HistogramCounts, h: HistogramJson): void {
  for (let i = 0; i < h.counts.length; i++) target.counts[i] += h.counts[i];
  target.sum += h.sum;
}

function resetHist(h: HistogramCounts): void {
  h.counts.fill(0);
  h.sum = 0;
}

/** In the main thread: the sum of the latest snapshot of every worker, plus the last one of workers that exited. */
export class StatsAggregate {
  readonly dns = new DnsStats();
  private readonly latest = new Map<number, StatsSnapshot>();
  private readonly retired: StatsSnapshot[] = [];
  private readonly cacheByLabel = new Map<string, { stats: CacheStats; entries: [number, number] }>();
  private readonly forward = new ForwardStats([]);
  private readonly upstreamByLabel = new Map<string, UpstreamStats>();
  private readonly pluginTotals = new Map<string, PluginSample>();

  update(worker: number, snapshot: StatsSnapshot): void {
    this.latest.set(worker, snapshot);
  }

  /** A worker exited: keep its counts (not its cache entries, which are gone). */
  retire(worker: number): void {
    const last = this.latest.get(worker);
    this.latest.delete(worker);
    if (last) this.retired.push({ ...last, caches: last.caches.map((c) => ({ ...c, entries: [0, 0] })) });
  }

  /** Recomputes the sums (call before a scrape). */
  recompute(): void {
    for (const z of this.dns.all()) this.resetZone(z);
    for (const key of Object.keys(this.dns.malformed) as (keyof DnsStats['malformed'])[]) this.dns.malformed[key] = 0;
    for (const key of Object.keys(this.dns.listener) as (keyof DnsStats['listener'])[]) this.dns.listener[key] = 0;
    this.dns.panics = 0;
    for (const c of this.cacheByLabel.values()) this.resetCache(c);
    this.forward.maxConcurrentRejects = 0;
    this.forward.healthcheckBroken = 0;
    for (const u of this.upstreamByLabel.values()) this.resetUpstream(u);
    this.pluginTotals.clear();
    for (const s of [...this.retired, ...this.latest.values()]) this.add(s);
  }

  private add(s: StatsSnapshot): void {
    for (const z of s.zones) {
      const target = this.dns.zone(z.server, z.zone);
      z.requests.forEach((v, i) => (target.requests[i] += v));
      z.responses.forEach((v, i) => (target.responses[i] += v));
      target.doRequests += z.doRequests;
      addHist(target.duration, z.duration);
      z.requestSize.forEach((h, i) => addHist(target.requestSize[i], h));
      z.responseSize.forEach((h, i) => addHist(target.responseSize[i], h));
    }
    for (const key of Object.keys(s.malformed) as (keyof DnsStats['malformed'])[]) this.dns.malformed[key] += s.malformed[key];
    for (const key of Object.keys(s.listener) as (keyof DnsStats['listener'])[]) this.dns.listener[key] += s.listener[key];
    this.dns.panics += s.panics;
    for (const c of s.caches) {
      const target = this.cache(c);
      const [req, hs, hd, miss, drops, stale, prefetch, es, ed] = c.counts;
      target.stats.requests += req;
      target.stats.hits[0] += hs;
      target.stats.hits[1] += hd;
      target.stats.misses += miss;
      target.stats.drops += drops;
      target.stats.servedStale += stale;
      target.stats.prefetches += prefetch;
      // Every worker holds a copy of the same entries (fills are shared), so entries and evictions
      // are one copy's: the largest over the workers, not the sum.
      target.stats.evictions[0] = Math.max(target.stats.evictions[0], es);
      target.stats.evictions[1] = Math.max(target.stats.evictions[1], ed);
      target.entries[0] = Math.max(target.entries[0], c.entries[0]);
      target.entries[1] = Math.max(target.entries[1], c.entries[1]);
    }
    for (const f of s.forwarders) {
      this.forward.maxConcurrentRejects += f.maxConcurrentRejects;
      this.forward.healthcheckBroken += f.healthcheckBroken;
      for (const u of f.upstreams) {
        const target = this.upstream(u.to);
        u.durations.forEach((h, i) => addHist(target.durationByRcode[i], h));
        target.connCacheHits += u.connCacheHits;
        target.connCacheMisses += u.connCacheMisses;
        target.healthcheckFailures += u.healthcheckFailures;
      }
    }
    // Plugin counters add up over the workers; gauges (hosts entries, reload time) are one copy's.
    for (const p of s.plugins ?? []) {
      const key = `${p.name}${JSON.stringify(p.labels)}`;
      const previous = this.pluginTotals.get(key);
      const counter = PLUGIN_FAMILIES.find((f) => f.name === p.name)?.type === 'counter';
      const value = previous === undefined ? p.value : counter ? previous.value + p.value : Math.max(previous.value, p.value);
      this.pluginTotals.set(key, { ...p, value });
    }
  }

  pluginSamples(): PluginSample[] {
    return [...this.pluginTotals.values()];
  }

  private cache(c: CacheJson): { stats: CacheStats; entries: [number, number] } {
    const key = `${c.servers.join(',')}|${c.zones}`;
    let found = this.cacheByLabel.get(key);
    if (!found) {
      const entries: [number, number] = [0, 0];
      found = { stats: new CacheStats(c.servers, c.zones, () => entries), entries };
      this.cacheByLabel.set(key, found);
    }
    return found;
  }

  private upstream(to: string): UpstreamStats {
    let found = this.upstreamByLabel.get(to);
    if (!found) {
      found = new UpstreamStats(to);
      this.upstreamByLabel.set(to, found);
      (this.forward.upstreams as UpstreamStats[]).push(found);
    }
    return found;
  }

  private resetZone(z: ZoneStats): void {
    z.requests.fill(0);
    z.responses.fill(0);
    z.doRequests = 0;
    resetHist(z.duration);
    z.requestSize.forEach(resetHist);
    z.responseSize.forEach(resetHist);
  }

  private resetCache(c: { stats: CacheStats; entries: [number, number] }): void {
    const s = c.stats;
    s.requests = s.misses = s.drops = s.servedStale = s.prefetches = 0;
    s.hits[0] = s.hits[1] = s.evictions[0] = s.evictions[1] = 0;
    c.entries[0] = c.entries[1] = 0;
  }

  private resetUpstream(u: UpstreamStats): void {
    u.durationByRcode.forEach(resetHist);
    u.connCacheHits = u.connCacheMisses = u.healthcheckFailures = 0;
  }

  caches(): CacheStats[] {
    return [...this.cacheByLabel.values()].map((c) => c.stats);
  }

  forwarders(): ForwardStats[] {
    return this.forward.upstreams.length > 0 ? [this.forward] : [];
  }
}
