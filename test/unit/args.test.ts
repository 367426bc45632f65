// node-cache compatible flags: Go flag syntax, defaults, node-cache's validation, our additions,
// and subcommand detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseSubcommand, parseSyncInterval } from '../../src/cli/args.js';
import type { CliFlags } from '../../src/config/flags.js';

function flags(argv: string[]): CliFlags {
  const result = parseArgs(argv);
  if (!result.ok) assert.fail(result.error);
  return result.flags;
}

test('no arguments give node-cache defaults', () => {
  const f = flags([]);
  assert.deepEqual(
    {
      localIps: f.localIps,
      conf: f.conf,
      baseCorefile: f.baseCorefile,
      kubeDnsConfigDir: f.kubeDnsConfigDir,
      upstreamService: f.upstreamService,
      setupInterface: f.setupInterface,
      setupIptables: f.setupIptables,
      interfaceName: f.interfaceName,
      syncIntervalMs: f.syncIntervalMs,
      healthPort: f.healthPort,
      setupMetricsListen: f.setupMetricsListen,
      skipTeardown: f.skipTeardown,
      pidFile: f.pidFile,
      dnsPort: f.dnsPort,
      reloadWithSignal: f.reloadWithSignal,
      configFile: f.configFile,
      logLevel: f.logLevel,
    },
    {
      localIps: [],
      conf: '',
      baseCorefile: '/etc/coredns/Corefile.base',
      kubeDnsConfigDir: '',
      upstreamService: 'kube-dns',
      setupInterface: true,
      setupIptables: true,
      interfaceName: 'nodelocaldns',
      syncIntervalMs: 60_000,
      healthPort: 8080,
      setupMetricsListen: { host: '0.0.0.0', port: 9353 },
      skipTeardown: false,
      pidFile: '',
      dnsPort: 53,
      reloadWithSignal: false,
      configFile: '',
      logLevel: null,
    },
  );
  assert.equal(f.explicit.size, 0);
});

test('the manifest args parse as node-cache would', () => {
  const f = flags(['-localip', '169.254.20.10,10.96.0.10', '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream', '-pidfile', '/tmp/node-cache.pid']);
  assert.deepEqual(f.localIps, ['169.254.20.10', '10.96.0.10']);
  assert.equal(f.conf, '/etc/Corefile');
  assert.equal(f.upstreamService, 'kube-dns-upstream');
  assert.equal(f.pidFile, '/tmp/node-cache.pid');
  assert.deepEqual([...f.explicit].sort(), ['conf', 'localip', 'pidfile', 'upstreamsvc']);
});

const ok: { name: string; argv: string[]; check: (f: CliFlags) => unknown; want: unknown }[] = [
  { name: 'double dash works like single dash', argv: ['--localip', '169.254.20.10'], check: (f) => f.localIps, want: ['169.254.20.10'] },
  { name: '-flag=value works', argv: ['-localip=169.254.20.10'], check: (f) => f.localIps, want: ['169.254.20.10'] },
  { name: 'IPv6 local IPs of one family are accepted', argv: ['-localip', 'fd00::10,fd00::a'], check: (f) => f.localIps, want: ['fd00::10', 'fd00::a'] },
  { name: 'mixed IP families in -localip are accepted (dual-stack; node-cache refuses them)', argv: ['-localip', '169.254.20.10,fd00::10'], check: (f) => f.localIps, want: ['169.254.20.10', 'fd00::10'] },
  { name: 'a bare boolean flag sets true', argv: ['-skipteardown'], check: (f) => f.skipTeardown, want: true },
  { name: '-setupiptables=false turns iptables off', argv: ['-setupiptables=false'], check: (f) => f.setupIptables, want: false },
  { name: 'Go boolean spellings are accepted (=0, =F)', argv: ['--setupinterface=0', '-reloadwithsignal=T'], check: (f) => [f.setupInterface, f.reloadWithSignal], want: [false, true] },
  { name: 'the last occurrence of a flag wins', argv: ['-dns.port', '53', '-dns.port=1053'], check: (f) => f.dnsPort, want: 1053 },
  { name: '-p is -dns.port', argv: ['-p', '5353'], check: (f) => [f.dnsPort, f.explicit.has('dns.port')], want: [5353, true] },
  { name: '-syncinterval in plain seconds', argv: ['-syncinterval', '30'], check: (f) => f.syncIntervalMs, want: 30_000 },
  { name: '-syncinterval as a duration', argv: ['-syncinterval=1m'], check: (f) => f.syncIntervalMs, want: 60_000 },
  { name: '-syncinterval in node-cache\'s "ns" spelling means seconds', argv: ['-syncinterval', '60ns'], check: (f) => f.syncIntervalMs, want: 60_000 },
  { name: '-metrics-listen-address 0 disables the setup metrics server', argv: ['-metrics-listen-address', '0'], check: (f) => f.setupMetricsListen, want: null },
  { name: '-metrics-listen-address takes HOST:PORT', argv: ['-metrics-listen-address=127.0.0.1:9354'], check: (f) => f.setupMetricsListen, want: { host: '127.0.0.1', port: 9354 } },
  { name: '-metrics-listen-address takes :PORT', argv: ['-metrics-listen-address', ':9353'], check: (f) => f.setupMetricsListen, want: { host: '', port: 9353 } },
  { name: '-health-port is numeric', argv: ['-health-port', '9254'], check: (f) => f.healthPort, want: 9254 },
  { name: '--config and --log-level are ours', argv: ['--config', 'nld.yaml', '--log-level=debug'], check: (f) => [f.configFile, f.logLevel], want: ['nld.yaml', 'debug'] },
  { name: '-kubednscm and -basecorefile paths', argv: ['-kubednscm', '/cm', '-basecorefile', '/b/Corefile.base'], check: (f) => [f.kubeDnsConfigDir, f.baseCorefile], want: ['/cm', '/b/Corefile.base'] },
  { name: '-interfacename up to 15 characters', argv: ['-interfacename', 'nodelocaldns123'], check: (f) => f.interfaceName, want: 'nodelocaldns123' },
  { name: 'CoreDNS flags -quiet -version -plugins are accepted', argv: ['-quiet', '-version', '-plugins'], check: (f) => [f.quiet, f.version, f.plugins], want: [true, true, true] },
  { name: 'positionals are kept in order, flags may follow them', argv: ['a.yaml', '--log-level', 'warn', 'b'], check: (f) => [f.positionals, f.logLevel], want: [['a.yaml', 'b'], 'warn'] },
  { name: 'everything after -- is positional', argv: ['--', '-localip'], check: (f) => f.positionals, want: ['-localip'] },
  { name: 'removed node-cache flags are accepted with a warning', argv: ['-setupebtables', '-metricsport', '9353', '-corefile', '/x'], check: (f) => f.warnings.length, want: 3 },
];

for (const c of ok) {
  test(c.name, () => assert.deepEqual(c.check(flags(c.argv)), c.want));
}

const bad: { name: string; argv: string[]; error: RegExp }[] = [
  { name: 'a trailing comma in -localip is fatal, as in node-cache', argv: ['-localip', '169.254.20.10,'], error: /-localip: invalid localip specified - "" \(empty entry/ },
  { name: 'an empty -localip is fatal', argv: ['-localip='], error: /invalid localip specified/ },
  { name: 'a hostname in -localip is fatal', argv: ['-localip', 'localhost'], error: /invalid localip specified - "localhost"/ },
  { name: 'a non-numeric -health-port is fatal', argv: ['-health-port', 'http'], error: /-health-port: must be a port number/ },
  { name: 'a port above 65535 is fatal', argv: ['-dns.port', '70000'], error: /-dns\.port: must be a port number/ },
  { name: 'a -syncinterval of 0 is rejected', argv: ['-syncinterval', '0'], error: /-syncinterval: must be at least 1s/ },
  { name: 'a -syncinterval with an unknown unit is rejected', argv: ['-syncinterval', '5d'], error: /-syncinterval: must be seconds/ },
  { name: '-metrics-listen-address without a port is rejected', argv: ['-metrics-listen-address', '0.0.0.0'], error: /must be HOST:PORT/ },
  { name: 'an unknown flag is rejected with Go\'s message', argv: ['-prometheus-listen-address', ':9253'], error: /^flag provided but not defined: -prometheus-listen-address$/ },
  { name: 'a value flag at the end needs its argument', argv: ['-conf'], error: /^flag needs an argument: -conf$/ },
  { name: 'a boolean with a non-boolean value is rejected', argv: ['-skipteardown=yes'], error: /invalid boolean value "yes"/ },
  { name: 'an unknown --log-level is rejected', argv: ['--log-level', 'loud'], error: /must be one of trace \| debug/ },
  { name: 'an interface name longer than 15 characters is rejected', argv: ['-interfacename', 'nodelocaldns-long'], error: /1-15 characters/ },
  { name: 'an invalid -upstreamsvc is rejected', argv: ['-upstreamsvc', 'Kube_DNS'], error: /Service name/ },
  { name: 'three dashes are bad flag syntax', argv: ['---conf', 'x'], error: /^bad flag syntax: ---conf$/ },
];

for (const c of bad) {
  test(`rejected: ${c.name}`, () => {
    const result = parseArgs(c.argv);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error, c.error);
  });
}

const subcommands: { name: string; argv: string[]; want: { command: string; rest: string[] } }[] = [
  { name: 'no words means run', argv: ['-localip', '169.254.20.10'], want: { command: 'run', rest: ['-localip', '169.254.20.10'] } },
  { name: 'check-config FILE', argv: ['check-config', 'nld.yaml'], want: { command: 'check-config', rest: ['nld.yaml'] } },
  { name: 'a flag value that looks like a command is skipped', argv: ['-conf', 'load', 'convert-corefile', 'Corefile'], want: { command: 'convert-corefile', rest: ['-conf', 'load', 'Corefile'] } },
  { name: 'boolean flags do not swallow the next word', argv: ['-quiet', 'load', '--qps', '10'], want: { command: 'load', rest: ['-quiet', '--qps', '10'] } },
  { name: 'an explicit run', argv: ['run', '--config', 'x.yaml'], want: { command: 'run', rest: ['--config', 'x.yaml'] } },
  { name: 'an unknown word stays in rest for the caller to reject', argv: ['serve', '-p', '53'], want: { command: 'run', rest: ['serve', '-p', '53'] } },
];

for (const c of subcommands) {
  test(`subcommand: ${c.name}`, () => assert.deepEqual(parseSubcommand(c.argv), c.want));
}

test('parseSyncInterval accepts compound durations and fractions of minutes', () => {
  assert.deepEqual(parseSyncInterval('1m30s'), { ok: true, ms: 90_000 });
  assert.deepEqual(parseSyncInterval('1.5'), { ok: true, ms: 1500 });
  assert.equal(parseSyncInterval('500ms').ok, false);
});
