// Which folders of src/ each lower folder may import (issue #14 "Boundaries a tool checks"): the
// wire format and helpers import nothing above them, and server/ never imports cluster/ (cluster/
// runs servers). Read from the sources with TypeScript's own import scanner, type-only imports
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
  // plugins/metrics.ts (family declarations) while plugins/ imports metrics/: a cycle left to the plugins' owner.
  metrics: ['cache', 'dns', 'forward', 'health', 'log', 'node-setup', 'plugins', 'util'],
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

test('lower folders import only the folders below them', () => {
  const violations: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const file of sourceFiles(join(SRC, folder))) {
      for (const imported of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
        if (!imported.fileName.startsWith('.')) continue; // node: and npm packages
        const target = folderOf(resolve(dirname(file), imported.fileName));
        if (target !== folder && !allowed.includes(target)) violations.push(`${relative('.', file)} imports ${imported.fileName} (${target}/)`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
