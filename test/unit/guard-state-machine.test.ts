// The guard's state machine (src/guard/state-machine.ts), driven with explicit times: when it
// takes the node over, when it hands it back, and that it does neither too early.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuardStateMachine, type GuardState } from '../../src/guard/state-machine.js';
import { parseGuardArgs, GUARD_DEFAULTS } from '../../src/guard/run.js';
import { guardRules, splitLocalIps } from '../../src/guard/node-fallback.js';
import { isDaemonInstance, readIdServerReply } from '../../src/guard/probe.js';
import { chaosReply } from '../../src/server/chaos.js';
import { INSTANCE_ID } from '../../src/util/instance-identity.js';
import { parseQuery } from '../../src/dns/query.js';
import { buildQuery } from '../../src/dns/reply.js';

const timings = { graceMs: 2000, startGraceMs: 10_000, recoverMs: 1000 };

/** Feeds probe outcomes every `step` ms from `t0`; returns the states after each and the actions taken. */
function drive(m: GuardStateMachine, outcomes: string, t0: number, step = 300): { states: GuardState[]; actions: [number, string][]; end: number } {
  const states: GuardState[] = [];
  const actions: [number, string][] = [];
  let t = t0;
  for (const c of outcomes) {
    t += step;
    const tr = m.observe(c === '+', t);
    if (tr?.action) actions.push([t, tr.action]);
    states.push(m.state);
  }
  return { states, actions, end: t };
}

test('serving → suspect → fallback only after the grace, counted from the last answer', () => {
  const m = new GuardStateMachine(timings, 0);
  let r = drive(m, '+++', 0);
  assert.equal(m.state, 'serving');
  assert.deepEqual(r.actions, []);
  const lastAnswer = r.end; // 900
  r = drive(m, '------', r.end); // up to 900 + 1800: still within the 2 s grace
  assert.deepEqual(r.states, ['suspect', 'suspect', 'suspect', 'suspect', 'suspect', 'suspect']);
  assert.deepEqual(r.actions, []);
  r = drive(m, '-', r.end); // 900 + 2100 ≥ grace
  assert.equal(m.state, 'fallback');
  assert.deepEqual(r.actions, [[lastAnswer + 2100, 'take-over']]);
  assert.ok(m.ownsNode);
});

test('one answer in suspect cancels the fallback; the grace restarts from it', () => {
  const m = new GuardStateMachine(timings, 0);
  drive(m, '+', 0);
  const r = drive(m, '-----+------', 300);
  assert.deepEqual(r.actions, []);
  assert.equal(m.state, 'suspect');
  assert.equal(drive(m, '-', r.end).actions.length, 1);
});

test('fallback → recovering → serving (hand-back) after recoverMs of answers; a miss in between keeps the fallback', () => {
  const m = new GuardStateMachine(timings, 0);
  let r = drive(m, '+--------', 0);
  assert.equal(m.state, 'fallback');
  r = drive(m, '++', r.end);
  assert.deepEqual(r.states, ['recovering', 'recovering']);
  r = drive(m, '-', r.end);
  assert.deepEqual(r.states, ['fallback']);
  assert.deepEqual(r.actions, []);
  r = drive(m, '+++++', r.end); // first answer enters recovering; 4 × 300 ms ≥ 1 s later: hand-back
  assert.deepEqual(r.states, ['recovering', 'recovering', 'recovering', 'recovering', 'serving']);
  assert.deepEqual(r.actions, [[r.end, 'hand-back']]);
  assert.equal(m.ownsNode, false);
});

test('starting: a daemon that never answers is taken over after the start grace, not the grace', () => {
  const m = new GuardStateMachine(timings, 0);
  const r = drive(m, '-'.repeat(33), 0, 300); // 9.9 s
  assert.equal(m.state, 'starting');
  assert.deepEqual(r.actions, []);
  assert.deepEqual(drive(m, '-', r.end).actions, [[10_200, 'take-over']]);
});

test('timings must be positive', () => {
  assert.throws(() => new GuardStateMachine({ ...timings, graceMs: 0 }, 0));
});

test('guard flags: node-cache flags go to the daemon parser, -guard-* flags are the guard\'s', () => {
  const r = parseGuardArgs(['-localip', '169.254.20.10,10.96.0.10', '-upstreamsvc', 'kube-dns-upstream', '-guard-grace', '1500ms', '-guard-health-port=8082', '-health-port', '8080']);
  assert.ok(r.ok);
  assert.equal(r.settings.graceMs, 1500);
  assert.equal(r.settings.healthPort, 8082);
  assert.equal(r.settings.relayPort, GUARD_DEFAULTS.relayPort);
  assert.deepEqual(r.flags.localIps, ['169.254.20.10', '10.96.0.10']);
  assert.equal(r.flags.upstreamService, 'kube-dns-upstream');
  const bad = parseGuardArgs(['-localip', '169.254.20.10', '-guard-grace', 'soon']);
  assert.ok(!bad.ok && bad.error.includes('-guard-grace'));
  const unknown = parseGuardArgs(['-localip', '169.254.20.10', '-guard-nope', '1']);
  assert.ok(!unknown.ok && unknown.error.includes('-guard-nope'));
  const none = parseGuardArgs(['-guard-grace', '1s']);
  assert.ok(!none.ok && none.error.includes('-localip'));
});

test('the first local IP is relayed, the others go back to kube-proxy; DNAT rules skip the loopback source', () => {
  assert.deepEqual(splitLocalIps(['169.254.20.10', '10.96.0.10']), { relayIps: ['169.254.20.10'], serviceIps: ['10.96.0.10'] });
  const rules = guardRules(['169.254.20.10', 'fd00::10'], 53, 9054);
  assert.equal(rules.length, 8);
  const output = rules.find((r) => r.family === 4 && r.chain === 'OUTPUT')!;
  assert.deepEqual(output.args.slice(0, 3), ['!', '-s', '127.0.0.0/8']);
  assert.ok(output.args.includes('169.254.20.10:9054'));
  assert.ok(rules.find((r) => r.family === 6)!.args.includes('[fd00::10]:9054'));
});

test('probe replies: the daemon\'s id counts, the guard\'s own relay and foreign servers do not', () => {
  const query = buildQuery('id.server', 16, 4242, false);
  query.writeUInt16BE(3, query.length - 2);
  const parsed = parseQuery(query);
  assert.ok(parsed.ok);
  const reply = chaosReply(query, parsed.query);
  assert.equal(readIdServerReply(reply, 4242), INSTANCE_ID);
  assert.equal(readIdServerReply(reply, 4243), null);
  assert.equal(readIdServerReply(reply.subarray(0, reply.length - 3), 4242), null);
  assert.ok(!isDaemonInstance(INSTANCE_ID), 'the guard\'s own relay is not the daemon');
  assert.ok(isDaemonInstance('node-a/123/abcd', 'node-a/999/ffff', 'node-a'));
  assert.ok(isDaemonInstance('node-a/123/abcd/w1', 'node-a/999/ffff', 'node-a'), 'a worker thread of the daemon');
  assert.ok(!isDaemonInstance('node-a/999/ffff', 'node-a/999/ffff', 'node-a'));
  assert.ok(!isDaemonInstance('node-a/999/ffff/w2', 'node-a/999/ffff', 'node-a'));
  assert.ok(!isDaemonInstance('kubedns-1', 'node-a/999/ffff', 'node-a'));
});
