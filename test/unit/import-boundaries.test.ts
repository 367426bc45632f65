// The import structure of src/ as rules the suite checks (reads the sources as text, runs nothing):
// no folder depends on a folder that depends back on it, no file-level import cycles, and the wire
// module (src/dns) stays pure: it imports nothing outside itself and no Node I/O module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = 'src';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of one file (static, `import type` included, and dynamic import()), as src/... paths. */
function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const out: { target: string; typeOnly: boolean }[] = [];
  const patterns = [/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.{1,2}\/[^']+)'/gm, /import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g];
  for (const match of text.matchAll(patterns[0])) out.push({ target: resolveImport(file, match[3]), typeOnly: Boolean(match[2]) });
  for (const match of text.matchAll(patterns[1])) out.push({ target: resolveImport(file, match[1]), typeOnly: false });
  return out;
}

const resolveImport = (from: string, spec: string): string => normalize(join(dirname(from), spec.replace(/\.js$/, '.ts')));

/** src/forward/upstream.ts -> forward; src/daemon.ts -> daemon.ts */
const folderOf = (file: string): string => relative(SRC, file).split('/')[0];

const files = sourceFiles(SRC);
const edges = new Map(files.map((f) => [f, importsOf(f)]));

function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

test('no two folders of src/ depend on each other, directly or in a ring', () => {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const [file, imports] of edges) {
    const from = folderOf(file);
    for (const { target } of imports) {
      const to = folderOf(target);
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
      why.set(`${from}>${to}`, `${file} imports ${target}`);
    }
  }
  const rings = cycles(graph).map((ring) => ring.map((f, i) => (i === 0 ? f : `-> ${f} (${why.get(`${ring[i - 1]}>${f}`)})`)).join(' '));
  assert.deepEqual(rings, [], `folder cycles:\n${rings.join('\n')}`);
});

test('no file-level import cycles (type-only imports included)', () => {
  const graph = new Map(files.map((f) => [f, new Set(edges.get(f)!.map((i) => i.target))]));
  const rings = cycles(graph).map((ring) => ring.join(' -> '));
  assert.deepEqual(rings, [], `file cycles:\n${rings.join('\n')}`);
});

test('every relative import names a file that exists', () => {
  const known = new Set(files);
  const missing = [...edges].flatMap(([file, imports]) => imports.filter((i) => !known.has(i.target)).map((i) => `${file} -> ${i.target}`));
  assert.deepEqual(missing, []);
});

test('src/dns is pure wire format: imports only itself, no sockets, timers, files or logs', () => {
  const offenders: string[] = [];
  for (const [file, imports] of edges) {
    if (folderOf(file) !== 'dns') continue;
    for (const { target } of imports) if (folderOf(target) !== 'dns') offenders.push(`${file} imports ${target}`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from\s+'node:(dgram|net|fs|fs\/promises|http|child_process|timers|worker_threads|cluster)'/g)) offenders.push(`${file} imports node:${m[1]}`);
  }
  assert.deepEqual(offenders, []);
});
