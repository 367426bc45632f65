// The Corefile directives of the plugins node-cache compiles in beyond cache/forward/bind/errors/
// health/log/loop/prometheus/reload, in CoreDNS's plugin.cfg order (the order they act on a query).
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { parseMetadataDirective } from './metadata.js';
import { parseTimeoutsDirective } from './timeouts.js';
import { parseBufsizeDirective } from './bufsize.js';
import { parseDebugDirective } from './debug.js';
import { parseTraceDirective } from './trace.js';
import { parsePprofDirective } from './pprof.js';
import { parseDnstapDirective } from './dnstap.js';
import { parseDns64Directive } from './dns64.js';
import { parseLoadbalanceDirective } from './loadbalance.js';
import { parseRewriteDirective } from './rewrite.js';
import { parseTemplateDirective } from './template.js';
import { parseHostsDirective } from './hosts.js';
import { parseWhoamiDirective } from './whoami.js';

export const PLUGIN_DIRECTIVES: { readonly [name: string]: (d: Directive, b: BlockBuilder) => void } = {
  metadata: parseMetadataDirective,
  timeouts: parseTimeoutsDirective,
  bufsize: parseBufsizeDirective,
  debug: parseDebugDirective,
  trace: parseTraceDirective,
  pprof: parsePprofDirective,
  dnstap: parseDnstapDirective,
  dns64: parseDns64Directive,
  loadbalance: parseLoadbalanceDirective,
  rewrite: parseRewriteDirective,
  template: parseTemplateDirective,
  hosts: parseHostsDirective,
  whoami: parseWhoamiDirective,
};
