// Longest-suffix zone match for one listener: which server block answers a qname. Works on the
// lower-cased wire-format name at the start of the cache key, so no string decoding per query.
import type { BlockRuntime } from './block.js';
import { keyNameLength } from '../dns/query.js';
import type { ZoneStats, DnsStats } from '../metrics/dns-stats.js';

export interface Route {
  readonly block: BlockRuntime;
  readonly zone: string; // "cluster.local."
  readonly stats: ZoneStats;
}

/** Wire form of a presentation zone name: "cluster.local." -> "\x07cluster\x05local\x00". */
export function zoneToWire(zone: string): string {
  if (zone === '.') return '\x00';
  return `${zone
    .replace(/\.$/, '')
    .split('.')
    .map((l) => String.fromCharCode(l.length) + l)
    .join('')}\x00`;
}

export class ZoneRouter {
  private readonly routes = new Map<string, Route>();
  /** Wire lengths of the zones: only suffixes of these lengths can match, so we slice only those. */
  private readonly zoneLengths: Uint8Array = new Uint8Array(256);
  readonly dropped: ZoneStats;

  constructor(
    readonly server: string, // dns://IP:port
    blocks: readonly BlockRuntime[],
    dnsStats: DnsStats,
  ) {
    for (const block of blocks) {
      for (const zone of block.config.zones) {
        const wire = zoneToWire(zone);
        this.routes.set(wire, { block, zone, stats: dnsStats.zone(server, zone) });
        this.zoneLengths[wire.length] = 1;
      }
    }
    this.dropped = dnsStats.zone(server, 'dropped');
  }

  /** The block for the longest zone that contains the key's qname, or undefined. */
  match(key: string): Route | undefined {
    const end = keyNameLength(key); // the qname's wire bytes, root label included
    let pos = 0;
    for (;;) {
      if (this.zoneLengths[end - pos] === 1) {
        const route = this.routes.get(key.slice(pos, end));
        if (route) return route;
      }
      if (pos >= end - 1) return undefined;
      pos += 1 + key.charCodeAt(pos);
    }
  }

  get blocks(): BlockRuntime[] {
    return [...new Set([...this.routes.values()].map((r) => r.block))];
  }
}
