// CoreDNS `timeouts { read DURATION; write DURATION; idle DURATION }` (plugin/timeouts): server
// timeouts of the TCP listeners. `idle` sets the TCP idle timeout (process-wide here: `tcp.idleTimeout`);
// `read` and `write` have no separate knob in our TCP listener and are accepted with a warning.
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { parseDuration } from '../config/values.js';

export function parseTimeoutsDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 0) return b.issue(d.line, 'timeouts', 'takes no arguments, only a { } block');
  if (!d.block || d.block.length === 0) return b.issue(d.line, 'timeouts', 'needs at least one of read, write, idle');
  for (const sub of d.block) {
    const field = `timeouts.${sub.name}`;
    if (!['read', 'write', 'idle'].includes(sub.name)) return b.issue(sub.line, field, `unknown option "${sub.name}"; supported: read, write, idle`);
    if (sub.args.length !== 1) return b.issue(sub.line, field, 'takes one duration');
    const ms = parseDuration(sub.args[0].text);
    if (!ms.ok) return b.issue(sub.line, field, ms.error);
    // CoreDNS: between 1s and 24h.
    if (ms.value < 1000 || ms.value > 86_400_000) return b.issue(sub.line, field, `must be between 1s and 24h, got ${sub.args[0].text}`);
    if (sub.name === 'idle') b.setGlobal('tcp', { idleTimeout: sub.args[0].text }, sub.line);
    else b.ignore('timeouts', sub.line, `${sub.name}: no separate ${sub.name} timeout here; TCP connections use the idle timeout`);
  }
}
