// The error vocabulary (src/errors.ts): one table, every code unique and raised somewhere in src/,
// and work nobody awaits (here a background cache refresh hitting a bug) reported and counted
// like a failed query instead of becoming an unhandled rejection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ERRORS, nldError, type ErrorCode } from '../../src/errors.js';
import { UpstreamError } from '../../src/forward/errors.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { BlockRuntime } from '../../src/server/block.js';
import { BackgroundFailures } from '../../src/util/background.js';
import { createLogger } from '../../src/log/logger.js';
import { buildQuery } from '../../src/dns/reply.js';
import { parseQuery } from '../../src/dns/query.js';
import { TYPE } from '../../src/dns/constants.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import type { ForwardConfig, ServerBlockConfig } from '../../src/config/types.js';
import { waitFor } from '../harness/wait.js';

const SRC = 'src';
const TABLE = join(SRC, 'errors.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** force_tcp to 127.0.0.1:port (the tests' connection factories never connect); maxFails 0 turns health probes off. */
function tcpForward(port: number, maxFails: number): ForwardConfig {
  return {
    to: [{ host: '127.0.0.1', port, family: 4, label: `127.0.0.1:${port}` }],
    forceTcp: true,
    preferUdp: false,
    policy: 'sequential',
    maxConcurrent: 0,
    maxFails,
    healthCheckMs: 500,
    expireMs: 10_000,
    timeoutMs: 2000,
    attemptTimeoutMs: 1000,
    maxConnectionsPerUpstream: 1,
    except: [],
  };
}

test('every code in the table is declared once, spelled NLD_ERR_*, with a template and where it is raised', () => {
  const declared = [...readFileSync(TABLE, 'utf8').matchAll(/^\s+(NLD_ERR_[A-Z0-9_]+):/gm)].map((m) => m[1]);
  assert.deepEqual(declared, Object.keys(ERRORS), 'the table in the file is the table at run time');
  assert.equal(new Set(declared).size, declared.length, `duplicate codes: ${declared.filter((c, i) => declared.indexOf(c) !== i).join(', ')}`);
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^NLD_ERR_[A-Z0-9_]+$/);
    assert.ok(spec.template.length > 0, `${code} has a message template`);
    assert.ok(spec.raisedIn.length > 0, `${code} says where it is raised`);
  }
});

test('every code is raised somewhere in src/, and src/ uses no code the table lacks', () => {
  const files = sourceFiles(SRC).filter((f) => f !== TABLE);
  const used = new Map<string, string[]>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/'(NLD_ERR_[A-Z0-9_]+)'/g)) used.set(m[1], [...(used.get(m[1]) ?? []), file]);
  }
  const unused = Object.keys(ERRORS).filter((code) => !used.has(code));
  assert.deepEqual(unused, [], `codes nothing in src/ raises: ${unused.join(', ')}`);
  const unknown = [...used.keys()].filter((code) => !(code in ERRORS));
  assert.deepEqual(unknown, [], `codes used in src/ but missing from the table: ${unknown.map((c) => `${c} (${used.get(c)!.join(', ')})`).join('; ')}`);
});

test('messages come from the templates and keep the texts the logs always had', () => {
  assert.deepEqual(nldError('NLD_ERR_FORWARD_MAX_CONCURRENT', [100, ' for names not seen before']), { code: 'NLD_ERR_FORWARD_MAX_CONCURRENT', message: '100 queries in flight for names not seen before' });
  assert.deepEqual(nldError('NLD_ERR_FORWARD_DEADLINE', [5000, 'upstream 127.0.0.1:53: timeout']), { code: 'NLD_ERR_FORWARD_DEADLINE', message: 'deadline of 5000 ms passed; last error: upstream 127.0.0.1:53: timeout' });
  assert.deepEqual(nldError('NLD_ERR_FORWARD_EXCEPTED', [], { zone: 'example.' }), { zone: 'example.', code: 'NLD_ERR_FORWARD_EXCEPTED', message: 'name excepted from forward' });
  const timeout = new UpstreamError('timeout', '127.0.0.1:53', 'no reply in 2000 ms');
  assert.equal(timeout.code, 'NLD_ERR_UPSTREAM_TIMEOUT' satisfies ErrorCode);
  assert.equal(timeout.message, 'upstream 127.0.0.1:53: timeout (no reply in 2000 ms)');
  assert.equal(new UpstreamError('busy', '[::1]:53').message, 'upstream [::1]:53: busy');
});

test('a bug in a background cache refresh is counted and logged like a failed query, never an unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));

  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let panics = 0;
  const failures = new BackgroundFailures(() => panics++, createLogger('info', sink));

  // The bug: the TCP connection factory throws a TypeError (not an UpstreamError, so the forwarder
  // does not treat it as an upstream failure and the refresh's promise rejects).
  const forward = tcpForward(9, 0);
  const forwarder = new Forwarder(forward, systemClock, 1 << 16, {
    connect: () => {
      throw new TypeError('a bug in the connection factory');
    },
  });
  t.after(() => forwarder.close());
  const config: ServerBlockConfig = { zones: ['.'], bind: ['127.0.0.1'], port: 53, cache: null, forward, log: null, loopDetect: false, plugins: null };
  const block = new BlockRuntime(config, null, forwarder, ['dns://127.0.0.1:53']);

  const parsed = parseQuery(buildQuery('refresh.example.', TYPE.A, 1));
  assert.ok(parsed.ok);
  block.handler.refresh(parsed.query.key, failures.report);

  await waitFor(() => panics === 1 && lines.length === 1, 5000, 'the failed refresh to be counted and logged', () => lines.join('\n'));
  const logged = JSON.parse(lines[0]) as { level: string; msg: string };
  assert.equal(logged.level, 'error');
  assert.match(logged.msg, /^background cache refresh failed \(still serving\): TypeError: a bug in the connection factory/);
  assert.equal(block.handler.fetching(parsed.query.key), false, 'the refresh is over: a later miss for the name starts a new exchange');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, [], 'nothing reached the process-level policy');
});

test('a bug in an upstream health probe goes to the background sink, not to the process', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));

  const reported: { task: string; err: unknown }[] = [];
  const clock = new ManualClock();
  const forwarder = new Forwarder(tcpForward(9, 2), clock, 1 << 16, {
    timers: clock,
    connect: () => {
      throw new TypeError('a bug on the probe path');
    },
    onBackgroundError: (task, err) => reported.push({ task, err }),
  });
  t.after(() => forwarder.close());

  const [upstream] = forwarder.upstreams;
  upstream.noteFailure(); // as after a failed exchange: a probe is due at once
  clock.advance(0);
  await waitFor(() => reported.length > 0, 5000, 'the probe bug to be reported');
  assert.equal(reported[0].task, 'upstream health probe');
  assert.match(String(reported[0].err), /TypeError: a bug on the probe path/);
  assert.equal(upstream.stats.healthcheckFailures, 0, 'a bug is not a failed probe');

  // Probing stopped with the bug; the next failed exchange starts it again.
  upstream.noteFailure();
  clock.advance(0);
  await waitFor(() => reported.length > 1, 5000, 'a second probe after the next failure');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, [], 'nothing reached the process-level policy');
});
