// CoreDNS `dnstap SOCKET|tcp://ADDR [full] { identity; version; extra; skipverify }` (plugin/dnstap),
// in node-cache 1.22-era ConfigMaps. Accepted with a warning: no dnstap messages are written.
import type { BlockBuilder, Directive } from '../config/corefile.js';

export function parseDnstapDirective(d: Directive, b: BlockBuilder): void {
  if (d.args.length < 1) return b.issue(d.line, 'dnstap', 'needs a socket path or tcp://address');
  b.ignore('dnstap', d.line, `no dnstap output is written to ${d.args[0].text}`);
}
