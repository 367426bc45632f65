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

/** Receives one complete message; returning `false` stops delivery (the rest stays buffered). */
export type MessageSink = (msg: Buffer) => unknown;

/**
 * Collects chunks and emits whole messages (zero-length frames as empty buffers). The caller can
 * stop delivery mid-chunk (a connection over its limits) and pick it up again with resume().
 * A delivered message is a view into a chunk or into the reader's buffer, and stays valid: bytes
 * already delivered are never written again (new bytes go after them, or into a new buffer).
 */
export class FrameReader {
  // Bytes not yet delivered are buf[start, end). The buffer grows by doubling: a frame trickled in
  // one byte at a time costs O(n), not O(n^2) (re-concatenating on every chunk took seconds for 64 KiB).
  private buf: Buffer | null = null;
  private start = 0;
  private end = 0;

  /** Feeds a chunk and delivers every complete message, until `onMessage` returns false. */
  push(chunk: Buffer, onMessage: MessageSink): void {
    if (this.start === this.end) {
      // Nothing held back: deliver straight from the chunk, keep (copy) only what is left.
      const pos = deliver(chunk, 0, onMessage);
      if (pos < chunk.length) this.append(chunk.subarray(pos)); // copied: the chunk may be reused
      return;
    }
    this.append(chunk);
    this.resume(onMessage);
  }

  /** Delivers the complete messages held back by an earlier stop, until `onMessage` returns false. */
  resume(onMessage: MessageSink): void {
    if (this.start === this.end) return;
    const buf = this.buf!;
    const pos = deliver(buf.subarray(0, this.end), this.start, onMessage);
    if (pos === this.end) {
      this.buf = null; // delivered views keep it alive as long as they need it
      this.start = this.end = 0;
    } else {
      this.start = pos;
    }
  }

  private append(data: Buffer): void {
    const held = this.end - this.start;
    const need = held + data.length;
    if (!this.buf || this.buf.length - this.end < data.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 64, Math.min(2 * (this.buf?.length ?? 0), 65537)));
      if (this.buf) this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
      this.start = 0;
      this.end = held;
    }
    data.copy(this.buf, this.end);
    this.end += data.length;
  }

  /** Bytes received and not yet delivered (a partial frame, or frames held back by a stop). */
  get bufferedBytes(): number {
    return this.end - this.start;
  }
}

/** Delivers the complete frames of buf from pos on; returns the offset after the last one delivered. */
function deliver(buf: Buffer, from: number, onMessage: MessageSink): number {
  let pos = from;
  while (buf.length - pos >= 2) {
    const len = (buf[pos] << 8) | buf[pos + 1];
    if (buf.length - pos - 2 < len) break;
    const msg = buf.subarray(pos + 2, pos + 2 + len);
    pos += 2 + len;
    if (onMessage(msg) === false) break;
  }
  return pos;
}
