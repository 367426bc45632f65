// The node-cache plugins end to end: a Corefile → our daemon on loopback → a real BIND9 upstream.
// template, hosts, rewrite (query and answer rewritten back), loadbalance, bufsize, whoami, and
// the official nodelocaldns Corefile with every node-cache plugin added starts and serves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type Upstream } from '../harness/upstream.js';
import { fixtures } from '../harness/zone.js';
import { queryUdp, queryTcp, answerData } from '../harness/dns-client.js';
import { startDaemon, type RunningDaemon } from '../harness/daemon.js';
import { waitFor } from '../harness/wait.js';
import { loadCorefile } from '../../src/config/corefile.js';
import { startScriptedUpstream } from '../harness/scripted-upstream.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';
import { formatIssue } from '../../src/config/load.js';
import { parse as parseYaml } from 'yaml';

const FLAG_AA = 0x400;
const FLAG_TC = 0x200;

let upstream: Upstream;
let dir: string;
const daemons: RunningDaemon[] = [];

before(async () => {
  upstream = await startUpstream({ kind: 'bind' });
  dir = mkdtempSync(join(tmpdir(), 'nld-plugins-'));
});
after(async () => {
  for (const d of daemons) await d.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(corefile: string): Promise<RunningDaemon> {
  const loaded = loadCorefile(corefile, 'Corefile');
  if (!loaded.ok) throw new Error(loaded.issues.map(formatIssue).join('\n'));
  const d = await startDaemon(loaded.config);
  daemons.push(d);
  return d;
}

const svc = () => fixtures.services.find((s) => s.ipv6)!;

test('template: ANY AAAA answers NODATA (AA) while A still comes from upstream; regex groups fill the answer', async () => {
  const d = await serve(`.:0 {
    bind 127.0.0.1
    cache 30
    template ANY AAAA cluster.local {
      rcode NOERROR
    }
    template IN A tpl.test {
      match "^(?P<host>[a-z0-9-]+)\\.ip-(\\d+)-(\\d+)-(\\d+)-(\\d+)\\.tpl\\.test\\.$"
      answer "{{ .Name }} 60 IN A {{ index .Match 2 }}.{{ index .Match 3 }}.{{ index .Match 4 }}.{{ index .Match 5 }}"
      additional "{{ .Group.host }}.extra.tpl.test. 60 IN TXT \\"{{ .Type }} {{ .Class }} {{ .Zone }}\\""
      fallthrough
    }
    template ANY ANY invalid {
      rcode NXDOMAIN
      authority "invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)"
    }
    forward . ${upstream.address}
  }`);
  const s = svc();
  const aaaa = await queryUdp(d.server, s.name, 'AAAA', { edns: { udpSize: 1232 } });
  assert.equal(aaaa.packet.rcode, 'NOERROR');
  assert.equal(aaaa.packet.answers.length, 0);
  assert.equal(aaaa.packet.flags! & FLAG_AA, FLAG_AA);
  assert.ok(aaaa.packet.additionals.some((r) => r.type === 'OPT'), 'OPT echoed');
  assert.equal(await upstream.queryCount({ name: s.name, type: 'AAAA' }), 0, 'AAAA never forwarded');
  assert.deepEqual(answerData((await queryUdp(d.server, s.name, 'A')).packet, 'A'), [s.ipv4]);

  const tpl = await queryUdp(d.server, 'web-1.ip-10-1-2-3.tpl.test', 'A');
  assert.deepEqual(answerData(tpl.packet, 'A'), ['10.1.2.3']);
  assert.equal(tpl.packet.answers[0].name, 'web-1.ip-10-1-2-3.tpl.test');
  const txt = tpl.packet.additionals.find((r) => r.type === 'TXT');
  assert.equal(txt?.name, 'web-1.extra.tpl.test');
  assert.deepEqual((txt?.data as Buffer[]).map(String), ['A IN tpl.test.']);

  const nx = await queryTcp(d.server, 'anything.invalid', 'MX');
  assert.equal(nx.packet.rcode, 'NXDOMAIN');
  assert.equal(nx.packet.authorities[0]?.type, 'SOA');
});

test('template CNAME answers for A get the target looked up through the server, across blocks', async () => {
  const s = fixtures.services.filter((x) => x.ipv6)[4];
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    forward . ${upstream.address}
  }
  .:0 {
    bind 127.0.0.1
    template IN A alias.test {
      answer "{{ .Name }} 60 IN CNAME ${s.name}."
    }
    forward . 127.0.0.1:9
  }`);
  const r = await queryUdp(d.server, 'www.alias.test', 'A');
  assert.equal(r.packet.rcode, 'NOERROR');
  assert.deepEqual(
    r.packet.answers.map((a) => [a.name, a.type, a.data]),
    [
      ['www.alias.test', 'CNAME', s.name],
      [s.name, 'A', s.ipv4],
    ],
  );
});

test('hosts: inline and file entries, PTR generated, AAAA of a known name is NODATA, file reloaded, fallthrough forwards', async () => {
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, '10.9.9.1 filehost.hosts.test\n');
  const d = await serve(`.:0 {
    bind 127.0.0.1
    hosts ${hostsFile} hosts.test cluster.local {
      10.9.9.2 inline.hosts.test alias.hosts.test
      fd00::9 inline.hosts.test
      ttl 120
      reload 200ms
      fallthrough
    }
    forward . ${upstream.address}
  }`);
  const inline = await queryUdp(d.server, 'inline.hosts.test', 'A');
  assert.deepEqual(answerData(inline.packet, 'A'), ['10.9.9.2']);
  assert.equal(inline.packet.answers[0].ttl, 120);
  assert.equal(inline.packet.flags! & FLAG_AA, FLAG_AA);
  assert.deepEqual(answerData((await queryUdp(d.server, 'inline.hosts.test', 'AAAA')).packet, 'AAAA'), ['fd00::9']);
  assert.deepEqual(answerData((await queryUdp(d.server, 'filehost.hosts.test', 'A')).packet, 'A'), ['10.9.9.1']);
  assert.deepEqual(answerData((await queryUdp(d.server, '2.9.9.10.in-addr.arpa', 'PTR')).packet, 'PTR'), ['inline.hosts.test', 'alias.hosts.test']);
  const nodata = await queryUdp(d.server, 'filehost.hosts.test', 'AAAA');
  assert.equal(nodata.packet.rcode, 'NOERROR');
  assert.equal(nodata.packet.answers.length, 0);
  // A cluster.local name the hosts data does not know falls through to BIND.
  const s = svc();
  assert.deepEqual(answerData((await queryUdp(d.server, s.name, 'A')).packet, 'A'), [s.ipv4]);
  // The file changes: the new entry is served after the reload interval (no cache in this block).
  writeFileSync(hostsFile, '10.9.9.1 filehost.hosts.test\n10.9.9.3 added.hosts.test\n');
  await waitFor(async () => answerData((await queryUdp(d.server, 'added.hosts.test', 'A')).packet, 'A')[0] === '10.9.9.3', 5000, 'the hosts file reloaded');
});

test('hosts with forward except: hosts still answers an excepted name it knows; others stay REFUSED', async () => {
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    hosts {
      10.9.9.7 known.private.cluster.local
      fallthrough
    }
    forward . ${upstream.address} {
      except private.cluster.local
    }
  }`);
  assert.deepEqual(answerData((await queryUdp(d.server, 'known.private.cluster.local', 'A')).packet, 'A'), ['10.9.9.7']);
  assert.equal((await queryUdp(d.server, 'other.private.cluster.local', 'A')).packet.rcode, 'REFUSED');
  assert.equal(await upstream.queryCount({ name: 'other.private.cluster.local' }), 0);
  const s = fixtures.services[30];
  assert.deepEqual(answerData((await queryUdp(d.server, s.name, 'A')).packet, 'A'), [s.ipv4]);
});

test('reload: changed hosts entries are served at once (the cache with the old answers is not carried over)', async () => {
  const corefile = (ip: string) => `hosts.test:0 {
    bind 127.0.0.1
    cache 300
    hosts {
      ${ip} moving.hosts.test
    }
  }`;
  const d = await serve(corefile('10.9.9.10'));
  assert.deepEqual(answerData((await queryUdp(d.server, 'moving.hosts.test', 'A')).packet, 'A'), ['10.9.9.10']);
  const next = loadCorefile(corefile('10.9.9.11'), 'Corefile');
  assert.ok(next.ok);
  const result = await d.daemon.reload(next.config); // same listener (127.0.0.1, configured port 0)
  assert.deepEqual(result, { ok: true, changed: true });
  assert.deepEqual(answerData((await queryUdp(d.server, 'moving.hosts.test', 'A')).packet, 'A'), ['10.9.9.11']);
});

test('hosts without fallthrough: an unknown name in its zones is SERVFAIL, as in CoreDNS', async () => {
  const d = await serve(`hosts.test:0 {
    bind 127.0.0.1
    hosts ${join(dir, 'missing-file')} {
      10.9.9.5 only.hosts.test
    }
  }`);
  assert.deepEqual(answerData((await queryUdp(d.server, 'only.hosts.test', 'A')).packet, 'A'), ['10.9.9.5']);
  assert.equal((await queryUdp(d.server, 'other.hosts.test', 'A')).packet.rcode, 'SERVFAIL');
});

test('errors log: a template RR that does not parse is logged; SERVFAIL answers of template and hosts are not (as CoreDNS)', async (t) => {
  const lines: { msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const loaded = loadCorefile(
    `quiet.test:0 {
    bind 127.0.0.1
    template IN A bad.quiet.test {
      answer "{{ .Name }} 60 IN A not-an-address"
    }
    template IN A refused.quiet.test {
      rcode SERVFAIL
    }
    hosts ${join(dir, 'none')} hosts.quiet.test {
      10.9.9.1 known.hosts.quiet.test
    }
  }`,
    'Corefile',
  );
  assert.ok(loaded.ok);
  const d = await startDaemon(loaded.config, { logger: createLogger('info', sink) });
  t.after(() => d.stop());
  for (const name of ['x.refused.quiet.test', 'unknown.hosts.quiet.test', 'x.bad.quiet.test']) assert.equal((await queryUdp(d.server, name, 'A')).packet.rcode, 'SERVFAIL', name);
  await waitFor(() => lines.some((l) => l.msg.startsWith('[ERROR] plugin/errors: ')), 3000, 'the errors line');
  const errors = lines.filter((l) => l.msg.startsWith('[ERROR] plugin/errors: '));
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0].msg, /x\.bad\.quiet\.test\. A: .*not-an-address/);
});

test('rewrite: the query is rewritten toward BIND and the answer and question are rewritten back', async () => {
  const s = fixtures.services.filter((x) => x.ipv6)[1]; // a name no other test asks for
  const short = s.name.replace('.svc.cluster.local', '.short.test');
  const d = await serve(`.:0 {
    bind 127.0.0.1
    cache 30
    rewrite name exact alias.rewrite.test. ${s.name}.
    rewrite name suffix .short.test. .svc.cluster.local. answer auto
    rewrite stop {
      name regex ^(.*)\\.rx\\.test\\.$ {1}.svc.cluster.local.
      answer name ^(.*)\\.svc\\.cluster\\.local\\.$ {1}.rx.test.
    }
    forward . ${upstream.address}
  }`);
  const exact = await queryUdp(d.server, 'Alias.Rewrite.Test', 'A', { edns: { udpSize: 1232 } });
  assert.equal(exact.packet.questions[0].name, 'Alias.Rewrite.Test', 'question restored with the client case');
  assert.deepEqual(exact.packet.answers.map((a) => [a.name, a.data]), [['alias.rewrite.test', s.ipv4]]);
  assert.ok(exact.packet.additionals.some((r) => r.type === 'OPT'));
  assert.equal(await upstream.queryCount({ name: s.name, type: 'A' }), 1, 'BIND saw the rewritten name');

  const suffix = await queryTcp(d.server, short, 'A');
  assert.deepEqual(suffix.packet.answers.map((a) => [a.name, a.data]), [[short, s.ipv4]]);

  const rx = s.name.replace('.svc.cluster.local', '.rx.test');
  const regex = await queryUdp(d.server, rx, 'A');
  assert.equal(regex.packet.questions[0].name, rx);
  assert.deepEqual(regex.packet.answers.map((a) => [a.name, a.data]), [[rx, s.ipv4]]);
  // A name no rule matches is forwarded as it is.
  assert.deepEqual(answerData((await queryUdp(d.server, s.name, 'AAAA')).packet, 'AAAA'), [s.ipv6]);
});

test('rewrite cname: a CNAME target is swapped and the new target looked up through the server', async () => {
  const s = fixtures.services.filter((x) => x.ipv6)[5];
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    rewrite cname exact ${fixtures.cnameOutOfZone.target}. ${s.name}.
    forward . ${upstream.address}
  }`);
  const r = await queryUdp(d.server, fixtures.cnameOutOfZone.name, 'A');
  assert.deepEqual(
    r.packet.answers.map((a) => [a.name, a.type, a.data]),
    [
      [fixtures.cnameOutOfZone.name, 'CNAME', s.name],
      [s.name, 'A', s.ipv4],
    ],
  );
  // Other replies pass as they are.
  assert.deepEqual(answerData((await queryUdp(d.server, s.name, 'AAAA')).packet, 'AAAA'), [s.ipv6]);
});

test('rewrite rcode: NXDOMAIN from BIND and SERVFAIL from hosts become NOERROR/REFUSED, with and without EDNS', async () => {
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    rewrite continue rcode ${fixtures.nxdomain.name}. NXDOMAIN NOERROR
    rewrite rcode suffix .hosts.cluster.local. SERVFAIL REFUSED
    hosts ${join(dir, 'none')} hosts.cluster.local {
      10.9.9.9 known.hosts.cluster.local
    }
    forward . ${upstream.address}
  }`);
  const nx = await queryUdp(d.server, fixtures.nxdomain.name, 'A');
  assert.equal(nx.packet.rcode, 'NOERROR');
  assert.equal(nx.packet.authorities[0]?.type, 'SOA');
  assert.equal((await queryUdp(d.server, 'unknown.hosts.cluster.local', 'A')).packet.rcode, 'REFUSED');
  assert.equal((await queryUdp(d.server, 'unknown.hosts.cluster.local', 'A', { edns: { udpSize: 1232 } })).packet.rcode, 'REFUSED');
  assert.deepEqual(answerData((await queryUdp(d.server, 'known.hosts.cluster.local', 'A')).packet, 'A'), ['10.9.9.9']);
});

test('rewrite edns0: local, nsid and subnet options reach the upstream; the client without EDNS gets no OPT', async (t) => {
  const scripted = await startScriptedUpstream();
  t.after(() => scripted.stop());
  const options: { code: number; data?: Buffer }[][] = [];
  scripted.behaviour = (q) => {
    const opt = q.additionals?.find((r) => r.type === 'OPT') as { options?: { code: number; data?: Buffer }[] } | undefined;
    options.push(opt?.options ?? []);
    return { kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 60, data: '192.0.2.7' }] };
  };
  const d = await serve(`example.test:0 {
    bind 127.0.0.1
    rewrite continue edns0 local set 0xffee abcd
    rewrite continue edns0 nsid append
    rewrite edns0 subnet set 24 56
    forward . 127.0.0.1:${scripted.port}
  }`);
  const plain = await queryUdp(d.server, 'edns.example.test', 'A');
  assert.deepEqual(answerData(plain.packet, 'A'), ['192.0.2.7']);
  assert.equal(plain.packet.additionals.filter((r) => r.type === 'OPT').length, 0, 'no OPT for a client that sent none');
  assert.equal(options.length, 1);
  const byCode = new Map(options[0].map((o) => [o.code, o.data ?? Buffer.alloc(0)]));
  assert.equal(byCode.get(0xffee)?.toString(), 'abcd');
  assert.equal(byCode.get(3)?.length, 0, 'empty NSID');
  assert.deepEqual([...byCode.get(8)!], [0, 1, 24, 0, 127, 0, 0], 'ECS 127.0.0.0/24');
});

test('loadbalance: every reply has the whole RRset, in more than one order', async () => {
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    cache 30
    loadbalance round_robin
    forward . ${upstream.address}
  }`);
  const orders = new Set<string>();
  for (let i = 0; i < 40 && orders.size < 2; i++) {
    const r = await queryUdp(d.server, fixtures.headless.name, 'A');
    const ips = answerData<string>(r.packet, 'A');
    assert.deepEqual([...ips].sort(), [...fixtures.headless.ipv4s].sort());
    orders.add(ips.join(','));
  }
  assert.ok(orders.size >= 2, `orders seen: ${[...orders].join(' | ')}`);
  assert.equal(await upstream.queryCount({ name: fixtures.headless.name }), 1, 'shuffled after the cache');
});

test('loadbalance weighted: the heavy address is on top nearly always; prefer puts a subnet first', async () => {
  const weights = join(dir, 'weights');
  const [heavy, ...light] = fixtures.headless.ipv4s;
  writeFileSync(weights, `# weights\n${fixtures.headless.name}\n${heavy} 255\n${light.map((ip) => `${ip} 1`).join('\n')}\n`);
  const weighted = await serve(`cluster.local:0 {
    bind 127.0.0.1
    cache 30
    loadbalance weighted ${weights} {
      reload 0s
    }
    forward . ${upstream.address}
  }`);
  let top = 0;
  for (let i = 0; i < 40; i++) {
    const ips = answerData<string>((await queryUdp(weighted.server, fixtures.headless.name, 'A')).packet, 'A');
    assert.deepEqual([...ips].sort(), [...fixtures.headless.ipv4s].sort());
    if (ips[0] === heavy) top++;
  }
  assert.ok(top >= 30, `heavy address first in ${top} of 40 (expected about 99%)`);
  const last = fixtures.headless.ipv4s[fixtures.headless.ipv4s.length - 1];
  const prefer = await serve(`cluster.local:0 {
    bind 127.0.0.1
    cache 30
    loadbalance round_robin {
      prefer ${last}/32
    }
    forward . ${upstream.address}
  }`);
  for (let i = 0; i < 10; i++) assert.equal(answerData<string>((await queryUdp(prefer.server, fixtures.headless.name, 'A')).packet, 'A')[0], last);
});

test('bufsize: a client advertising 4096 gets replies cut at the configured size', async () => {
  const d = await serve(`cluster.local:0 {
    bind 127.0.0.1
    bufsize 1232
    forward . ${upstream.address}
  }`);
  const big = await queryUdp(d.server, fixtures.mediumTxt.name, 'TXT', { edns: { udpSize: 4096 } });
  assert.equal(big.packet.flags! & FLAG_TC, FLAG_TC);
  assert.ok(big.raw.length <= 1232, `${big.raw.length} bytes`);
  const tcp = await queryTcp(d.server, fixtures.mediumTxt.name, 'TXT', { edns: { udpSize: 4096 } });
  assert.equal(tcp.packet.answers.length, fixtures.mediumTxt.strings.length);
});

test('whoami: the client address and port in the additional section', async () => {
  const d = await serve(`whoami.test:0 {
    bind 127.0.0.1
    whoami
  }`);
  const r = await queryUdp(d.server, 'me.whoami.test', 'A', { edns: { udpSize: 1232 } });
  assert.equal(r.packet.rcode, 'NOERROR');
  assert.equal(r.packet.flags! & FLAG_AA, FLAG_AA);
  assert.deepEqual(answerData(r.packet, 'A', 'additionals'), ['127.0.0.1']);
  const srv = r.packet.additionals.find((a) => a.type === 'SRV');
  assert.equal(srv?.name, '_udp.me.whoami.test');
  assert.ok(((srv?.data as { port: number }).port ?? 0) > 0);
  const tcp = await queryTcp(d.server, 'me.whoami.test', 'A');
  assert.equal(tcp.packet.additionals.find((a) => a.type === 'SRV')?.name, '_tcp.me.whoami.test');
});

test('dns64: AAAA made from A records for IPv6 clients; IPv4 clients only with allow_ipv4; real AAAA untouched', async () => {
  const v4only = fixtures.services.filter((x) => !x.ipv6)[3];
  const dual = fixtures.services.filter((x) => x.ipv6)[2];
  const v6 = await serve(`cluster.local:0 {
    bind ::1
    cache 30
    dns64
    forward . ${upstream.address}
  }`);
  const synth = await queryUdp(v6.server, v4only.name, 'AAAA', { edns: { udpSize: 1232 } });
  const [a, b, c, d] = v4only.ipv4.split('.').map(Number);
  const expected = `64:ff9b::${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  assert.deepEqual(answerData(synth.packet, 'AAAA'), [expected]);
  assert.equal(synth.packet.rcode, 'NOERROR');
  assert.ok(synth.packet.additionals.some((r) => r.type === 'OPT'));
  assert.deepEqual(answerData((await queryTcp(v6.server, dual.name, 'AAAA')).packet, 'AAAA'), [dual.ipv6], 'a real AAAA passes');
  assert.equal((await queryUdp(v6.server, fixtures.nxdomain.name, 'AAAA')).packet.rcode, 'NXDOMAIN');

  const v4 = await serve(`cluster.local:0 {
    bind 127.0.0.1
    dns64 {
      prefix 2001:db8:64::/48
    }
    forward . ${upstream.address}
  }`);
  assert.equal((await queryUdp(v4.server, v4only.name, 'AAAA')).packet.answers.length, 0, 'IPv4 client: not translated');
  const allow = await serve(`cluster.local:0 {
    bind 127.0.0.1
    dns64 {
      prefix 2001:db8:64::/48
      allow_ipv4
    }
    forward . ${upstream.address}
  }`);
  // /48: the IPv4 address fills bytes 6, 7 and (after the zero byte 8) 9, 10.
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  assert.deepEqual(answerData((await queryUdp(allow.server, v4only.name, 'AAAA')).packet, 'AAAA'), [`2001:db8:64:${hex(a)}${hex(b)}:${hex(c)}:${hex(d)}00::`.replace(/:0+([0-9a-f])/g, ':$1')]);
});

test('the official nodelocaldns Corefile with every node-cache plugin added starts and serves', async () => {
  // The ConfigMap the DaemonSet mounts (deploy/configmap.yaml), placeholders filled as at deploy time and by the daemon.
  const configMap = parseYaml(readFileSync(new URL('../../deploy/configmap.yaml', import.meta.url), 'utf8')) as { data: { Corefile: string } };
  const official = configMap.data.Corefile.replaceAll('__PILLAR__DNS__DOMAIN__', 'cluster.local')
    .replaceAll(':53 {', ':0 {')
    .replaceAll('bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__', 'bind 127.0.0.1')
    .replaceAll('__PILLAR__CLUSTER__DNS__', upstream.address)
    .replaceAll('__PILLAR__UPSTREAM__SERVERS__', upstream.address)
    .replace('health __PILLAR__LOCAL__DNS__:8080', 'health 127.0.0.1:0')
    .replaceAll('prometheus :9253', 'prometheus 127.0.0.1:0');
  assert.doesNotMatch(official, /__PILLAR__/);
  const extra = `
    bufsize 1232
    debug
    dns64
    dnstap ${join(dir, 'tap.sock')} full
    metadata
    timeouts {
      idle 30s
    }
    pprof 127.0.0.1:0
    trace zipkin 127.0.0.1:9411
    loadbalance
    rewrite name exact alias.cluster.local. ${fixtures.kubernetes.name}.
    template ANY AAAA {
      rcode NOERROR
    }
    hosts {
      10.0.0.99 node-host.cluster.local
      fallthrough
    }
    whoami
  `;
  const corefile = official.replace('cluster.local:0 {', `cluster.local:0 {${extra}`);
  const loaded = loadCorefile(corefile, 'Corefile');
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.issues.map(formatIssue).join('\n'));
  assert.deepEqual([...new Set(loaded.config.ignored.map((i) => i.plugin))].sort(), ['debug']);
  const d = await startDaemon(loaded.config);
  daemons.push(d);
  const first = d.daemon.listeners().find((l) => d.daemon.blockRuntimes()[0].config.port === l.configuredPort) ?? d.daemon.listeners()[0];
  const server = { host: '127.0.0.1', port: first.udp.port };
  assert.deepEqual(answerData((await queryUdp(server, 'alias.cluster.local', 'A')).packet, 'A'), [fixtures.kubernetes.ipv4]);
  assert.deepEqual(answerData((await queryUdp(server, 'node-host.cluster.local', 'A')).packet, 'A'), ['10.0.0.99']);
  const aaaa = await queryUdp(server, svc().name, 'AAAA');
  assert.equal(aaaa.packet.answers.length, 0);
  assert.deepEqual(answerData((await queryUdp(server, fixtures.headless.name, 'A')).packet, 'A').sort(), [...fixtures.headless.ipv4s].sort());
});
