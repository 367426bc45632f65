#!/usr/bin/env node
// Bundles the daemon into files that run with no node_modules, which is what the container image
// ships (Dockerfile COPY), one per entry file:
//   dist/node-local-dns.cjs         the daemon and its light subcommands (check-config, ...)
//   dist/node-local-dns-worker.cjs  what a DNS worker thread runs with `workers` > 1 (only the
//                                   serving code: measured on Node 24, a worker thread costs about
//                                   21 MiB with it and 31 MiB evaluating the whole bundle)
//   dist/node-local-dns-tools.cjs   the `load` and `query` tools; the daemon's bundle requires it
//                                   (from its own directory) only when one of them runs, so the
//                                   daemon never holds their code or their dependencies in memory
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

const BUNDLES = [
  { entry: 'src/main.ts', out: 'dist/node-local-dns.cjs', bin: true },
  { entry: 'src/cluster/worker-main.ts', out: 'dist/node-local-dns-worker.cjs' },
  { entry: 'src/tools/index.ts', out: 'dist/node-local-dns-tools.cjs' },
];

/** An import of another bundle's entry file becomes a require of that bundle, next to this one. */
function otherBundlesExternal(self) {
  const others = new Map(BUNDLES.filter((b) => b !== self).map((b) => [path.join(ROOT, b.entry), `./${path.basename(b.out)}`]));
  return {
    name: 'other-bundles-external',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = others.get(path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts'));
        return file ? { path: file, external: true } : undefined;
      });
    },
  };
}

/**
 * Modules the dependencies load at start for paths the daemon never takes, replaced by shims that
 * load the real module on first use (scripts/bundle/*.cjs say what each saves):
 *   prom-client's index (loads the Pushgateway: http, https -> tls),
 *   pino's thread-stream (transports: a worker thread), sonic-boom's assert,
 *   zod's locales (every language; errors are in English).
 */
const lighterDependencies = {
  name: 'lighter-dependencies',
  setup(b) {
    const shim = (name) => ({ path: path.join(ROOT, 'scripts/bundle', name) });
    b.onResolve({ filter: /^prom-client$/ }, () => shim('prom-client-lazy.cjs'));
    b.onResolve({ filter: /^thread-stream$/ }, () => shim('thread-stream-lazy.cjs'));
    b.onResolve({ filter: /^assert$/ }, (args) => (/[\\/]sonic-boom[\\/]/.test(args.importer) ? shim('assert-lite.cjs') : undefined));
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]zod[\\/]v4[\\/]/.test(args.importer) ? shim('zod-locales-en.mjs') : undefined));
  },
};

await Promise.all(
  BUNDLES.map((bundle) =>
    build({
      absWorkingDir: ROOT,
      entryPoints: [bundle.entry],
      outfile: bundle.out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      minify: true, // smaller source text held in memory by V8; the source map keeps stack traces readable
      define: { 'process.env.NLD_VERSION': JSON.stringify(pkg.version) },
      logLevel: 'warning',
      plugins: [otherBundlesExternal(bundle), lighterDependencies],
      ...(bundle.bin ? { banner: { js: '#!/usr/bin/env node' } } : {}),
    }),
  ),
);
console.log(`built ${BUNDLES.map((b) => b.out).join(', ')}`);
