// Reads the kube-dns ConfigMap as mounted in the pod (-kubednscm, default /etc/kube-dns) and
// validates it the way kube-dns and node-cache do (pkg/dns/config): `stubDomains` (JSON object,
// DNS-1123 subdomain keys, IP[:port] servers), `upstreamNameservers` (JSON array, at most 3,
// IP[:port]), `federations` (`name=domain,...`, validated, unused). One bad key rejects the whole
// ConfigMap; the error names the file and the reason.
// A ConfigMap volume is `..2024_01_01_00_00_00.123/` (the data), `..data` → that dir (swapped
// atomically on update) and one symlink per key (`stubDomains` → `..data/stubDomains`). Hidden
// entries and directories are skipped; keys are read through their symlinks.
// Must not write anything, watch anything or log: the caller decides what an error means.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { nldError, type NldError, type Result } from '../errors.js';

export interface KubeDnsConfig {
  readonly stubDomains: Readonly<Record<string, readonly string[]>>;
  readonly upstreamNameservers: readonly string[];
  readonly federations: Readonly<Record<string, string>>;
}

export const EMPTY_KUBE_DNS_CONFIG: KubeDnsConfig = Object.freeze({ stubDomains: {}, upstreamNameservers: [], federations: {} });

/** kube-dns's limit on upstreamNameservers. */
export const MAX_UPSTREAM_NAMESERVERS = 3;

/** A ConfigMap that cannot be used: `file` is the key (parseKubeDnsData) or the path (readKubeDnsDir). */
export type KubeDnsError = NldError<'NLD_ERR_KUBE_CONFIGMAP_INVALID'> & { readonly file: string };
export type KubeDnsResult = { ok: true; config: KubeDnsConfig; files: string[] } | { ok: false; error: KubeDnsError };

export type Check<T> = Result<T, string>;
const pass = <T>(value: T): Check<T> => ({ ok: true, value });
const fail = <T>(error: string): Check<T> => ({ ok: false, error });
const invalid = (file: string, reason: string): { ok: false; error: KubeDnsError } => ({ ok: false, error: nldError('NLD_ERR_KUBE_CONFIGMAP_INVALID', [reason], { file }) });

// k8s.io/apimachinery validation: IsDNS1123Label / IsDNS1123Subdomain.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** Go's net.SplitHostPort for the forms kube-dns accepts: "host:port" and "[v6]:port". */
function splitHostPort(value: string): { host: string; port: string } | null {
  const bracket = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
  if (bracket) return { host: bracket[1], port: bracket[2] };
  const colon = value.indexOf(':');
  if (colon < 0 || colon !== value.lastIndexOf(':')) return null; // missing port, or too many colons
  return { host: value.slice(0, colon), port: value.slice(colon + 1) };
}

/** util.ValidateNameserverIpAndPort: an IP, or IP:port with port 1-65535. */
export function checkUpstreamNameserver(value: string): Check<string> {
  if (isIP(value) !== 0) return pass(value);
  const hp = splitHostPort(value);
  if (!hp) return fail(`${JSON.stringify(value)} is not an IP address or IP:port`);
  if (isIP(hp.host) === 0) return fail(`bad IP address: ${JSON.stringify(hp.host)}`);
  const port = /^\d+$/.test(hp.port) ? Number(hp.port) : NaN;
  if (!(port >= 1 && port <= 65535)) return fail(`bad port number: ${JSON.stringify(hp.port)}`);
  return pass(value);
}

/**
 * A stub-domain nameserver. kube-dns also allows hostnames, but node-cache then validates the
 * list as `forward` arguments (parse.HostPortOrFile), which rejects anything that is not an IP,
 * so only IP and IP:port pass here.
 */
export function checkStubNameserver(value: string): Check<string> {
  const hp = splitHostPort(value);
  // kube-dns accepts any uint16 port; 0 or an empty port could never be dialled, so both fail here.
  if (hp && !(/^\d+$/.test(hp.port) && Number(hp.port) >= 1 && Number(hp.port) <= 65535)) return fail(`invalid nameserver: ${JSON.stringify(value)} (bad port)`);
  const host = hp ? hp.host : value;
  if (isIP(host) === 0) {
    if (!hp && !isDns1123Subdomain(value)) return fail(`invalid nameserver: ${JSON.stringify(value)}`);
    return fail(`not an IP address: ${JSON.stringify(value)} (the forward plugin needs IP or IP:port)`);
  }
  return pass(value);
}

function parseJson(value: string): Check<unknown> {
  try {
    return pass(JSON.parse(value) as unknown);
  } catch (err) {
    return fail(`invalid JSON: ${(err as Error).message}`);
  }
}

export function parseStubDomains(value: string): Check<Record<string, string[]>> {
  const json = parseJson(value);
  if (!json.ok) return json;
  const data = json.value;
  if (data === null) return pass({}); // JSON null unmarshals to an empty map in Go
  if (typeof data !== 'object' || Array.isArray(data)) return fail('must be a JSON object of domain → list of nameservers');
  const out: Record<string, string[]> = {};
  for (const [domain, servers] of Object.entries(data as Record<string, unknown>)) {
    if (!isDns1123Subdomain(domain)) return fail(`invalid domain name: ${JSON.stringify(domain)} (must be a lower-case DNS-1123 subdomain, no trailing dot)`);
    if (!Array.isArray(servers) || !servers.every((s) => typeof s === 'string')) return fail(`${domain}: must be a list of nameserver strings`);
    if (servers.length === 0) return fail(`${domain}: has no nameservers`);
    for (const server of servers as string[]) {
      const checked = checkStubNameserver(server);
      if (!checked.ok) return fail(`${domain}: ${checked.error}`);
    }
    out[domain] = [...(servers as string[])];
  }
  return pass(out);
}

export function parseUpstreamNameservers(value: string): Check<string[]> {
  const json = parseJson(value);
  if (!json.ok) return json;
  const data = json.value;
  if (data === null) return pass([]);
  if (!Array.isArray(data) || !data.every((s) => typeof s === 'string')) return fail('must be a JSON array of nameserver strings');
  if (data.length > MAX_UPSTREAM_NAMESERVERS) return fail(`cannot have more than ${MAX_UPSTREAM_NAMESERVERS} entries, got ${data.length}`);
  for (const server of data as string[]) {
    const checked = checkUpstreamNameserver(server);
    if (!checked.ok) return checked;
  }
  return pass([...(data as string[])]);
}

/** fed.ParseFederationsFlag: "name=domain,name2=domain2". */
export function parseFederations(value: string): Check<Record<string, string>> {
  const out: Record<string, string> = {};
  if (value.trim() === '') return pass(out);
  for (const entry of value.split(',')) {
    const eq = entry.indexOf('=');
    if (eq < 0) return fail('invalid format, must be key=value');
    const name = entry.slice(0, eq).trim();
    const domain = entry.slice(eq + 1).trim();
    if (!isDns1123Label(name)) return fail(`${JSON.stringify(name)} not a valid federation name`);
    if (!isDns1123Subdomain(domain)) return fail(`${JSON.stringify(domain)} not a valid federation domain`);
    out[name] = domain;
  }
  return pass(out);
}

/** Validates the ConfigMap's data (key → file content). Unknown keys are ignored, as in kube-dns. */
export function parseKubeDnsData(data: Readonly<Record<string, string>>): KubeDnsResult {
  const files = Object.keys(data).sort();
  let stubDomains: Record<string, string[]> = {};
  let upstreamNameservers: string[] = [];
  let federations: Record<string, string> = {};
  if (data.federations !== undefined) {
    const r = parseFederations(data.federations);
    if (!r.ok) return invalid('federations', r.error);
    federations = r.value;
  }
  if (data.stubDomains !== undefined) {
    const r = parseStubDomains(data.stubDomains);
    if (!r.ok) return invalid('stubDomains', r.error);
    stubDomains = r.value;
  }
  if (data.upstreamNameservers !== undefined) {
    const r = parseUpstreamNameservers(data.upstreamNameservers);
    if (!r.ok) return invalid('upstreamNameservers', r.error);
    upstreamNameservers = r.value;
  }
  return { ok: true, config: { stubDomains, upstreamNameservers, federations }, files };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the visible files of a ConfigMap volume directory (following the key symlinks). */
export function readConfigMapDir(dir: string): { ok: true; data: Record<string, string> } | { ok: false; error: KubeDnsError } {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return invalid(dir, 'is not a directory');
    names = readdirSync(dir).sort();
  } catch (err) {
    return invalid(dir, `cannot read directory: ${(err as Error).message}`);
  }
  const data: Record<string, string> = {};
  for (const name of names) {
    if (name.startsWith('.')) continue; // ..data, ..2024_xx/ and other hidden entries
    const path = join(dir, name);
    try {
      if (statSync(path).isDirectory()) continue;
      data[name] = utf8.decode(readFileSync(path));
    } catch (err) {
      const reason = err instanceof TypeError ? 'contains non-UTF-8 data' : `cannot read: ${(err as Error).message}`;
      return invalid(path, reason);
    }
  }
  return { ok: true, data };
}

/** Reads and validates the kube-dns ConfigMap directory. Errors name the file (full path). */
export function readKubeDnsDir(dir: string): KubeDnsResult {
  const read = readConfigMapDir(dir);
  if (!read.ok) return read;
  const parsed = parseKubeDnsData(read.data);
  if (!parsed.ok) return invalid(join(dir, parsed.error.file), parsed.error.message);
  return parsed;
}
