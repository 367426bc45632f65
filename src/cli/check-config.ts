// `node-local-dns check-config FILE`: validates a config as it is written, before a node sees it.
//   - our YAML config (config/load.ts);
//   - a Corefile, also node-cache's base Corefile with its __PILLAR__ placeholders;
//   - a Kubernetes manifest holding the node-local-dns ConfigMap (data.Corefile), as stored in git
//     or printed by `kubectl get cm node-local-dns -o yaml`, several documents allowed.
// Placeholders are filled with sample values, the way node-cache fills them at start
// (kube/template.ts), which never adds or removes a line, so every error names the file and the
// line of the ConfigMap or template it came from.
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseAllDocuments, type Document } from 'yaml';
import { loadConfigFile, formatIssue, type ConfigIssue, type ConfigResult } from '../config/load.js';
import { loadCorefile } from '../config/corefile.js';
import { PLACEHOLDER, generateCorefile } from '../kube/template.js';

/**
 * What the placeholders become while checking, in two steps as on a cluster: the install guide's
 * sed (deploy/README.md: domain, link-local IP, kube-dns IP), then node-cache at start (the
 * -localip list, kube-dns-upstream's ClusterIP, upstream servers).
 */
const SAMPLE_VALUES = {
  dnsDomain: 'cluster.local',
  localDns: '169.254.20.10',
  dnsServer: '10.96.0.10', // kube-dns's ClusterIP
  clusterDns: '10.96.0.11', // kube-dns-upstream's ClusterIP
} as const;

/** The install guide's sed step (iptables mode). */
const deployTimeFill = (text: string): string =>
  text
    .split(PLACEHOLDER.dnsDomain)
    .join(SAMPLE_VALUES.dnsDomain)
    .split(PLACEHOLDER.localDns)
    .join(SAMPLE_VALUES.localDns)
    .split(PLACEHOLDER.dnsServer)
    .join(SAMPLE_VALUES.dnsServer);

interface Corefile {
  readonly text: string;
  fileLine(corefileLine: number): number; // 0 stays 0 (not tied to a line)
  readonly where: string; // e.g. "ConfigMap kube-system/node-local-dns data.Corefile"; '' for a Corefile file
}

type CheckResult = { ok: true; summary: string } | { ok: false; issues: ConfigIssue[] };

export function checkConfigFile(file: string): CheckResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file, line: 0, field: '', reason: `cannot read: ${(err as Error).message}` }] };
  }
  if (/\.ya?ml$/i.test(file)) {
    const corefiles = configMapCorefiles(text);
    if (corefiles === null) return summarize(loadConfigFile(file), file);
    if (corefiles.length === 0) return { ok: false, issues: [{ file, line: 0, field: '', reason: 'a Kubernetes manifest without a ConfigMap holding data.Corefile' }] };
    const results = corefiles.map((c) => checkCorefile(c, file));
    const issues = results.flatMap((r) => (r.ok ? [] : r.issues));
    if (issues.length > 0) return { ok: false, issues };
    return { ok: true, summary: results.map((r) => (r.ok ? r.summary : '')).join('; ') };
  }
  return checkCorefile({ text, fileLine: (n) => n, where: '' }, file);
}

/** Prints the result; the exit status of the subcommand. */
export function checkConfig(file: string | undefined): number {
  if (!file) {
    console.error('check-config needs a FILE');
    return 2;
  }
  const result = checkConfigFile(file);
  if (!result.ok) {
    for (const issue of result.issues) console.error(formatIssue(issue));
    return 1;
  }
  console.log(`${file}: OK (${result.summary})`);
  return 0;
}

function checkCorefile(corefile: Corefile, file: string): CheckResult {
  const templated = corefile.text.includes('__PILLAR__');
  let text = corefile.text;
  if (templated) {
    const filled = generateCorefile({
      template: deployTimeFill(text),
      localIps: [SAMPLE_VALUES.localDns, SAMPLE_VALUES.dnsServer],
      dnsPort: 53,
      clusterDns: { ok: true, ip: SAMPLE_VALUES.clusterDns, envName: 'KUBE_DNS_UPSTREAM_SERVICE_HOST' },
      stubDomains: {},
      upstreamNameservers: [],
    });
    if (!filled.ok) return { ok: false, issues: [{ file, line: corefile.fileLine(filled.line), field: '', reason: filled.error }] };
    text = filled.text;
  }
  const result = loadCorefile(text, file);
  if (!result.ok) return { ok: false, issues: result.issues.map((i) => ({ ...i, file, line: corefile.fileLine(i.line) })) };
  const blocks = result.config.servers.length;
  const sample = templated ? `, __PILLAR__ placeholders filled with sample values (local ${SAMPLE_VALUES.localDns} and ${SAMPLE_VALUES.dnsServer}, kube-dns-upstream ${SAMPLE_VALUES.clusterDns}, domain ${SAMPLE_VALUES.dnsDomain})` : '';
  return { ok: true, summary: `${corefile.where ? `${corefile.where}: ` : ''}${blocks} server block${blocks === 1 ? '' : 's'}${sample}` };
}

/**
 * The Corefiles of the ConfigMaps in a Kubernetes manifest; null when the file is not a
 * Kubernetes manifest (then it is our YAML config).
 */
function configMapCorefiles(text: string): Corefile[] | null {
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lines }) as Document.Parsed[];
  } catch {
    return null;
  }
  if (!Array.isArray(docs) || !docs.some((d) => typeof d.get('kind') === 'string' && d.get('apiVersion') !== undefined)) return null;
  const out: Corefile[] = [];
  for (const doc of docs) {
    if (doc.get('kind') !== 'ConfigMap') continue;
    const data = doc.get('data', true);
    if (!isMap(data)) continue;
    const node = data.get('Corefile', true);
    if (!isScalar(node) || typeof node.value !== 'string' || !node.range) continue;
    const name = `${String(doc.getIn(['metadata', 'namespace']) ?? 'default')}/${String(doc.getIn(['metadata', 'name']) ?? '?')}`;
    // A block scalar (`Corefile: |`) starts on the line after its indicator; any other style is
    // one YAML line per Corefile line only by chance, so its errors point at the key's line.
    const indicatorLine = lines.linePos(node.range[0]).line;
    const block = node.type === 'BLOCK_LITERAL';
    const fileLine = (n: number) => (n <= 0 ? 0 : block ? indicatorLine + n : indicatorLine);
    out.push({ text: node.value, fileLine, where: `ConfigMap ${name} data.Corefile` });
  }
  return out;
}

function summarize(result: ConfigResult, file: string): CheckResult {
  if (!result.ok) return { ok: false, issues: result.issues.map((i) => ({ ...i, file: i.file || file })) };
  const n = result.config.servers.length;
  return { ok: true, summary: `${n} server block${n === 1 ? '' : 's'}` };
}
