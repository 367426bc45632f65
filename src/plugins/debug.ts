// CoreDNS `debug` (plugin/debug): turns off panic recovery and prints [DEBUG] lines. Here a fault
// in one query never stops the process (handle() catches and counts it), so `debug` is accepted
// with a warning; `--log-level debug` (or `log.level: debug`) gives the debug lines.
import type { BlockBuilder, Directive } from '../config/corefile.js';

export function parseDebugDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 0 || d.block) return b.issue(d.line, 'debug', 'takes no arguments');
  b.ignore('debug', d.line, 'panic recovery stays on; use --log-level debug for debug logs');
}
