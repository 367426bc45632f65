// CoreDNS `trace [ENDPOINT-TYPE] [ENDPOINT] { every N; service NAME; client_server }` (plugin/trace):
// one SERVER span per traced query (every Nth; name "servedns", CoreDNS's tags coredns.io/name,
// type, proto, remote, rcode) sent to Zipkin as HTTP JSON v2 (default
// http://localhost:9411/api/v2/spans), batched: at most 1000 spans per POST, one POST per second,
// at most 1000 spans waiting (more are dropped and counted), like CoreDNS's zipkin reporter
// defaults. Process-wide here. Datadog endpoints and client_server are accepted with a warning.
import { randomBytes } from 'node:crypto';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import type { TraceConfig } from '../config/types.js';
import { keyToName } from '../dns/query.js';
import type { ParsedQuery } from '../dns/query.js';
import { rcodeName, typeName } from '../dns/qtypes.js';

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
  b.setGlobal('trace', raw, d.line);
}

/** "host:port" → the Zipkin v2 spans URL (CoreDNS adds the scheme and path the same way). */
export function zipkinUrl(endpoint: string): string {
  if (/^https?:\/\//.test(endpoint)) return endpoint;
  return `http://${endpoint}/api/v2/spans`;
}

const MAX_BATCH = 1000;
const MAX_BACKLOG = 1000;
const FLUSH_MS = 1000;

interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly name: string;
  readonly kind: 'SERVER';
  readonly timestamp: number; // µs since the epoch
  readonly duration: number; // µs
  readonly localEndpoint: { readonly serviceName: string };
  readonly tags: { readonly [k: string]: string };
}

/** Counts what happened to spans (tests and logs). */
export class TraceStats {
  sent = 0;
  dropped = 0;
  failedPosts = 0;
}

/** Records spans of every Nth query and posts them to Zipkin in batches. */
export class Tracer {
  private seen = 0;
  private backlog: ZipkinSpan[] = [];
  private readonly timer: NodeJS.Timeout;
  private posting: Promise<void> = Promise.resolve();
  readonly stats = new TraceStats();

  constructor(readonly config: TraceConfig) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** Called for every reply; `startedMs` is performance.now() when the query arrived. */
  record(query: ParsedQuery, tcp: boolean, remote: string, reply: Buffer, startedMs: number, nowMs: number): void {
    if (++this.seen % this.config.every !== 0) return;
    if (this.backlog.length >= MAX_BACKLOG) {
      this.stats.dropped++;
      return;
    }
    const durationUs = Math.max(0, Math.round((nowMs - startedMs) * 1000));
    const ids = randomBytes(16).toString('hex');
    this.backlog.push({
      traceId: ids,
      id: ids.slice(0, 16),
      name: 'servedns',
      kind: 'SERVER',
      timestamp: Date.now() * 1000 - durationUs,
      duration: durationUs,
      localEndpoint: { serviceName: this.config.serviceName },
      tags: {
        'coredns.io/name': keyToName(query.key),
        'coredns.io/type': typeName(query.qtype),
        'coredns.io/proto': tcp ? 'tcp' : 'udp',
        'coredns.io/remote': remote.replace(/^\[?(.*?)\]?:\d+$/, '$1'),
        'coredns.io/rcode': rcodeName(reply[3] & 0x0f),
      },
    });
    if (this.backlog.length >= MAX_BATCH) void this.flush();
  }

  /** Posts what is waiting (one POST at a time); failures drop the batch and are counted. */
  flush(): Promise<void> {
    this.posting = this.posting.then(async () => {
      if (this.backlog.length === 0) return;
      const batch = this.backlog.splice(0, MAX_BATCH);
      try {
        const res = await fetch(this.config.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.ok) this.stats.sent += batch.length;
        else {
          this.stats.failedPosts++;
          this.stats.dropped += batch.length;
        }
      } catch {
        this.stats.failedPosts++;
        this.stats.dropped += batch.length;
      }
    });
    return this.posting;
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
