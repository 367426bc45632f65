// CoreDNS `timeouts { read DURATION; write DURATION; idle DURATION }` (plugin/timeouts): the
// server's TCP timeouts, each 1s to 24h. They set `tcp.readTimeout` (a connection's first query
// must arrive whole within it), `tcp.writeTimeout` (queued replies must make progress) and
// `tcp.idleTimeout` (later queries); process-wide here, so every block that has `timeouts` must agree.
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { parseDuration } from '../config/values.js';

const FIELDS: { readonly [option: string]: string } = { read: 'readTimeout', write: 'writeTimeout', idle: 'idleTimeout' };

export function parseTimeoutsDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 0) return b.issue(d.line, 'timeouts', 'takes no arguments, only a { } block');
  if (!d.block || d.block.length === 0) return b.issue(d.line, 'timeouts', 'needs at least one of read, write, idle');
  const tcp: { [field: string]: string } = {};
  for (const sub of d.block) {
    const field = `timeouts.${sub.name}`;
    if (!(sub.name in FIELDS)) return b.issue(sub.line, field, `unknown option "${sub.name}"; supported: read, write, idle`);
    if (sub.args.length !== 1) return b.issue(sub.line, field, 'takes one duration');
    const ms = parseDuration(sub.args[0].text);
    if (!ms.ok) return b.issue(sub.line, field, ms.error);
    if (ms.value < 1000 || ms.value > 86_400_000) return b.issue(sub.line, field, `must be between 1s and 24h, got ${sub.args[0].text}`);
    tcp[FIELDS[sub.name]] = sub.args[0].text;
  }
  b.setGlobal('tcp', tcp, d.line);
}
