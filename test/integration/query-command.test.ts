// `node-local-dns query`: one lookup printed like dig, over UDP and TCP, against a real BIND.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { runQuery, parseQueryArgs } from '../../src/tools/query.js';

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
});
after(async () => upstream?.stop());

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk;
      cb();
    },
  });
  const code = await runQuery(argv, sink);
  return { code, out };
}

for (const transport of ['udp', 'tcp']) {
  test(`prints the answer over ${transport}`, async () => {
    const svc = fixtures.services[2];
    const args = ['@127.0.0.1', '-p', String(upstream.port), ...(transport === 'tcp' ? ['+tcp'] : []), svc.name, 'A'];
    const { code, out } = await capture(args);
    assert.equal(code, 0);
    assert.match(out, /^;; NOERROR, id \d+, flags: qr aa rd/);
    assert.ok(out.includes(`${svc.name}.\t${svc.ttl}\tIN\tA\t${svc.ipv4}`), out);
  });
}

test('NXDOMAIN shows the SOA in the authority section', async () => {
  const { out } = await capture(['@127.0.0.1', '-p', String(upstream.port), fixtures.nxdomain.name]);
  assert.match(out, /^;; NXDOMAIN/);
  assert.match(out, /;; AUTHORITY\n.*\tSOA\t/);
});

for (const c of [
  { argv: ['@not-an-ip', 'x'], error: /server must be an IP/ },
  { argv: ['-p', '0', 'x'], error: /-p must be a port/ },
  { argv: ['x', 'BOGUS'], error: /unknown type BOGUS/ },
  { argv: [], error: /usage/ },
]) {
  test(`rejects ${JSON.stringify(c.argv)}`, () => {
    const r = parseQueryArgs(c.argv);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, c.error);
  });
}
