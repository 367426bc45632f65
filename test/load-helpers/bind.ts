// A throwaway BIND9 for the load-tool tests: authoritative-only (recursion no)
// for one small zone, listening on 127.0.0.1 at a free port (UDP and TCP),
// files in a temp dir. startBind() waits until it answers a query; stop() (and
// process exit) kill it and remove the directory.

import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { authoritativeNamedConf } from '../harness/named-conf.js';

export interface BindServer {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export const TEST_ZONE = 'test.local';

const ZONE_TEXT = `$TTL 300
@       IN SOA ns.test.local. hostmaster.test.local. 1 3600 600 86400 60
@       IN NS  ns.test.local.
ns      IN A   127.0.0.1
a       IN A   192.0.2.1
b       IN A   192.0.2.2
both    IN A   192.0.2.3
both    IN AAAA 2001:db8::3
v6only  IN AAAA 2001:db8::4
alias   IN CNAME a.test.local.
`;

function namedConf(dir: string, port: number): string {
  return authoritativeNamedConf({ dir, port, listenOn: '127.0.0.1', zones: [{ origin: TEST_ZONE, file: `${dir}/${TEST_ZONE}.zone` }] });
}

/** A port that is currently free for both UDP and TCP on 127.0.0.1. */
export async function freePort(): Promise<number> {
  for (;;) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
}

/** One A query for ns.test.local; resolves true if any reply arrives in time. */
function probe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('message', () => done(true));
    sock.on('error', () => done(false));
    const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: `ns.${TEST_ZONE}` }] });
    sock.send(query, port, '127.0.0.1');
  });
}

export async function startBind(): Promise<BindServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nld-load-bind-'));
  writeFileSync(join(dir, `${TEST_ZONE}.zone`), ZONE_TEXT);
  const port = await freePort();
  writeFileSync(join(dir, 'named.conf'), namedConf(dir, port));

  const child: ChildProcess = spawn('named', ['-g', '-c', join(dir, 'named.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await probe(port, 200)) return { port, dir, stop };
  }
  await stop();
  throw new Error(`named did not start answering on 127.0.0.1:${port}:\n${log}`);
}
