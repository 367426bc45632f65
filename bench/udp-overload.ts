// Latency and loss of cache hits when the offered UDP load exceeds what the daemon can serve,
// for several receive-buffer sizes. Every queued datagram costs about 832 bytes of receive buffer
// on loopback (skb truesize), so the buffer decides how long a query can wait before it is read:
// with 8 MiB about 10,000 queries queue up, and under overload each answered one waited for all of
// them. dnsperf runs open loop (-Q above capacity, outstanding up to 100,000), pinned to core 0,
// the daemon (the bundle, image flags) to core 1; answered latencies come from dnsperf -v.
//
// Usage: node --import tsx bench/udp-overload.ts [bufferBytes...]   (default 8388608 1048576 262144)
// Env: OVERLOAD_SECONDS (default 8), OVERLOAD_FACTOR (offered / measured capacity, default 1.5),
//      NLD_BUNDLE (another build). About 15 s per buffer size. Loopback only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream } from '../test/harness/upstream.js';
import { fixtures } from '../test/harness/zone.js';
import { startDaemonProcess } from '../test/harness/daemon-process.js';
import { runDnsperf } from './lib/dnsperf.js';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const buffers = sizes.length > 0 ? sizes : [8 << 20, 1 << 20, 256 << 10];
const seconds = Number(process.env.OVERLOAD_SECONDS ?? 8);
const factor = Number(process.env.OVERLOAD_FACTOR ?? 1.5);

const dir = mkdtempSync(join(tmpdir(), 'nld-overload-'));
const dataFile = join(dir, 'names.txt');
writeFileSync(dataFile, fixtures.services.slice(0, 500).map((s) => `${s.name} A\n`).join(''));
const upstream = await startUpstream({ kind: 'bind', queryLog: false });
const rows: string[] = [];
try {
  for (const bytes of buffers) {
    const d = await startDaemonProcess({ dir, name: `rcvbuf-${bytes}`, upstream: upstream.address, top: `udp: { receiveBuffer: ${bytes} }`, nodeArgs: ['--max-semi-space-size=1'] });
    try {
      spawnSync('taskset', ['-a', '-p', '-c', '1', String(d.child.pid)]);
      await runDnsperf({ port: d.port, dataFile, seconds: 2, maxRuns: 1, rate: 5000, cpu: '0' }); // warm the cache
      const capacity = await runDnsperf({ port: d.port, dataFile, seconds: 3, maxRuns: 1000, outstanding: 500, cpu: '0' });
      const rate = Math.round(capacity.qps * factor);
      const flood = await runDnsperf({ port: d.port, dataFile, seconds, maxRuns: 100_000, rate, outstanding: 100_000, timeoutS: 2, percentiles: true, cpu: '0' });
      const lossPct = (100 * flood.lost) / flood.sent;
      rows.push(
        `| ${bytes.toLocaleString('en-US')} | ${Math.round(capacity.qps).toLocaleString('en-US')} | ${rate.toLocaleString('en-US')} | ${Math.round(flood.qps).toLocaleString('en-US')} | ${lossPct.toFixed(1)}% | ${flood.p50Ms?.toFixed(1)} | ${flood.p99Ms?.toFixed(1)} | ${d.memory().peakMiB.toFixed(0)} |`,
      );
      console.error(rows.at(-1));
    } finally {
      await d.stop();
    }
  }
} finally {
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`node ${process.version}, ${seconds} s at ${factor}x the measured capacity (cache hits, UDP)\n`);
console.log('| receiveBuffer (bytes asked) | capacity qps | offered qps | answered qps | lost | p50 ms | p99 ms | peak RSS MiB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
