// CoreDNS `dns64` (plugin/dns64, RFC 6147): synthesises AAAA records from A records for IPv6-only
// clients. Parsed with CoreDNS's syntax and accepted with a warning: AAAA answers pass unchanged.
import type { BlockBuilder, Directive } from '../config/corefile.js';

const OPTIONS = new Set(['prefix', 'translate_all', 'allow_ipv4']);

export function parseDns64Directive(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 1) return b.issue(d.line, 'dns64', 'takes at most one argument (PREFIX)');
  for (const sub of d.block ?? []) {
    if (!OPTIONS.has(sub.name)) return b.issue(sub.line, `dns64.${sub.name}`, `unknown option "${sub.name}"; supported: ${[...OPTIONS].join(', ')}`);
  }
  b.ignore('dns64', d.line, 'AAAA synthesis from A records is not performed; AAAA answers pass unchanged');
}
