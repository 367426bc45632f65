// A warm start for a successor: the caches of a running daemon as one binary snapshot (the reply
// templates in wire format with their absolute expiry), and back into the successor's caches.
// Handed over the SIGUSR2 handover channel (server/handover.ts) or written to a file on shutdown
// and read at start (Daemon's cacheSnapshotFile). Uses only ResponseCache's public API: entries()
// to read, adopt() to store, and the entry fields (store, ttlSeconds, storedAtMs, hits, template).
//
// Times: the cache clock is monotonic and per process, so an entry's store time travels as wall
// clock (Date.now()) and is mapped back onto the successor's cache clock; the TTL is kept, so an
// entry expires at the same moment in both processes. Entries already past their TTL (and past the
// serve_stale window) are not written.
//
// Format (big-endian): "NLDSNAP1", u32 block count, then per block: u16 id length, id (utf8,
// the zones: which block of the successor takes the entries), u32 entry count, then per
// entry: u16 key length, key (latin1), u8 store, u32 ttlSeconds, f64 wall store time (ms), u16
// hits, u16 questionEnd, u32 wireLength, u32 packed length, packed (latin1: wire bytes + TTL
// offsets). A malformed snapshot restores nothing and says why.
import type { ResponseCache } from './response-cache.js';
import type { Clock } from '../util/clock.js';
import { CACHE_DENIAL, CACHE_SUCCESS } from './stats.js';
import { nldError, type Failure, type NldError } from '../errors.js';

const MAGIC = Buffer.from('NLDSNAP1', 'latin1');

/** The cache of one server block, named so the successor finds its own block's cache. */
export interface SnapshotSource {
  readonly id: string;
  readonly cache: ResponseCache;
}

/**
 * The id a block's cache travels under: its zones. Not its listeners: a successor that binds other
 * addresses or ports still answers for the same names.
 */
export function blockCacheId(zones: readonly string[]): string {
  return zones.join(',');
}

/** Appends big-endian numbers and length-prefixed text to one buffer that doubles as it fills. */
class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private at = 0;
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
  push(b: Buffer): void {
    this.room(b.length);
    this.at += b.copy(this.buf, this.at);
  }
  u8(n: number): void {
    this.room(1);
    this.at = this.buf.writeUInt8(n, this.at);
  }
  u16(n: number): void {
    this.room(2);
    this.at = this.buf.writeUInt16BE(n, this.at);
  }
  u32(n: number): void {
    this.room(4);
    this.at = this.buf.writeUInt32BE(n, this.at);
  }
  f64(n: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleBE(n, this.at);
  }
  bytes(text: string, encoding: 'latin1' | 'utf8', lengthBytes: 2 | 4): void {
    const length = Buffer.byteLength(text, encoding);
    if (lengthBytes === 2) this.u16(length);
    else this.u32(length);
    this.room(length);
    this.at += this.buf.write(text, this.at, encoding);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Encodes every usable entry of the caches. `wallNow` and `clock` map cache times to wall time. */
export function encodeSnapshot(sources: readonly SnapshotSource[], clock: Clock, wallNow = Date.now()): { data: Buffer; entries: number } {
  const w = new Writer();
  w.push(MAGIC);
  w.u32(sources.length);
  const now = clock.nowMs();
  let total = 0;
  for (const { id, cache } of sources) {
    const staleMs = cache.config.serveStale?.durationMs ?? 0;
    const live = [...cache.entries()].filter(([, e]) => now - e.expiresAtMs < staleMs || e.expiresAtMs > now);
    w.bytes(id, 'utf8', 2);
    w.u32(live.length);
    for (const [key, e] of live) {
      w.bytes(key, 'latin1', 2);
      w.u8(e.store);
      w.u32(e.ttlSeconds);
      w.f64(wallNow - (now - e.storedAtMs));
      w.u16(Math.min(e.hits, 0xffff));
      w.u16(e.questionEnd);
      w.u32(e.wireLength);
      w.bytes(e.packed, 'latin1', 4);
    }
    total += live.length;
  }
  return { data: w.done(), entries: total };
}

export interface SnapshotEntry {
  readonly key: string;
  readonly store: typeof CACHE_SUCCESS | typeof CACHE_DENIAL;
  readonly ttlSeconds: number;
  readonly wallStoredAtMs: number;
  readonly hits: number;
  readonly template: { readonly packed: string; readonly wireLength: number; readonly questionEnd: number };
}

export type DecodedSnapshot = { ok: true; blocks: Map<string, SnapshotEntry[]> } | Failure<NldError<'NLD_ERR_SNAPSHOT_INVALID'>>;

/** Decodes a snapshot; any inconsistency (truncation, bad lengths, unknown store) rejects all of it. */
export function decodeSnapshot(data: Buffer): DecodedSnapshot {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > data.length) throw new Error(`truncated at byte ${pos} (need ${n} more, have ${data.length - pos})`);
  };
  const u8 = () => (need(1), data.readUInt8(pos++));
  const u16 = () => (need(2), (pos += 2), data.readUInt16BE(pos - 2));
  const u32 = () => (need(4), (pos += 4), data.readUInt32BE(pos - 4));
  const f64 = () => (need(8), (pos += 8), data.readDoubleBE(pos - 8));
  const text = (length: number, encoding: 'latin1' | 'utf8') => (need(length), (pos += length), data.toString(encoding, pos - length, pos));
  try {
    if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, error: nldError('NLD_ERR_SNAPSHOT_INVALID', ['not a node-local-dns cache snapshot (bad magic)']) };
    pos = MAGIC.length;
    const blocks = new Map<string, SnapshotEntry[]>();
    const blockCount = u32();
    for (let b = 0; b < blockCount; b++) {
      const id = text(u16(), 'utf8');
      const count = u32();
      const entries: SnapshotEntry[] = [];
      for (let i = 0; i < count; i++) {
        const key = text(u16(), 'latin1');
        const store = u8();
        if (store !== CACHE_SUCCESS && store !== CACHE_DENIAL) throw new Error(`entry ${i} of block ${JSON.stringify(id)}: unknown store ${store}`);
        const ttlSeconds = u32();
        const wallStoredAtMs = f64();
        const hits = u16();
        const questionEnd = u16();
        const wireLength = u32();
        const packed = text(u32(), 'latin1');
        if (!Number.isFinite(wallStoredAtMs) || wireLength > packed.length || questionEnd > wireLength || (packed.length - wireLength) % 2 !== 0) {
          throw new Error(`entry ${i} of block ${JSON.stringify(id)}: inconsistent lengths or time`);
        }
        entries.push({ key, store, ttlSeconds, wallStoredAtMs, hits, template: { packed, wireLength, questionEnd } });
      }
      blocks.set(id, [...(blocks.get(id) ?? []), ...entries]);
    }
    if (pos !== data.length) throw new Error(`${data.length - pos} bytes after the last block`);
    return { ok: true, blocks };
  } catch (err) {
    return { ok: false, error: nldError('NLD_ERR_SNAPSHOT_INVALID', [(err as Error).message]) };
  }
}

/**
 * Adopts the snapshot's entries into the caches whose id matches, on their clock; entries that are
 * no longer usable, and keys the cache already holds (it may have filled them since), are skipped.
 */
export function restoreSnapshot(snapshot: Map<string, SnapshotEntry[]>, targets: readonly SnapshotSource[], clock: Clock, wallNow = Date.now()): { restored: number; skipped: number } {
  const now = clock.nowMs();
  let restored = 0;
  let skipped = 0;
  for (const { id, cache } of targets) {
    const entries = snapshot.get(id) ?? [];
    const staleMs = cache.config.serveStale?.durationMs ?? 0;
    for (const e of entries) {
      const storedAtMs = now - (wallNow - e.wallStoredAtMs);
      const expiresAtMs = storedAtMs + e.ttlSeconds * 1000;
      if ((expiresAtMs <= now && now - expiresAtMs >= staleMs) || cache.peek(e.key)) {
        skipped++;
        continue;
      }
      cache.adopt(e.key, e.template, e.store, e.ttlSeconds, e.hits, storedAtMs);
      restored++;
    }
  }
  return { restored, skipped };
}
