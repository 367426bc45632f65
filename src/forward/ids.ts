// Random 16-bit query IDs (RFC 5452 §9.2) that are not already in use on a transport.
import { randomFillSync } from 'node:crypto';

const pool = new Uint16Array(4096);
let next = pool.length;

function random16(): number {
  if (next >= pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++];
}

/** A random ID not present in `inUse`; undefined if the 16-bit space is exhausted. */
export function freshId(inUse: { has(id: number): boolean; readonly size: number }): number | undefined {
  if (inUse.size >= 65536) return undefined;
  for (;;) {
    const id = random16();
    if (!inUse.has(id)) return id;
  }
}
