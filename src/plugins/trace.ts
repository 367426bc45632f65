// CoreDNS `trace [ENDPOINT-TYPE] [ENDPOINT] { every N; service NAME; client_server }` (plugin/trace):
// spans of every Nth query to Zipkin (HTTP JSON v2, default http://localhost:9411/api/v2/spans).
// Datadog endpoints are accepted with a warning and not exported.
import type { BlockBuilder, Directive } from '../config/corefile.js';

export const DEFAULT_ZIPKIN = 'localhost:9411';
export const DEFAULT_SERVICE = 'coredns';

export function parseTraceDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  let [kind, endpoint] = d.args.map((a) => a.text);
  if (d.args.length > 2) return b.issue(d.line, 'trace', 'takes [ENDPOINT-TYPE] [ENDPOINT]');
  if (kind !== undefined && endpoint === undefined && kind !== 'zipkin' && kind !== 'datadog') {
    endpoint = kind;
    kind = 'zipkin';
  }
  kind ??= 'zipkin';
  if (kind === 'datadog') {
    b.ignore('trace', d.line, 'datadog endpoints are not supported; no spans are exported');
    return;
  }
  if (kind !== 'zipkin') return b.issue(d.line, 'trace', `unknown endpoint type ${JSON.stringify(kind)}; supported: zipkin, datadog`);
  const raw: { [k: string]: unknown } = { endpoint: zipkinUrl(endpoint ?? DEFAULT_ZIPKIN) };
  for (const sub of d.block ?? []) {
    const args = sub.args.map((a) => a.text);
    if (sub.name === 'every' && args.length === 1 && /^\d+$/.test(args[0]) && Number(args[0]) >= 1) raw.every = Number(args[0]);
    else if (sub.name === 'service' && args.length === 1) raw.service = args[0];
    else if (sub.name === 'client_server') b.ignore('trace', sub.line, 'client_server: spans are server spans only');
    else if (['datadog_analytics_rate', 'zipkin_max_backlog_size', 'zipkin_max_batch_size', 'zipkin_max_batch_interval'].includes(sub.name)) continue;
    else return b.issue(sub.line, `trace.${sub.name}`, `invalid option or value: ${[sub.name, ...args].join(' ')}`);
  }
  if (b.setGlobal('trace', raw, d.line)) b.ignore('trace', d.line, `no spans are exported to ${raw.endpoint as string}`);
}

/** "host:port" → the Zipkin v2 spans URL (CoreDNS adds the scheme and path the same way). */
export function zipkinUrl(endpoint: string): string {
  if (/^https?:\/\//.test(endpoint)) return endpoint;
  return `http://${endpoint}/api/v2/spans`;
}
