// RSS of the daemon (the bundle, image flags) before, during and after load, to see what memory
// comes back once the load stops: a UDP cache-hit flood (dnsperf at full speed), a flood of
// never-seen names (misses that fill the cache), and the TCP client that pipelines and never reads.
// Usage: node --import tsx bench/rss-after-load.ts   (about 2 min; NLD_BUNDLE for another build)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream } from '../test/harness/upstream.js';
import { fixtures } from '../test/harness/zone.js';
import { startDaemonProcess, type DaemonProcess } from '../test/harness/daemon-process.js';
import { buildQuery, queryTcp } from '../test/harness/dns-client.js';
import { nonReadingPipeliner } from '../test/harness/tcp-abuse.js';
import { runDnsperf } from './lib/dnsperf.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'nld-rss-'));
const hits = join(dir, 'hits.txt');
const misses = join(dir, 'misses.txt');
writeFileSync(hits, fixtures.services.slice(0, 500).map((s) => `${s.name} A\n`).join(''));
writeFileSync(misses, Array.from({ length: 30_000 }, (_, i) => `r${i}-${process.pid}${fixtures.wildcard.suffix} A\n`).join(''));
const upstream = await startUpstream({ kind: 'bind', queryLog: false });

async function settle(d: DaemonProcess, label: string, rows: string[], peak: number, before: number): Promise<void> {
  const after: number[] = [];
  for (const wait of [1000, 9000, 20_000]) {
    await sleep(wait);
    after.push(d.memory().rssMiB);
  }
  rows.push(`| ${label} | ${before.toFixed(0)} | ${peak.toFixed(0)} | ${after.map((x) => x.toFixed(0)).join(' / ')} |`);
  console.error(rows.at(-1));
}

const rows: string[] = [];
const d = await startDaemonProcess({ dir, name: 'rss', upstream: upstream.address, nodeArgs: ['--max-semi-space-size=1'] });
try {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, d.memory().rssMiB)), 100);
  const start = d.memory().rssMiB;
  await runDnsperf({ port: d.port, dataFile: hits, seconds: 8, maxRuns: 1000, outstanding: 2000, cpu: '0' });
  await settle(d, 'UDP cache hits, full speed 8 s', rows, peak, start);
  peak = 0;
  let before = d.memory().rssMiB;
  await runDnsperf({ port: d.port, dataFile: misses, seconds: 8, maxRuns: 1, outstanding: 2000, rate: 5000, cpu: '0' });
  await settle(d, 'never-seen names, 5k qps 8 s (fills the cache)', rows, peak, before);
  peak = 0;
  before = d.memory().rssMiB;
  await queryTcp({ host: '127.0.0.1', port: d.port }, fixtures.bigTxt.name, 'TXT');
  const attacker = await nonReadingPipeliner({ host: '127.0.0.1', port: d.port }, buildQuery(fixtures.bigTxt.name, 'TXT').wire, 1_000_000);
  await sleep(8000);
  attacker.socket.destroy();
  await settle(d, 'TCP client pipelining 1 MB, never reading', rows, peak, before);
  peak = 0;
  before = d.memory().rssMiB;
  await runDnsperf({ port: d.port, dataFile: hits, seconds: 8, maxRuns: 1000, outstanding: 2000, cpu: '0' });
  await settle(d, 'UDP cache hits again (is the retained memory reused?)', rows, peak, before);
  clearInterval(sampler);
} finally {
  await d.stop();
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`node ${process.version}, --max-semi-space-size=1; RSS in MiB\n`);
console.log('| load | before | peak | 1 s / 10 s / 30 s after |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(r);
