// resolveConfig: which source wins, node-cache mode end to end (template + kube-dns ConfigMap +
// flags + env → Corefile written to -conf → Config with node setup), and errors as values.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/cli/args.js';
import type { CliFlags } from '../../src/config/flags.js';
import { formatIssue } from '../../src/config/load.js';
import { resolveConfig, type ResolvedConfig } from '../../src/config/sources.js';
import { createConfigMapVolume } from './helpers/configmap-volume.js';

const root = mkdtempSync(join(tmpdir(), 'nld-sources-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const dir = join(root, `s${++n}`);
  mkdirSync(dir);
  return dir;
};

const TEMPLATE = new URL('../fixtures/nodelocaldns.Corefile.base', import.meta.url);
const GENERATED = readFileSync(new URL('../fixtures/nodelocaldns.Corefile', import.meta.url), 'utf8');
const ENV = { KUBE_DNS_UPSTREAM_SERVICE_HOST: '10.96.0.11' };
const NO_DEFAULT_DIR = { defaultKubeDnsDir: join(root, 'no-such-kube-dns') };

/** parseArgs, with the default -basecorefile pointed at a path that does not exist on this host. */
function flags(argv: string[], dir?: string): CliFlags {
  const result = parseArgs(argv);
  if (!result.ok) assert.fail(result.error);
  if (result.flags.explicit.has('basecorefile')) return result.flags;
  return { ...result.flags, baseCorefile: join(dir ?? root, 'absent', 'Corefile.base') };
}

function expectOk(result: ResolvedConfig) {
  if (!result.ok) assert.fail(result.issues.map(formatIssue).join('\n'));
  return result.config;
}

/** A node-cache layout: /etc/coredns/Corefile.base and /etc/kube-dns as ConfigMap volumes, -conf beside them. */
function nodeCacheLayout(kubeDns: Record<string, string> = {}) {
  const dir = freshDir();
  const coredns = createConfigMapVolume(join(dir, 'coredns'), { 'Corefile.base': readFileSync(TEMPLATE, 'utf8') });
  const kube = createConfigMapVolume(join(dir, 'kube-dns'), kubeDns);
  return { dir, base: join(coredns.dir, 'Corefile.base'), coredns, kube, conf: join(dir, 'Corefile') };
}

const nodeArgs = (l: ReturnType<typeof nodeCacheLayout>, extra: string[] = []): string[] => [
  '-localip', '169.254.20.10,10.96.0.10', '-conf', l.conf, '-upstreamsvc', 'kube-dns-upstream',
  '-basecorefile', l.base, '-kubednscm', l.kube.dir, ...extra,
];

test('with nothing given, the embedded default config is used', () => {
  const result = resolveConfig(flags([]), {}, NO_DEFAULT_DIR);
  const config = expectOk(result);
  assert.equal(result.mode, 'default');
  assert.deepEqual(result.sources, []);
  assert.equal(result.setupMetricsListen, null);
  assert.deepEqual(config.servers[0].bind, ['127.0.0.1']);
  assert.equal(config.servers[0].port, 5353);
});

test('--config loads the YAML file, watches it, and names ignored node-cache flags', () => {
  const dir = freshDir();
  const file = join(dir, 'nld.yaml');
  writeFileSync(file, 'servers:\n  - zones: [example.org]\n    bind: [127.0.0.1]\n    port: 1053\n    forward: { to: [10.0.0.1] }\n');
  const result = resolveConfig(flags(['--config', file, '-localip', '169.254.20.10']), {});
  const config = expectOk(result);
  assert.equal(result.mode, 'yaml');
  assert.deepEqual(result.sources, [file]);
  assert.equal(config.servers[0].port, 1053);
  assert.equal(config.node, null);
  assert.deepEqual(result.warnings, ['--config is set, so node-cache flags are ignored: -localip']);
});

test('a broken YAML file is an error with file:line, not a configmap error', () => {
  const dir = freshDir();
  const file = join(dir, 'nld.yaml');
  writeFileSync(file, 'servers:\n  - zones: [example.org]\n    port: -1\n');
  const result = resolveConfig(flags(['--config', file]), {});
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(formatIssue(result.issues[0]), `${file}:3 servers[0].port: must be >= 0, got -1`);
  assert.equal(result.configmapErrors, 0);
});

test('--log-level overrides the config in every mode', () => {
  const result = resolveConfig(flags(['--log-level', 'debug']), {}, NO_DEFAULT_DIR);
  assert.equal(expectOk(result).log.level, 'debug');
  assert.ok(Object.isFrozen(expectOk(result)));
});

test('node-cache mode generates the Corefile from the template, writes it to -conf and adds node setup', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]', stubDomains: '{"acme.local": ["1.2.3.4"]}' });
  const result = resolveConfig(flags(nodeArgs(l, ['-syncinterval', '30', '-health-port', '9254', '-skipteardown', '-setupiptables=false'])), ENV);
  const config = expectOk(result);
  assert.equal(result.mode, 'node-cache');
  assert.deepEqual(result.sources, [l.base, l.kube.dir]);
  assert.match(result.description, /^node-cache template .*Corefile\.base \+ kube-dns .*kube-dns → .*Corefile$/);
  assert.equal(readFileSync(l.conf, 'utf8'), result.corefile);
  assert.match(result.corefile ?? '', /forward \. 10\.96\.0\.11 \{/);
  assert.match(result.corefile ?? '', /forward \. 192\.0\.2\.53\n/);
  assert.deepEqual(
    config.servers.map((s) => s.zones[0]),
    ['cluster.local.', 'in-addr.arpa.', 'ip6.arpa.', '.', 'acme.local.'],
  );
  assert.deepEqual(config.servers[4].bind, ['169.254.20.10', '10.96.0.10']);
  assert.deepEqual(config.node, {
    localIps: ['169.254.20.10', '10.96.0.10'],
    setupInterface: true,
    setupIptables: false,
    interfaceName: 'nodelocaldns',
    syncIntervalMs: 30_000,
    skipTeardown: true,
    dnsPort: 53,
    healthPort: 9254,
  });
  assert.deepEqual(config.metrics.listen, { host: '', port: 9253 });
  assert.deepEqual(result.setupMetricsListen, { host: '0.0.0.0', port: 9353 });
  assert.equal(result.configmapErrors, 0);
});

test('without upstreamNameservers the template forwards to /etc/resolv.conf, which is then watched', () => {
  const l = nodeCacheLayout();
  const result = resolveConfig(flags(nodeArgs(l)), ENV);
  assert.equal(result.corefile, GENERATED);
  assert.ok(result.sources.includes('/etc/resolv.conf'));
});

test('an unchanged generated Corefile is not rewritten', async () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]' });
  expectOk(resolveConfig(flags(nodeArgs(l)), ENV));
  const first = statSync(l.conf).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  expectOk(resolveConfig(flags(nodeArgs(l)), ENV));
  assert.equal(statSync(l.conf).mtimeMs, first);
});

test('the generated Corefile is written with mode 0644 whatever the umask, also over an existing file', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]' });
  writeFileSync(l.conf, 'stale\n', { mode: 0o666 });
  chmodSync(l.conf, 0o666);
  const previous = process.umask(0);
  try {
    expectOk(resolveConfig(flags(nodeArgs(l)), ENV));
  } finally {
    process.umask(previous);
  }
  assert.equal(statSync(l.conf).mode & 0o777, 0o644);
  assert.notEqual(readFileSync(l.conf, 'utf8'), 'stale\n');
});

test('a ConfigMap update is picked up by the next call', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]' });
  expectOk(resolveConfig(flags(nodeArgs(l)), ENV));
  l.kube.update({ upstreamNameservers: '["203.0.113.53"]' });
  const config = expectOk(resolveConfig(flags(nodeArgs(l)), ENV));
  assert.deepEqual(config.servers[3].forward?.to.map((u) => u.label), ['203.0.113.53:53']);
});

test('an invalid kube-dns ConfigMap is an error naming its file and counts one configmap error', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53", "dns.google"]' });
  const result = resolveConfig(flags(nodeArgs(l)), ENV);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.issues[0].file, join(l.kube.dir, 'upstreamNameservers'));
    assert.match(result.issues[0].reason, /^kube-dns ConfigMap: "dns\.google" is not an IP address/);
  }
  assert.equal(result.configmapErrors, 1);
  assert.deepEqual(result.sources, [l.base, l.kube.dir], 'sources are returned so a fix is noticed');
});

test('a missing Service env var is an error at the template line of __PILLAR__CLUSTER__DNS__', () => {
  const l = nodeCacheLayout();
  const result = resolveConfig(flags(nodeArgs(l)), {});
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(formatIssue(result.issues[0]), /Corefile\.base:10: cannot fill __PILLAR__CLUSTER__DNS__: \$KUBE_DNS_UPSTREAM_SERVICE_HOST is not set/);
  assert.equal(result.configmapErrors, 0);
});

test('an explicit -basecorefile that does not exist is a configmap error', () => {
  const dir = freshDir();
  const result = resolveConfig(flags(['-basecorefile', join(dir, 'nope'), '-localip', '169.254.20.10']), ENV, NO_DEFAULT_DIR);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.issues[0].reason, /cannot read the base Corefile/);
  assert.equal(result.configmapErrors, 1);
});

test('a -conf that cannot be written is a warning and a configmap error, the config still loads', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]' });
  const argv = nodeArgs(l).map((a) => (a === l.conf ? join(l.dir, 'missing-dir', 'Corefile') : a));
  const result = resolveConfig(flags(argv), ENV);
  expectOk(result);
  assert.equal(result.configmapErrors, 1);
  assert.match(result.warnings.join('\n'), /cannot write the generated Corefile/);
});

test('the default kube-dns dir is used only when it exists', () => {
  const l = nodeCacheLayout({ upstreamNameservers: '["192.0.2.53"]' });
  const argv = nodeArgs(l).filter((a, i, all) => a !== '-kubednscm' && all[i - 1] !== '-kubednscm');
  const withDefault = resolveConfig(flags(argv), ENV, { defaultKubeDnsDir: l.kube.dir });
  assert.deepEqual(withDefault.sources, [l.base, l.kube.dir]);
  const without = resolveConfig(flags(argv), ENV, NO_DEFAULT_DIR);
  assert.ok(without.ok);
  assert.deepEqual(without.sources, [l.base, '/etc/resolv.conf']);
});

test('-conf without a template is loaded as a Corefile with node setup from the flags', () => {
  const dir = freshDir();
  const conf = join(dir, 'Corefile');
  writeFileSync(conf, '.:53 {\n  bind 169.254.20.10\n  forward . 10.0.0.1\n  prometheus 127.0.0.1:9253\n}\n');
  const result = resolveConfig(flags(['-conf', conf, '-localip', '169.254.20.10', '-dns.port', '1053'], dir), ENV, NO_DEFAULT_DIR);
  const config = expectOk(result);
  assert.equal(result.mode, 'corefile');
  assert.deepEqual(result.sources, [conf]);
  assert.equal(config.servers[0].port, 53, 'an explicit :53 in the key wins over -dns.port');
  assert.equal(config.node?.dnsPort, 1053);
  assert.deepEqual(result.setupMetricsListen, { host: '0.0.0.0', port: 9353 });
});

test('a Corefile without prometheus serves metrics on the -metrics-listen-address instead', () => {
  const dir = freshDir();
  const conf = join(dir, 'Corefile');
  writeFileSync(conf, 'example.org {\n  bind 127.0.0.1\n  forward . 10.0.0.1\n}\n');
  const result = resolveConfig(flags(['-conf', conf, '-dns.port', '1053'], dir), ENV, NO_DEFAULT_DIR);
  const config = expectOk(result);
  assert.equal(config.servers[0].port, 1053, 'zones without a port take -dns.port');
  assert.deepEqual(config.metrics.listen, { host: '0.0.0.0', port: 9353 });
  assert.equal(result.setupMetricsListen, null);
  assert.equal(config.node, null);
  assert.match(result.warnings.join('\n'), /no -localip/);
});

test('-metrics-listen-address 0 disables the setup metrics listener', () => {
  const dir = freshDir();
  const conf = join(dir, 'Corefile');
  copyFileSync(new URL('../fixtures/nodelocaldns.Corefile', import.meta.url), conf);
  writeFileSync(conf, readFileSync(conf, 'utf8').replace('/etc/resolv.conf', '10.0.0.2'));
  const result = resolveConfig(flags(['-conf', conf, '-localip', '169.254.20.10,10.96.0.10', '-metrics-listen-address', '0'], dir), ENV, NO_DEFAULT_DIR);
  expectOk(result);
  assert.equal(result.setupMetricsListen, null);
});

test('a Corefile error in -conf names the file and line', () => {
  const dir = freshDir();
  const conf = join(dir, 'Corefile');
  writeFileSync(conf, '.:53 {\n  kubernetes cluster.local\n}\n');
  const result = resolveConfig(flags(['-conf', conf], dir), ENV, NO_DEFAULT_DIR);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(formatIssue(result.issues[0]), new RegExp(`^${conf}:2 kubernetes: unsupported directive`));
});

test('-localip without any Corefile is an error that says what to pass', () => {
  const result = resolveConfig(flags(['-localip', '169.254.20.10']), ENV, NO_DEFAULT_DIR);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.issues[0].reason, /needs a Corefile: pass -conf FILE or -basecorefile FILE/);
});
