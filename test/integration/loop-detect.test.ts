// Forwarding-loop detection (CoreDNS `loop`): a block that forwards to itself is found at start,
// and the finding names the upstream; a block forwarding to a real server is not flagged.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pickFreePort, startUpstream } from '../harness/upstream.js';
import { startDaemon, type RunningDaemon } from '../harness/daemon.js';

const running: RunningDaemon[] = [];
const upstreams: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const d of running) await d.stop();
  for (const u of upstreams) await u.stop();
});

const yaml = (port: number, upstream: string) => `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: ${port}
    cache: {}
    forward:
      to: ["${upstream}"]
      timeout: 1s
      attemptTimeout: 500ms
    loop: true
`;

test('a block forwarding to its own listener is reported as a loop naming the upstream', async () => {
  const port = await pickFreePort();
  const nld = await startDaemon(yaml(port, `127.0.0.1:${port}`));
  running.push(nld);
  const finding = await nld.daemon.detectLoops();
  assert.ok(finding, 'loop found');
  assert.equal(finding.zone, 'cluster.local.');
  assert.deepEqual(finding.upstreams, [`127.0.0.1:${port}`]);
  assert.match(finding.message, /Loop \(127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\) detected for zone "cluster\.local\."/);
});

test('a block forwarding to a real authoritative server is not a loop', async () => {
  const upstream = await startUpstream({ kind: 'bind' });
  upstreams.push(upstream);
  const nld = await startDaemon(yaml(0, upstream.address));
  running.push(nld);
  assert.equal(await nld.daemon.detectLoops(), null);
});
