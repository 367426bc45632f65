// Messages between the primary and its worker processes (workers > 1). Plain JSON over the
// cluster IPC channel; the Config is the validated model, which is plain data.
import type { Config } from '../config/types.js';
import type { LoopFinding } from '../server/loop-detect.js';
import type { StatsSnapshot } from './snapshot.js';

export type ToWorker =
  | { type: 'start'; config: Config }
  | { type: 'reload'; config: Config; id: number }
  | { type: 'stats'; id: number }
  | { type: 'detect-loops' }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'reloaded'; id: number; ok: boolean; error?: string }
  | { type: 'stats'; id: number; snapshot: StatsSnapshot }
  | { type: 'loops'; finding: LoopFinding | null };
