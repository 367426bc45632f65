// Which src files run code on the path of one query: a cache hit, and a miss forwarded over TCP
// (force_tcp, node-cache's Corefile) and over UDP. Starts BIND on loopback (test/harness) and the
// daemon in this process (metrics on, no plugins, no query log), warms every path up, then counts
// the functions each query runs with V8 precise coverage (counters reset before each query).
// Usage: node --import tsx scripts/query-path-files.ts   (README "The path of one UDP query")
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from '../test/harness/upstream.js';
import { fixtures } from '../test/harness/zone.js';
import { queryUdp } from '../test/harness/dns-client.js';
import { startDaemon, clusterConfigYaml } from '../test/harness/daemon.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src') + path.sep;

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });

/** src files (relative, without .ts) with a function that ran since the previous call. */
async function ranSinceLastCall(): Promise<string[]> {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const files = new Set<string>();
  for (const script of result) {
    const file = script.url.startsWith('file://') ? fileURLToPath(script.url) : script.url;
    if (!file.startsWith(SRC)) continue;
    if (script.functions.some((f) => f.ranges[0]!.count > 0)) files.add(file.slice(SRC.length).replace(/\.ts$/, ''));
  }
  return [...files].sort();
}

const upstream = await startUpstream({ kind: 'bind' });
const results: Record<string, string[]> = {};
try {
  for (const transport of ['tcp', 'udp'] as const) {
    const yaml = clusterConfigYaml(upstream.address, { top: 'metrics: { listen: "127.0.0.1:0" }' });
    const nld = await startDaemon(transport === 'tcp' ? yaml : yaml.replace('forceTCP: true', 'forceTCP: false'));
    try {
      // Warm-up: misses and hits on other names, so that one-time set-up code is not counted.
      for (const svc of fixtures.services.slice(0, 5)) for (let i = 0; i < 3; i++) await queryUdp(nld.server, svc.name, 'A');
      const name = fixtures.services[7]!.name;
      await ranSinceLastCall();
      await queryUdp(nld.server, name, 'A');
      results[`cache miss, ${transport.toUpperCase()} upstream`] = await ranSinceLastCall();
      await queryUdp(nld.server, name, 'A');
      results['cache hit'] = await ranSinceLastCall();
    } finally {
      await nld.stop();
    }
  }
} finally {
  await upstream.stop();
  session.disconnect();
}
for (const [query, files] of Object.entries(results)) console.log(`${query}: ${files.length} files: ${files.join(', ')}`);
