// What a DNS worker thread is told at birth (workerData), and how code tells the main thread from
// a worker thread. Written by cluster/primary.ts, read by modules every thread loads (server/chaos
// for the id.server answer, main.ts to start a worker): here, below both, so that server/ never
// imports cluster/ (cluster/ runs servers).
import { isMainThread, workerData } from 'node:worker_threads';

export interface WorkerThreadData {
  /** Marks a node-local-dns DNS worker (other threads, if any, are not ours). */
  readonly nldWorker: true;
  /** 1..N-1; the main thread is worker 0. */
  readonly index: number;
  /** The process's instance id (id.server), shared by every thread of the process. */
  readonly instanceId: string;
}

/** This thread's worker data when it is a node-local-dns DNS worker thread, else null. */
export const workerThreadData: WorkerThreadData | null =
  !isMainThread && (workerData as Partial<WorkerThreadData> | null)?.nldWorker === true ? (workerData as WorkerThreadData) : null;
