// The daemon process with a Corefile that uses plugins it cannot apply: it starts (never exits),
// logs ONE warning naming each ignored directive with file:line and why, counts them in
// nodelocaldns_config_ignored_directives{plugin}, serves pprof and the hosts/template series, and
// does the same again on reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';
import { queryUdp, answerData } from '../harness/dns-client.js';

const BUNDLE = 'dist/node-local-dns.cjs';
const skip = !existsSync(BUNDLE) && 'run npm run build first';
const dir = mkdtempSync(join(tmpdir(), 'nld-plugins-proc-'));
let child: ChildProcess | undefined;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const warnings = (logs: string): string[] => logs.split('\n').filter((l) => l.includes('Corefile directives accepted but not applied'));

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

test('ignored directives: one warning at start and on reload, a gauge per plugin, never an exit', { skip }, async () => {
  const [dnsPort, metricsPort, pprofPort] = [await pickFreePort(), await pickFreePort(), await pickFreePort()];
  const corefile = join(dir, 'Corefile');
  const write = (extra: string) =>
    writeFileSync(
      corefile,
      `example.test:${dnsPort} {
    bind 127.0.0.1
    errors
${extra}
    hosts ${join(dir, 'no-such-hosts-file')} {
      10.1.2.3 a.example.test
      fallthrough
    }
    template IN TXT example.test {
      answer "{{ .Name }} 60 IN TXT hello"
    }
    prometheus 127.0.0.1:${metricsPort}
    pprof 127.0.0.1:${pprofPort}
}
`,
    );
  write('    debug\n    dnstap tls://127.0.0.1:6000 full');
  let logs = '';
  child = spawn(process.execPath, [BUNDLE, '-conf', corefile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  await waitFor(() => logs.includes('node-local-dns serving'), 15_000, 'start', () => logs.slice(-2000));
  assert.equal(warnings(logs).length, 1);
  assert.match(warnings(logs)[0], new RegExp(`debug \\(${corefile}:4\\): panic recovery.*dnstap \\(${corefile}:5\\): TLS endpoints are not supported`));
  assert.deepEqual(answerData((await queryUdp({ host: '127.0.0.1', port: dnsPort }, 'a.example.test', 'A')).packet, 'A'), ['10.1.2.3']);
  await queryUdp({ host: '127.0.0.1', port: dnsPort }, 'b.example.test', 'TXT');
  const first = await metrics(metricsPort);
  assert.match(first, /^coredns_hosts_entries 1$/m);
  assert.match(first, new RegExp(`^coredns_template_matches_total\\{class="IN",server="dns://127\\.0\\.0\\.1:${dnsPort}",type="TXT",view="",zone="example\\.test\\."\\} 1$`, 'm'));
  assert.match(first, /^nodelocaldns_config_ignored_directives\{plugin="debug"\} 1$/m);
  assert.match(first, /^nodelocaldns_config_ignored_directives\{plugin="dnstap"\} 1$/m);
  assert.match(await (await fetch(`http://127.0.0.1:${pprofPort}/debug/pprof/`)).text(), /heap/);

  write('    dnstap tls://127.0.0.1:6000 full');
  child.kill('SIGUSR1');
  await waitFor(() => warnings(logs).length === 2, 10_000, 'the warning again after the reload', () => logs.slice(-2000));
  assert.doesNotMatch(warnings(logs)[1], /debug/);
  await waitFor(async () => !/plugin="debug"/.test(await metrics(metricsPort)), 5000, 'the debug series gone');
  assert.match(await metrics(metricsPort), /^nodelocaldns_config_ignored_directives\{plugin="dnstap"\} 1$/m);
  assert.equal(child.exitCode, null, 'still running');
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGTERM');
  await exited;
});
