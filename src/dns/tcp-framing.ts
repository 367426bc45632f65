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
  private pending: Buffer | null = null;

  /** Feeds a chunk; calls `onMessage` for each complete frame. */
  push(chunk: Buffer, onMessage: (msg: Buffer) => void): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos] << 8) | buf[pos + 1];
      if (buf.length - pos - 2 < len) break;
      onMessage(buf.subarray(pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos)); // copy: the chunk may be reused
    buf = Buffer.alloc(0);
  }

  /** Bytes of a partial frame waiting for more data. */
  get bufferedBytes(): number {
    return this.pending ? this.pending.length : 0;
  }
}
