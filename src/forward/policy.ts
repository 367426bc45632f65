// Upstream order per query: random (shuffle), round_robin (rotating start), sequential (config order).
import type { ForwardPolicy } from '../config/types.js';

export class UpstreamPolicy<T> {
  private next = 0;
  constructor(
    private readonly policy: ForwardPolicy,
    private readonly items: readonly T[],
  ) {}

  order(): T[] {
    const items = this.items;
    if (items.length <= 1 || this.policy === 'sequential') return items.slice();
    if (this.policy === 'round_robin') {
      const start = this.next++ % items.length;
      return [...items.slice(start), ...items.slice(0, start)];
    }
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
