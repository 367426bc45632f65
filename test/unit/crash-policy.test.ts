// The process-level crash policy (src/cli/crash-policy.ts) in real child processes: unhandled
// rejections are counted and logged once per interval while the process keeps running; an
// uncaught exception runs the teardown and exits 1, also when the teardown hangs (deadline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const CHILD = 'test/unit/helpers/crash-policy-child.ts';

function run(...args: string[]): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, lines: r.stdout.split('\n').filter(Boolean) };
}

const logged = (lines: string[], level: string) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string; err?: string }).filter((l) => l.level === level);

test('unhandled rejections are counted, logged once per interval, and the process keeps running', () => {
  const { status, lines } = run('rejections', '5');
  assert.equal(status, 0);
  assert.ok(lines.includes('panics=5'), lines.join('\n'));
  assert.ok(lines.includes('alive'));
  const errors = logged(lines, 'error');
  assert.equal(errors.length, 1, 'the first one is logged, the rest are summarised later');
  assert.match(errors[0].msg, /unhandled promise rejection \(still serving\): Error: rejection 0/);
});

test('an uncaught exception runs the teardown, then exits 1', () => {
  const { status, lines } = run('throw');
  assert.equal(status, 1);
  const fatal = logged(lines, 'fatal');
  assert.match(fatal[0]?.msg ?? '', /uncaught exception: tearing down and exiting/);
  assert.match(fatal[0].err ?? '', /boom from a timer/);
  assert.ok(lines.includes('teardown done: uncaught exception'), lines.join('\n'));
});

test('a teardown that hangs is cut short by the deadline: still exit 1', () => {
  const { status, lines } = run('throw-hang');
  assert.equal(status, 1);
  assert.ok(lines.includes('teardown started: uncaught exception'));
  assert.ok(logged(lines, 'fatal').some((l) => /teardown did not finish within 0.3s/.test(l.msg)), lines.join('\n'));
});
