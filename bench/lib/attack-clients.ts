// Client-side pieces of bench/attacks.ts that the test harness does not already have: datagrams
// from source port 0 (test/harness/raw-udp.py), whether a connection the attacker never reads
// from is still open (ss), and a working set of cached names asked over UDP in rounds. The TCP
// attackers themselves are test/harness/tcp-abuse.ts. Loopback only; every loop bounded.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerData, queryUdp, type DnsServer } from '../../test/harness/dns-client.js';
import { ROOT } from './servers.js';

const RAW_UDP = path.join(ROOT, 'test/harness/raw-udp.py');

/** Sends `count` copies of `payload` from 127.0.0.1 source port 0 (raw socket; needs root). */
export function sendFromPortZero(port: number, payload: Buffer, count: number): void {
  const r = spawnSync('python3', [RAW_UDP, '127.0.0.1', '0', '127.0.0.1', String(port), payload.toString('hex'), String(count)], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`raw-udp.py failed (${r.status}): ${r.stderr}`);
}

/**
 * True while our connection from `localPort` to `serverPort` is ESTABLISHED. A client that reads
 * nothing never sees the server's FIN or RST in Node, but its kernel does (CLOSE-WAIT or gone).
 */
export function stillEstablished(localPort: number, serverPort: number): boolean {
  const r = spawnSync('ss', ['-tnH', 'state', 'established', `( sport = :${localPort} and dport = :${serverPort} )`], { encoding: 'utf8' });
  return r.stdout.trim().length > 0;
}

export interface WorkingSetStats {
  asked: number;
  /** NOERROR with the right address and a TTL above 0. */
  fresh: number;
  /** NOERROR with TTL 0: served stale (CoreDNS serve_stale). */
  stale: number;
  /** Other rcodes (REFUSED, SERVFAIL, ...), and LOST for no reply in time. */
  failures: Record<string, number>;
  /** NOERROR with another address. */
  wrong: number;
  latenciesMs: number[];
}

/**
 * Asks every name of `names` over UDP (its own socket per query, as a stub resolver), in rounds
 * `everyMs` apart, until `untilMs` (performance.now()) and at most `maxRounds` rounds.
 */
export async function askWorkingSet(server: DnsServer, names: { name: string; ipv4: string }[], o: { untilMs: number; everyMs: number; timeoutMs: number; maxRounds: number }): Promise<WorkingSetStats> {
  const out: WorkingSetStats = { asked: 0, fresh: 0, stale: 0, failures: {}, wrong: 0, latenciesMs: [] };
  const fail = (why: string) => (out.failures[why] = (out.failures[why] ?? 0) + 1);
  const rounds: Promise<void>[] = [];
  for (let round = 0; round < o.maxRounds && performance.now() < o.untilMs; round++) {
    rounds.push(
      ...names.map(async ({ name, ipv4 }) => {
        out.asked++;
        const started = performance.now();
        try {
          const r = await queryUdp(server, name, 'A', { timeoutMs: o.timeoutMs });
          if (r.packet.rcode !== 'NOERROR') return void fail(r.packet.rcode);
          if (answerData<string>(r.packet, 'A')[0] !== ipv4) return void out.wrong++;
          out.latenciesMs.push(performance.now() - started);
          if (r.packet.answers[0]?.ttl === 0) out.stale++;
          else out.fresh++;
        } catch {
          fail('LOST');
        }
      }),
    );
    await sleep(o.everyMs);
  }
  await Promise.all(rounds);
  return out;
}

/** A dnsperf data file: one `name A` line per name. */
export function writeDataFile(file: string, names: Iterable<string>): string {
  const lines: string[] = [];
  for (const n of names) lines.push(`${n} A`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
}
