// The import structure of src/ as rules (issue #14 "Boundaries a tool checks"): every folder, and
// every file directly in src/, lists what it may import, and those lists form layers with no way
// back up, so a new import that would close a cycle fails here with the file that added it. The
// wire format and helpers import nothing above them; server/ never imports cluster/ (cluster/ runs
// servers). Files directly in src/ that import nothing of src/ (errors.ts, version.ts) sit below
// everything. Read from the sources with TypeScript's own import scanner, type-only imports
// included, except for the two documented mutual pairs in EXCEPTIONS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = resolve('src');

/** Folder (or file directly in src/) -> the others it may import from, lowest layers first. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  types: [], // ambient declarations for npm packages
  dns: [],
  log: [],
  util: ['log'],
  kube: [],
  health: ['log', 'util'],
  config: ['kube', 'util'],
  'service-group.ts': ['config', 'log'],
  forward: ['config', 'dns', 'util'],
  cache: ['config', 'dns', 'util'],
  'node-setup': ['config', 'dns', 'log', 'service-group.ts', 'util'],
  metrics: ['cache', 'dns', 'forward', 'health', 'log', 'node-setup', 'util'],
  plugins: ['config', 'dns', 'log', 'metrics', 'service-group.ts', 'util'],
  server: ['cache', 'config', 'dns', 'forward', 'log', 'metrics', 'plugins', 'util'],
  'daemon.ts': ['cache', 'config', 'forward', 'log', 'metrics', 'plugins', 'server', 'service-group.ts', 'util'],
  cluster: ['cache', 'config', 'daemon.ts', 'forward', 'log', 'metrics', 'server', 'service-group.ts', 'util'],
  tools: ['config', 'dns'],
  cli: ['cluster', 'config', 'daemon.ts', 'health', 'kube', 'log', 'metrics', 'node-setup', 'plugins', 'server', 'util'],
  guard: ['cli', 'config', 'daemon.ts', 'dns', 'health', 'kube', 'log', 'metrics', 'node-setup', 'util'],
  'main.ts': ['cli', 'cluster', 'config', 'guard', 'tools', 'util'],
};

/**
 * Mutual imports we keep, and why. A plugin owns its Corefile setup, as in CoreDNS (plugins/X.ts
 * parses its directive with config/corefile.ts's builder, and config/ dispatches directives and
 * validates YAML through the plugins). The plugin chain hands queries back to the pipeline (CNAME
 * follow-ups, dns64), so it names the pipeline's reply-channel type: a type only, no runtime edge.
 */
const EXCEPTIONS: readonly { from: string; to: string; typeOnly: boolean }[] = [
  { from: 'config', to: 'plugins', typeOnly: false },
  { from: 'plugins', to: 'config', typeOnly: false },
  { from: 'plugins', to: 'server', typeOnly: true },
];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** The group a path of src/ belongs to: its folder below src/, or its own name for a file directly in src/. */
function groupOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.js$/, '.ts');
}

const relativeImports = (file: string): string[] =>
  ts
    .preProcessFile(readFileSync(file, 'utf8'), true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((name) => name.startsWith('.')); // not node: and npm packages

/** `import type ... from 'spec'` (or export type) only: no runtime edge. */
const isTypeOnlyImport = (file: string, spec: string): boolean => {
  const text = readFileSync(file, 'utf8');
  const all = [...text.matchAll(new RegExp(`^(import|export)\\s+(type\\s+)?[^;]*?from\\s+'${spec.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`, 'gm'))];
  return all.length > 0 && all.every((m) => Boolean(m[2]));
};

/** A file directly in src/ that imports nothing of src/ (errors.ts, version.ts) sits below every group. */
function isRootLeaf(path: string): boolean {
  const file = path.replace(/\.js$/, '.ts');
  return relative(SRC, file).split(sep).length === 1 && relativeImports(file).length === 0;
}

test('every folder and file of src/ imports only what its layer allows', () => {
  const violations: string[] = [];
  const groups = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const group = groupOf(file);
    groups.add(group);
    if (isRootLeaf(file)) continue;
    const allowed = ALLOWED[group];
    if (!allowed) {
      violations.push(`${relative('.', file)}: ${group} has no entry in ALLOWED`);
      continue;
    }
    for (const imported of relativeImports(file)) {
      const path = resolve(dirname(file), imported);
      const target = groupOf(path);
      if (target === group || allowed.includes(target) || isRootLeaf(path)) continue;
      const exception = EXCEPTIONS.find((e) => e.from === group && e.to === target);
      if (exception && (!exception.typeOnly || isTypeOnlyImport(file, imported))) continue;
      violations.push(`${relative('.', file)} imports ${imported} (${target})`);
    }
  }
  const unknown = Object.keys(ALLOWED).filter((g) => !groups.has(g));
  assert.deepEqual(unknown, [], 'ALLOWED names groups that do not exist');
  assert.deepEqual(violations, []);
});

test('the allowed imports form layers: no group can reach itself', () => {
  const rings: string[] = [];
  const visit = (start: string, node: string, path: string[]): void => {
    for (const next of ALLOWED[node] ?? []) {
      if (next === start) rings.push([...path, next].join(' -> '));
      else if (!path.includes(next)) visit(start, next, [...path, next]);
    }
  };
  for (const group of Object.keys(ALLOWED)) visit(group, group, [group]);
  assert.deepEqual(rings, []);
});
