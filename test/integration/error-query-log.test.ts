// The `errors` and `log` lines as CoreDNS writes them, inside our JSON log lines: a failed query
// logs `[ERROR] plugin/errors: <rcode> <qname> <qtype>: <error>`, and the query log's size field
// is the whole request in bytes (CoreDNS {size} = state.Req.Len()), OPT included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pickFreePort, startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { buildQuery, queryUdp } from '../harness/dns-client.js';
import { startDaemon, type RunningDaemon } from '../harness/daemon.js';
import { waitFor } from '../harness/wait.js';
import { createLogger } from '../../src/log/logger.js';

const lines: Array<{ msg: string; component?: string; level: string }> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
    done();
  },
});

let upstream: Upstream;
let running: RunningDaemon;

before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
  const deadPort = await pickFreePort();
  running = await startDaemon(
    `servers:
  - zones: [cluster.local]
    bind: [127.0.0.1]
    port: 0
    log: true
    forward: { to: ["${upstream.address}"], forceTCP: true }
  - zones: [dead.test]
    bind: [127.0.0.1]
    port: 0
    forward: { to: ["127.0.0.1:${deadPort}"], forceTCP: true, timeout: 1s, attemptTimeout: 300ms }
`,
    { logger: createLogger('info', sink) },
  );
});

after(async () => {
  await running?.stop();
  await upstream?.stop();
});

test('a failed query logs the errors plugin line: rcode, lower-cased qname, qtype and the error', async () => {
  await queryUdp(running.server, 'Name.Dead.Test', 'AAAA', { timeoutMs: 3000 });
  await waitFor(() => lines.some((l) => l.msg.startsWith('[ERROR] plugin/errors: ')), 3000, 'the errors line');
  const line = lines.find((l) => l.msg.startsWith('[ERROR] plugin/errors: '))!;
  assert.equal(line.level, 'error');
  assert.match(line.msg, /^\[ERROR\] plugin\/errors: 2 name\.dead\.test\. AAAA: \S.*127\.0\.0\.1:\d+/);
});

test('the query log reports the whole request size, OPT included', async () => {
  const name = fixtures.services[0].name;
  const plain = buildQuery(name, 'A').wire.length;
  const withOpt = buildQuery(name, 'A', { edns: { udpSize: 1232 } }).wire.length;
  assert.equal(withOpt, plain + 11);
  await queryUdp(running.server, name, 'A');
  await queryUdp(running.server, name, 'A', { edns: { udpSize: 1232 } });
  await waitFor(() => lines.filter((l) => l.component === 'log').length >= 2, 3000, 'two query log lines');
  const sizes = lines
    .filter((l) => l.component === 'log' && l.msg.includes(` ${name}. udp `))
    .map((l) => Number(/ udp (\d+) /.exec(l.msg)![1]));
  assert.deepEqual(sizes, [plain, withOpt]);
});
