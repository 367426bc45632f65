// node-cache's Corefile generation: placeholders, the force_tcp rewrite for custom upstreams,
// stub-domain blocks, and the Service env var.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCorefile } from '../../src/config/corefile.js';
import { clusterDnsFromEnv, generateCorefile, serviceHostEnvName, type ClusterDns, type TemplateInput } from '../../src/kube/template.js';

// The manifest's Corefile after the docs' deploy-time sed (iptables mode), and what node-cache writes from it.
const template = readFileSync(new URL('../fixtures/nodelocaldns.Corefile.base', import.meta.url), 'utf8');
const generatedOfficial = readFileSync(new URL('../fixtures/nodelocaldns.Corefile', import.meta.url), 'utf8');

const clusterDns: ClusterDns = { ok: true, ip: '10.96.0.11', envName: 'KUBE_DNS_UPSTREAM_SERVICE_HOST' };
const input = (over: Partial<TemplateInput>): TemplateInput => ({
  template,
  localIps: ['169.254.20.10', '10.96.0.10'],
  dnsPort: 53,
  clusterDns,
  stubDomains: {},
  upstreamNameservers: [],
  ...over,
});

function generate(over: Partial<TemplateInput>): { text: string; warnings: string[] } {
  const result = generateCorefile(input(over));
  if (!result.ok) assert.fail(`line ${result.line}: ${result.error}`);
  return result;
}

// An older manifest: the `.:53` block forwarded to the node's resolvers over TCP.
const OLD_ROOT_BLOCK = `.:53 {
    errors
    cache 30
    bind 169.254.20.10
    forward . __PILLAR__UPSTREAM__SERVERS__ {
            force_tcp
    }
    prometheus :9253
    }
`;

test('the official template with no kube-dns config generates exactly the Corefile node-cache writes', () => {
  const { text, warnings } = generate({});
  assert.equal(text, generatedOfficial);
  assert.deepEqual(warnings, []);
});

const cases: { name: string; over: Partial<TemplateInput>; want: string; warnings?: string[] }[] = [
  {
    name: 'no upstreamNameservers: the placeholder becomes /etc/resolv.conf and force_tcp stays',
    over: { template: OLD_ROOT_BLOCK, localIps: ['169.254.20.10'] },
    want: OLD_ROOT_BLOCK.replace('__PILLAR__UPSTREAM__SERVERS__', '/etc/resolv.conf'),
  },
  {
    name: 'custom upstreams replace the exact force_tcp block with a one-line UDP forward',
    over: { template: OLD_ROOT_BLOCK, localIps: ['169.254.20.10'], upstreamNameservers: ['192.0.2.53', '198.51.100.53:53'] },
    want: `.:53 {
    errors
    cache 30
    bind 169.254.20.10
    forward . 192.0.2.53 198.51.100.53:53
    prometheus :9253
    }
`,
  },
  {
    name: 'custom upstreams without a TCP block are substituted in place, with node-cache\'s warning',
    over: { template: '.:53 {\n  forward . __PILLAR__UPSTREAM__SERVERS__ {\n    force_tcp\n  }\n}\n', localIps: ['169.254.20.10'], upstreamNameservers: ['192.0.2.53'] },
    want: '.:53 {\n  forward . 192.0.2.53 {\n    force_tcp\n  }\n}\n',
    warnings: ['Did not find TCP upstream block to replace, assuming upstreams already use UDP.'],
  },
  {
    name: 'local IPs replace __PILLAR__LOCAL__DNS__ with spaces and __PILLAR__DNS__SERVER__ becomes empty',
    over: { template: '.:53 {\n    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__\n}\n', localIps: ['169.254.20.10', '10.0.0.10'] },
    want: '.:53 {\n    bind 169.254.20.10 10.0.0.10 \n}\n',
  },
  {
    name: '__PILLAR__DNS__DOMAIN__ is left alone (deploy-time only)',
    over: { template: '__PILLAR__DNS__DOMAIN__:53 {\n}\n' },
    want: '__PILLAR__DNS__DOMAIN__:53 {\n}\n',
  },
  {
    name: 'stub domains are appended in sorted order with node-cache\'s block shape and the dns port',
    over: { template: '.:53 {\n}\n', localIps: ['169.254.20.10', '10.0.0.10'], dnsPort: 1053, stubDomains: { 'zeta.local': ['10.1.0.1'], 'acme.local': ['1.2.3.4', '5.6.7.8:5353'] } },
    want: `.:53 {
}

acme.local:1053 {
    errors
    cache 30
    bind 169.254.20.10 10.0.0.10
    forward . 1.2.3.4 5.6.7.8:5353
}

zeta.local:1053 {
    errors
    cache 30
    bind 169.254.20.10 10.0.0.10
    forward . 10.1.0.1
}
`,
  },
  {
    name: 'a template without __PILLAR__CLUSTER__DNS__ (IPVS mode) needs no Service env var',
    over: { template: '.:53 {\n    forward . 10.96.0.10\n}\n', clusterDns: { ok: false, envName: 'KUBE_DNS_SERVICE_HOST', error: 'not set' } },
    want: '.:53 {\n    forward . 10.96.0.10\n}\n',
  },
];

for (const c of cases) {
  test(c.name, () => {
    const { text, warnings } = generate(c.over);
    assert.equal(text, c.want);
    assert.deepEqual(warnings, c.warnings ?? []);
  });
}

test('custom upstreams in the official template flow through to a Corefile that parses', () => {
  const { text } = generate({ upstreamNameservers: ['192.0.2.53'], stubDomains: { 'acme.local': ['1.2.3.4'] } });
  assert.match(text, /forward \. 192\.0\.2\.53\n/);
  const parsed = parseCorefile(text, 'Corefile');
  assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.issues));
  assert.deepEqual(
    parsed.raw.servers.map((s) => s.zones),
    [['cluster.local.'], ['in-addr.arpa.'], ['ip6.arpa.'], ['.'], ['acme.local.']],
  );
});

const errorCases: { name: string; over: Partial<TemplateInput>; line: number; error: RegExp }[] = [
  {
    name: 'a missing Service env var is an error naming the variable and the template line, not <nil>',
    over: { clusterDns: clusterDnsFromEnv('kube-dns-upstream', {}) },
    line: 10,
    error: /cannot fill __PILLAR__CLUSTER__DNS__: \$KUBE_DNS_UPSTREAM_SERVICE_HOST is not set/,
  },
  {
    name: 'an env var that is not an IP is an error',
    over: { clusterDns: clusterDnsFromEnv('kube-dns', { KUBE_DNS_SERVICE_HOST: 'kube-dns.svc' }) },
    line: 10,
    error: /\$KUBE_DNS_SERVICE_HOST is "kube-dns\.svc", not an IP address/,
  },
  {
    name: 'a template that needs local IPs without -localip is an error',
    over: { template: '.:53 {\n    bind __PILLAR__LOCAL__DNS__\n}\n', localIps: [] },
    line: 2,
    error: /__PILLAR__LOCAL__DNS__: -localip is not set/,
  },
  {
    name: 'stub domains without -localip are an error',
    over: { template: '.:53 {\n}\n', localIps: [], stubDomains: { 'acme.local': ['1.2.3.4'] } },
    line: 0,
    error: /need -localip/,
  },
];

for (const c of errorCases) {
  test(c.name, () => {
    const result = generateCorefile(input(c.over));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.line, c.line);
    assert.match(result.error, c.error);
  });
}

for (const [service, want] of [
  ['kube-dns', 'KUBE_DNS_SERVICE_HOST'],
  ['kube-dns-upstream', 'KUBE_DNS_UPSTREAM_SERVICE_HOST'],
  ['coredns', 'COREDNS_SERVICE_HOST'],
]) {
  test(`the env var for Service ${service} is ${want}`, () => assert.equal(serviceHostEnvName(service), want));
}

test('clusterDnsFromEnv reads and trims the Service IP, IPv6 included', () => {
  assert.deepEqual(clusterDnsFromEnv('kube-dns-upstream', { KUBE_DNS_UPSTREAM_SERVICE_HOST: ' 10.96.0.11 ' }), { ok: true, ip: '10.96.0.11', envName: 'KUBE_DNS_UPSTREAM_SERVICE_HOST' });
  assert.deepEqual(clusterDnsFromEnv('kube-dns', { KUBE_DNS_SERVICE_HOST: 'fd00::a' }), { ok: true, ip: 'fd00::a', envName: 'KUBE_DNS_SERVICE_HOST' });
});
