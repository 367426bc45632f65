// `check-config` validates the ConfigMap as it is stored (with its __PILLAR__ placeholders filled
// with sample values, as the install guide's sed and node-cache would), a Corefile template, and
// our YAML; every error names the file and the line in that file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigFile } from '../../src/cli/check-config.js';
import { formatIssue } from '../../src/config/load.js';

const DEPLOY = new URL('../../deploy/', import.meta.url);
const configMap = readFileSync(new URL('configmap.yaml', DEPLOY), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'nld-check-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** 1-based line numbers of `needle` in `text`. */
const linesOf = (text: string, needle: string): number[] => text.split('\n').flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));

function errors(file: string): string[] {
  const r = checkConfigFile(file);
  assert.equal(r.ok, false, `${file} should fail`);
  return (r as { issues: Parameters<typeof formatIssue>[0][] }).issues.map(formatIssue);
}

test('the ConfigMap as stored (deploy/configmap.yaml, __PILLAR__ placeholders and all) is valid', () => {
  const r = checkConfigFile(new URL('configmap.yaml', DEPLOY).pathname);
  assert.ok(r.ok, JSON.stringify(r));
  assert.match(r.summary, /ConfigMap kube-system\/node-local-dns data\.Corefile: 4 server blocks, __PILLAR__ placeholders filled with sample values/);
});

test('errors in a ConfigMap name the manifest file and the line in it', () => {
  const broken = configMap.replace('cache 30', 'cache -3').replace('prometheus :9253\n        }\n    ip6.arpa', 'prometheus :9253\n        frobnicate\n        }\n    ip6.arpa');
  const file = write('configmap.yaml', broken);
  const [cacheLine] = linesOf(broken, 'cache -3');
  const [frobLine] = linesOf(broken, 'frobnicate');
  const found = errors(file);
  assert.ok(found.some((e) => e.startsWith(`${file}:${cacheLine} `) && /cache/.test(e)), found.join('\n'));
  assert.ok(found.some((e) => e.startsWith(`${file}:${frobLine}`) && /frobnicate/.test(e)), found.join('\n'));
});

test('a multi-document manifest: the ConfigMap is found among the other objects, lines still exact', () => {
  const others = ['service-account.yaml', 'daemonset.yaml'].map((f) => readFileSync(new URL(f, DEPLOY), 'utf8'));
  const broken = configMap.replace('success 9984 30', 'success 0 30');
  const text = [others[0], broken, others[1]].join('\n---\n');
  const file = write('all.yaml', text);
  const [line] = linesOf(text, 'success 0 30');
  assert.ok(errors(file).some((e) => e.startsWith(`${file}:${line} `)), errors(file).join('\n'));
  assert.ok(checkConfigFile(write('ok.yaml', [others[0], configMap, others[1]].join('\n---\n'))).ok);
  assert.match(errors(write('none.yaml', others[1]))[0], /without a ConfigMap holding data\.Corefile/);
});

test('a Corefile template (IPVS mode: __PILLAR__CLUSTER__DNS__ left for node-cache) and its errors', () => {
  const corefile = configMap
    .slice(configMap.indexOf('Corefile: |\n') + 'Corefile: |\n'.length)
    .split('\n')
    .map((l) => l.slice(4))
    .join('\n');
  assert.ok(checkConfigFile(write('Corefile.base', corefile)).ok);
  const broken = corefile.replace('forward . __PILLAR__CLUSTER__DNS__ {', 'forward . __PILLAR__CLUSTER__DNS__ {\n                policy bogus');
  const file = write('Corefile.bad', broken);
  const [line] = linesOf(broken, 'policy bogus');
  assert.ok(errors(file).some((e) => e.startsWith(`${file}:${line} `)), errors(file).join('\n'));
});

test('our YAML config keeps its own validation', () => {
  const file = write('config.yaml', 'servers:\n  - zones: [.]\n    cache:\n      success: { capacity: -5 }\n    forward: { to: ["192.0.2.1"] }\n');
  assert.match(errors(file)[0], new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4 servers\\[0\\]\\.cache\\.success\\.capacity`));
  assert.match(errors(join(dir, 'missing.corefile'))[0], /cannot read/);
});
