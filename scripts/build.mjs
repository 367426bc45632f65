#!/usr/bin/env node
// Bundles the daemon into one file (dist/node-local-dns.cjs) that runs with no node_modules,
// which is what the container image ships.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: 'dist/node-local-dns.cjs',
  sourcemap: true,
  minify: true, // smaller source text held in memory by V8; the source map keeps stack traces readable
  banner: { js: '#!/usr/bin/env node' },
  define: { 'process.env.NLD_VERSION': JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
console.log('built dist/node-local-dns.cjs');
