// Stand-in for the daemon CLI while src/main.ts does not exist yet: loads a YAML config with the
// real loader and runs the real Daemon (DNS listeners only: no HTTP health/metrics, no workers).
// Usage: node --import tsx bench/lib/daemon-fallback.ts --config FILE.yaml
import { readFileSync } from 'node:fs';
import { Daemon } from '../../src/daemon.js';
import { loadConfigText, formatIssue } from '../../src/config/load.js';
import { silentLogger } from '../../src/log/logger.js';

const i = process.argv.indexOf('--config');
if (i < 0 || !process.argv[i + 1]) {
  console.error('usage: daemon-fallback.ts --config FILE.yaml');
  process.exit(2);
}
const file = process.argv[i + 1]!;
const loaded = loadConfigText(readFileSync(file, 'utf8'), file);
if (!loaded.ok) {
  console.error(loaded.issues.map(formatIssue).join('\n'));
  process.exit(2);
}
const daemon = new Daemon({ logger: silentLogger });
await daemon.start(loaded.config);
console.log('daemon-fallback: serving');
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void daemon.stop(0).finally(() => process.exit(0));
  });
}
