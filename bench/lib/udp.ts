// A small UDP DNS client for warm-up, readiness probes and cache filling: hand-encoded queries,
// one socket, bounded concurrency, per-query timeout and retries. Loopback only.
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

export const QTYPE: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33 };
export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** Wire-format query with RD set and no EDNS. */
export function encodeQuery(id: number, name: string, type: string | number = 'A'): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qlen = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l), 1);
  const buf = Buffer.alloc(12 + qlen + 4);
  buf.writeUInt16BE(id & 0xffff, 0);
  buf.writeUInt16BE(0x0100, 2); // RD
  buf.writeUInt16BE(1, 4); // QDCOUNT
  let o = 12;
  for (const l of labels) {
    const n = buf.write(l, o + 1);
    buf[o] = n;
    o += n + 1;
  }
  buf[o++] = 0;
  buf.writeUInt16BE(typeof type === 'number' ? type : (QTYPE[type] ?? 1), o);
  buf.writeUInt16BE(1, o + 2);
  return buf;
}

export interface Question {
  name: string;
  type?: string;
}

export interface BatchResult {
  answered: number;
  timedOut: number;
  rcodes: Record<string, number>;
  elapsedMs: number;
}

export interface BatchOptions {
  /** Queries in flight at once (default 100). */
  concurrency?: number;
  /** Per-attempt timeout (default 1000 ms). */
  timeoutMs?: number;
  /** Attempts per query (default 3). */
  attempts?: number;
  /** Hard limit for the whole batch (default 120 s). */
  deadlineMs?: number;
}

/** Sends every question once (retrying timeouts), at most `concurrency` at a time. */
export async function queryBatch(port: number, questions: Question[], opts: BatchOptions = {}): Promise<BatchResult> {
  const concurrency = opts.concurrency ?? 100;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const attempts = opts.attempts ?? 3;
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const started = Date.now();
  const result: BatchResult = { answered: 0, timedOut: 0, rcodes: {}, elapsedMs: 0 };
  type Pending = { index: number; attempt: number; timer: NodeJS.Timeout };
  const pending = new Map<number, Pending>();
  let nextIndex = 0;
  let nextId = 1;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const allocId = () => {
    for (let i = 0; i < 65536; i++) {
      nextId = (nextId + 1) & 0xffff;
      if (!pending.has(nextId)) return nextId;
    }
    throw new Error('no free query id');
  };
  const send = (index: number, attempt: number) => {
    const id = allocId();
    const q = questions[index]!;
    const timer = setTimeout(() => {
      pending.delete(id);
      if (attempt + 1 < attempts && Date.now() < deadline) send(index, attempt + 1);
      else {
        result.timedOut++;
        pump();
      }
    }, timeoutMs);
    pending.set(id, { index, attempt, timer });
    sock.send(encodeQuery(id, q.name, q.type ?? 'A'), port, '127.0.0.1');
  };
  const pump = () => {
    while (pending.size < concurrency && nextIndex < questions.length && Date.now() < deadline) send(nextIndex++, 0);
    if (pending.size === 0) finish();
  };
  sock.on('message', (msg) => {
    if (msg.length < 12) return;
    const p = pending.get(msg.readUInt16BE(0));
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(msg.readUInt16BE(0));
    result.answered++;
    const rcode = RCODES[msg[3]! & 0x0f] ?? String(msg[3]! & 0x0f);
    result.rcodes[rcode] = (result.rcodes[rcode] ?? 0) + 1;
    pump();
  });
  pump();
  await done;
  for (const p of pending.values()) clearTimeout(p.timer);
  sock.close();
  result.elapsedMs = Date.now() - started;
  return result;
}

/** Polls until the server answers anything for `name` (bounded). */
export async function waitAnswering(port: number, name: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('process exited before answering');
    const r = await queryBatch(port, [{ name }], { timeoutMs: 200, attempts: 1, concurrency: 1, deadlineMs: 1000 });
    if (r.answered === 1) return;
    await sleep(100);
  }
  throw new Error(`no answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
