// Corefile snippets of the node-cache plugins → the validated config (src/plugins/*): CoreDNS's
// syntax and defaults, what is accepted with a warning (config.ignored), and errors at file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorefile, parseCorefile, rawConfigToYaml } from '../../src/config/corefile.js';
import { loadConfigText, formatIssue } from '../../src/config/load.js';
import type { Config, PluginsConfig } from '../../src/config/types.js';

const block = (body: string, key = 'example.org:53'): string => `${key} {\n${body}\n  forward . 198.51.100.53\n}\n`;

function load(text: string): Config {
  const r = loadCorefile(text, 'Corefile');
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
  return r.config;
}
const plugins = (text: string): PluginsConfig => load(text).servers[0].plugins!;

const parsed: { name: string; body: string; check: (p: PluginsConfig) => void }[] = [
  {
    name: 'template ANY AAAA { rcode NOERROR } covers the block zones with ".*"',
    body: 'template ANY AAAA {\n  rcode NOERROR\n}',
    check: (p) => assert.deepEqual(p.template, [{ qclass: 255, qtype: 28, zones: ['example.org.'], match: ['.*'], answer: [], additional: [], authority: [], rcode: 0, fallthrough: null }]),
  },
  {
    name: 'template with zones, several match regexes, sections and fallthrough zones',
    body: 'template IN A a.example.org {\n  match ^x\\. ^y\\.\n  answer "{{ .Name }} 60 IN A 10.0.0.1"\n  additional "x. 1 IN TXT hi"\n  authority "a.example.org. 60 IN NS ns.a.example.org."\n  rcode NXDOMAIN\n  fallthrough in-addr.arpa\n}',
    check: (p) =>
      assert.deepEqual(p.template[0], {
        qclass: 1,
        qtype: 1,
        zones: ['a.example.org.'],
        match: ['^x\\.', '^y\\.'],
        answer: ['{{ .Name }} 60 IN A 10.0.0.1'],
        additional: ['x. 1 IN TXT hi'],
        authority: ['a.example.org. 60 IN NS ns.a.example.org.'],
        rcode: 3,
        fallthrough: ['in-addr.arpa.'],
      }),
  },
  { name: 'two template directives keep their order', body: 'template IN A {\n  rcode REFUSED\n}\ntemplate IN AAAA', check: (p) => assert.deepEqual(p.template.map((t) => [t.qtype, t.rcode]), [[1, 5], [28, 0]]) },
  {
    name: 'hosts with inline lines, options and zones; default file /etc/hosts',
    body: 'hosts {\n  10.0.0.1 a.example.org b.example.org\n  ::1 a.example.org\n  ttl 60\n  reload 10s\n  no_reverse\n  fallthrough\n}',
    check: (p) =>
      assert.deepEqual(p.hosts, {
        file: '/etc/hosts',
        zones: ['example.org.'],
        entries: ['10.0.0.1 a.example.org b.example.org', '::1 a.example.org'],
        ttlSeconds: 60,
        reloadMs: 10_000,
        reverse: false,
        fallthrough: ['.'],
        fallthroughUnsupported: false,
      }),
  },
  {
    name: 'hosts FILE ZONES defaults: ttl 3600, reload 5s, PTR on, no fallthrough',
    body: 'hosts /etc/custom.hosts a.example.org',
    check: (p) => assert.deepEqual(p.hosts, { file: '/etc/custom.hosts', zones: ['a.example.org.'], entries: [], ttlSeconds: 3600, reloadMs: 5000, reverse: true, fallthrough: null, fallthroughUnsupported: false }),
  },
  {
    name: 'rewrite name (exact by default) normalises names',
    body: 'rewrite name Foo.Example.org bar.example.org',
    check: (p) => assert.deepEqual(p.rewrite, [{ field: 'name', stop: true, match: 'exact', from: 'foo.example.org.', to: 'bar.example.org.', answerAuto: false, answerName: [], answerValue: [] }]),
  },
  {
    name: 'rewrite continue name suffix ... answer auto',
    body: 'rewrite continue name suffix .a.example.org .b.example.org answer auto',
    check: (p) => assert.deepEqual(p.rewrite[0], { field: 'name', stop: false, match: 'suffix', from: '.a.example.org.', to: '.b.example.org.', answerAuto: true, answerName: [], answerValue: [] }),
  },
  {
    name: 'rewrite stop { name regex ...  answer name ... } (block form)',
    body: 'rewrite stop {\n  name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul\n  answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.example.org\n}',
    check: (p) =>
      assert.deepEqual(p.rewrite[0], {
        field: 'name',
        stop: true,
        match: 'regex',
        from: '(.*)-(us-west-1)\\.example\\.org',
        to: '{1}.service.{2}.consul.',
        answerAuto: false,
        answerName: [['(.*)\\.service\\.(us-west-1)\\.consul', '{1}-{2}.example.org.']],
        answerValue: [],
      }),
  },
  { name: 'rewrite type and class', body: 'rewrite type ANY HINFO\nrewrite class CH IN', check: (p) => assert.deepEqual(p.rewrite, [{ field: 'type', stop: true, from: 255, to: 13 }, { field: 'class', stop: true, from: 3, to: 1 }]) },
  { name: 'rewrite ttl with a range', body: 'rewrite ttl suffix .example.org 30-60', check: (p) => assert.deepEqual(p.rewrite[0], { field: 'ttl', stop: true, match: 'suffix', name: '.example.org.', min: 30, max: 60 }) },
  {
    name: 'rewrite edns0 local (text and hex), nsid, subnet, unset',
    body: 'rewrite edns0 local set 0xffee abcd\nrewrite continue edns0 local append 65001 0x0102 revert\nrewrite edns0 nsid replace\nrewrite edns0 subnet set 24 56\nrewrite edns0 local unset 0xffee\nrewrite edns0 local set 0xffef {client_ip}',
    check: (p) =>
      assert.deepEqual(
        p.rewrite.map((r) => (r.field === 'edns0' ? [r.stop, r.edns0.option, r.edns0.action, r.edns0.code, r.edns0.data, r.edns0.variable, r.edns0.v4Bits, r.edns0.v6Bits] : [])),
        [
          [true, 'local', 'set', 0xffee, '61626364', null, 0, 0],
          [false, 'local', 'append', 65001, '0102', null, 0, 0],
          [true, 'nsid', 'replace', 3, '', null, 0, 0],
          [true, 'subnet', 'set', 8, '', null, 24, 56],
          [true, 'local', 'unset', 0xffee, '', null, 0, 0],
          [true, 'local', 'set', 0xffef, '', '{client_ip}', 0, 0],
        ],
      ),
  },
  { name: 'rewrite cname (lower-cased, no dot added, as CoreDNS)', body: 'rewrite cname suffix .A.example. .b.example.\nrewrite cname x.example. y.example.', check: (p) => assert.deepEqual(p.rewrite, [{ field: 'cname', stop: true, match: 'suffix', from: '.a.example.', to: '.b.example.' }, { field: 'cname', stop: true, match: 'exact', from: 'x.example.', to: 'y.example.' }]) },
  { name: 'rewrite rcode by name and by number', body: 'rewrite continue rcode regex (.*)\\.example\\.org SERVFAIL NOERROR\nrewrite rcode a.example.org 3 0', check: (p) => assert.deepEqual(p.rewrite, [{ field: 'rcode', stop: false, match: 'regex', name: '(.*)\\.example\\.org', from: 2, to: 0 }, { field: 'rcode', stop: true, match: 'exact', name: 'a.example.org.', from: 3, to: 0 }]) },
  { name: 'bufsize defaults to 1232', body: 'bufsize', check: (p) => assert.equal(p.bufsize, 1232) },
  { name: 'bufsize 512', body: 'bufsize 512', check: (p) => assert.equal(p.bufsize, 512) },
  { name: 'loadbalance defaults to round_robin', body: 'loadbalance', check: (p) => assert.deepEqual(p.loadbalance, { policy: 'round_robin', weightFile: null, reloadMs: 0, prefer: [] }) },
  {
    name: 'loadbalance weighted with reload and prefer',
    body: 'loadbalance weighted /etc/weights {\n  reload 10s\n  prefer 10.0.0.0/8 fd00::/8\n}',
    check: (p) => assert.deepEqual(p.loadbalance, { policy: 'weighted', weightFile: '/etc/weights', reloadMs: 10_000, prefer: ['10.0.0.0/8', 'fd00::/8'] }),
  },
  { name: 'whoami', body: 'whoami', check: (p) => assert.equal(p.whoami, true) },
  {
    name: 'dnstap: socket forms, full, queue, identity and version; several per block',
    body: 'dnstap /var/run/tap.sock full 1 2 {\n  identity node-a\n  version v1\n}\ndnstap tcp://192.0.2.1:6000',
    check: (p) =>
      assert.deepEqual(p.dnstap, [
        { endpoint: { kind: 'unix', path: '/var/run/tap.sock' }, full: true, queue: 2, identity: 'node-a', version: 'v1' },
        { endpoint: { kind: 'tcp', host: '192.0.2.1', port: 6000 }, full: false, queue: 1, identity: null, version: null },
      ]),
  },
  { name: 'dns64 defaults to 64:ff9b::/96', body: 'dns64', check: (p) => assert.deepEqual(p.dns64, { prefix: '64:ff9b::', prefixLength: 96, translateAll: false, allowIpv4: false }) },
  { name: 'dns64 block form', body: 'dns64 {\n  prefix 2001:db8::/32\n  translate_all\n  allow_ipv4\n}', check: (p) => assert.deepEqual(p.dns64, { prefix: '2001:db8::', prefixLength: 32, translateAll: true, allowIpv4: true }) },
];

for (const row of parsed) {
  test(`parse: ${row.name}`, () => row.check(plugins(block(row.body))));
}

test('a block without plugins has plugins: null (the query path checks only that)', () => {
  assert.equal(load(block('cache 30')).servers[0].plugins, null);
});

const ignored: { name: string; body: string; plugin: string; reason: RegExp; line?: number }[] = [
  { name: 'debug', body: 'debug', plugin: 'debug', reason: /panic recovery/ },
  { name: 'dnstap to a TLS endpoint', body: 'dnstap tls://192.0.2.1:6000 full', plugin: 'dnstap', reason: /TLS endpoints/ },
  { name: 'rewrite edns0 with a server variable', body: 'rewrite edns0 local set 0xffee {server_ip}', plugin: 'rewrite', reason: /server_ip/ },
  { name: 'template with expr', body: 'template IN A {\n  expr incidr(client_ip(), "10.0.0.0/8")\n}', plugin: 'template', reason: /expr/ },
  { name: 'template with an unsupported action', body: 'template IN A {\n  answer "{{ if .Name }}x{{ end }} 60 IN A 1.1.1.1"\n}', plugin: 'template', reason: /unsupported template action/ },
  { name: 'template ederror', body: 'template IN A {\n  rcode NXDOMAIN\n  ederror 21 "blocked"\n}', plugin: 'template', reason: /ederror/, line: 4 },
];

for (const row of ignored) {
  test(`accepted with a warning: ${row.name}`, () => {
    const config = load(block(row.body));
    assert.equal(config.ignored.length, 1);
    assert.equal(config.ignored[0].plugin, row.plugin);
    assert.equal(config.ignored[0].at, `Corefile:${row.line ?? 2}`);
    assert.match(config.ignored[0].reason, row.reason);
  });
}

test('metadata is accepted silently; timeouts sets the TCP read, write and idle timeouts', () => {
  const config = load(block('metadata\ntimeouts {\n  read 10s\n  write 20s\n  idle 1m\n}'));
  assert.deepEqual(config.ignored, []);
  assert.deepEqual([config.tcp.readTimeoutMs, config.tcp.writeTimeoutMs, config.tcp.idleTimeoutMs], [10_000, 20_000, 60_000]);
  const partial = load(block('timeouts {\n  idle 30s\n}'));
  assert.deepEqual([partial.tcp.readTimeoutMs, partial.tcp.writeTimeoutMs, partial.tcp.idleTimeoutMs], [3000, 5000, 30_000]);
});

test('pprof and trace are process-wide; blocks must agree', () => {
  const config = load(block('pprof 127.0.0.1:6060\ntrace zipkin 127.0.0.1:9411 {\n  every 10\n  service nodelocaldns\n}'));
  assert.deepEqual(config.pprof, { listen: { host: '127.0.0.1', port: 6060 } });
  assert.deepEqual(config.trace, { endpoint: 'http://127.0.0.1:9411/api/v2/spans', serviceName: 'nodelocaldns', every: 10 });
  const r = loadCorefile(block('pprof :6060', 'a.example') + block('pprof :6061', 'b.example'), 'Corefile');
  assert.equal(r.ok, false);
});

const errors: { name: string; body: string; line: number; field: RegExp; reason: RegExp }[] = [
  { name: 'template without TYPE', body: 'template IN', line: 2, field: /^template$/, reason: /CLASS and TYPE/ },
  { name: 'template with a bad class', body: 'template XX A', line: 2, field: /^template$/, reason: /invalid query class/ },
  { name: 'template with a bad rcode', body: 'template IN A {\n  rcode NOPE\n}', line: 2, field: /template\[0\]\.rcode/, reason: /must be a response code/ },
  { name: 'template with a bad regex', body: 'template IN A {\n  match (unclosed\n}', line: 2, field: /template\[0\]\.match\[0\]/, reason: /invalid regular expression/ },
  { name: 'template with an unknown option', body: 'template IN A {\n  answers "x"\n}', line: 3, field: /template\.answers/, reason: /unknown template option/ },
  { name: 'hosts twice', body: 'hosts\nhosts', line: 3, field: /^hosts$/, reason: /only once/ },
  { name: 'hosts ttl 0', body: 'hosts {\n  ttl 0\n}', line: 3, field: /hosts\.ttl/, reason: /1 to 65535/ },
  { name: 'hosts unknown property after fallthrough', body: 'hosts {\n  fallthrough\n  10.0.0.1 a.example.org\n}', line: 4, field: /hosts\.10\.0\.0\.1/, reason: /unknown property/ },
  { name: 'rewrite unknown field', body: 'rewrite nmae a b', line: 2, field: /^rewrite$/, reason: /invalid rule type/ },
  { name: 'rewrite regex with too many groups', body: 'rewrite name regex (a) {1}{2}', line: 2, field: /rewrite\[0\]\.to/, reason: /subexpressions/ },
  { name: 'rewrite auto with explicit answer name', body: 'rewrite name prefix a b answer auto answer name x y', line: 2, field: /^rewrite$/, reason: /cannot be combined/ },
  { name: 'rewrite ttl with a bad range', body: 'rewrite ttl a.example.org 60-30', line: 2, field: /rewrite\[0\]\.ttl/, reason: /must be a TTL/ },
  { name: 'dns64 prefix of a length RFC 6052 does not have', body: 'dns64 64:ff9b::/80', line: 2, field: /dns64\.prefix/, reason: /32, 40, 48, 56, 64, 96/ },
  { name: 'rewrite edns0 with a bad action', body: 'rewrite edns0 local add 0xffee abcd', line: 2, field: /^rewrite$/, reason: /invalid action/ },
  { name: 'rewrite edns0 subnet mask too long', body: 'rewrite edns0 subnet set 33 56', line: 2, field: /^rewrite$/, reason: /at most 32 and 128/ },
  { name: 'dnstap without a socket', body: 'dnstap', line: 2, field: /^dnstap$/, reason: /needs a socket/ },
  { name: 'dnstap tcp without a port', body: 'dnstap tcp://192.0.2.1', line: 2, field: /dnstap\[0\]\.endpoint/, reason: /tcp:\/\/HOST:PORT/ },
  { name: 'rewrite rcode with an extended rcode', body: 'rewrite rcode a.example.org BADSIG NOERROR', line: 2, field: /rewrite\[0\]\.from/, reason: /0\) to 15/ },
  { name: 'bufsize out of range', body: 'bufsize 100', line: 2, field: /^bufsize$/, reason: /512 to 4096/ },
  { name: 'loadbalance prefer with a bad CIDR', body: 'loadbalance {\n  prefer 10.0.0.0/33\n}', line: 2, field: /loadbalance\.prefer\[0\]/, reason: /must be a CIDR/ },
  { name: 'loadbalance weighted without a file', body: 'loadbalance weighted', line: 2, field: /^loadbalance$/, reason: /missing weight file/ },
  { name: 'loadbalance unknown policy', body: 'loadbalance random', line: 2, field: /^loadbalance$/, reason: /unknown policy/ },
  { name: 'timeouts below 1s', body: 'timeouts {\n  idle 10ms\n}', line: 3, field: /timeouts\.idle/, reason: /between 1s and 24h/ },
  { name: 'a directive node-cache does not have', body: 'kubernetes cluster.local', line: 2, field: /^kubernetes$/, reason: /unsupported directive/ },
];

for (const row of errors) {
  test(`error: ${row.name}`, () => {
    const r = loadCorefile(block(row.body), 'Corefile');
    assert.equal(r.ok, false);
    const issue = r.ok ? undefined : r.issues[0];
    assert.equal(issue?.line, row.line, formatIssue(issue!));
    assert.match(issue!.field, row.field);
    assert.match(issue!.reason, row.reason);
  });
}

test('YAML: the same plugins, and errors naming file:line field', () => {
  const ok = loadConfigText(
    `servers:
  - zones: [example.org]
    template:
      - { type: AAAA, class: ANY }
    hosts: { entries: ["10.0.0.1 a.example.org"], fallthrough: true }
    rewrite:
      - { field: name, match: suffix, from: .a.example.org, to: .b.example.org, answer: { auto: true } }
    bufsize: 1232
    loadbalance: round_robin
    whoami: true
`,
    'c.yaml',
  );
  assert.ok(ok.ok, ok.ok ? '' : ok.issues.map(formatIssue).join('\n'));
  const p = ok.config.servers[0].plugins!;
  assert.equal(p.template[0].qtype, 28);
  assert.equal(p.hosts?.file, null);
  assert.equal(p.rewrite[0].field, 'name');
  const bad = loadConfigText('servers:\n  - zones: [example.org]\n    template:\n      - type: A\n        rcode: NOPE\n', 'c.yaml');
  assert.equal(bad.ok, false);
  assert.equal(bad.ok ? '' : formatIssue(bad.issues[0]), 'c.yaml:5 servers[0].template[0].rcode: must be a response code such as NOERROR or NXDOMAIN, got "NOPE"');
});

test('convert-corefile: the YAML of a Corefile with every plugin validates to the same config', () => {
  const text = block(
    [
      'bufsize 1232',
      'debug',
      'dns64 {\n  prefix 64:ff9b::/96\n}',
      'dnstap /var/run/tap.sock full',
      'metadata',
      'timeouts {\n  idle 30s\n}',
      'pprof 127.0.0.1:6060',
      'trace zipkin 127.0.0.1:9411',
      'loadbalance',
      'rewrite name suffix .a.example.org .b.example.org answer auto',
      'rewrite edns0 subnet set 24 56',
      'template ANY AAAA {\n  rcode NOERROR\n}',
      'hosts {\n  10.0.0.1 h.example.org\n  fallthrough\n}',
      'whoami',
    ].join('\n'),
  );
  const parsed = parseCorefile(text, 'Corefile');
  assert.ok(parsed.ok);
  const yaml = rawConfigToYaml(parsed.raw, { source: 'Corefile' });
  const fromYaml = loadConfigText(yaml, 'converted.yaml');
  assert.ok(fromYaml.ok, fromYaml.ok ? '' : fromYaml.issues.map(formatIssue).join('\n'));
  assert.deepEqual(fromYaml.config, load(text));
});
