// DNS over TCP framing (RFC 1035 4.2.2, RFC 7766): a 2-byte big-endian length before each message.
// FrameReader reassembles messages from arbitrary stream chunks without copying whole-stream state.

/** Prefixes a message with its 2-byte length. */
export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/** Collects chunks and emits whole messages. Zero-length frames are reported as empty buffers. */
export class FrameReader {
  // Bytes of an incomplete frame, in a buffer that grows by doubling: a frame trickled in one byte
  // at a time costs O(n), not O(n^2) (re-concatenating on every chunk took seconds for 64 KiB).
  private pending: Buffer | null = null;
  private pendingBytes = 0;

  /** Feeds a chunk; calls `onMessage` for each complete frame. */
  push(chunk: Buffer, onMessage: (msg: Buffer) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      const p = this.pending!;
      const total = this.pendingBytes + chunk.length;
      const frameEnd = total >= 2 ? 2 + ((p[0] << 8) | (this.pendingBytes >= 2 ? p[1] : chunk[0])) : Infinity;
      if (total < frameEnd) {
        this.append(chunk);
        return;
      }
      buf = Buffer.concat([p.subarray(0, this.pendingBytes), chunk], total);
      this.pending = null;
      this.pendingBytes = 0;
    }
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos] << 8) | buf[pos + 1];
      if (buf.length - pos - 2 < len) break;
      onMessage(buf.subarray(pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
    if (pos < buf.length) this.append(buf.subarray(pos)); // copied: the chunk may be reused
  }

  private append(data: Buffer): void {
    const need = this.pendingBytes + data.length;
    if (!this.pending || this.pending.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 64, Math.min(2 * (this.pending?.length ?? 0), 65537)));
      if (this.pending) this.pending.copy(grown, 0, 0, this.pendingBytes);
      this.pending = grown;
    }
    data.copy(this.pending, this.pendingBytes);
    this.pendingBytes = need;
  }

  /** Bytes of a partial frame waiting for more data. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}
