// The kube-dns ConfigMap directory: reading a real volume layout (symlinks, ..data swaps) and
// node-cache's validation of stubDomains, upstreamNameservers and federations.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKubeDnsData, readKubeDnsDir, type KubeDnsResult } from '../../src/kube/configmap.js';
import { createConfigMapVolume } from './helpers/configmap-volume.js';

const root = mkdtempSync(join(tmpdir(), 'nld-configmap-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `cm${++n}`);

function config(result: KubeDnsResult) {
  if (!result.ok) assert.fail(`${result.error.file}: ${result.error.message}`);
  return result.config;
}

test('a ConfigMap volume is read through its key symlinks; ..data and the data dir are ignored', () => {
  const volume = createConfigMapVolume(freshDir(), {
    stubDomains: '{"acme.local": ["1.2.3.4"], "corp.example": ["10.0.0.1:5353", "[fd00::1]:53"]}',
    upstreamNameservers: '["192.0.2.53", "192.0.2.54:53"]',
    federations: 'myfed=example.com',
  });
  const result = readKubeDnsDir(volume.dir);
  assert.deepEqual(config(result), {
    stubDomains: { 'acme.local': ['1.2.3.4'], 'corp.example': ['10.0.0.1:5353', '[fd00::1]:53'] },
    upstreamNameservers: ['192.0.2.53', '192.0.2.54:53'],
    federations: { myfed: 'example.com' },
  });
  assert.ok(result.ok && result.files.every((f) => !f.startsWith('.')));
});

test('a ..data symlink swap is seen by the next read, and removed keys disappear', () => {
  const volume = createConfigMapVolume(freshDir(), { upstreamNameservers: '["192.0.2.53"]', stubDomains: '{"a.local": ["198.51.100.53"]}' });
  assert.deepEqual(config(readKubeDnsDir(volume.dir)).upstreamNameservers, ['192.0.2.53']);
  volume.update({ upstreamNameservers: '["203.0.113.53"]' });
  assert.deepEqual(config(readKubeDnsDir(volume.dir)), { stubDomains: {}, upstreamNameservers: ['203.0.113.53'], federations: {} });
});

test('an empty directory (optional ConfigMap absent) gives the empty config', () => {
  const dir = freshDir();
  mkdirSync(dir);
  assert.deepEqual(config(readKubeDnsDir(dir)), { stubDomains: {}, upstreamNameservers: [], federations: {} });
});

test('unknown keys, hidden files and subdirectories are ignored', () => {
  const dir = freshDir();
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, '.hidden'), 'not json');
  writeFileSync(join(dir, 'sub', 'stubDomains'), 'not json');
  writeFileSync(join(dir, 'Corefile'), '.:53 {}');
  assert.deepEqual(config(readKubeDnsDir(dir)).stubDomains, {});
});

test('a missing directory is an error naming it', () => {
  const dir = freshDir();
  const result = readKubeDnsDir(dir);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.file, dir);
    assert.match(result.error.message, /cannot read directory/);
  }
});

test('non-UTF-8 content is an error naming the file', () => {
  const volume = createConfigMapVolume(freshDir(), { stubDomains: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
  const result = readKubeDnsDir(volume.dir);
  assert.deepEqual(result, { ok: false, error: { code: 'NLD_ERR_KUBE_CONFIGMAP_INVALID', file: join(volume.dir, 'stubDomains'), message: 'contains non-UTF-8 data' } });
});

test('an invalid key in a volume is reported with the full path of its file', () => {
  const volume = createConfigMapVolume(freshDir(), { upstreamNameservers: '["192.0.2.53", "192.0.2.54", "198.51.100.53", "198.51.100.54"]' });
  const result = readKubeDnsDir(volume.dir);
  assert.deepEqual(result, { ok: false, error: { code: 'NLD_ERR_KUBE_CONFIGMAP_INVALID', file: join(volume.dir, 'upstreamNameservers'), message: 'cannot have more than 3 entries, got 4' } });
});

const valid: { name: string; data: Record<string, string>; want: object }[] = [
  { name: 'JSON null values mean "nothing set"', data: { stubDomains: 'null', upstreamNameservers: 'null' }, want: { stubDomains: {}, upstreamNameservers: [], federations: {} } },
  { name: 'an IPv6 upstream without a port is accepted', data: { upstreamNameservers: '["fd00::53"]' }, want: { stubDomains: {}, upstreamNameservers: ['fd00::53'], federations: {} } },
  { name: 'an empty federations value is accepted', data: { federations: '' }, want: { stubDomains: {}, upstreamNameservers: [], federations: {} } },
  { name: 'several federations are parsed', data: { federations: 'a=a.example, b=b.example' }, want: { stubDomains: {}, upstreamNameservers: [], federations: { a: 'a.example', b: 'b.example' } } },
];

for (const c of valid) {
  test(c.name, () => assert.deepEqual(config(parseKubeDnsData(c.data)), c.want));
}

const invalid: { name: string; data: Record<string, string>; file: string; reason: RegExp }[] = [
  { name: 'stubDomains that is not JSON', data: { stubDomains: '{acme.local: [1.2.3.4]}' }, file: 'stubDomains', reason: /^invalid JSON/ },
  { name: 'stubDomains that is a JSON array', data: { stubDomains: '["1.2.3.4"]' }, file: 'stubDomains', reason: /must be a JSON object/ },
  { name: 'a stub domain key with upper case', data: { stubDomains: '{"Acme.local": ["1.2.3.4"]}' }, file: 'stubDomains', reason: /invalid domain name: "Acme\.local"/ },
  { name: 'a stub domain key with a trailing dot', data: { stubDomains: '{"acme.local.": ["1.2.3.4"]}' }, file: 'stubDomains', reason: /invalid domain name/ },
  { name: 'a stub domain key longer than 253 characters', data: { stubDomains: JSON.stringify({ [`${'a'.repeat(60)}.`.repeat(5) + 'x']: ['1.2.3.4'] }) }, file: 'stubDomains', reason: /invalid domain name/ },
  { name: 'a stub domain whose servers are not a list', data: { stubDomains: '{"acme.local": "1.2.3.4"}' }, file: 'stubDomains', reason: /acme\.local: must be a list/ },
  { name: 'a stub domain with no servers', data: { stubDomains: '{"acme.local": []}' }, file: 'stubDomains', reason: /acme\.local: has no nameservers/ },
  { name: 'a stub domain server given as a hostname (forward needs an IP)', data: { stubDomains: '{"acme.local": ["ns1.acme.local"]}' }, file: 'stubDomains', reason: /not an IP address: "ns1\.acme\.local"/ },
  { name: 'a stub domain server with a bad port', data: { stubDomains: '{"acme.local": ["1.2.3.4:99999"]}' }, file: 'stubDomains', reason: /invalid nameserver: "1\.2\.3\.4:99999" \(bad port\)/ },
  { name: 'a stub domain server that is garbage', data: { stubDomains: '{"acme.local": ["not a server!"]}' }, file: 'stubDomains', reason: /invalid nameserver/ },
  { name: 'more than three upstreamNameservers', data: { upstreamNameservers: '["198.51.100.53","198.51.100.2","198.51.100.3","198.51.100.4"]' }, file: 'upstreamNameservers', reason: /more than 3 entries/ },
  { name: 'an upstream given as a hostname', data: { upstreamNameservers: '["dns.google"]' }, file: 'upstreamNameservers', reason: /not an IP address or IP:port/ },
  { name: 'an upstream with port 0', data: { upstreamNameservers: '["192.0.2.53:0"]' }, file: 'upstreamNameservers', reason: /bad port number: "0"/ },
  { name: 'an unbracketed IPv6 upstream with a port', data: { upstreamNameservers: '["fd00::53:5353x"]' }, file: 'upstreamNameservers', reason: /not an IP address or IP:port/ },
  { name: 'upstreamNameservers that is a JSON object', data: { upstreamNameservers: '{"a": "192.0.2.53"}' }, file: 'upstreamNameservers', reason: /must be a JSON array/ },
  { name: 'a federation without "="', data: { federations: 'myfed' }, file: 'federations', reason: /must be key=value/ },
  { name: 'a federation name that is not a DNS label', data: { federations: 'my.fed=example.com' }, file: 'federations', reason: /not a valid federation name/ },
];

for (const c of invalid) {
  test(`rejected: ${c.name}`, () => {
    const result = parseKubeDnsData(c.data);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.file, c.file);
    assert.match(result.error.message, c.reason);
  });
}

test('one bad key rejects the whole ConfigMap, even when the others are valid', () => {
  const result = parseKubeDnsData({ stubDomains: '{"acme.local": ["1.2.3.4"]}', upstreamNameservers: '["nope"]' });
  assert.equal(result.ok, false);
});
