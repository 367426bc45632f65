// What a DNS worker thread loads (workers > 1): dist/node-local-dns-worker.cjs is built from
// src/cluster/worker-main.ts and must stay the serving code only. Measured on Node 24, every
// worker thread pays for what its script holds: about 22 MiB with the serving code, 31 MiB when
// zod (config validation) came in through a plugin module, 37 MiB with the whole daemon bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';

test('the worker thread bundle holds no config, metrics or tool code', async () => {
  const result = await build({ entryPoints: ['src/cluster/worker-main.ts'], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent' });
  const inputs = Object.keys(result.metafile.inputs);
  const banned = [/node_modules\/zod\//, /node_modules\/yaml\//, /node_modules\/prom-client\//, /node_modules\/dns2\//, /^src\/config\/(schema|load|corefile|sources)\.ts$/, /^src\/cli\/(run|args|http-service|check-config)\.ts$/, /^src\/tools\//, /^src\/metrics\/registry\.ts$/];
  const found = [...new Set(inputs.filter((i) => banned.some((b) => b.test(i))).map((i) => /node_modules\/([^/]+)\//.exec(i)?.[1] ?? i))];
  assert.deepEqual(found, [], 'modules a worker thread must not load (a plugin\'s YAML schema belongs in config/plugin-schemas.ts)');
  assert.ok(inputs.includes('src/daemon.ts'), 'the worker bundle serves DNS');
});
