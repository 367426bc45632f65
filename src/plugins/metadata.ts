// CoreDNS `metadata [ZONES...]` (plugin/metadata) only lets plugins publish values for other
// plugins (log formats, template .Meta, acl); none of ours read them, so enabling it changes
// nothing a client or operator sees. Accepted as written, without a warning.
import type { BlockBuilder, Directive } from '../config/corefile.js';

export function parseMetadataDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.block) b.issue(d.line, 'metadata', 'takes no { } block');
}
