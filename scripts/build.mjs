#!/usr/bin/env node
// Bundles the daemon into one file (dist/node-local-dns.cjs) that runs with no node_modules,
// which is what the container image ships, plus dist/node-local-dns-worker.cjs: what a DNS worker
// thread runs with `workers` > 1 (only the serving code: measured on Node 24, a worker thread
// costs about 21 MiB with it and 31 MiB evaluating the whole bundle).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: true, // smaller source text held in memory by V8; the source map keeps stack traces readable
  define: { 'process.env.NLD_VERSION': JSON.stringify(pkg.version) },
  logLevel: 'warning',
};
await build({ ...common, entryPoints: ['src/main.ts'], outfile: 'dist/node-local-dns.cjs', banner: { js: '#!/usr/bin/env node' } });
await build({ ...common, entryPoints: ['src/cluster/worker-main.ts'], outfile: 'dist/node-local-dns-worker.cjs' });
console.log('built dist/node-local-dns.cjs and dist/node-local-dns-worker.cjs');
