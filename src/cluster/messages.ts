// Messages between the main thread and its DNS worker threads (workers > 1), over the Worker's
// own port. The Config is the validated model, which is plain data (structured-clone safe).
// Cache fills travel on separate ports between every pair of workers (see fill-sharing.ts).
import type { MessagePort } from 'node:worker_threads';
import type { NldError } from '../errors.js';
import type { Config } from '../config/types.js';
import type { StatsSnapshot } from './snapshot.js';

export type ToWorker =
  | { type: 'start'; config: Config }
  | { type: 'reload'; id: number; config: Config }
  | { type: 'stats'; id: number }
  /** A port to worker `index` for cache fills (sent when that worker starts or restarts). */
  | { type: 'peer'; index: number; port: MessagePort }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'reloaded'; id: number; ok: boolean; error?: NldError }
  | { type: 'stats'; id: number; snapshot: StatsSnapshot }
  | { type: 'stopped' };
