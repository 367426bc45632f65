// The container image, without Docker (there is no engine here):
// - the Dockerfile's runtime stage copies exactly the bundles scripts/build.mjs writes (no
//   node_modules) and the entrypoint;
// - the bundles run on their own in an empty directory with no node_modules anywhere above it; the
//   tools (load, query) are a separate bundle the daemon's bin loads only when one of them runs, and
//   the daemon starts without loading the modules kept out of it (tls, assert);
// - the entrypoint picks the iptables backend like kube-proxy's iptables-wrapper (stubbed tools),
//   and keeps the container alive across SIGUSR2 handovers (as PID 1 of a PID namespace when the
//   test runs as root, where `unshare` can make one).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { instancesAnswering } from '../../src/node-setup/instance-probe.js';
import { pickFreePort } from '../harness/upstream.js';
import { waitFor } from '../harness/wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(ROOT, 'dist/node-local-dns.cjs');
const ENTRYPOINT_SCRIPT = join(ROOT, 'deploy/image/iptables-mode.sh');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const NO_DIST = !existsSync(DIST) && 'dist/node-local-dns.cjs is missing: run npm run build first (CI builds it before the tests)';
/** The bundles scripts/build.mjs writes (`out: 'dist/...'`), the daemon's first. */
const BUNDLES = [...readFileSync(join(ROOT, 'scripts/build.mjs'), 'utf8').matchAll(/\bout:\s*'(dist\/[^']+\.cjs)'/g)].map((m) => m[1]!);
const TOOLS_BUNDLE = 'node-local-dns-tools.cjs';

// Only what node needs to run: no NODE_OPTIONS (the test runner's tsx loader), no NODE_PATH.
const CLEAN_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' };

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nld-bundle-'));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  readonly op: string;
  readonly args: string;
}

function dockerfile(): Instruction[][] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Instruction[][] = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `Dockerfile line: ${line}`);
    const ins = { op: m[1].toUpperCase(), args: m[2] };
    if (ins.op === 'FROM') stages.push([]);
    assert.ok(stages.length > 0, `${ins.op} before FROM`);
    stages[stages.length - 1].push(ins);
  }
  return stages;
}

/** COPY/ADD arguments: flags, sources, destination (shell or JSON form). */
function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k] = v;
  }
  const rest = words.join(' ');
  const list = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  return { flags, sources: list.slice(0, -1), dest: list[list.length - 1] };
}

test('Dockerfile: the runtime stage gets the bundle and the entrypoint, never node_modules', () => {
  const stages = dockerfile();
  assert.ok(stages.length >= 2, 'multi-stage');
  const build = stages[0];
  const runtime = stages[stages.length - 1];
  const buildName = /\bAS\s+(\S+)/i.exec(build[0].args)?.[1];
  assert.ok(buildName, 'the build stage is named');

  // Runtime base: Node >= 22.12 for SO_REUSEPORT (the image pins a major; 24 qualifies).
  const base = /^(?:--\S+\s+)?node:(\d+)[-.]/.exec(runtime[0].args);
  assert.ok(base && Number(base[1]) >= 23, `runtime base ${runtime[0].args}`);

  const copies = runtime.filter((i) => i.op === 'COPY' || i.op === 'ADD').map((i) => ({ op: i.op, ...copyArgs(i.args) }));
  for (const c of copies) {
    assert.equal(c.op, 'COPY', 'no ADD (no remote or archive sources)');
    for (const s of c.sources) {
      assert.doesNotMatch(s, /node_modules/, `runtime COPY ${s}`);
      assert.notEqual(posix.normalize(s), '.', 'no COPY of the whole context');
    }
  }
  const fromBuild = copies.filter((c) => c.flags.from === buildName);
  assert.equal(fromBuild.length, 1, 'one COPY --from=build');
  assert.ok(BUNDLES.includes('dist/node-local-dns.cjs') && BUNDLES.some((b) => b.endsWith(`/${TOOLS_BUNDLE}`)), `build.mjs bundles: ${BUNDLES.join(', ')}`);
  const expected = BUNDLES.flatMap((b) => [posix.basename(b), `${posix.basename(b)}.map`]).sort();
  assert.deepEqual(fromBuild[0].sources.map((s) => posix.basename(s)).sort(), expected, 'every bundle and its source map, nothing else');
  const bundleDir = fromBuild[0].dest;
  assert.match(bundleDir, /\/$/, 'copied into a directory');

  // The build stage's output path is the one build.mjs writes.
  const workdir = build.find((i) => i.op === 'WORKDIR')?.args;
  assert.ok(workdir);
  for (const out of BUNDLES) assert.ok(fromBuild[0].sources.includes(posix.join(workdir, out)), `COPY ${posix.join(workdir, out)}`);
  const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
  assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)) && runs.some((r) => /\bnpm run build\b/.test(r)));
  for (const c of build.filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args))) {
    for (const s of c.sources) assert.ok(existsSync(join(ROOT, s)), `build stage source ${s} exists`);
  }

  // The entrypoint: our script, executable, and it runs the bundle where it was copied.
  const entry = copies.find((c) => c.sources.includes('deploy/image/iptables-mode.sh'));
  assert.ok(entry, 'the entrypoint script is copied');
  assert.equal(entry.dest, '/usr/local/bin/node-local-dns-entrypoint');
  assert.match(entry.flags.chmod ?? '', /^0?7[57][57]$/);
  assert.equal(copies.length, 2, 'nothing else is copied into the runtime stage');
  const entrypoint = runtime.find((i) => i.op === 'ENTRYPOINT');
  assert.deepEqual(JSON.parse(entrypoint!.args), ['/usr/local/bin/node-local-dns-entrypoint']);
  assert.equal(runtime.find((i) => i.op === 'CMD'), undefined, 'node-cache args come from the DaemonSet');
  const bundleDefault = /^BUNDLE=\$\{NLD_BUNDLE:-([^}]+)\}/m.exec(readFileSync(ENTRYPOINT_SCRIPT, 'utf8'))?.[1];
  assert.equal(bundleDefault, posix.join(bundleDir, 'node-local-dns.cjs'));

  const apt = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).find((r) => r.includes('apt-get install'));
  assert.ok(apt, 'packages from Debian');
  assert.match(apt, /--no-install-recommends/);
  for (const pkg of ['iptables', 'iproute2']) assert.match(apt, new RegExp(`\\b${pkg}\\b`));

  const exposed = runtime.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  for (const p of ['53/udp', '53/tcp', '8080', '9253']) assert.ok(exposed.includes(p), `EXPOSE ${p}`);
});

// ---------------------------------------------------------------------------------------------
// The bundle alone

/** The bundles as the image has them: every file build.mjs writes, in one directory (default tmp/opt). */
function copyBundle(name = 'opt'): string {
  const dir = join(tmp, name);
  if (!existsSync(join(dir, 'node-local-dns.cjs'))) {
    mkdirSync(dir, { recursive: true });
    for (const out of BUNDLES) {
      const src = join(ROOT, out);
      if (!existsSync(src)) continue; // a test below says which is missing
      copyFileSync(src, join(dir, posix.basename(out)));
      if (existsSync(`${src}.map`)) copyFileSync(`${src}.map`, join(dir, `${posix.basename(out)}.map`));
    }
  }
  return dir;
}

function runBundle(dir: string, args: string[]) {
  return spawnSync(process.execPath, ['node-local-dns.cjs', ...args], { cwd: dir, env: CLEAN_ENV, encoding: 'utf8', timeout: 30_000 });
}

test('the bundles need no node_modules: they require node built-ins and each other only', { skip: NO_DIST }, () => {
  const builtins = new Set(builtinModules);
  const siblings = new Set(BUNDLES.map((b) => `./${posix.basename(b)}`));
  for (const out of BUNDLES) {
    assert.ok(existsSync(join(ROOT, out)), `${out} is built`);
    const text = readFileSync(join(ROOT, out), 'utf8');
    const loaded = [...new Set([...text.matchAll(/\b(?:require|import)\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!))];
    assert.ok(loaded.length > 0);
    assert.deepEqual(loaded.filter((r) => !builtins.has(r.replace(/^node:/, '')) && !siblings.has(r)), [], out);
  }
  // The daemon's bundle carries none of the tools' code: it loads their bundle when one runs.
  const daemon = readFileSync(DIST, 'utf8');
  assert.match(daemon, new RegExp(`import\\(["']\\./${TOOLS_BUNDLE.replace(/\./g, '\\.')}["']\\)`));
  assert.doesNotMatch(daemon, /Generates DNS lookups from C concurrent workers/, 'the load tool\'s usage text is not in the daemon bundle');
  assert.match(readFileSync(join(ROOT, 'dist', TOOLS_BUNDLE), 'utf8'), /Generates DNS lookups from C concurrent workers/);
});

test('the tools run through the daemon\'s bin from the image directory; the daemon runs without them', { skip: NO_DIST }, () => {
  const dir = copyBundle();
  const load = runBundle(dir, ['load', '--help']);
  assert.equal(load.status, 0, load.stderr);
  assert.match(load.stdout, /^Usage: node-local-dns load /);
  const query = runBundle(dir, ['query', '--help']);
  assert.equal(query.status, 0, query.stderr);
  assert.match(query.stdout, /node-local-dns query/);

  // Without the tools' bundle: the daemon's own subcommands work, a tool says what is missing.
  const bare = copyBundle('opt-no-tools');
  rmSync(join(bare, TOOLS_BUNDLE));
  writeFileSync(join(bare, 'config.yaml'), readFileSync(join(ROOT, 'config/nodelocaldns.yaml')));
  const check = runBundle(bare, ['check-config', 'config.yaml']);
  assert.equal(check.status, 0, check.stderr);
  const missing = runBundle(bare, ['query', '--help']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, new RegExp(TOOLS_BUNDLE.replace(/\./g, '\\.')));
});

test('the daemon serves without loading what it does not use (tls, https, assert)', { skip: NO_DIST, timeout: 60_000 }, async () => {
  // Each of these costs resident memory on every node (about 9 MiB for https/tls on Node 24):
  // prom-client's index would load its Pushgateway (https), pino its transports (thread-stream,
  // assert), sonic-boom assert; scripts/build.mjs keeps them out until used.
  const dir = copyBundle();
  const port = await pickFreePort();
  const metricsPort = await pickFreePort();
  const config = join(dir, 'serve.yaml');
  writeFileSync(config, `servers:\n  - zones: [.]\n    bind: [127.0.0.1]\n    port: ${port}\n    cache: {}\n    forward: { to: ["127.0.0.1:9"] }\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\nlog: { level: warn }\n`);
  const listFile = join(dir, 'modules.json');
  const preload = join(dir, 'module-list.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)}, JSON.stringify(process.moduleLoadList)));\n`);
  const child = spawn(process.execPath, ['-r', preload, 'node-local-dns.cjs', '--config', config], { cwd: dir, env: CLEAN_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(async () => (await instancesAnswering('127.0.0.1', port, 2, 300)).size > 0, 20_000, `the daemon answering (stderr: ${stderr})`);
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(scrape.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const natives = new Set((JSON.parse(readFileSync(listFile, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)));
  assert.ok(natives.has('dgram') && natives.has('http'), 'the list is the daemon\'s');
  for (const unused of ['tls', 'https', '_tls_wrap', 'assert', 'http2']) assert.ok(!natives.has(unused), `${unused} was loaded`);
});

test('the bundle runs from an empty directory: --version, check-config, convert-corefile', { skip: NO_DIST }, () => {
  const dir = copyBundle();
  for (let d = dir; ; d = dirname(d)) {
    assert.ok(!existsSync(join(d, 'node_modules')), `no node_modules at ${d}`);
    if (dirname(d) === d) break;
  }

  const version = runBundle(dir, ['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout.trim(), new RegExp(`^node-local-dns ${PKG.version.replace(/\./g, '\\.')} \\(node v\\d+`));
  const single = runBundle(dir, ['-version']); // node-cache/CoreDNS spelling
  assert.equal(single.status, 0, single.stderr);

  writeFileSync(join(dir, 'config.yaml'), readFileSync(join(ROOT, 'config/nodelocaldns.yaml')));
  const check = runBundle(dir, ['check-config', 'config.yaml']);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /^config\.yaml: OK \(3 server blocks\)/);

  writeFileSync(join(dir, 'broken.yaml'), 'servers:\n  - zones: [.]\n    bind: [127.0.0.1]\n    port: fifty-three\n');
  const broken = runBundle(dir, ['check-config', 'broken.yaml']);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /broken\.yaml:4\b/, 'the schema runs inside the bundle and names the line');

  copyFileSync(join(ROOT, 'test/fixtures/nodelocaldns.Corefile'), join(dir, 'Corefile'));
  const corefile = runBundle(dir, ['check-config', 'Corefile']);
  assert.equal(corefile.status, 0, corefile.stderr);
  assert.match(corefile.stdout, /^Corefile: OK \(\d+ server blocks?\)/);
  const converted = runBundle(dir, ['convert-corefile', 'Corefile']);
  assert.equal(converted.status, 0, converted.stderr);
  const yaml = parseYaml(converted.stdout) as { servers: { zones: string[] }[]; health?: { listen: string } };
  assert.ok(yaml.servers.some((s) => s.zones.some((z) => z.startsWith('cluster.local'))));
  assert.equal(yaml.health?.listen, '169.254.20.10:8080');
  writeFileSync(join(dir, 'converted.yaml'), converted.stdout);
  const roundTrip = runBundle(dir, ['check-config', 'converted.yaml']);
  assert.equal(roundTrip.status, 0, roundTrip.stderr);

  const badFlag = runBundle(dir, ['-localip', '169.254.20.10,']);
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /invalid localip specified/);
});

// ---------------------------------------------------------------------------------------------
// Entrypoint: iptables backend selection (all tools stubbed; the host is never touched)

const SAVE_TOOLS = ['iptables-legacy-save', 'ip6tables-legacy-save', 'iptables-nft-save', 'ip6tables-nft-save'];

interface EntrypointCase {
  readonly dumps?: Record<string, string>; // file name under data/ → content (e.g. "iptables-nft-save.mangle")
  readonly env?: Record<string, string>;
  readonly args?: string[];
  readonly alternativesFail?: boolean;
  readonly nodeExit?: number;
}

let caseNo = 0;
function runEntrypoint(c: EntrypointCase) {
  const dir = join(tmp, `ep-${caseNo++}`);
  const bin = join(dir, 'bin');
  const data = join(dir, 'data');
  mkdirSync(bin, { recursive: true });
  mkdirSync(data, { recursive: true });
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const tool of SAVE_TOOLS) stub(tool, `f="$STUB_DATA/${tool}"; [ "$1" = -t ] && f="$f.$2"; [ -f "$f" ] && cat "$f"; exit 0`);
  stub('update-alternatives', 'echo "$*" >>"$STUB_DATA/alternatives.log"; [ -f "$STUB_DATA/alternatives.fail" ] && exit 2; exit 0');
  stub('fake-node', 'printf "%s\\n" "$*" >"$STUB_DATA/node.args"; exit "$(cat "$STUB_DATA/node.exit" 2>/dev/null || echo 0)"');
  for (const [name, content] of Object.entries(c.dumps ?? {})) writeFileSync(join(data, name), content);
  if (c.alternativesFail) writeFileSync(join(data, 'alternatives.fail'), '');
  if (c.nodeExit !== undefined) writeFileSync(join(data, 'node.exit'), String(c.nodeExit));
  const r = spawnSync('sh', [ENTRYPOINT_SCRIPT, ...(c.args ?? ['-localip', '169.254.20.10', '-conf', '/etc/Corefile'])], {
    env: { PATH: `${bin}:/usr/bin:/bin`, STUB_DATA: data, NLD_NODE: join(bin, 'fake-node'), NLD_BUNDLE: '/opt/node-local-dns/node-local-dns.cjs', ...c.env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const read = (name: string) => (existsSync(join(data, name)) ? readFileSync(join(data, name), 'utf8') : null);
  return { status: r.status, stderr: r.stderr, alternatives: read('alternatives.log'), nodeArgs: read('node.args') };
}

const rules = (n: number) => Array.from({ length: n }, (_, i) => `-A KUBE-SERVICES -d 10.96.0.${i}/32 -j ACCEPT`).join('\n') + '\n';
const HINT = '*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n';
const selected = (mode: string) => `--set iptables /usr/sbin/iptables-${mode}\n--set ip6tables /usr/sbin/ip6tables-${mode}\n`;

test('entrypoint: the kubelet hint chain decides the iptables backend', () => {
  const nft = runEntrypoint({ dumps: { 'iptables-nft-save.mangle': HINT, 'iptables-legacy-save': rules(50) } });
  assert.equal(nft.status, 0, nft.stderr);
  assert.equal(nft.alternatives, selected('nft'));
  assert.match(nft.stderr, /iptables backend: nft \(kubelet hint chain in the nft tables\)/);

  const legacy = runEntrypoint({ dumps: { 'ip6tables-legacy-save.mangle': HINT.replace('KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY'), 'iptables-nft-save': rules(50) } });
  assert.equal(legacy.alternatives, selected('legacy'));
  assert.match(legacy.stderr, /legacy \(kubelet hint chain in the legacy tables\)/);
});

test('entrypoint: without a hint, the backend with more rules wins; none at all means nft', () => {
  const legacy = runEntrypoint({ dumps: { 'iptables-legacy-save': rules(12), 'ip6tables-nft-save': rules(3) } });
  assert.equal(legacy.alternatives, selected('legacy'));
  assert.match(legacy.stderr, /rules on the host: legacy 12, nft 3/);
  const nft = runEntrypoint({ dumps: { 'iptables-legacy-save': rules(1), 'iptables-nft-save': rules(4), 'ip6tables-nft-save': rules(2) } });
  assert.equal(nft.alternatives, selected('nft'));
  assert.match(nft.stderr, /legacy 1, nft 6/);
  const none = runEntrypoint({});
  assert.equal(none.alternatives, selected('nft'));
  assert.match(none.stderr, /legacy 0, nft 0/);
});

test('entrypoint: IPTABLES_MODE overrides detection; a bad value is ignored with a message', () => {
  const forced = runEntrypoint({ env: { IPTABLES_MODE: 'legacy' }, dumps: { 'iptables-nft-save.mangle': HINT } });
  assert.equal(forced.alternatives, selected('legacy'));
  assert.match(forced.stderr, /legacy \(IPTABLES_MODE\)/);
  const bad = runEntrypoint({ env: { IPTABLES_MODE: 'xtables' }, dumps: { 'iptables-legacy-save': rules(3) } });
  assert.match(bad.stderr, /ignoring IPTABLES_MODE=xtables/);
  assert.equal(bad.alternatives, selected('legacy'));
});

test('entrypoint: node-cache args reach the daemon unchanged; exit status and failures', () => {
  const args = ['-localip', '169.254.20.10,10.96.0.10', '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream', '-pidfile', '/tmp/node-cache.pid'];
  const ok = runEntrypoint({ args });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.nodeArgs, `/opt/node-local-dns/node-local-dns.cjs ${args.join(' ')}\n`);

  // A crash is restarted (the supervisor, test/integration/entrypoint-supervisor.test.ts); once the
  // restart limit is spent, the daemon's exit status is the container's.
  const failed = runEntrypoint({ nodeExit: 3, env: { NLD_RESTART_LIMIT: '1', NLD_RESTART_DELAY_MS: '50' } });
  assert.equal(failed.status, 3, 'the daemon exit status is the container exit status');
  assert.match(failed.stderr, /daemon exited with status 3 after \d+s; restarting in 50 ms \(restart 1\)/);
  assert.match(failed.stderr, /1 restarts in a row did not last 60s, exiting \(status 3\)/);

  // e.g. a read-only root file system: keep going with the image default.
  const readOnly = runEntrypoint({ alternativesFail: true });
  assert.equal(readOnly.status, 0);
  assert.match(readOnly.stderr, /could not select nft/);
  assert.notEqual(readOnly.nodeArgs, null);

  for (const direct of [['--version'], ['check-config', '/etc/coredns/Corefile.base'], ['convert-corefile', 'Corefile']]) {
    const r = runEntrypoint({ args: direct });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.alternatives, null, `${direct[0]} does not touch iptables`);
    assert.equal(r.nodeArgs, `/opt/node-local-dns/node-local-dns.cjs ${direct.join(' ')}\n`);
  }
});

test('entrypoint: valid POSIX sh', () => {
  const r = spawnSync('sh', ['-n', ENTRYPOINT_SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

// ---------------------------------------------------------------------------------------------
// Entrypoint: supervision across SIGUSR2 handovers, with the real bundle


const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

test(`entrypoint: SIGUSR2 hands over without ending the container, SIGTERM stops it${canUnshare ? ' (PID 1 in a PID namespace)' : ''}`, { skip: NO_DIST, timeout: 90_000 }, async () => {
  const dir = copyBundle();
  const bin = join(tmp, 'sup-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'update-alternatives'), '#!/bin/sh\nexit 0\n'); // never the host's
  chmodSync(join(bin, 'update-alternatives'), 0o755);
  const port = await pickFreePort();
  const healthPort = await pickFreePort();
  const config = join(tmp, 'sup.yaml');
  const pidFile = join(tmp, 'sup.pid');
  writeFileSync(config, `servers:\n  - zones: [.]\n    bind: [127.0.0.1]\n    port: ${port}\nhealth: { listen: "127.0.0.1:${healthPort}" }\nlog: { level: info }\n`);
  const script = ['sh', ENTRYPOINT_SCRIPT, '--config', config, '-pidfile', pidFile];
  const argv = canUnshare ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', ...script] : script;
  const env = { ...CLEAN_ENV, PATH: `${bin}:${CLEAN_ENV.PATH}`, IPTABLES_MODE: 'nft', NLD_NODE: process.execPath, NLD_BUNDLE: join(dir, 'node-local-dns.cjs') };
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // The entrypoint's pid as seen from here (unshare's forked child, or the sh itself).
  const shPid = canUnshare
    ? await waitFor(() => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined, 10_000, 'the entrypoint process')
    : child.pid!;
  try {
    const server = { host: '127.0.0.1', port };
    const answering = async () => [...(await instancesAnswering(server.host, server.port, 8, 300))];
    const first = await waitFor(async () => {
      const ids = await answering();
      return ids.length === 1 ? ids[0] : undefined;
    }, 15_000, 'the first daemon');
    if (canUnshare) assert.match(readFileSync(`/proc/${shPid}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m, 'the entrypoint is PID 1 in its namespace');

    let previous = first;
    for (const round of [1, 2]) {
      process.kill(shPid, 'SIGUSR2');
      const next = await waitFor(async () => {
        const ids = await answering();
        return ids.length === 1 && ids[0] !== previous ? ids[0] : undefined;
      }, 20_000, `handover ${round}`);
      await waitFor(() => stderr.split('handed over to pid').length - 1 >= round || undefined, 10_000, `the entrypoint following successor ${round}`);
      assert.ok(existsSync(`/proc/${shPid}`), 'the entrypoint is still running');
      previous = next;
    }
    process.kill(shPid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 20_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, `exit after SIGTERM; stderr:\n${stderr}`);
    assert.deepEqual(await answering(), [], 'nothing answers after the stop');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    // Outside a namespace a successor is not our child: stop the current daemon by its pidfile.
    const pid = !canUnshare && existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

test('the benchmarks run the daemon with the environment of the image (NODE_OPTIONS, ...)', async () => {
  const { imageEnv, IMAGE_NODE_FLAGS } = await import('../../bench/lib/runtime.js');
  const runtime = dockerfile().at(-1)!;
  const env: Record<string, string> = {};
  for (const i of runtime.filter((x) => x.op === 'ENV')) {
    const m = /^(\w+)=(?:"([^"]*)"|(\S*))$/.exec(i.args);
    assert.ok(m, `ENV ${i.args}: one KEY=value per instruction`);
    env[m[1]!] = m[2] ?? m[3]!;
  }
  assert.ok(env.NODE_OPTIONS, 'the runtime stage sets NODE_OPTIONS');
  assert.deepEqual(imageEnv(), env);
  assert.deepEqual(IMAGE_NODE_FLAGS, env.NODE_OPTIONS.split(/\s+/));
});
