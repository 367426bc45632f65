// Writes to a stream socket so that everything written in the same tick leaves in one segment
// (one syscall): cork on the first write of a tick, uncork on the next tick.
import type { Socket } from 'node:net';

export class BatchedWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  /** `onFlushed` runs once the data has been handed to the kernel (or the write failed). */
  write(data: Buffer, onFlushed?: (err?: Error | null) => void): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(data, onFlushed);
  }
}
