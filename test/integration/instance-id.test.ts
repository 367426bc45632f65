// CH TXT queries about the instance, from a client on this node (loopback): `id.server` names the
// process (hostname/pid/random), and the instance check (a nonce query) is answered in our own
// format with the instance's random token. Replies that are not in that format are rejected.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';
import { queryUdp } from '../harness/dns-client.js';
import { instancesAnswering, instanceCheckQuery, readInstanceCheckReply, findOtherInstance } from '../../src/node-setup/instance-probe.js';
import { INSTANCE_ID, INSTANCE_TOKEN, instanceCheckText } from '../../src/util/instance-identity.js';
import { CLASS_CH } from '../../src/dns/constants.js';
import { buildQuery } from '../../src/dns/reply.js';
import { TYPE } from '../../src/dns/constants.js';

let nld: RunningDaemon | undefined;
after(async () => nld?.stop());

function chQuery(name: string): Buffer {
  const q = buildQuery(name, TYPE.TXT, 0x1234);
  q.writeUInt16BE(CLASS_CH, q.length - 2);
  return q;
}

test('instance check from loopback: answered with this instance token, in our format', async () => {
  nld = await startDaemon(clusterConfigYaml('127.0.0.1:9')); // upstream never contacted
  const seen = await instancesAnswering('127.0.0.1', nld.port, 4, 1000);
  assert.deepEqual([...seen], [INSTANCE_TOKEN]);
  const check = await findOtherInstance('127.0.0.1', nld.port, { rounds: 1, probes: 4, timeoutMs: 1000 });
  assert.deepEqual({ other: check.other, self: check.self, rejected: check.rejected }, { other: null, self: 4, rejected: 0 }, 'our own answers are not another instance');
});

test('id.server and hostname.bind from loopback name the process', async () => {
  assert.ok(nld);
  for (const name of ['id.server', 'hostname.bind', 'ID.Server']) {
    const r = await queryUdp(nld.server, name, 'TXT', { raw: chQuery(name) });
    assert.equal(r.packet.rcode, 'NOERROR');
    const text = Buffer.concat((r.packet.answers[0] as { data: Buffer[] }).data).toString();
    assert.equal(text, INSTANCE_ID);
    assert.ok(text.startsWith(`${hostname()}/${process.pid}/`));
  }
  const other = await queryUdp(nld.server, 'version.bind', 'TXT', { raw: chQuery('version.bind') });
  assert.equal(other.packet.rcode, 'REFUSED', 'other CH names are refused as before');
});

test('instance-check replies not in our format are rejected', () => {
  const nonce = 'ab'.repeat(16);
  const sent = instanceCheckQuery(nonce, 0x4242);
  const reply = (text: string, patch?: (b: Buffer) => void): Buffer => {
    const t = Buffer.from(text, 'latin1');
    const out = Buffer.concat([sent, Buffer.from([0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 0, 0, t.length + 1, t.length]), t]);
    out[2] = 0x84;
    out.writeUInt16BE(1, 6);
    patch?.(out);
    return out;
  };
  const good = instanceCheckText(nonce, '0123456789abcdef', 'serving');
  assert.deepEqual(readInstanceCheckReply(reply(good), sent, nonce), { token: '0123456789abcdef', state: 'serving' });
  assert.deepEqual(readInstanceCheckReply(reply(instanceCheckText(nonce, '0123456789abcdef', 'stopping')), sent, nonce)?.state, 'stopping');
  for (const [what, bad] of [
    ['a proof for another nonce', reply(instanceCheckText('cd'.repeat(16), '0123456789abcdef'))],
    ['free text', reply('my-server-1')],
    ['hostname/pid (an id.server answer)', reply(INSTANCE_ID)],
    ['NOERROR without answer', sent.subarray(0, sent.length)],
    ['wrong ID', reply(good, (b) => b.writeUInt16BE(0x4243, 0))],
    ['SERVFAIL', reply(good, (b) => (b[3] = 2))],
    ['not a response', reply(good, (b) => (b[2] = 0x04))],
    ['another question', reply(good, (b) => (b[13] = 'x'.charCodeAt(0)))],
    ['truncated record', reply(good).subarray(0, sent.length + 20)],
  ] as const) {
    assert.equal(readInstanceCheckReply(bad as Buffer, sent, nonce), null, what);
  }
});

test('nothing listening: no instance answers', async () => {
  const seen = await instancesAnswering('127.0.0.1', 9, 2, 200);
  assert.equal(seen.size, 0);
});
