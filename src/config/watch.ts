// Calls onChange when the content behind a set of config paths changes: files, directories and
// Kubernetes ConfigMap volumes, whose updates are an atomic swap of the `..data` symlink (the
// visible names never change, only what they resolve to). Detection hashes (name, content) of the
// resolved files, like node-cache's SHA-256 poll, every `pollMs`; fs.watch on each directory is only
// a fast trigger (it misses events on some filesystems, so polling stays the source of truth).
// Must not parse or validate anything, and must leave no timer or watcher behind after close().
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';

export const DEFAULT_POLL_MS = 2000;
export const DEFAULT_DEBOUNCE_MS = 100;

export interface WatchOptions {
  readonly pollMs?: number; // full re-hash period; default 2000 ms
  readonly debounceMs?: number; // wait after an fs.watch event before hashing; default 100 ms
  readonly onError?: (err: unknown) => void; // onChange threw; default: rethrown asynchronously
}

export interface PathWatcher {
  /** Re-hashes now; returns true (and calls onChange) if the content changed. */
  check(): boolean;
  /** Stops polling and closes every fs.watch handle. Idempotent. */
  close(): void;
}

function hashFile(hash: Hash, label: string, path: string): void {
  hash.update(label).update('\0').update(readFileSync(path)).update('\0');
}

/** Hashes one path: a file's content, or a directory's visible files (hidden entries and subdirectories skipped). */
function hashPath(hash: Hash, path: string): void {
  hash.update(path).update('\0');
  try {
    if (!statSync(path).isDirectory()) {
      hashFile(hash, 'file', path);
      return;
    }
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue; // ConfigMap internals: ..data, ..2024_xx/
      const full = join(path, name);
      if (statSync(full).isDirectory()) continue;
      hashFile(hash, name, full);
    }
  } catch (err) {
    // Missing or unreadable counts as a state of its own, so creation and deletion are changes too.
    hash.update(`error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`).update('\0');
  }
}

/** SHA-256 over every path's resolved content; equal strings mean nothing observable changed. */
export function fingerprintPaths(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) hashPath(hash, path);
  return hash.digest('hex');
}

/** The directories to fs.watch: a directory itself, or a file's parent (where symlink swaps happen). */
function watchDirs(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    try {
      dirs.add(statSync(path).isDirectory() ? path : dirname(path));
    } catch {
      dirs.add(dirname(path)); // not there yet: its parent will see it appear
    }
  }
  return [...dirs];
}

/** Watches `paths` and calls `onChange` once per observed content change (debounced). */
export function watchPaths(paths: readonly string[], onChange: () => void, opts: WatchOptions = {}): PathWatcher {
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const onError =
    opts.onError ??
    ((err: unknown) => {
      queueMicrotask(() => {
        throw err;
      });
    });
  const watchers = new Map<string, FSWatcher>();
  let last = fingerprintPaths(paths);
  let closed = false;
  let debounce: NodeJS.Timeout | null = null;

  const check = (): boolean => {
    if (closed) return false;
    armWatchers();
    const now = fingerprintPaths(paths);
    if (now === last) return false;
    last = now;
    try {
      onChange();
    } catch (err) {
      onError(err);
    }
    return true;
  };

  const trigger = (): void => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      check();
    }, debounceMs);
  };

  // fs.watch is best effort: a directory that does not exist yet, or a filesystem without inotify,
  // simply has no fast trigger; the poll retries arming each period.
  function armWatchers(): void {
    for (const dir of watchDirs(paths)) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: true }, trigger);
        w.on('error', () => {
          w.close();
          if (watchers.get(dir) === w) watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch {
        // ENOENT and friends: keep polling.
      }
    }
  }

  armWatchers();
  const poll = setInterval(check, pollMs);

  return {
    check,
    close(): void {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      debounce = null;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
