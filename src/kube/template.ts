// node-cache's Corefile generation: fills the __PILLAR__ placeholders of the base Corefile
// (-basecorefile) from the flags, the upstream Service env var and the kube-dns ConfigMap, and
// appends one block per stub domain, byte for byte like node-cache (cmd/node-cache/app/configmap.go)
// so diffs against a real node stay empty. Two deliberate differences: stub blocks are sorted by
// domain (node-cache uses Go map order), and a missing cluster DNS IP or local IP is an error value
// naming the template line, where node-cache writes `<nil>` and lets CoreDNS fail later.
// Pure functions: no file reads or writes, no logging, no process.env access (env is passed in).
import { isIP } from 'node:net';

export const PLACEHOLDER = {
  dnsDomain: '__PILLAR__DNS__DOMAIN__', // deploy-time only (sed); never touched here, as in node-cache
  localDns: '__PILLAR__LOCAL__DNS__',
  dnsServer: '__PILLAR__DNS__SERVER__',
  clusterDns: '__PILLAR__CLUSTER__DNS__',
  upstreamServers: '__PILLAR__UPSTREAM__SERVERS__',
} as const;

/** Upstream used when the kube-dns ConfigMap sets no upstreamNameservers (the node's resolver, dnsPolicy: Default). */
export const DEFAULT_UPSTREAM = '/etc/resolv.conf';
/** node-cache's `defaultTTL` for stub-domain blocks. */
export const STUB_DOMAIN_CACHE_TTL = 30;

// The exact text node-cache replaces when custom upstreams are set: a TCP forward to the upstream
// placeholder (4/12-space indentation, surrounded by newlines) becomes a plain UDP forward.
const UPSTREAM_TCP_BLOCK = `\n    forward . ${PLACEHOLDER.upstreamServers} {\n            force_tcp\n    }\n`;
const upstreamUdpBlock = (servers: string): string => `\n    forward . ${servers}\n`;

const stubDomainBlock = (domain: string, port: number, localIps: string, servers: string): string =>
  `\n${domain}:${port} {\n    errors\n    cache ${STUB_DOMAIN_CACHE_TTL}\n    bind ${localIps}\n    forward . ${servers}\n}\n`;

export type ClusterDns = { ok: true; ip: string; envName: string } | { ok: false; envName: string; error: string };

export interface TemplateInput {
  readonly template: string; // the base Corefile text
  readonly localIps: readonly string[]; // -localip entries
  readonly dnsPort: number; // -dns.port, used in stub-domain keys
  readonly clusterDns: ClusterDns; // from clusterDnsFromEnv()
  readonly stubDomains: Readonly<Record<string, readonly string[]>>; // kube-dns stubDomains
  readonly upstreamNameservers: readonly string[]; // kube-dns upstreamNameservers
}

export type TemplateResult =
  | { ok: true; text: string; warnings: string[] }
  | { ok: false; line: number; error: string }; // line in the template (0 when not tied to one)

/** `kube-dns-upstream` → `KUBE_DNS_UPSTREAM_SERVICE_HOST` (the variable the kubelet injects). */
export function serviceHostEnvName(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_SERVICE_HOST`;
}

/** The ClusterIP of the upstream Service, read from the env var the kubelet injects at container creation. */
export function clusterDnsFromEnv(service: string, env: Readonly<Record<string, string | undefined>>): ClusterDns {
  const envName = serviceHostEnvName(service);
  const value = env[envName]?.trim();
  if (value === undefined || value === '') {
    return { ok: false, envName, error: `$${envName} is not set: the Service "${service}" must exist before the pod starts (the kubelet injects the variable only at container creation)` };
  }
  if (isIP(value) === 0) return { ok: false, envName, error: `$${envName} is ${JSON.stringify(value)}, not an IP address` };
  return { ok: true, ip: value, envName };
}

function lineOf(text: string, needle: string): number {
  const index = text.indexOf(needle);
  return index < 0 ? 0 : text.slice(0, index).split('\n').length;
}

/** Replaces the upstream placeholder the way node-cache does; returns the new text and any warning. */
export function substituteUpstreams(template: string, upstreamNameservers: readonly string[]): { text: string; warnings: string[] } {
  if (upstreamNameservers.length === 0) {
    // Any force_tcp stanza around the placeholder stays: node-cache keeps TCP to the node's resolvers.
    return { text: template.split(PLACEHOLDER.upstreamServers).join(DEFAULT_UPSTREAM), warnings: [] };
  }
  const servers = upstreamNameservers.join(' ');
  // Custom upstreams are used over UDP, so a TCP forward block becomes a one-line forward.
  let text = template.split(UPSTREAM_TCP_BLOCK).join(upstreamUdpBlock(servers));
  const warnings: string[] = [];
  if (text.includes(PLACEHOLDER.upstreamServers)) {
    warnings.push('Did not find TCP upstream block to replace, assuming upstreams already use UDP.');
    text = text.split(PLACEHOLDER.upstreamServers).join(servers);
  }
  return { text, warnings };
}

/** Stub-domain blocks appended after the template, sorted by domain so the output is stable. */
export function stubDomainBlocks(stubDomains: Readonly<Record<string, readonly string[]>>, localIps: readonly string[], dnsPort: number): string {
  return Object.keys(stubDomains)
    .sort()
    .map((domain) => stubDomainBlock(domain, dnsPort, localIps.join(' '), stubDomains[domain].join(' ')))
    .join('');
}

/** Generates the Corefile node-cache would write to -conf. */
export function generateCorefile(input: TemplateInput): TemplateResult {
  const { template, localIps, clusterDns } = input;
  if (template.includes(PLACEHOLDER.clusterDns) && !clusterDns.ok) {
    return { ok: false, line: lineOf(template, PLACEHOLDER.clusterDns), error: `cannot fill ${PLACEHOLDER.clusterDns}: ${clusterDns.error}` };
  }
  if (localIps.length === 0) {
    if (template.includes(PLACEHOLDER.localDns)) {
      return { ok: false, line: lineOf(template, PLACEHOLDER.localDns), error: `cannot fill ${PLACEHOLDER.localDns}: -localip is not set` };
    }
    if (Object.keys(input.stubDomains).length > 0) {
      return { ok: false, line: 0, error: 'stub domains from the kube-dns ConfigMap need -localip for their bind line' };
    }
  }
  const upstreams = substituteUpstreams(template, input.upstreamNameservers);
  let text = upstreams.text;
  if (clusterDns.ok) text = text.split(PLACEHOLDER.clusterDns).join(clusterDns.ip);
  text = text.split(PLACEHOLDER.localDns).join(localIps.join(' '));
  text = text.split(PLACEHOLDER.dnsServer).join('');
  text += stubDomainBlocks(input.stubDomains, localIps, input.dnsPort);
  return { ok: true, text, warnings: upstreams.warnings };
}
