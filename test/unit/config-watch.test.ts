// watchPaths: content changes of files, directories and ConfigMap volumes (..data swaps) are
// reported once; nothing else is; close() leaves no timer or fs watcher behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fingerprintPaths, watchPaths } from '../../src/config/watch.js';
import { createConfigMapVolume } from './helpers/configmap-volume.js';

const root = mkdtempSync(join(tmpdir(), 'nld-watch-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const dir = join(root, `w${++n}`);
  mkdirSync(dir);
  return dir;
};

/** Resolves when `count()` reaches `want`, or fails after `ms`. */
async function until(count: () => number, want: number, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (count() < want) {
    if (Date.now() > deadline) assert.fail(`expected ${want} change(s), saw ${count()}`);
    await sleep(10);
  }
}

test('a ConfigMap ..data symlink swap is detected without a manual check', async () => {
  const volume = createConfigMapVolume(join(freshDir(), 'kube-dns'), { stubDomains: '{}' });
  let changes = 0;
  const w = watchPaths([volume.dir], () => changes++, { pollMs: 50, debounceMs: 10 });
  try {
    volume.update({ stubDomains: '{"acme.local": ["1.2.3.4"]}' });
    await until(() => changes, 1);
    await sleep(150);
    assert.equal(changes, 1, 'one swap is one change');
  } finally {
    w.close();
  }
});

test('a file that is a symlink into a ConfigMap volume sees the swap (Corefile.base)', () => {
  const volume = createConfigMapVolume(join(freshDir(), 'coredns'), { 'Corefile.base': '.:53 {}\n' });
  let changes = 0;
  const w = watchPaths([join(volume.dir, 'Corefile.base')], () => changes++, { pollMs: 60_000 });
  try {
    assert.equal(w.check(), false);
    volume.update({ 'Corefile.base': '.:53 { errors }\n' });
    assert.equal(w.check(), true);
    assert.equal(changes, 1);
  } finally {
    w.close();
  }
});

const cases: { name: string; setup: (dir: string) => string; change: (dir: string) => void; changed: boolean }[] = [
  { name: 'rewriting a plain file is a change', setup: (d) => (writeFileSync(join(d, 'c.yaml'), 'a: 1'), join(d, 'c.yaml')), change: (d) => writeFileSync(join(d, 'c.yaml'), 'a: 2'), changed: true },
  { name: 'rewriting a file with the same content is not a change', setup: (d) => (writeFileSync(join(d, 'c.yaml'), 'a: 1'), join(d, 'c.yaml')), change: (d) => writeFileSync(join(d, 'c.yaml'), 'a: 1'), changed: false },
  { name: 'a file appearing at a watched path is a change', setup: (d) => join(d, 'later.yaml'), change: (d) => writeFileSync(join(d, 'later.yaml'), 'x'), changed: true },
  { name: 'a watched file disappearing is a change', setup: (d) => (writeFileSync(join(d, 'c.yaml'), 'a'), join(d, 'c.yaml')), change: (d) => unlinkSync(join(d, 'c.yaml')), changed: true },
  { name: 'a new visible file in a watched directory is a change', setup: (d) => d, change: (d) => writeFileSync(join(d, 'upstreamNameservers'), '[]'), changed: true },
  { name: 'a hidden file in a watched directory is not a change', setup: (d) => d, change: (d) => writeFileSync(join(d, '.tmp'), 'x'), changed: false },
  { name: 'a sibling of a watched file is not a change', setup: (d) => (writeFileSync(join(d, 'c.yaml'), 'a'), join(d, 'c.yaml')), change: (d) => writeFileSync(join(d, 'other'), 'x'), changed: false },
];

for (const c of cases) {
  test(c.name, () => {
    const dir = freshDir();
    const path = c.setup(dir);
    let changes = 0;
    const w = watchPaths([path], () => changes++, { pollMs: 60_000 });
    try {
      c.change(dir);
      assert.equal(w.check(), c.changed);
      assert.equal(changes, c.changed ? 1 : 0);
      assert.equal(w.check(), false, 'a change is reported once');
    } finally {
      w.close();
    }
  });
}

test('fs.watch triggers a check well before the poll period', async () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'c.yaml'), '1');
  let changes = 0;
  const w = watchPaths([join(dir, 'c.yaml')], () => changes++, { pollMs: 60_000, debounceMs: 20 });
  try {
    writeFileSync(join(dir, 'c.yaml'), '2');
    await until(() => changes, 1, 2000);
  } finally {
    w.close();
  }
});

test('an exception in onChange goes to onError and watching continues', () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'c'), '1');
  const errors: unknown[] = [];
  const w = watchPaths([join(dir, 'c')], () => { throw new Error('boom'); }, { pollMs: 60_000, onError: (e) => errors.push(e) });
  try {
    writeFileSync(join(dir, 'c'), '2');
    assert.equal(w.check(), true);
    writeFileSync(join(dir, 'c'), '3');
    assert.equal(w.check(), true);
    assert.equal(errors.length, 2);
  } finally {
    w.close();
  }
});

// Handles close asynchronously (FSEventWrap goes away on the next loop turn), so count after one.
async function activeHandles(): Promise<string[]> {
  await sleep(20);
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('close() leaves no timers or watchers behind and stops notifications', async () => {
  const before = await activeHandles();
  const timersBefore = timers();
  const volume = createConfigMapVolume(join(freshDir(), 'cm'), { a: '1' });
  let changes = 0;
  const w = watchPaths([volume.dir, join(volume.dir, 'a'), join(root, 'missing', 'x')], () => changes++, { pollMs: 20, debounceMs: 5 });
  assert.ok(process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length > before.filter((r) => r === 'FSEventWrap').length, 'watching holds fs watchers');
  assert.ok(timers() > timersBefore, 'watching holds a poll timer');
  volume.update({ a: '2' }); // arms the debounce timer too
  await sleep(1);
  w.close();
  w.close(); // idempotent
  assert.equal(timers(), timersBefore, 'no timer left');
  assert.deepEqual(await activeHandles(), before);
  volume.update({ a: '3' });
  await sleep(80);
  assert.equal(changes, 0);
  assert.equal(w.check(), false);
});

test('fingerprintPaths depends on content, not on modification time', () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'f'), 'same');
  const first = fingerprintPaths([dir]);
  writeFileSync(join(dir, 'f'), 'same');
  assert.equal(fingerprintPaths([dir]), first);
  writeFileSync(join(dir, 'f'), 'other');
  assert.notEqual(fingerprintPaths([dir]), first);
});
