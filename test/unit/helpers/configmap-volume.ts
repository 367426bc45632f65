// Builds directories shaped like a kubelet ConfigMap volume, for tests: a timestamped data dir,
// `..data` → that dir, and one symlink per key → `..data/<key>`. update() swaps `..data`
// atomically (symlink + rename), exactly as the kubelet's AtomicWriter does.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export interface ConfigMapVolume {
  readonly dir: string;
  /** Replaces the whole data set (keys not given disappear). */
  update(data: Record<string, string | Buffer>): void;
}

let generation = 0;

function writeGeneration(dir: string, data: Record<string, string | Buffer>): string {
  const name = `..2024_01_01_00_00_${String(++generation).padStart(2, '0')}.${process.pid}`;
  mkdirSync(join(dir, name));
  for (const [key, value] of Object.entries(data)) writeFileSync(join(dir, name, key), value);
  return name;
}

export function createConfigMapVolume(dir: string, data: Record<string, string | Buffer>): ConfigMapVolume {
  mkdirSync(dir, { recursive: true });
  const update = (next: Record<string, string | Buffer>): void => {
    let previous: string | null = null;
    try {
      previous = readlinkSync(join(dir, '..data'));
    } catch {
      previous = null;
    }
    const fresh = writeGeneration(dir, next);
    symlinkSync(fresh, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    // Key symlinks: add new keys, drop removed ones.
    for (const key of Object.keys(next)) {
      try {
        lstatSync(join(dir, key));
      } catch {
        symlinkSync(join('..data', key), join(dir, key));
      }
    }
    for (const entry of readdirSync(dir)) {
      if (!entry.startsWith('.') && !(entry in next)) rmSync(join(dir, entry));
    }
    if (previous) rmSync(join(dir, previous), { recursive: true, force: true });
  };
  update(data);
  return { dir, update };
}
