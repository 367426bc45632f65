// dnstap against real parts: our daemon sends Frame Streams to a Unix socket collector the test
// runs (bidirectional handshake), the collector writes what it got as a dnstap file, and BIND's
// dnstap-read decodes it: CLIENT_QUERY and CLIENT_RESPONSE with addresses, identity and messages.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryUdp, queryTcp } from '../harness/dns-client.js';
import { startDaemon } from '../harness/daemon.js';
import { waitFor } from '../harness/wait.js';
import { loadCorefile } from '../../src/config/corefile.js';
import { formatIssue } from '../../src/config/load.js';
import { CONTROL, controlFrame } from '../../src/plugins/dnstap.js';

const dir = mkdtempSync(join(tmpdir(), 'nld-dnstap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const skip = spawnSync('dnstap-read', ['-h']).error ? 'dnstap-read (bind9-dnsutils) is not installed' : false;

/** A Frame Streams reader: answers READY with ACCEPT and keeps the data frames. */
function collector(path: string): Promise<{ frames: Buffer[]; readies: number; close(): Promise<void> }> {
  const state = { frames: [] as Buffer[], readies: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length < 4) return;
        const length = buf.readUInt32BE(0);
        if (length === 0) {
          if (buf.length < 8) return;
          const controlLength = buf.readUInt32BE(4);
          if (buf.length < 8 + controlLength) return;
          const type = buf.readUInt32BE(8);
          if (type === CONTROL.READY) {
            state.readies++;
            socket.write(controlFrame(CONTROL.ACCEPT));
          }
          if (type === CONTROL.STOP) socket.end(controlFrame(CONTROL.FINISH, null));
          buf = buf.subarray(8 + controlLength);
        } else {
          if (buf.length < 4 + length) return;
          state.frames.push(Buffer.from(buf.subarray(4, 4 + length)));
          buf = buf.subarray(4 + length);
        }
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(path, () =>
      resolve({
        frames: state.frames,
        get readies() {
          return state.readies;
        },
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

/** The frames as a dnstap file (unidirectional Frame Streams: START, data, STOP), decoded by dnstap-read -y. */
function dnstapRead(frames: Buffer[]): string {
  const file = join(dir, `capture-${Date.now()}.dnstap`);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  writeFileSync(file, Buffer.concat([controlFrame(CONTROL.START), ...frames.flatMap((f) => [u32(f.length), f]), controlFrame(CONTROL.STOP, null)]));
  const run = spawnSync('dnstap-read', ['-y', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('dnstap: CLIENT_QUERY and CLIENT_RESPONSE of every query, with the messages when full', { skip }, async (t) => {
  const socket = join(dir, 'tap.sock');
  const tap = await collector(socket);
  t.after(() => tap.close());
  const loaded = loadCorefile(
    `tap.test:0 {
    bind 127.0.0.1
    dnstap unix://${socket} full {
      identity node-a
      version test-1
    }
    hosts {
      10.3.3.3 www.tap.test
    }
  }`,
    'Corefile',
  );
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.issues.map(formatIssue).join('\n'));
  const d = await startDaemon(loaded.config);
  t.after(() => d.stop());
  await queryUdp(d.server, 'www.tap.test', 'A');
  await queryTcp(d.server, 'www.tap.test', 'AAAA');
  await waitFor(() => tap.frames.length >= 4, 5000, 'four dnstap frames');
  assert.equal(tap.readies, 1, 'one connection');
  const text = dnstapRead(tap.frames);
  const types = [...text.matchAll(/^ {2}type: (CLIENT_\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(types, ['CLIENT_QUERY', 'CLIENT_RESPONSE', 'CLIENT_QUERY', 'CLIENT_RESPONSE']);
  assert.deepEqual([...text.matchAll(/^ {2}socket_protocol: (\w+)$/gm)].map((m) => m[1]), ['UDP', 'UDP', 'TCP', 'TCP']);
  assert.match(text, /^identity: node-a$/m);
  assert.match(text, /^version: test-1$/m);
  assert.equal([...text.matchAll(/^ {2}query_address: "127\.0\.0\.1"$/gm)].length, 4);
  assert.match(text, /ANSWER_SECTION:\n\s+- 'www\.tap\.test\. 3600 IN A 10\.3\.3\.3'/, 'the response message is in the frame');
  assert.match(text, /QUESTION_SECTION:\n\s+- 'www\.tap\.test\. IN AAAA'/);
});

test('dnstap: messages wait for a collector that comes up later', { skip }, async (t) => {
  const socket = join(dir, 'late.sock');
  const loaded = loadCorefile(`late.test:0 {\n  bind 127.0.0.1\n  dnstap ${socket}\n  hosts {\n    10.3.3.4 www.late.test\n  }\n}`, 'Corefile');
  assert.ok(loaded.ok);
  const d = await startDaemon(loaded.config);
  t.after(() => d.stop());
  await queryUdp(d.server, 'www.late.test', 'A');
  const tap = await collector(socket);
  t.after(() => tap.close());
  await waitFor(() => tap.frames.length >= 2, 5000, 'the two queued frames after the retry');
  const text = dnstapRead(tap.frames);
  assert.doesNotMatch(text, /response_message:/, 'without full, no messages');
});
