// The ceiling for any Node.js DNS server: one UDP socket that answers every query with a copy of
// one prepared reply (an A answer for svc-0.default.svc.cluster.local) with the query's ID
// patched in. No parsing, no lookup, no metrics. The bench compiles this file to plain JS with
// esbuild and runs it with `node` (no loader), pinned to the server core like the others.
//
// Usage: node bare-responder.js --port PORT [--host 127.0.0.1]
import dgram from 'node:dgram';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function preparedReply(): Buffer {
  const name = 'svc-0.default.svc.cluster.local';
  const labels = name.split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.from([0, 0, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]); // QR AA RD, 1 question, 1 answer
  const question = Buffer.concat([qname, Buffer.from([0, 1, 0, 1])]);
  // name pointer to offset 12, A IN, TTL 30, rdlength 4, 10.96.1.1
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 1, 1]);
  return Buffer.concat([header, question, answer]);
}

const reply = preparedReply();
const port = Number(arg('port', '0'));
const host = arg('host', '127.0.0.1');
const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });

sock.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  const out = Buffer.allocUnsafe(reply.length);
  reply.copy(out);
  out[0] = msg[0]!;
  out[1] = msg[1]!;
  sock.send(out, rinfo.port, rinfo.address);
});
sock.on('error', (err) => {
  console.error(`bare-responder: ${err.message}`);
  process.exit(1);
});
sock.bind(port, host, () => {
  console.log(`bare-responder listening on ${host}:${sock.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
