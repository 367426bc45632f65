// The plugins' Prometheus series, CoreDNS's names and labels: coredns_template_matches_total,
// coredns_template_rr_failures_total, coredns_hosts_entries, coredns_hosts_reload_timestamp_seconds,
// coredns_dns64_requests_translated_total. Plain samples computed at scrape time (and carried in
// worker snapshots); the registry turns them into families.
import type { BlockPlugins } from './chain.js';
import type { PluginSample } from '../metrics/plugin-families.js';

/** Samples of the current blocks; `server` is the block's first listener, as the cache series use. */
export function pluginSamples(blocks: Iterable<{ readonly servers: readonly string[]; readonly plugins: BlockPlugins | null }>): PluginSample[] {
  const out: PluginSample[] = [];
  let hostsEntries = -1;
  let hostsReload = 0;
  for (const b of blocks) {
    const p = b.plugins;
    if (!p) continue;
    const server = b.servers[0] ?? '';
    for (const [key, value] of p.template?.stats.matches ?? []) {
      const [zone, klass, type] = key.split('\0');
      out.push({ name: 'coredns_template_matches_total', labels: { class: klass, server, type, view: '', zone }, value });
    }
    for (const [key, value] of p.template?.stats.rrFailures ?? []) {
      const [zone, klass, type, section, template] = key.split('\0');
      out.push({ name: 'coredns_template_rr_failures_total', labels: { class: klass, section, server, template, type, view: '', zone }, value });
    }
    if (p.hosts) {
      hostsEntries = Math.max(0, hostsEntries) + p.hosts.stats.entries;
      hostsReload = Math.max(hostsReload, p.hosts.stats.reloadTimestampSeconds);
    }
    if (p.dns64) out.push({ name: 'coredns_dns64_requests_translated_total', labels: { server }, value: p.dns64.translated });
  }
  // CoreDNS's hosts gauges have no labels: one value for the process.
  if (hostsEntries >= 0) {
    out.push({ name: 'coredns_hosts_entries', labels: {}, value: hostsEntries });
    out.push({ name: 'coredns_hosts_reload_timestamp_seconds', labels: {}, value: hostsReload });
  }
  return out;
}
