// Forwarding-loop detection, like CoreDNS's `loop` plugin: at start, for each block with `loop`,
// send a HINFO query for a random name under its zone to our own listener. The query misses the
// cache and is forwarded; if it arrives at our listener a second time, the forward path leads back
// to us (e.g. the node's resolv.conf points at a local stub such as 127.0.0.53 that forwards to
// us). The caller then tears down and exits with an error naming the upstreams.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { encodeName } from '../dns/names.js';
import { encodeQuery } from '../dns/question.js';
import { TYPE } from '../dns/constants.js';
import { parseQuery } from '../dns/query.js';

export interface LoopProbeTarget {
  readonly zone: string; // "cluster.local." or "."
  readonly host: string; // our own listener for that zone
  readonly port: number;
  readonly upstreams: readonly string[]; // ip:port labels, for the error message
}

export interface LoopFinding {
  readonly zone: string;
  readonly listener: string;
  readonly upstreams: readonly string[];
  readonly message: string;
}

/** Counts arrivals of probe names; the pipeline calls note() for HINFO queries while probes run. */
export class LoopProbeRegistry {
  private readonly arrivals = new Map<string, number>();

  get active(): boolean {
    return this.arrivals.size > 0;
  }

  expect(key: string): void {
    this.arrivals.set(key, 0);
  }

  note(key: string): void {
    const n = this.arrivals.get(key);
    if (n !== undefined) this.arrivals.set(key, n + 1);
  }

  count(key: string): number {
    return this.arrivals.get(key) ?? 0;
  }

  forget(key: string): void {
    this.arrivals.delete(key);
  }
}

function probeName(zone: string): string {
  const label = () => randomBytes(6).toString('hex');
  return zone === '.' ? `${label()}.${label()}.` : `${label()}.${label()}.${zone}`;
}

/** Sends one probe and waits up to `waitMs` (or until the reply); returns a finding on a loop. */
export async function probeForLoop(target: LoopProbeTarget, registry: LoopProbeRegistry, waitMs: number): Promise<LoopFinding | null> {
  const name = encodeName(probeName(target.zone));
  if (!name.ok) return null; // a zone too long to take two more labels: nothing to probe with
  const query = encodeQuery({ id: randomBytes(2).readUInt16BE(0), name: name.wire, qtype: TYPE.HINFO });
  const parsed = parseQuery(query);
  if (!parsed.ok) return null;
  const key = parsed.query.key;
  registry.expect(key);
  const socket = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      socket.on('message', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.send(query, target.port, target.host);
    });
    // Our own probe arrives once; any further arrival came back through the forward path.
    const arrivals = registry.count(key);
    if (arrivals < 2) return null;
    const listener = isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    return {
      zone: target.zone,
      listener,
      upstreams: target.upstreams,
      message:
        `Loop (${listener} -> ${target.upstreams.join(', ')}) detected for zone "${target.zone}": a query forwarded upstream came back to us ` +
        `${arrivals - 1} time(s). The upstream forwards to this node cache, e.g. the node's /etc/resolv.conf points at a local stub ` +
        `resolver (127.0.0.53) or at this cache's own address. Point the forward targets at real resolvers.`,
    };
  } finally {
    registry.forget(key);
    socket.close();
  }
}
