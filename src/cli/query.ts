// `node-local-dns query [@SERVER] [-p PORT] [+tcp] NAME [TYPE]`: one lookup against one server,
// printed like dig's answer section. The image ships no dig; this lets an operator ask the node
// cache (or kube-dns-upstream) directly from `kubectl exec`. Uses dns2 for encoding and decoding:
// this is not the hot path.
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import dns2 from 'dns2';

const { Packet } = dns2;

interface QueryArgs {
  server: string;
  port: number;
  tcp: boolean;
  name: string;
  type: string;
  timeoutMs: number;
}

const USAGE = 'usage: node-local-dns query [@SERVER] [-p PORT] [+tcp] [+timeout=MS] NAME [TYPE]   (default @127.0.0.1 -p 53, type A)';

export function parseQueryArgs(argv: readonly string[]): { ok: true; args: QueryArgs } | { ok: false; error: string } {
  const args: QueryArgs = { server: '127.0.0.1', port: 53, tcp: false, name: '', type: 'A', timeoutMs: 3000 };
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('@')) args.server = a.slice(1);
    else if (a === '-p') args.port = Number(argv[++i]);
    else if (a === '+tcp') args.tcp = true;
    else if (a.startsWith('+timeout=')) args.timeoutMs = Number(a.slice(9));
    else if (a.startsWith('-')) return { ok: false, error: `unknown option ${a}\n${USAGE}` };
    else words.push(a);
  }
  if (isIP(args.server) === 0) return { ok: false, error: `server must be an IP address, got ${JSON.stringify(args.server)}` };
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) return { ok: false, error: `-p must be a port 1-65535` };
  if (!Number.isFinite(args.timeoutMs) || args.timeoutMs <= 0) return { ok: false, error: '+timeout must be > 0 ms' };
  if (words.length < 1 || words.length > 2) return { ok: false, error: USAGE };
  args.name = words[0];
  if (words[1]) args.type = words[1].toUpperCase();
  if (!(args.type in Packet.TYPE)) return { ok: false, error: `unknown type ${words[1]}; one of ${Object.keys(Packet.TYPE).join(' ')}` };
  return { ok: true, args };
}

function encode(args: QueryArgs): Buffer {
  const packet = new Packet();
  packet.header.id = randomInt(65536);
  packet.header.rd = 1;
  const question = { name: args.name.replace(/\.$/, ''), type: Packet.TYPE[args.type as keyof typeof Packet.TYPE], class: Packet.CLASS.IN };
  packet.questions.push(question as unknown as (typeof packet.questions)[number]);
  return packet.toBuffer();
}

function exchange(args: QueryArgs, query: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no reply from ${args.server}:${args.port} in ${args.timeoutMs} ms`));
    }, args.timeoutMs);
    let cleanup = () => clearTimeout(timer);
    if (args.tcp) {
      const socket = connect({ host: args.server, port: args.port });
      let data = Buffer.alloc(0);
      cleanup = () => {
        clearTimeout(timer);
        socket.destroy();
      };
      socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query])));
      socket.on('data', (chunk) => {
        data = Buffer.concat([data, chunk]);
        if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
          cleanup();
          resolve(data.subarray(2, 2 + data.readUInt16BE(0)));
        }
      });
      socket.on('error', (err) => {
        cleanup();
        reject(err);
      });
      return;
    }
    const socket = createSocket(isIP(args.server) === 6 ? 'udp6' : 'udp4');
    cleanup = () => {
      clearTimeout(timer);
      socket.close();
    };
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) {
        cleanup();
        resolve(msg);
      }
    });
    socket.on('error', (err) => {
      cleanup();
      reject(err);
    });
    socket.send(query, args.port, args.server);
  });
}

const TYPE_NAMES = Object.fromEntries(Object.entries(Packet.TYPE).map(([k, v]) => [v, k])) as Record<number, string>;
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

function rdataText(rr: Record<string, unknown>): string {
  for (const key of ['address', 'domain', 'ns', 'exchange', 'data', 'target']) {
    if (rr[key] !== undefined) {
      const v = rr[key];
      if (key === 'target') return `${rr.priority} ${rr.weight} ${rr.port} ${v}`;
      return Array.isArray(v) ? v.map((x) => JSON.stringify(String(x))).join(' ') : String(v);
    }
  }
  if (rr.primary !== undefined) return `${rr.primary} ${rr.admin} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expiration} ${rr.minimum}`;
  return '';
}

/** Formats a reply the way dig's answer/authority sections read. */
export function formatReply(reply: Buffer, args: QueryArgs, ms: number): string {
  const p = Packet.parse(reply);
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((f) => (p.header as unknown as Record<string, number>)[f]).join(' ');
  const lines = [`;; ${RCODES[p.header.rcode] ?? p.header.rcode}, id ${p.header.id}, flags: ${flags}; ${args.tcp ? 'tcp' : 'udp'} ${args.server}#${args.port} in ${ms.toFixed(1)} ms`];
  const section = (title: string, rrs: Record<string, unknown>[]) => {
    if (rrs.length === 0) return;
    lines.push(`;; ${title}`);
    for (const rr of rrs) lines.push(`${rr.name}.\t${rr.ttl}\tIN\t${TYPE_NAMES[rr.type as number] ?? rr.type}\t${rdataText(rr)}`);
  };
  section('ANSWER', p.answers as unknown as Record<string, unknown>[]);
  section('AUTHORITY', p.authorities as unknown as Record<string, unknown>[]);
  return `${lines.join('\n')}\n`;
}

export async function runQuery(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const parsed = parseQueryArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.error}\n`);
    return 2;
  }
  const started = performance.now();
  try {
    const reply = await exchange(parsed.args, encode(parsed.args));
    out.write(formatReply(reply, parsed.args, performance.now() - started));
    return 0;
  } catch (err) {
    process.stderr.write(`query failed: ${(err as Error).message}\n`);
    return 1;
  }
}
