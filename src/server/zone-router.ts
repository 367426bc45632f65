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

/**
 * Zones in wire form, matched against the qname at the start of a cache key label by label from
 * the right: no string decoding per query, and a dot inside a label never passes for a boundary.
 */
export class WireZones<T> {
  private readonly byWire = new Map<string, T>();
  /** Wire lengths of the zones: only suffixes of these lengths can match, so only those are sliced. */
  private readonly lengths = new Uint8Array(256);

  constructor(entries: Iterable<readonly [zone: string, value: T]> = []) {
    for (const [zone, value] of entries) this.set(zone, value);
  }

  set(zone: string, value: T): void {
    const wire = zoneToWire(zone);
    this.byWire.set(wire, value);
    this.lengths[wire.length] = 1;
  }

  /** The value of the longest zone that contains the key's qname, or undefined. */
  match(key: string): T | undefined {
    const end = keyNameLength(key); // the qname's wire bytes, root label included
    let pos = 0;
    for (;;) {
      if (this.lengths[end - pos] === 1) {
        const value = this.byWire.get(key.slice(pos, end));
        if (value !== undefined) return value;
      }
      if (pos >= end - 1) return undefined;
      pos += 1 + key.charCodeAt(pos);
    }
  }

  values(): IterableIterator<T> {
    return this.byWire.values();
  }
}

export class ZoneRouter {
  private readonly routes = new WireZones<Route>();
  readonly dropped: ZoneStats;

  constructor(
    readonly server: string, // dns://IP:port
    blocks: readonly BlockRuntime[],
    dnsStats: DnsStats,
  ) {
    for (const block of blocks) {
      for (const zone of block.config.zones) this.routes.set(zone, { block, zone, stats: dnsStats.zone(server, zone) });
    }
    this.dropped = dnsStats.zone(server, 'dropped');
  }

  /** The block for the longest zone that contains the key's qname, or undefined. */
  match(key: string): Route | undefined {
    return this.routes.match(key);
  }

  get blocks(): BlockRuntime[] {
    return [...new Set([...this.routes.values()].map((r) => r.block))];
  }
}
