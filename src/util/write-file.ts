// Files the daemon writes for others to read (pidfile, generated Corefile): mode 0644 whatever the
// umask (a umask of 000 made them world-writable), set before the content is written.
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';

export const PUBLIC_FILE_MODE = 0o644;

/** Creates or truncates `path`, sets its mode (also on an existing file), then writes `text`. */
export function writeFileWithMode(path: string, text: string, mode = PUBLIC_FILE_MODE): void {
  const fd = openSync(path, 'w', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
