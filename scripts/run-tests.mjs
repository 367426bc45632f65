#!/usr/bin/env node
// Runs the whole suite with node's test runner. Node 20's `node --test DIR` silently skips .ts
// files, so we list them ourselves and load TypeScript through tsx. Fails if no test ran.
// Usage: node scripts/run-tests.mjs [substring filters...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const roots = ['test/unit', 'test/integration', 'test/netns', 'test/deploy'];
const filters = process.argv.slice(2);

function collect(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = roots.flatMap(collect).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Which runtime and flags ran the files: the suite runs on the machine's Node and on the image's
// Node 24 (scripts/test-all.sh), and a failure must say which.
const settings = Object.entries(process.env).filter(([k, v]) => v && (k === 'NODE_OPTIONS' || k.startsWith('MALLOC_')));
const runtime = `Node ${process.version}${settings.map(([k, v]) => ` ${k}="${v}"`).join('')}`;
console.log(`run-tests: ${files.length} file(s) on ${runtime} (${process.execPath})`);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=120000', ...files], { stdio: 'inherit' });
child.on('exit', (code, signal) => {
  const status = code ?? (signal ? 1 : 0);
  console.log(`run-tests: ${status === 0 ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} on ${runtime}`);
  process.exit(status);
});
