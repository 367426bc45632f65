// The forwarder on its own: upstream order, pool choice, stalled connections, ID exhaustion, the TCP
// retry after TC, and upstreams going down and up. Real sockets against scripted servers on
// 127.0.0.1 (test/harness/scripted-upstream.ts); time moved by hand where the behaviour is a timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForwardConfig, UpstreamAddress } from '../../src/config/types.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { Upstream } from '../../src/forward/upstream.js';
import { UpstreamPolicy } from '../../src/forward/policy.js';
import { TcpPool, BUSY_CONNECTION_INFLIGHT } from '../../src/forward/tcp-pool.js';
import { TcpConnection, type PooledConnection } from '../../src/forward/tcp-connection.js';
import { UpstreamStats } from '../../src/forward/stats.js';
import { freshId } from '../../src/forward/ids.js';
import { UpstreamError } from '../../src/forward/errors.js';
import { buildQuery } from '../../src/dns/reply.js';
import { HEADER_SIZE, TYPE } from '../../src/dns/constants.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../harness/scripted-upstream.js';
import { waitFor } from '../harness/wait.js';

const addr = (s: { host: string; port: number }): UpstreamAddress => ({ host: s.host, port: s.port, family: 4, label: `${s.host}:${s.port}` });

function forwardConfig(to: UpstreamAddress[], over: Partial<ForwardConfig> = {}): ForwardConfig {
  return {
    to,
    forceTcp: false,
    preferUdp: false,
    policy: 'sequential',
    maxConcurrent: 0,
    maxFails: 2,
    healthCheckMs: 500,
    expireMs: 10_000,
    timeoutMs: 5000,
    attemptTimeoutMs: 2000,
    maxConnectionsPerUpstream: 4,
    except: [],
    ...over,
  };
}

const query = (name: string) => {
  const wire = buildQuery(name, TYPE.A, 0);
  return { wire, questionEnd: HEADER_SIZE + name.length + 2 + 4 };
};

async function withServers(n: number, body: (servers: ScriptedUpstream[]) => Promise<void>): Promise<void> {
  const servers: ScriptedUpstream[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await startScriptedUpstream());
    await body(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

test('policy order: sequential keeps config order, round_robin rotates the start, random is a permutation', () => {
  const items = ['a', 'b', 'c'];
  const seq = new UpstreamPolicy('sequential', items);
  assert.deepEqual([seq.order(), seq.order()], [items, items]);
  const rr = new UpstreamPolicy('round_robin', items);
  assert.deepEqual([rr.order(), rr.order(), rr.order(), rr.order()], [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c']]);
  const random = new UpstreamPolicy('random', items);
  const firsts = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const order = random.order();
    assert.deepEqual([...order].sort(), items);
    firsts.add(order[0]);
  }
  assert.equal(firsts.size, 3, 'every upstream comes first sometimes');
});

test('upstream order: a silent first upstream costs one attempt, then the next answers', async () => {
  await withServers(2, async ([silent, good]) => {
    silent.behaviour = () => ({ kind: 'silent' });
    const f = new Forwarder(forwardConfig([addr(silent), addr(good)], { attemptTimeoutMs: 200 }), systemClock, 1 << 16);
    try {
      const { wire, questionEnd } = query('order.test');
      const result = await f.forward(wire, questionEnd, false);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(result.ok && result.upstream, addr(good).label);
      const asked = (s: ScriptedUpstream) => s.seen.filter((q) => q.name === 'order.test').length;
      assert.deepEqual([asked(silent), asked(good)], [1, 1], 'one attempt each, in config order');
    } finally {
      f.close();
    }
  });
});

test('TCP retry after TC: a truncated UDP reply is asked again over TCP on the same upstream', async () => {
  await withServers(1, async ([server]) => {
    server.behaviour = (q, transport) => (transport === 'udp' ? { kind: 'truncate' } : { kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 30, data: '192.0.2.7' }] });
    const f = new Forwarder(forwardConfig([addr(server)]), systemClock, 1 << 16);
    try {
      const { wire, questionEnd } = query('big.test');
      const result = await f.forward(wire, questionEnd, false);
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.analysis.answerCount, 1);
      assert.deepEqual(server.seen.map((s) => s.transport), ['udp', 'tcp']);
    } finally {
      f.close();
    }
  });
});

test('force_tcp sends over TCP; prefer_udp keeps a TCP client on UDP', async () => {
  await withServers(1, async ([server]) => {
    const forced = new Forwarder(forwardConfig([addr(server)], { forceTcp: true }), systemClock, 1 << 16);
    const preferUdp = new Forwarder(forwardConfig([addr(server)], { preferUdp: true }), systemClock, 1 << 16);
    try {
      const { wire, questionEnd } = query('transport.test');
      assert.equal((await forced.forward(wire, questionEnd, false)).ok, true);
      assert.equal((await preferUdp.forward(wire, questionEnd, true)).ok, true);
      assert.deepEqual(server.seen.map((s) => s.transport), ['tcp', 'udp']);
    } finally {
      forced.close();
      preferUdp.close();
    }
  });
});

/** A connection that never answers unless told to; counts what the pool asks of it. */
class FakeConnection implements PooledConnection {
  inflight = 0;
  closed = false;
  lastUsedMs = 0;
  sent = 0;
  constructor(private readonly onClose: (c: PooledConnection) => void) {}
  exchange(): Promise<Buffer> {
    this.sent++;
    this.inflight++;
    return new Promise(() => {});
  }
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

test('pool choice: least in flight first; a new connection only when all are busy; never above the cap', () => {
  const clock = new ManualClock();
  const made: FakeConnection[] = [];
  const stats = new UpstreamStats('fake');
  const pool = new TcpPool(addr({ host: '127.0.0.1', port: 1 }), {
    maxConnections: 2,
    expireMs: 10_000,
    clock,
    timers: clock,
    stats,
    connect: (_a, _t, _n, onClose) => {
      const c = new FakeConnection(onClose);
      made.push(c);
      return c;
    },
  });
  const { wire, questionEnd } = query('pool.test');
  const send = (n: number) => {
    for (let i = 0; i < n; i++) void pool.exchange(wire, questionEnd, 1000);
  };
  send(BUSY_CONNECTION_INFLIGHT);
  assert.equal(made.length, 1, 'one connection carries queries until it is busy');
  send(1);
  assert.equal(made.length, 2, 'all busy and room: a second connection');
  send(BUSY_CONNECTION_INFLIGHT * 3);
  assert.equal(made.length, 2, 'never more than maxConnections');
  assert.ok(Math.abs(made[0].sent - made[1].sent) <= 1, `queries spread over the least loaded: ${made[0].sent} vs ${made[1].sent}`);
  assert.equal(stats.connCacheMisses, 2);
  made[0].destroy();
  assert.equal(pool.size, 1, 'a closed connection leaves the pool');
  pool.close();
  assert.equal(made[1].closed, true);
});

test('pool sweep: connections idle longer than expire are closed, busy ones stay', () => {
  const clock = new ManualClock();
  const made: FakeConnection[] = [];
  const pool = new TcpPool(addr({ host: '127.0.0.1', port: 1 }), {
    maxConnections: 1,
    expireMs: 5000,
    clock,
    timers: clock,
    stats: new UpstreamStats('fake'),
    connect: (_a, _t, now, onClose) => {
      const c = new FakeConnection(onClose);
      c.lastUsedMs = now;
      made.push(c);
      return c;
    },
  });
  const { wire, questionEnd } = query('sweep.test');
  void pool.exchange(wire, questionEnd, 1000);
  clock.advance(20_000);
  assert.equal(made[0].closed, false, 'a connection with a query in flight is never swept');
  made[0].inflight = 0;
  clock.advance(5000);
  assert.equal(made[0].closed, true);
  assert.equal(pool.size, 0);
  pool.close();
  assert.equal(clock.pendingTimers, 0, 'close() cancels the sweeper');
});

test('stalled connection: no reply for a whole attempt retires it; the next attempt opens a fresh one', async () => {
  await withServers(1, async ([server]) => {
    let answer = false;
    server.behaviour = (q) => (answer ? { kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 30, data: '192.0.2.9' }] } : { kind: 'silent' });
    const stats = new UpstreamStats('s');
    const pool = new TcpPool(addr(server), { maxConnections: 1, expireMs: 10_000, clock: systemClock, stats });
    try {
      const { wire, questionEnd } = query('stall.test');
      await assert.rejects(pool.exchange(wire, questionEnd, 150), (err: unknown) => err instanceof UpstreamError && err.failure === 'timeout');
      await waitFor(() => pool.size === 0, 2000, 'the stalled connection to close');
      answer = true;
      const reply = await pool.exchange(wire, questionEnd, 2000);
      assert.equal(reply[3] & 0x0f, 0);
      assert.equal(server.connections, 2, 'a new connection after the stall');
    } finally {
      pool.close();
    }
  });
});

test('a connection closed by the upstream fails its queries with "closed" at once, not at the timeout', async () => {
  await withServers(1, async ([server]) => {
    server.behaviour = () => ({ kind: 'close' });
    const conn = new TcpConnection(addr(server), 1000, 0, () => {});
    const { wire, questionEnd } = query('closed.test');
    const started = Date.now();
    await assert.rejects(conn.exchange(wire, questionEnd, 10_000, 0), (err: unknown) => err instanceof UpstreamError && err.failure === 'closed');
    assert.ok(Date.now() - started < 9000, 'failed before the attempt timeout');
    assert.equal(conn.closed, true);
  });
});

test('ID exhaustion: 65,536 IDs in use leaves none; below that an unused one is always found', () => {
  const inUse = new Set<number>();
  for (let i = 0; i < 65535; i++) inUse.add(i);
  assert.equal(freshId(inUse), 65535, 'the only free ID is found');
  inUse.add(65535);
  assert.equal(freshId(inUse), undefined);
});

test('ID exhaustion on a connection: "busy", and the query is not sent', async () => {
  await withServers(1, async ([server]) => {
    server.behaviour = () => ({ kind: 'silent' });
    const clock = new ManualClock();
    const conn = new TcpConnection(addr(server), 1000, 0, () => {}, clock);
    const { wire, questionEnd } = query('busy.test');
    try {
      const inFlight: Promise<Buffer>[] = [];
      for (let i = 0; i < 65536; i++) inFlight.push(conn.exchange(wire, questionEnd, 60_000, 0));
      for (const p of inFlight) p.catch(() => {});
      await assert.rejects(conn.exchange(wire, questionEnd, 60_000, 0), (err: unknown) => err instanceof UpstreamError && err.failure === 'busy');
      assert.equal(conn.inflight, 65536);
    } finally {
      conn.destroy();
    }
  });
});

/** Lets `probes` health probes of `upstream` time out (the server is silent), in manual time. */
async function failProbes(upstream: Upstream, server: ScriptedUpstream, clock: ManualClock, probes: number): Promise<void> {
  const seenBefore = server.seen.length;
  const failedBefore = upstream.stats.healthcheckFailures;
  for (let probe = 1; probe <= probes; probe++) {
    clock.advance(0);
    await waitFor(() => server.seen.length >= seenBefore + probe, 2000, `probe ${probe} to reach the server`);
    clock.advance(1000); // the probe's own timeout
    await waitFor(() => upstream.stats.healthcheckFailures >= failedBefore + probe, 2000, `probe ${probe} to fail`);
    clock.advance(500); // health-check interval
  }
}

test('upstreams going down and up: more than max_fails failed probes mark it down, one answered probe brings it back', async () => {
  await withServers(1, async ([server]) => {
    const clock = new ManualClock();
    let alive = false;
    server.behaviour = () => (alive ? { kind: 'answer', answers: [] } : { kind: 'silent' });
    const upstream = new Upstream(addr(server), forwardConfig([addr(server)], { maxFails: 2, healthCheckMs: 500 }), clock, 1 << 16, { timers: clock });
    try {
      assert.equal(upstream.down, false);
      upstream.noteFailure(); // a failed exchange starts the probe loop
      await failProbes(upstream, server, clock, 2);
      assert.equal(upstream.down, false, 'max_fails failures are tolerated');
      await failProbes(upstream, server, clock, 1);
      assert.equal(upstream.down, true, 'one more makes it down');
      alive = true;
      await waitFor(() => server.seen.length >= 4, 2000, 'the next probe');
      await waitFor(() => !upstream.down, 2000, 'the upstream to be up again');
      assert.deepEqual(server.seen.at(-1), { transport: 'udp', name: '.', type: 'NS' });
    } finally {
      upstream.close();
    }
  });
});

test('down upstreams are skipped; when all are down one is tried anyway and counted as broken', async () => {
  await withServers(2, async ([a, b]) => {
    const clock = new ManualClock();
    let aAlive = false;
    a.behaviour = (q) => (aAlive ? { kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 5, data: '192.0.2.1' }] } : { kind: 'silent' });
    b.behaviour = () => ({ kind: 'silent' });
    const f = new Forwarder(forwardConfig([addr(a), addr(b)], { maxFails: 1 }), clock, 1 << 16, { timers: clock });
    try {
      const [ua, ub] = f.upstreams;
      ua.noteFailure();
      await failProbes(ua, a, clock, 2);
      assert.equal(ua.down, true);
      b.behaviour = (q) => ({ kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 5, data: '192.0.2.2' }] });
      const { wire, questionEnd } = query('skip.test');
      const skipped = await f.forward(wire, questionEnd, false);
      assert.equal(skipped.ok && skipped.upstream, addr(b).label);
      assert.equal(a.seen.filter((s) => s.name === 'skip.test').length, 0, 'no query sent to the upstream that is down (only probes)');
      assert.equal(f.stats.healthcheckBroken, 0);

      b.behaviour = () => ({ kind: 'silent' });
      ub.noteFailure();
      await failProbes(ub, b, clock, 2);
      assert.equal(ub.down, true);
      aAlive = true;
      b.behaviour = (q) => ({ kind: 'answer', answers: [{ type: 'A', name: q.questions![0].name, ttl: 5, data: '192.0.2.2' }] });
      const broken = await f.forward(wire, questionEnd, false);
      assert.equal(broken.ok, true, 'one upstream tried although all are down');
      assert.equal(f.stats.healthcheckBroken, 1);
    } finally {
      f.close();
    }
  });
});
