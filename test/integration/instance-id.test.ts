// `id.server. CH TXT` names the answering instance; shutdown uses it to tell whether another
// instance took over the address (then rules and addresses must stay).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, clusterConfigYaml, type RunningDaemon } from '../harness/daemon.js';
import { instancesAnswering } from '../../src/node/instance-probe.js';
import { INSTANCE_ID } from '../../src/server/chaos.js';

let nld: RunningDaemon | undefined;
after(async () => nld?.stop());

test('id.server CH TXT is answered with this instance id', async () => {
  nld = await startDaemon(clusterConfigYaml('127.0.0.1:9')); // upstream never contacted
  const seen = await instancesAnswering('127.0.0.1', nld.port, 4, 1000);
  assert.deepEqual([...seen], [INSTANCE_ID]);
});

test('nothing listening: no instance answers', async () => {
  const seen = await instancesAnswering('127.0.0.1', 9, 2, 200);
  assert.equal(seen.size, 0);
});
