// Asks a DNS address which node-local-dns instances answer it, with the instance check of
// server/chaos.ts: a CH TXT query for `<random nonce>.instance-check.node-local-dns.`, sent from
// several source ports so that SO_REUSEPORT spreads the probes over every socket bound there. Only
// a reply in our own format counts: from the address probed, our ID, our question, NOERROR, and a
// TXT answer carrying the marker and the value derived from this probe's nonce. Anything else (a
// stray server answering NOERROR or garbage) is counted as rejected and otherwise ignored.
// Used on shutdown (node-setup.ts): if another instance that is serving answers, it took over and
// the shared rules and addresses stay.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { buildQuery } from '../dns/reply.js';
import { skipName } from '../dns/query.js';
import { HEADER_SIZE, TYPE } from '../dns/constants.js';
import { CHECK_MARKER, CHECK_SUFFIX, INSTANCE_TOKEN, NONCE_CHARS, instanceProof, type InstanceState } from '../util/instance-identity.js';
import { CLASS_CH } from '../dns/constants.js';

export interface InstanceAnswer {
  readonly token: string;
  readonly state: InstanceState;
}

export interface ProbeResult {
  readonly answers: InstanceAnswer[];
  /** Replies that were not in our format (wrong source, ID, question, rcode, marker or proof). */
  readonly rejected: number;
  /** Probes nothing valid answered within the timeout. */
  readonly unanswered: number;
}

/** The instance-check query for `nonce` (no RD: nothing should recurse for it). */
export function instanceCheckQuery(nonce: string, id: number): Buffer {
  const query = buildQuery(`${nonce}.${CHECK_SUFFIX}`, TYPE.TXT, id, false);
  query.writeUInt16BE(CLASS_CH, query.length - 2);
  return query;
}

/** The instance named by `reply` if it is a valid answer to `sent` (built for `nonce`), else null. */
export function readInstanceCheckReply(reply: Buffer, sent: Buffer, nonce: string): InstanceAnswer | null {
  const questionEnd = sent.length;
  if (reply.length <= questionEnd + 10 || reply.readUInt16BE(0) !== sent.readUInt16BE(0)) return null;
  if ((reply[2] & 0x80) === 0 || (reply[2] & 0x78) !== 0 || (reply[3] & 0x0f) !== 0) return null; // QR, QUERY, NOERROR
  if (reply.readUInt16BE(4) !== 1 || reply.readUInt16BE(6) < 1) return null;
  // The question, compared case-insensitively (a server may randomize case, RFC 4343).
  if (reply.toString('latin1', HEADER_SIZE, questionEnd).toLowerCase() !== sent.toString('latin1', HEADER_SIZE, questionEnd)) return null;
  const want = `${CHECK_MARKER} ${instanceProof(nonce)} `;
  let pos = questionEnd;
  for (let i = 0; i < reply.readUInt16BE(6); i++) {
    pos = skipName(reply, pos);
    if (pos < 0 || pos + 10 > reply.length) return null;
    const type = reply.readUInt16BE(pos);
    const rrClass = reply.readUInt16BE(pos + 2);
    const rdLength = reply.readUInt16BE(pos + 8);
    const rdata = pos + 10;
    pos = rdata + rdLength;
    if (pos > reply.length) return null;
    if (type !== TYPE.TXT || rrClass !== CLASS_CH || rdLength < 1) continue;
    const text = reply.toString('latin1', rdata + 1, Math.min(pos, rdata + 1 + reply[rdata]));
    if (!text.startsWith(want)) continue;
    const [token, state] = text.slice(want.length).split(' ');
    if (token && /^[0-9a-f]{16}$/.test(token) && (state === 'serving' || state === 'stopping')) return { token, state };
  }
  return null;
}

/** One probe per socket, `probes` sockets at once; each waits up to `timeoutMs` for a valid reply. */
export async function probeInstances(host: string, port: number, probes = 8, timeoutMs = 300): Promise<ProbeResult> {
  const answers: InstanceAnswer[] = [];
  let rejected = 0;
  let unanswered = 0;
  const family = isIP(host) === 6 ? 'udp6' : 'udp4';
  const sameAddress = (rinfo: RemoteInfo) => rinfo.port === port && rinfo.address.replace(/^::ffff:/, '') === host.replace(/^::ffff:/, '');
  await Promise.all(
    Array.from(
      { length: probes },
      () =>
        new Promise<void>((resolve) => {
          const nonce = randomBytes(NONCE_CHARS / 2).toString('hex');
          const sent = instanceCheckQuery(nonce, randomInt(0x10000));
          const socket = createSocket(family);
          let finished = false;
          const done = (answer: InstanceAnswer | null) => {
            if (finished) return;
            finished = true;
            clearTimeout(timer);
            socket.close();
            if (answer) answers.push(answer);
            else unanswered++;
            resolve();
          };
          const timer = setTimeout(() => done(null), timeoutMs);
          socket.on('error', () => done(null));
          socket.on('message', (msg, rinfo) => {
            const answer = sameAddress(rinfo) ? readInstanceCheckReply(msg, sent, nonce) : null;
            if (answer) done(answer);
            else rejected++; // keep waiting: a stray reply must not hide a valid one
          });
          socket.send(sent, port, host, (err) => {
            if (err) done(null);
          });
        }),
    ),
  );
  return { answers, rejected, unanswered };
}

/** Tokens of the instances seen answering `host:port` (debugging, tests). */
export async function instancesAnswering(host: string, port: number, probes = 8, timeoutMs = 300): Promise<Set<string>> {
  const { answers } = await probeInstances(host, port, probes, timeoutMs);
  return new Set(answers.map((a) => a.token));
}

export interface OtherInstanceCheck {
  /** Token of another instance that answered as serving, or null. */
  readonly other: string | null;
  readonly rounds: number;
  /** Probes answered by this instance (it still serves while it checks), other stopping instances, rejected replies, silence. */
  readonly self: number;
  readonly stopping: number;
  readonly rejected: number;
  readonly unanswered: number;
}

/**
 * Whether an instance other than this one (`selfToken`) serves `host:port`. This instance keeps
 * serving while it asks (node-cache's order: rules go while the listeners still answer, so the
 * node's DNS never goes silent); its own answers are recognized by its token and do not count, nor
 * do instances that are stopping too. Probes again, up to `rounds` rounds, until another serving
 * instance answers; with SO_REUSEPORT each probe reaches one socket at random, so with two
 * instances every probe of 3 x 8 landing on this one has a chance of 2^-24.
 */
export async function findOtherInstance(host: string, port: number, opts: { rounds?: number; probes?: number; timeoutMs?: number; selfToken?: string } = {}): Promise<OtherInstanceCheck> {
  const rounds = opts.rounds ?? 3;
  const selfToken = opts.selfToken ?? INSTANCE_TOKEN;
  let self = 0;
  let stopping = 0;
  let rejected = 0;
  let unanswered = 0;
  for (let round = 1; round <= rounds; round++) {
    const result = await probeInstances(host, port, opts.probes ?? 8, opts.timeoutMs ?? 250);
    rejected += result.rejected;
    unanswered += result.unanswered;
    for (const a of result.answers) {
      if (a.token === selfToken) self++;
      else if (a.state === 'stopping') stopping++;
      else return { other: a.token, rounds: round, self, stopping, rejected, unanswered };
    }
  }
  return { other: null, rounds, self, stopping, rejected, unanswered };
}
