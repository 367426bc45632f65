// Table-driven tests for `node-local-dns load` option parsing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoadArgs, type LoadOptions } from '../../src/tools/load/options.js';

const SERVER = ['--server', '127.0.0.1'];
const HOST = ['--host', 'a.test.local'];

function parse(argv: string[], files: Record<string, string> = {}) {
  return parseLoadArgs(argv, (path) => {
    if (!(path in files)) throw new Error(`ENOENT: no such file '${path}'`);
    return files[path];
  });
}

function options(argv: string[], files?: Record<string, string>): LoadOptions {
  const r = parse(argv, files);
  assert.ok(r.ok, `expected ${JSON.stringify(argv)} to parse, got ${JSON.stringify(r)}`);
  assert.ok(!r.help);
  return r.options;
}

function error(argv: string[], files?: Record<string, string>): string {
  const r = parse(argv, files);
  assert.equal(r.ok, false, `expected ${JSON.stringify(argv)} to fail`);
  return (r as { error: string }).error;
}

test('defaults', () => {
  const o = options([...SERVER, ...HOST]);
  assert.deepEqual(o.hosts, ['a.test.local']);
  assert.equal(o.concurrency, 10);
  assert.equal(o.durationMs, 10_000);
  assert.equal(o.limitMs, 5000);
  assert.equal(o.timeoutMs, 5000);
  assert.equal(o.maxCount, undefined);
  assert.equal(o.mode, 'server');
  assert.deepEqual(o.server, { address: '127.0.0.1', port: 53, family: 4 });
  assert.deepEqual(o.types, [{ name: 'A', code: 1 }]);
  assert.equal(o.tcp, false);
  assert.equal(o.edns, false);
  assert.equal(o.json, false);
  assert.equal(o.quiet, false);
  assert.equal(o.allowRemote, false);
  assert.equal(o.html, undefined);
});

test('testdns-style single-dash flags', () => {
  const o = options(['-host', 'kubernetes.default', '-c', '200', '-d', '30', '-l', '5000', ...SERVER]);
  assert.deepEqual(o.hosts, ['kubernetes.default']);
  assert.equal(o.concurrency, 200);
  assert.equal(o.durationMs, 30_000);
  assert.equal(o.limitMs, 5000);
});

const accepted: [string, string[], Partial<LoadOptions>][] = [
  ['--concurrency', ['--concurrency', '7'], { concurrency: 7 }],
  ['-c=v', ['-c=8'], { concurrency: 8 }],
  ['--c=v', ['--c=9'], { concurrency: 9 }],
  ['--concurrency=v', ['--concurrency=11'], { concurrency: 11 }],
  ['duration bare seconds', ['-d', '30'], { durationMs: 30_000 }],
  ['duration with s', ['-d', '30s'], { durationMs: 30_000 }],
  ['duration fractional', ['--duration=1.5s'], { durationMs: 1500 }],
  ['duration ms', ['-d', '500ms'], { durationMs: 500 }],
  ['duration minutes', ['-d', '2m'], { durationMs: 120_000 }],
  ['duration maximum', ['-d', '3600'], { durationMs: 3_600_000 }],
  ['duration hour', ['-d', '1h'], { durationMs: 3_600_000 }],
  ['limit', ['--limit-ms', '250'], { limitMs: 250 }],
  ['-l=', ['-l=0.5'], { limitMs: 0.5 }],
  ['timeout', ['--timeout-ms', '200'], { timeoutMs: 200 }],
  ['max-count', ['--max-count', '1000'], { maxCount: 1000 }],
  ['json', ['--json'], { json: true }],
  ['json=false', ['--json=false'], { json: false }],
  ['-json=true', ['-json=true'], { json: true }],
  ['quiet', ['--quiet'], { quiet: true }],
  ['tcp', ['--tcp'], { tcp: true }],
  ['edns', ['-edns'], { edns: true }],
  ['html', ['--html', 'out.html'], { html: 'out.html' }],
  ['type AAAA', ['--type', 'aaaa'], { types: [{ name: 'AAAA', code: 28 }] }],
  [
    'type A,AAAA',
    ['--type', 'A,AAAA'],
    {
      types: [
        { name: 'A', code: 1 },
        { name: 'AAAA', code: 28 },
      ],
    },
  ],
  ['type TYPE65', ['--type=TYPE65'], { types: [{ name: 'TYPE65', code: 65 }] }],
  ['type MX', ['--type', 'MX'], { types: [{ name: 'MX', code: 15 }] }],
];

for (const [name, extra, expected] of accepted) {
  test(`accepts ${name}: ${extra.join(' ')}`, () => {
    const o = options([...SERVER, ...HOST, ...extra]);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(o[key as keyof LoadOptions], value, key);
    }
  });
}

const servers: [string, LoadOptions['server']][] = [
  ['127.0.0.1', { address: '127.0.0.1', port: 53, family: 4 }],
  ['127.0.0.1:5353', { address: '127.0.0.1', port: 5353, family: 4 }],
  ['127.1.2.3:53', { address: '127.1.2.3', port: 53, family: 4 }],
  ['169.254.20.10', { address: '169.254.20.10', port: 53, family: 4 }],
  ['[::1]:53', { address: '::1', port: 53, family: 6 }],
  ['[::1]:5300', { address: '::1', port: 5300, family: 6 }],
  ['[::1]', { address: '::1', port: 53, family: 6 }],
  ['::1', { address: '::1', port: 53, family: 6 }],
  ['[0:0:0:0:0:0:0:1]:53', { address: '::1', port: 53, family: 6 }],
  ['[::ffff:127.0.0.1]:53', { address: '127.0.0.1', port: 53, family: 4 }],
];

for (const [text, expected] of servers) {
  test(`server ${text}`, () => {
    const o = options(['--server', text, ...HOST, '--allow-remote']);
    assert.deepEqual(o.server, expected);
  });
}

const refused = ['10.0.0.1', '192.0.2.53:53', '[2001:db8::1]:53', '0.0.0.0', '[::]:53', '[::ffff:10.0.0.1]', '169.255.0.1'];
for (const text of refused) {
  test(`refuses remote server ${text} without --allow-remote`, () => {
    const msg = error(['--server', text, ...HOST]);
    assert.match(msg, /--server/);
    assert.match(msg, /neither a loopback address .* nor link-local/);
    assert.match(msg, /load generator/);
    assert.match(msg, /--allow-remote/);
    options(['--server', text, ...HOST, '--allow-remote']);
  });
}

test('loopback and link-local (node-local) servers need no --allow-remote', () => {
  for (const text of ['127.0.0.1:53', '127.255.255.254', '[::1]:53', '169.254.20.10', '169.254.20.10:53', '[fe80::1]:53']) options(['--server', text, ...HOST]);
});

test('--system', () => {
  const o = options(['--system', '--host', 'localhost']);
  assert.equal(o.mode, 'system');
  assert.equal(o.server, undefined);
  assert.deepEqual(
    options(['--system', '--host', 'localhost', '--type', 'A,AAAA']).types.map((t) => t.name),
    ['A', 'AAAA'],
  );
});

test('--hosts-file with comments and blank lines, combined with --host', () => {
  const file = '# names\na.test.local\n\n  b.test.local   # second\r\nc.test.local.\n';
  const o = options([...SERVER, '--host', 'x.test.local', '--hosts-file', 'names.txt'], { 'names.txt': file });
  assert.deepEqual(o.hosts, ['x.test.local', 'a.test.local', 'b.test.local', 'c.test.local.']);
});

test('repeatable --host keeps order', () => {
  assert.deepEqual(options([...SERVER, '--host', 'a', '-host', 'b', '--host=c']).hosts, ['a', 'b', 'c']);
});

test('--help', () => {
  for (const h of ['--help', '-h', '-help']) {
    const r = parse([h]);
    assert.ok(r.ok && r.help);
  }
});

const rejected: [string, string[], RegExp][] = [
  ['no target', [...HOST], /no target.*--server.*--system/],
  ['both targets', [...SERVER, '--system', ...HOST], /either --server or --system/],
  ['no names', [...SERVER], /no names.*--host.*--hosts-file/],
  ['unknown flag', [...SERVER, ...HOST, '--frobnicate'], /unknown flag '--frobnicate'/],
  ['positional', [...SERVER, 'a.test.local'], /unexpected argument 'a.test.local'.*--host a.test.local/],
  ['missing value at end', [...SERVER, '--host'], /--host needs a value/],
  ['missing value before flag', [...SERVER, '-host', '-c', '3'], /-host needs a value/],
  ['concurrency zero', [...SERVER, ...HOST, '-c', '0'], /-c must be at least 1/],
  ['concurrency negative', [...SERVER, ...HOST, '-c', '-5'], /-c must be a whole number/],
  ['concurrency float', [...SERVER, ...HOST, '--concurrency', '2.5'], /--concurrency must be a whole number/],
  ['concurrency too big', [...SERVER, ...HOST, '-c', '100001'], /-c must be at most 10000/],
  ['concurrency twice', [...SERVER, ...HOST, '-c', '1', '-c', '2'], /-c given more than once/],
  ['duration zero', [...SERVER, ...HOST, '-d', '0'], /-d must be greater than 0/],
  ['duration garbage', [...SERVER, ...HOST, '-d', 'soon'], /-d must be a duration/],
  ['duration too long', [...SERVER, ...HOST, '--duration', '3601'], /--duration must be at most 3600s/],
  ['duration 2h', [...SERVER, ...HOST, '-d', '2h'], /at most 3600s/],
  ['limit zero', [...SERVER, ...HOST, '-l', '0'], /-l must be greater than 0/],
  ['limit garbage', [...SERVER, ...HOST, '-l', 'x'], /-l must be a number of milliseconds/],
  ['timeout too big', [...SERVER, ...HOST, '--timeout-ms', '60001'], /--timeout-ms must be at most 60000/],
  ['max-count zero', [...SERVER, ...HOST, '--max-count', '0'], /--max-count must be at least 1/],
  ['max-count huge', [...SERVER, ...HOST, '--max-count', '99999999999'], /--max-count must be at most/],
  ['bad type', [...SERVER, ...HOST, '--type', 'A,BOGUS'], /--type: unknown query type 'BOGUS'/],
  ['duplicate type', [...SERVER, ...HOST, '--type', 'A,a'], /listed twice/],
  ['server hostname', ['--server', 'dns.example', ...HOST], /--server must be an IP address/],
  ['server bad port', ['--server', '127.0.0.1:99999', ...HOST], /--server: port must be 1-65535/],
  ['server port zero', ['--server', '[::1]:0', ...HOST], /port must be 1-65535/],
  ['server empty port', ['--server', '127.0.0.1:', ...HOST], /port must be 1-65535/],
  ['bool with value', [...SERVER, ...HOST, '--json=yes'], /--json takes no value/],
  ['empty name', [...SERVER, '--host', ''], /--host: empty name/],
  ['empty label', [...SERVER, '--host', 'a..b'], /empty label/],
  ['long label', [...SERVER, '--host', `${'x'.repeat(64)}.local`], /label over 63/],
  ['long name', [...SERVER, '--host', Array(60).fill('abcd').join('.')], /longer than 255/],
  ['non-ascii name', [...SERVER, '--host', 'bücher.de'], /ASCII/],
  ['missing hosts file', [...SERVER, '--hosts-file', 'nope.txt'], /--hosts-file: cannot read 'nope.txt'/],
  ['system with tcp', ['--system', ...HOST, '--tcp'], /--tcp only applies to --server/],
  ['system with MX', ['--system', ...HOST, '--type', 'MX'], /--type with --system must be A, AAAA or A,AAAA/],
  ['html empty', [...SERVER, ...HOST, '--html='], /--html needs a file name/],
];

for (const [name, argv, pattern] of rejected) {
  test(`rejects ${name}`, () => {
    assert.match(error(argv), pattern);
  });
}

test('hosts file errors name the file and line', () => {
  assert.match(error([...SERVER, '--hosts-file', 'h'], { h: '# only comments\n\n' }), /'h' contains no names/);
  assert.match(error([...SERVER, '--hosts-file', 'h'], { h: 'ok.local\nbad..name\n' }), /--hosts-file h:2: 'bad..name'/);
});
