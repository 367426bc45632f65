// Smoke run of the lab (lab/lab.sh all: up, run before, run after, down) with 2 s per phase and 10
// concurrent lookups per pod. Its state and results go to temp dirs so that a real run's
// lab/results/latest.md is left alone. Checks the JSON has both phases with lookups, and that no
// nld-lab-* namespace (nor the state dir) is left behind. Needs root and the lab's tools; skipped
// otherwise, and also when a lab is already up (its `down` would remove that one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNamespaces, netnsUnavailable, REPO_ROOT } from './topology.js';

function whySkip(): string | null {
  const why = netnsUnavailable();
  if (why) return why;
  const labs = listNamespaces('nld-lab-');
  if (labs.length > 0) return `a lab is up (${labs[0]}); not disturbing it`;
  return null;
}

const skip = whySkip();

test('lab/lab.sh all: both phases measure lookups and everything is removed', { skip: skip ?? false, timeout: 90_000 }, async () => {
  const labDir = join(tmpdir(), `nld-lab-smoke-${process.pid}`);
  const results = mkdtempSync(join(tmpdir(), 'nld-lab-smoke-results-'));
  const started = Date.now();
  let output = '';
  try {
    const child = spawn(join(REPO_ROOT, 'lab', 'lab.sh'), ['all', '-d', '2', '-c', '10'], {
      cwd: REPO_ROOT,
      env: { ...process.env, LAB_DIR: labDir, LAB_RESULTS: results },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kill = () => child.kill('SIGTERM'); // the lab tears itself down on SIGTERM
    process.once('exit', kill);
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(kill, 75_000);
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    clearTimeout(timer);
    process.removeListener('exit', kill);
    assert.equal(code, 0, output.slice(-4000));

    const jsonFile = readdirSync(results).find((f) => /^lab-.*\.json$/.test(f));
    assert.ok(jsonFile, `no lab-*.json in ${results}: ${readdirSync(results).join(' ')}`);
    const report = JSON.parse(readFileSync(join(results, jsonFile), 'utf8')) as {
      phases: Record<string, { total: { lookups: number; errors: number }; conntrack: { created: number }; daemon?: { requests: number; rulesLeftAfterSigterm: number } }>;
    };
    assert.deepEqual(Object.keys(report.phases).sort(), ['after', 'before']);
    for (const phase of ['before', 'after']) assert.ok(report.phases[phase]!.total.lookups > 0, `${phase}: no lookups`);
    // Without the daemon every lookup is a conntrack entry on the node; with it, next to none.
    assert.ok(report.phases.before!.conntrack.created > 100, `before: ${report.phases.before!.conntrack.created} conntrack entries`);
    assert.ok(report.phases.after!.conntrack.created < report.phases.before!.conntrack.created / 10, JSON.stringify(report.phases.after!.conntrack));
    assert.ok((report.phases.after!.daemon?.requests ?? 0) > 0, 'the daemon answered');
    assert.equal(report.phases.after!.daemon?.rulesLeftAfterSigterm, 0);
    for (const f of ['latest.md', jsonFile.replace('.json', '-before.html'), jsonFile.replace('.json', '-after.html')]) assert.ok(existsSync(join(results, f)), `${f} written`);
    assert.match(output, /before \(kube-proxy DNAT\)\s+after \(node-local-dns\)/);

    assert.deepEqual(listNamespaces('nld-lab-'), [], 'no lab namespace left');
    assert.equal(existsSync(labDir), false, 'state dir removed');
    assert.ok(Date.now() - started < 40_000, `took ${Date.now() - started} ms`);
  } finally {
    rmSync(results, { recursive: true, force: true });
    if (listNamespaces('nld-lab-').length > 0 || existsSync(labDir)) {
      execFileSync(join(REPO_ROOT, 'lab', 'lab.sh'), ['down'], { cwd: REPO_ROOT, env: { ...process.env, LAB_DIR: labDir }, stdio: 'ignore', timeout: 30_000 });
    }
  }
});
