// Restart without a gap (works on Node 20, where SO_REUSEPORT is not available to JS): on SIGUSR2
// the running process starts its successor with an IPC channel and passes it every DNS listening
// socket. The successor serves on the inherited sockets, then says "ready"; the old process stops
// reading, answers what it already has in flight, and exits without tearing down rules or
// addresses. No socket is ever closed while nobody reads it, so no query is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import type { Server as TcpServer, Socket as TcpSocket } from 'node:net';

export const HANDOVER_ENV = 'NLD_HANDOVER';

export interface InheritedListener {
  udp?: UdpSocket;
  tcp?: TcpServer;
  /** Datagrams that arrived on the inherited socket before a listener adopted it (replayed then). */
  udpBacklog?: [Buffer, RemoteInfo][];
  /** Removes the buffering handler; called by the adopting listener. */
  stopBuffering?: () => void;
  /** Connections accepted on the inherited server before it was adopted. */
  tcpBacklog?: TcpSocket[];
  stopBufferingTcp?: () => void;
}

type HandoverMessage =
  | { type: 'listener'; key: string; proto: 'udp' | 'tcp' }
  | { type: 'cache'; data: string } // cache snapshot (cache/snapshot.ts), base64
  | { type: 'done'; count: number }
  | { type: 'ready' }
  | { type: 'failed'; error: string };

let inheritedCache: Buffer | null = null;

/** In the successor, after receiveListeners(): the predecessor's cache snapshot (once), or null. */
export function takeInheritedCacheSnapshot(): Buffer | null {
  const data = inheritedCache;
  inheritedCache = null;
  return data;
}

/** True in a process started by handOverTo(). */
export const isSuccessor = (): boolean => process.env[HANDOVER_ENV] === '1' && typeof process.send === 'function';

/**
 * In the successor: collects the sockets the predecessor sends (keyed "host|port"). Resolves
 * after its "done" message, or with what arrived by `timeoutMs`.
 */
export function receiveListeners(timeoutMs = 5000): Promise<Map<string, InheritedListener>> {
  const inherited = new Map<string, InheritedListener>();
  return new Promise((resolve) => {
    let expected = -1;
    let received = 0;
    const finish = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(inherited);
    };
    const timer = setTimeout(finish, timeoutMs);
    const onMessage = (msg: HandoverMessage, handle: unknown) => {
      if (msg?.type === 'listener' && handle) {
        const entry = inherited.get(msg.key) ?? {};
        if (msg.proto === 'udp') {
          // The socket reads from the moment it arrives; keep what it reads until it is adopted,
          // or those queries would be dropped (nobody listening for 'message' yet).
          const udp = handle as UdpSocket;
          const backlog: [Buffer, RemoteInfo][] = [];
          const buffer = (m: Buffer, r: RemoteInfo) => {
            if (backlog.length < 10_000) backlog.push([m, r]);
          };
          udp.on('message', buffer);
          entry.udp = udp;
          entry.udpBacklog = backlog;
          entry.stopBuffering = () => udp.off('message', buffer);
        } else {
          const tcp = handle as TcpServer;
          const backlog: TcpSocket[] = [];
          const buffer = (socket: TcpSocket) => backlog.push(socket);
          tcp.on('connection', buffer);
          entry.tcp = tcp;
          entry.tcpBacklog = backlog;
          entry.stopBufferingTcp = () => tcp.off('connection', buffer);
        }
        inherited.set(msg.key, entry);
        received++;
      } else if (msg?.type === 'cache' && typeof msg.data === 'string') inheritedCache = Buffer.from(msg.data, 'base64');
      else if (msg?.type === 'done') expected = msg.count;
      if (expected >= 0 && received >= expected) finish();
    };
    process.on('message', onMessage);
  });
}

/** In the successor: tells the predecessor the inherited sockets are being served. */
export function announceReady(): void {
  process.send?.({ type: 'ready' } satisfies HandoverMessage);
}

export function announceFailure(error: string): void {
  process.send?.({ type: 'failed', error } satisfies HandoverMessage);
}

/**
 * In the running process: starts the successor (same node, same arguments) and passes it the
 * listeners and the cache snapshot (so it starts warm). Resolves when the successor is serving;
 * rejects if it fails or times out (the caller then keeps serving).
 */
export function handOverTo(listeners: readonly { key: string; udp: UdpSocket; tcp: TcpServer }[], cacheSnapshot: Buffer | null = null, timeoutMs = 15000): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [HANDOVER_ENV]: '1' },
    detached: true, // the successor must outlive us
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`successor did not become ready in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`successor exited with code ${code} before it was ready`)));
    child.on('message', (msg: HandoverMessage) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.disconnect();
        child.unref();
        resolve(child);
      } else if (msg?.type === 'failed') fail(new Error(`successor failed: ${msg.error}`));
    });
    for (const l of listeners) {
      child.send({ type: 'listener', key: l.key, proto: 'udp' } satisfies HandoverMessage, l.udp);
      child.send({ type: 'listener', key: l.key, proto: 'tcp' } satisfies HandoverMessage, l.tcp);
    }
    if (cacheSnapshot) child.send({ type: 'cache', data: cacheSnapshot.toString('base64') } satisfies HandoverMessage);
    child.send({ type: 'done', count: listeners.length * 2 } satisfies HandoverMessage);
  });
}
