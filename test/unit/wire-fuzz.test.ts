// Property tests over the wire-format code with fast-check: a bounded slice (~20,000 cases, a few
// seconds) of the properties `npm run fuzz` runs with a million cases (test/fuzz/fuzz-long.ts holds
// the one definition of each property). Fixed seed so the suite is deterministic; set
// WIRE_FUZZ_SEED to explore, WIRE_FUZZ_CASES to change the budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMutations, queryCorpus, replyCorpus, wireProperties } from '../fuzz/fuzz-long.js';

const TOTAL = Number(process.env.WIRE_FUZZ_CASES ?? 20_000);
const SEED = Number(process.env.WIRE_FUZZ_SEED ?? 0x5eed);

const properties = wireProperties();

test('the property shares add up to the whole budget', () => {
  const sum = properties.reduce((n, p) => n + p.share, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `shares sum to ${sum}`);
});

for (const p of properties) {
  const runs = Math.max(1, Math.round(p.share * TOTAL));
  test(`${p.name} (${runs} cases)`, () => p.run(runs, SEED));
}

test('the corpora are real: every query parses, every reply analyzes; mutations change bytes', async () => {
  const { parseQuery } = await import('../../src/dns/query.js');
  const { analyzeReply } = await import('../../src/dns/reply.js');
  for (const q of queryCorpus()) assert.ok(parseQuery(q).ok, q.toString('hex'));
  for (const r of replyCorpus()) assert.ok(analyzeReply(r.reply), r.reply.toString('hex'));
  const base = queryCorpus()[0];
  assert.notDeepEqual(applyMutations(base, [{ kind: 'flip', pos: 3, bit: 0 }]), base);
  assert.equal(applyMutations(base, [{ kind: 'truncate', pos: 5 }]).length, 5);
  assert.equal(applyMutations(base, [{ kind: 'insert', pos: 0, bytes: Uint8Array.of(1, 2) }]).length, base.length + 2);
  assert.equal(applyMutations(base, [{ kind: 'field', field: 2, value: 7 }]).readUInt16BE(4), 7);
  assert.deepEqual(applyMutations(base, []), base);
});

test('FrameReader: a 64 KiB frame trickled in one byte at a time costs linear, not quadratic, copying', async () => {
  const { FrameReader } = await import('../../src/dns/tcp-framing.js');
  const stream = Buffer.alloc(2 + 65535, 0x61);
  stream.writeUInt16BE(65535, 0);
  // Count every byte the reader allocates (deterministic, unlike timing).
  let allocated = 0;
  const originals = { concat: Buffer.concat, allocUnsafe: Buffer.allocUnsafe, from: Buffer.from, alloc: Buffer.alloc };
  const counting = <F extends (...args: never[]) => Buffer>(f: F): F =>
    ((...args: Parameters<F>) => {
      const out = f.apply(Buffer, args);
      allocated += out.length;
      return out;
    }) as unknown as F;
  Buffer.concat = counting(originals.concat);
  Buffer.allocUnsafe = counting(originals.allocUnsafe);
  Buffer.from = counting(originals.from as (...args: never[]) => Buffer) as typeof Buffer.from;
  Buffer.alloc = counting(originals.alloc);
  const got: number[] = [];
  try {
    const reader = new FrameReader();
    for (let i = 0; i < stream.length; i++) reader.push(stream.subarray(i, i + 1), (m) => got.push(m.length));
  } finally {
    Object.assign(Buffer, originals);
  }
  assert.deepEqual(got, [65535]);
  assert.ok(allocated < 1_000_000, `allocated ${allocated} bytes to reassemble 65,537 (quadratic would be ~4e9)`);
});
