// Corefile → RawConfig → Config: the official nodelocaldns Corefile, every supported option, and
// errors that name file:line and the directive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadCorefile, parseCorefile, rawConfigToYaml } from '../../src/config/corefile.js';
import { formatIssue, loadConfigText, type ConfigIssue } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const FIXTURE = new URL('../fixtures/nodelocaldns.Corefile', import.meta.url);
const official = readFileSync(FIXTURE, 'utf8');

function withResolvConf<T>(fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'nld-corefile-'));
  try {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'search example.internal\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n');
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function load(text: string, opts: { dnsPort?: number } = {}): Config {
  const result = loadCorefile(text, 'Corefile', opts);
  if (!result.ok) assert.fail(result.issues.map(formatIssue).join('\n'));
  return result.config;
}

function issuesOf(text: string): ConfigIssue[] {
  const result = loadCorefile(text, 'Corefile');
  assert.equal(result.ok, false, 'expected the Corefile to be rejected');
  return result.ok ? [] : result.issues;
}

const block = (body: string, key = '.:53'): string => `${key} {\n${body}\n}\n`;

test('the official nodelocaldns Corefile parses to one server per block with the manifest values', () => {
  const parsed = parseCorefile(official, 'Corefile');
  assert.ok(parsed.ok);
  const bind = ['169.254.20.10', '10.96.0.10'];
  const upstream = { to: ['10.96.0.11'], forceTCP: true };
  const ttl30 = { success: { maxTTL: 30 }, denial: { maxTTL: 30 } };
  assert.deepEqual(parsed.raw, {
    servers: [
      { zones: ['cluster.local.'], bind, port: 53, cache: { success: { capacity: 9984, maxTTL: 30 }, denial: { capacity: 9984, maxTTL: 5 } }, loop: true, forward: upstream },
      { zones: ['in-addr.arpa.'], bind, port: 53, cache: ttl30, loop: true, forward: upstream },
      { zones: ['ip6.arpa.'], bind, port: 53, cache: ttl30, loop: true, forward: upstream },
      { zones: ['.'], bind, port: 53, cache: ttl30, loop: true, forward: { to: ['/etc/resolv.conf'] } },
    ],
    metrics: { listen: ':9253' },
    health: { listen: '169.254.20.10:8080' },
    reload: { interval: '30s' },
  });
});

test('the official Corefile validates to the Config node-cache would run', () => {
  withResolvConf((resolv) => {
    const config = load(official.replace('/etc/resolv.conf', resolv));
    assert.equal(config.servers.length, 4);
    const [cluster, inAddr, ip6, root] = config.servers;
    assert.deepEqual(cluster.zones, ['cluster.local.']);
    assert.deepEqual(cluster.bind, ['169.254.20.10', '10.96.0.10']);
    assert.equal(cluster.port, 53);
    assert.deepEqual(cluster.cache?.success, { capacity: 9984, maxTtlSeconds: 30, minTtlSeconds: 5 });
    assert.deepEqual(cluster.cache?.denial, { capacity: 9984, maxTtlSeconds: 5, minTtlSeconds: 5 });
    assert.equal(cluster.cache?.servfailTtlSeconds, 5);
    assert.equal(cluster.cache?.prefetch, null);
    assert.equal(cluster.forward?.forceTcp, true);
    assert.deepEqual(cluster.forward?.to.map((u) => u.label), ['10.96.0.11:53']);
    assert.equal(cluster.loopDetect, true);
    assert.equal(cluster.log, null);
    for (const reverse of [inAddr, ip6]) {
      assert.deepEqual(reverse.cache?.success, { capacity: 9984, maxTtlSeconds: 30, minTtlSeconds: 5 });
      assert.deepEqual(reverse.cache?.denial, { capacity: 9984, maxTtlSeconds: 30, minTtlSeconds: 5 });
      assert.equal(reverse.forward?.forceTcp, true);
    }
    assert.deepEqual(ip6.zones, ['ip6.arpa.']);
    assert.deepEqual(root.zones, ['.']);
    assert.equal(root.forward?.forceTcp, false);
    assert.deepEqual(root.forward?.to.map((u) => u.label), ['10.0.0.2:53', '10.0.0.3:53']);
    assert.deepEqual(config.metrics.listen, { host: '', port: 9253 });
    assert.deepEqual(config.health, { listen: { host: '169.254.20.10', port: 8080 }, lameduckMs: 0 });
    assert.equal(config.reload.intervalMs, 30_000);
    assert.equal(config.node, null);
  });
});

test('rawConfigToYaml output loads to the same Config as the Corefile', () => {
  withResolvConf((resolv) => {
    const text = official.replace('/etc/resolv.conf', resolv);
    const parsed = parseCorefile(text, 'Corefile');
    assert.ok(parsed.ok);
    const yaml = rawConfigToYaml(parsed.raw, { source: 'Corefile' });
    assert.match(yaml, /^# node-local-dns configuration/);
    assert.match(yaml, /zones: \[ cluster\.local\. \]/);
    const fromYaml = loadConfigText(yaml, 'converted.yaml');
    assert.ok(fromYaml.ok, fromYaml.ok ? '' : fromYaml.issues.map(formatIssue).join('\n'));
    assert.deepEqual(fromYaml.config, load(text));
  });
});

const optionCases: { name: string; text: string; check: (c: Config) => void }[] = [
  {
    name: 'cache options: success/denial with MINTTL, prefetch, serve_stale verify, servfail',
    text: block(`cache 300 {\n success 5000 600 10\n denial 2000\n prefetch 5 30s 20%\n serve_stale 2h verify\n servfail 2s\n}\nforward . 198.51.100.53`),
    check: (c) => {
      const cache = c.servers[0].cache!;
      assert.deepEqual(cache.success, { capacity: 5000, maxTtlSeconds: 600, minTtlSeconds: 10 });
      assert.deepEqual(cache.denial, { capacity: 2000, maxTtlSeconds: 300, minTtlSeconds: 5 });
      assert.deepEqual(cache.prefetch, { amount: 5, durationMs: 30_000, percentage: 20 });
      assert.deepEqual(cache.serveStale, { durationMs: 7_200_000, mode: 'verify' });
      assert.equal(cache.servfailTtlSeconds, 2);
    },
  },
  {
    name: 'prefetch with only a percentage keeps the default duration',
    text: block('cache {\n prefetch 2 50%\n}'),
    check: (c) => assert.deepEqual(c.servers[0].cache?.prefetch, { amount: 2, durationMs: 60_000, percentage: 50 }),
  },
  {
    name: 'bare cache takes CoreDNS defaults, serve_stale without args is 1h immediate',
    text: block('cache {\n serve_stale\n}'),
    check: (c) => {
      assert.deepEqual(c.servers[0].cache?.success, { capacity: 9984, maxTtlSeconds: 3600, minTtlSeconds: 5 });
      assert.deepEqual(c.servers[0].cache?.denial, { capacity: 9984, maxTtlSeconds: 1800, minTtlSeconds: 5 });
      assert.deepEqual(c.servers[0].cache?.serveStale, { durationMs: 3_600_000, mode: 'immediate' });
    },
  },
  {
    name: 'cache ZONES equal to the block zones are accepted',
    text: block('cache 30 example.org', 'example.org'),
    check: (c) => assert.equal(c.servers[0].cache?.success.maxTtlSeconds, 30),
  },
  {
    name: 'forward options map to the forward config',
    text: block('forward . 10.0.0.1 10.0.0.2:5353 [fd00::1]:53 {\n prefer_udp\n max_concurrent 500\n policy sequential\n health_check 1s\n max_fails 4\n expire 30s\n except internal.example\n}'),
    check: (c) => {
      const f = c.servers[0].forward!;
      assert.deepEqual(f.to.map((u) => u.label), ['10.0.0.1:53', '10.0.0.2:5353', '[fd00::1]:53']);
      assert.equal(f.preferUdp, true);
      assert.equal(f.maxConcurrent, 500);
      assert.equal(f.policy, 'sequential');
      assert.equal(f.healthCheckMs, 1000);
      assert.equal(f.maxFails, 4);
      assert.equal(f.expireMs, 30_000);
      assert.deepEqual(f.except, ['internal.example.']);
    },
  },
  {
    name: 'forward FROM equal to the block zone is accepted',
    text: block('forward cluster.local 10.0.0.10', 'cluster.local:53'),
    check: (c) => assert.equal(c.servers[0].forward?.to[0].label, '10.0.0.10:53'),
  },
  {
    name: 'forward with dns:// upstreams',
    text: block('forward . dns://10.0.0.1:5300'),
    check: (c) => assert.equal(c.servers[0].forward?.to[0].label, '10.0.0.1:5300'),
  },
  {
    name: 'log enables the query log, health lameduck and reload interval are read',
    text: block('log\nhealth 127.0.0.1:8081 {\n lameduck 5s\n}\nreload 10s 2s\nforward . 198.51.100.53'),
    check: (c) => {
      assert.deepEqual(c.servers[0].log, { sampleRate: 1 });
      assert.deepEqual(c.health, { listen: { host: '127.0.0.1', port: 8081 }, lameduckMs: 5000 });
      assert.equal(c.reload.intervalMs, 10_000);
    },
  },
  {
    name: 'bare prometheus and health use the CoreDNS default addresses',
    text: block('prometheus\nhealth'),
    check: (c) => {
      assert.deepEqual(c.metrics.listen, { host: '127.0.0.1', port: 9153 });
      assert.deepEqual(c.health.listen, { host: '', port: 8080 });
    },
  },
  {
    name: 'a block without bind listens on the wildcard address',
    text: block('forward . 198.51.100.53'),
    check: (c) => assert.deepEqual(c.servers[0].bind, ['0.0.0.0']),
  },
  {
    name: 'several bind lines accumulate',
    text: block('bind 127.0.0.1\nbind 127.0.0.2 127.0.0.3'),
    check: (c) => assert.deepEqual(c.servers[0].bind, ['127.0.0.1', '127.0.0.2', '127.0.0.3']),
  },
  {
    name: 'keys with different ports become one server each, sharing the directives',
    text: block('bind 127.0.0.1\ncache 30', 'a.example b.example:53 c.example:5353'),
    check: (c) => {
      assert.deepEqual(
        c.servers.map((s) => [s.zones, s.port]),
        [
          [['a.example.', 'b.example.'], 53],
          [['c.example.'], 5353],
        ],
      );
      assert.equal(c.servers[1].cache?.success.maxTtlSeconds, 30);
    },
  },
  {
    name: 'comma-separated keys, dns:// scheme and upper case are normalized',
    text: block('bind 127.0.0.1', 'dns://A.Example:53, b.example'),
    check: (c) => assert.deepEqual(c.servers[0].zones, ['a.example.', 'b.example.']),
  },
  {
    name: 'reverse CIDR keys become in-addr.arpa / ip6.arpa zones',
    text: block('bind 127.0.0.1', '10.0.0.0/8:53 172.16.0.0/16 fd00::/16'),
    check: (c) => assert.deepEqual(c.servers[0].zones, ['10.in-addr.arpa.', '16.172.in-addr.arpa.', '0.0.d.f.ip6.arpa.']),
  },
  {
    name: 'comments, quoted strings and CRLF line endings are handled',
    text: '# header comment\r\n.:53 { # trailing comment\r\n  bind "127.0.0.1"\r\n  forward . "198.51.100.53" # upstream\r\n}\r\n',
    check: (c) => {
      assert.deepEqual(c.servers[0].bind, ['127.0.0.1']);
      assert.equal(c.servers[0].forward?.to[0].label, '198.51.100.53:53');
    },
  },
  {
    name: 'a single server block may omit the braces',
    text: '.:53\nbind 127.0.0.1\nforward . 198.51.100.53\n',
    check: (c) => assert.equal(c.servers[0].forward?.to[0].label, '198.51.100.53:53'),
  },
  {
    name: 'a one-line option block is accepted',
    text: block('forward . 198.51.100.53 { force_tcp }'),
    check: (c) => assert.equal(c.servers[0].forward?.forceTcp, true),
  },
  {
    name: 'errors with a consolidate block is accepted',
    text: block('errors {\n consolidate 5m ".* i/o timeout$"\n}\nforward . 198.51.100.53'),
    check: (c) => assert.equal(c.servers.length, 1),
  },
];

for (const c of optionCases) {
  test(c.name, () => c.check(load(c.text)));
}

test('zones without a port take the dnsPort option', () => {
  const config = load(block('bind 127.0.0.1', 'example.org'), { dnsPort: 1053 });
  assert.equal(config.servers[0].port, 1053);
});

const errorCases: { name: string; text: string; line: number; field: string; reason: RegExp }[] = [
  { name: 'tls is an unsupported directive', text: block('tls cert.pem key.pem'), line: 2, field: 'tls', reason: /unsupported/ },
  { name: 'forward FROM of another zone is rejected', text: block('forward example.com 198.51.100.53'), line: 2, field: 'forward', reason: /FROM "example.com" must be "\." or cover/ },
  { name: 'forward FROM not covering every zone of the block is rejected', text: block('forward a.example 198.51.100.53', 'a.example b.example'), line: 2, field: 'forward', reason: /cover the server block's zones/ },
  { name: 'forward without TO is rejected', text: block('forward .'), line: 2, field: 'forward', reason: /at least 2 arguments, got 1/ },
  { name: 'an unsupported forward option names the option', text: block('forward . 198.51.100.53 {\n  tls_servername dns.example\n}'), line: 3, field: 'forward.tls_servername', reason: /unsupported forward option/ },
  { name: 'an unsupported cache option names the option', text: block('cache {\n  keepttl\n}'), line: 3, field: 'cache.keepttl', reason: /unsupported cache option/ },
  { name: 'a non-integer cache capacity is rejected at its line', text: block('cache {\n  success lots 30\n}'), line: 3, field: 'cache.success.capacity', reason: /must be an integer, got "lots"/ },
  { name: 'a non-integer max_concurrent is rejected', text: block('forward . 198.51.100.53 {\n max_concurrent many\n}'), line: 3, field: 'forward.maxConcurrent', reason: /must be an integer/ },
  { name: 'a cache directive twice in a block is rejected', text: block('cache 30\ncache 10'), line: 3, field: 'cache', reason: /only once per server block \(first on line 2\)/ },
  { name: 'cache ZONES that differ from the block zones are rejected', text: block('cache 30 example.org'), line: 2, field: 'cache', reason: /must equal the server block's zones/ },
  { name: 'prometheus addresses that differ between blocks are rejected', text: block('prometheus :9253', 'a.example') + block('prometheus :9254', 'b.example'), line: 5, field: 'prometheus', reason: /:9254 differs from :9253 on line 2/ },
  { name: 'health addresses that differ between blocks are rejected', text: block('health :8080', 'a.example') + block('health :8081', 'b.example'), line: 5, field: 'health', reason: /differs from the health directive on line 2/ },
  { name: 'an unknown health option is rejected', text: block('health {\n  timeout 1s\n}'), line: 3, field: 'health.timeout', reason: /only lameduck/ },
  { name: 'an unsubstituted placeholder is reported with its line', text: block('bind __PILLAR__LOCAL__DNS__'), line: 2, field: 'bind', reason: /placeholder __PILLAR__LOCAL__DNS__ was not substituted/ },
  { name: 'the <nil> node-cache writes for a missing Service IP is reported', text: block('forward . <nil> {\n force_tcp\n}'), line: 2, field: 'forward', reason: /placeholder <nil> was not substituted/ },
  { name: 'a tls:// server key is rejected', text: block('bind 127.0.0.1', 'tls://example.org'), line: 1, field: 'zones', reason: /transport tls:\/\/ .* not supported/ },
  { name: 'a snippet is rejected', text: '(common) {\n  errors\n}\n', line: 1, field: 'zones', reason: /snippet/ },
  { name: 'an unaligned reverse CIDR is rejected', text: block('bind 127.0.0.1', '10.0.0.0/12'), line: 1, field: 'zones', reason: /only \/0, \/8/ },
  { name: 'loop with arguments is rejected', text: block('loop now'), line: 2, field: 'loop', reason: /takes no arguments/ },
  { name: 'an unterminated quote is reported where it starts', text: '.:53 {\n  bind "127.0.0.1\n}\n', line: 2, field: '', reason: /unterminated quoted string/ },
  { name: 'a missing closing brace names the opening line', text: '.:53 {\n  errors\n', line: 1, field: '', reason: /missing "}" for the block opened on line 1/ },
  { name: 'a stray closing brace is reported', text: '.:53 {\n  errors\n}\n}\n', line: 4, field: '', reason: /expected a server block key/ },
  { name: 'a second block without braces is rejected', text: '.:53 {\n errors\n}\nexample.org\nerrors\n', line: 5, field: '', reason: /expected "\{" after the server block keys on line 4/ },
  { name: 'an empty Corefile is rejected', text: '# nothing\n', line: 1, field: '', reason: /no server blocks/ },
  // Schema errors are mapped back to the directive that produced the value.
  { name: 'a zero cache capacity is reported at the success line', text: block('cache {\n  success 0 30\n}'), line: 3, field: 'servers[0].cache.success.capacity', reason: /must be >= 1/ },
  { name: 'a bad forward policy is reported at the forward line', text: block('forward . 198.51.100.53 {\n  policy fastest\n}'), line: 3, field: 'servers[0].forward.policy', reason: /must be one of random \| round_robin \| sequential/ },
  { name: 'an interface name in bind is reported at the bind line', text: block('errors\nbind eth0'), line: 3, field: 'servers[0].bind[0]', reason: /must be an IPv4 or IPv6 address/ },
  { name: 'servfail above 5m is reported at its line', text: block('cache 30 {\n  servfail 10m\n}'), line: 3, field: 'servers[0].cache.servfail', reason: /at most 5m/ },
  { name: 'a prefetch percentage out of range is reported at its line', text: block('cache {\n  prefetch 1 1m 5%\n}'), line: 3, field: 'servers[0].cache.prefetch.percentage', reason: /must be >= 10/ },
  { name: 'a tls:// upstream is reported at the forward line', text: block('errors\nforward . tls://198.51.100.53'), line: 3, field: 'servers[0].forward.to[0]', reason: /only plain DNS upstreams/ },
  { name: 'a zero cache TTL is reported once at the cache line', text: block('cache 0'), line: 2, field: 'cache', reason: /TTL must be > 0, got 0/ },
  { name: 'a bad prometheus address is reported at its line', text: block('errors\nprometheus nowhere:9253'), line: 3, field: 'metrics.listen', reason: /must be an IP address/ },
  { name: 'the same zone served twice on one address is reported at the second block', text: block('bind 127.0.0.1', 'a.example') + block('bind 127.0.0.1', 'a.example'), line: 4, field: 'servers[1].zones', reason: /already served by servers\[0\]/ },
];

for (const c of errorCases) {
  test(c.name, () => {
    const issues = issuesOf(c.text);
    assert.equal(issues.length, 1, issues.map(formatIssue).join('\n'));
    const [issue] = issues;
    assert.equal(issue.file, 'Corefile');
    assert.equal(issue.line, c.line, formatIssue(issue));
    assert.equal(issue.field, c.field, formatIssue(issue));
    assert.match(issue.reason, c.reason);
  });
}

test('all directive errors of a Corefile are reported together, in order', () => {
  const issues = issuesOf('.:53 {\n  rewrite stop\n  kubernetes cluster.local\n  forward . 198.51.100.53 {\n    tls\n  }\n}\n');
  assert.deepEqual(
    issues.map((i) => `${i.line} ${i.field}`),
    ['2 rewrite', '3 kubernetes', '5 forward.tls'],
  );
  assert.match(formatIssue(issues[0]), /^Corefile:2 rewrite: stop rule must begin with a rule type/);
  assert.match(formatIssue(issues[1]), /^Corefile:3 kubernetes: unsupported directive "kubernetes"; node-local-dns supports bind, bufsize, cache/);
});

test('parseCorefile never throws, whatever the input', () => {
  const alphabet = fc.constantFrom('.', ':53', '{', '}', '"', '#', '\n', ' ', 'cache', 'forward', 'bind', '198.51.100.53', 'success', '30', 'x', 'prometheus', '\\');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
      const result = parseCorefile(parts.join(' '), 'fuzz');
      if (!result.ok) assert.ok(result.issues.length > 0);
    }),
    { numRuns: 500 },
  );
});
