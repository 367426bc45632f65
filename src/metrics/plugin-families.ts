// The families of the plugins' series (src/plugins/metrics.ts computes the samples): declared
// here so that the registry does not import the plugins.

export interface PluginSample {
  readonly name: string;
  readonly labels: { readonly [label: string]: string };
  readonly value: number;
}

export const PLUGIN_FAMILIES: readonly { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge' }[] = [
  { name: 'coredns_template_matches_total', help: 'Counter of template regex matches.', type: 'counter' },
  { name: 'coredns_template_rr_failures_total', help: 'Counter of mis-templated RRs.', type: 'counter' },
  { name: 'coredns_hosts_entries', help: 'The combined number of entries in hosts and Corefile.', type: 'gauge' },
  { name: 'coredns_hosts_reload_timestamp_seconds', help: 'The timestamp of the last reload of hosts file.', type: 'gauge' },
  { name: 'coredns_dns64_requests_translated_total', help: 'Counter of DNS requests translated by dns64.', type: 'counter' },
];
