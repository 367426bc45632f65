// Which folders of src/ each lower folder may import (issue #14 "Boundaries a tool checks"): the
// wire format and helpers import nothing above them, and server/ never imports cluster/ (cluster/
// runs servers). Files directly in src/ that import nothing of src/ (errors.ts) count as below
// every folder. Read from the sources with TypeScript's own import scanner, type-only imports
// included: a new edge that is not listed here fails with the file that added it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = resolve('src');

/** Folder -> the other folders of src/ it may import from ('(root)' = a file directly in src/). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  dns: [],
  log: [],
  util: ['log'],
  forward: ['config', 'dns', 'util'],
  cache: ['config', 'dns', 'util'],
  metrics: ['cache', 'dns', 'forward', 'health', 'log', 'node-setup', 'util'],
  server: ['cache', 'config', 'dns', 'forward', 'log', 'metrics', 'plugins', 'util'],
  tools: ['config', 'dns'],
};

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** The src/ folder a path lies in: its first segment below src/, or '(root)'. */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0] : '(root)';
}

const relativeImports = (file: string): string[] =>
  ts
    .preProcessFile(readFileSync(file, 'utf8'), true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((name) => name.startsWith('.')); // not node: and npm packages

/** A file directly in src/ that imports nothing of src/ (errors.ts, version.ts) sits below every folder. */
function isRootLeaf(path: string): boolean {
  const file = path.replace(/\.js$/, '.ts');
  return folderOf(file) === '(root)' && relativeImports(file).length === 0;
}

test('lower folders import only the folders below them', () => {
  const violations: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const file of sourceFiles(join(SRC, folder))) {
      for (const imported of relativeImports(file)) {
        const path = resolve(dirname(file), imported);
        const target = folderOf(path);
        if (target !== folder && !allowed.includes(target) && !isRootLeaf(path)) violations.push(`${relative('.', file)} imports ${imported} (${target}/)`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
