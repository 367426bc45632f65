// `node-local-dns guard`: a second container of the node-local-dns pod (same image, NET_ADMIN, host
// network) that takes the daemon's own node-cache flags plus a few -guard-* flags. Every interval it
// probes the daemon on each local IP (./probe.ts); the state machine (./state-machine.ts) decides,
// and this file carries out its decisions on the node (./node-fallback.ts) and the relay
// (./relay.ts), logs each transition and counts it. /health and /metrics on -guard-health-port.
import { hostname } from 'node:os';
import { parseArgs } from '../cli/args.js';
import type { CliFlags } from '../config/flags.js';
import { parseDuration } from '../config/values.js';
import { clusterDnsFromEnv } from '../kube/template.js';
import type { NodeSetupConfig } from '../config/types.js';
import { createLogger, type Logger } from '../log/logger.js';
import { HealthState } from '../health/health.js';
import { startHttpServer, type HttpServerHandle } from '../metrics/http.js';
import { SetupErrors } from '../node-setup/setup-errors.js';
import { systemClock, type Clock } from '../util/clock.js';
import { VERSION } from '../version.js';
import { GuardStateMachine, type Transition } from './state-machine.js';
import { probeDaemon, type ProbeResult } from './probe.js';
import { NodeFallback } from './node-fallback.js';
import { StandbyRelay } from './relay.js';
import { GuardMetrics } from './metrics.js';

export interface GuardSettings {
  readonly graceMs: number;
  readonly startGraceMs: number;
  readonly recoverMs: number;
  readonly intervalMs: number;
  readonly healthPort: number;
  readonly relayPort: number;
}

export const GUARD_DEFAULTS: GuardSettings = { graceMs: 2000, startGraceMs: 10_000, recoverMs: 1000, intervalMs: 300, healthPort: 8081, relayPort: 9054 };

const GUARD_FLAGS: Record<string, { key: keyof GuardSettings; kind: 'duration' | 'port' }> = {
  'guard-grace': { key: 'graceMs', kind: 'duration' },
  'guard-start-grace': { key: 'startGraceMs', kind: 'duration' },
  'guard-recover': { key: 'recoverMs', kind: 'duration' },
  'guard-interval': { key: 'intervalMs', kind: 'duration' },
  'guard-health-port': { key: 'healthPort', kind: 'port' },
  'guard-relay-port': { key: 'relayPort', kind: 'port' },
};

export const GUARD_USAGE = `node-local-dns guard [node-cache flags, as given to the daemon] [guard flags]
  -guard-grace 2s          fall back to kube-dns when the daemon has not answered this long
  -guard-start-grace 10s   how long the daemon may take to answer after the guard starts
  -guard-recover 1s        hand the node back once the daemon has answered this long
  -guard-interval 300ms    probe period (id.server CH TXT to every -localip)
  -guard-health-port 8081  /health and /metrics of the guard (all addresses)
  -guard-relay-port 9054   port of the standby relay on the first -localip while the guard has the node`;

export type GuardArgs = { ok: true; settings: GuardSettings; flags: CliFlags } | { ok: false; error: string };

/** Splits the -guard-* flags off and parses the rest with the daemon's own parser. Pure. */
export function parseGuardArgs(argv: readonly string[]): GuardArgs {
  const settings: Record<keyof GuardSettings, number> = { ...GUARD_DEFAULTS };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?(guard-[a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) {
      rest.push(argv[i]!);
      continue;
    }
    const spec = GUARD_FLAGS[m[1]!];
    if (!spec) return { ok: false, error: `flag provided but not defined: -${m[1]}` };
    const value = m[2] ?? argv[++i];
    if (value === undefined) return { ok: false, error: `flag needs an argument: -${m[1]}` };
    if (spec.kind === 'port') {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) return { ok: false, error: `invalid value ${JSON.stringify(value)} for flag -${m[1]}: must be a port number 1-65535` };
      settings[spec.key] = Number(value);
    } else {
      const d = parseDuration(value);
      if (!d.ok || d.value <= 0) return { ok: false, error: `invalid value ${JSON.stringify(value)} for flag -${m[1]}: ${d.ok ? 'must be > 0' : d.error}` };
      settings[spec.key] = d.value;
    }
  }
  const parsed = parseArgs(rest);
  if (!parsed.ok) return parsed;
  if (parsed.flags.localIps.length === 0) return { ok: false, error: 'the guard needs -localip (the same flags as the daemon)' };
  if (parsed.flags.positionals.length > 0) return { ok: false, error: `unexpected argument ${JSON.stringify(parsed.flags.positionals[0])}` };
  return { ok: true, settings, flags: parsed.flags };
}

function nodeConfigFromFlags(flags: CliFlags): NodeSetupConfig {
  return {
    localIps: flags.localIps,
    setupInterface: flags.setupInterface,
    setupIptables: flags.setupIptables,
    interfaceName: flags.interfaceName,
    syncIntervalMs: flags.syncIntervalMs,
    skipTeardown: flags.skipTeardown,
    dnsPort: flags.dnsPort,
    healthPort: flags.healthPort,
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export interface GuardDeps {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly env?: NodeJS.ProcessEnv;
}

export class Guard {
  readonly machine: GuardStateMachine;
  readonly metrics: GuardMetrics;
  private readonly setupErrors = new SetupErrors();
  private readonly node: NodeFallback;
  private readonly relay: StandbyRelay | null;
  private readonly relayUpstreams: string[];
  private readonly health = new HealthState();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private http: HttpServerHandle | null = null;
  private httpRetry: NodeJS.Timeout | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly settings: GuardSettings,
    private readonly flags: CliFlags,
    deps: GuardDeps = {},
  ) {
    this.logger = deps.logger ?? createLogger(flags.logLevel ?? 'info');
    this.clock = deps.clock ?? systemClock;
    this.machine = new GuardStateMachine(settings, this.clock.nowMs());
    this.node = new NodeFallback({ node: nodeConfigFromFlags(flags), relayPort: settings.relayPort }, { logger: this.logger, setupErrors: this.setupErrors });
    // The relay forwards to the upstream Service (as the daemon's cluster.local block does), or,
    // without it, to the kube-dns ClusterIP whose address the guard hands back to kube-proxy.
    const upstream = clusterDnsFromEnv(flags.upstreamService, deps.env ?? process.env);
    this.relayUpstreams = upstream.ok ? [upstream.ip] : [...this.node.serviceIps];
    if (!upstream.ok) this.logger.warn(`${upstream.error}; the standby relay forwards to ${this.relayUpstreams.join(',') || 'nothing'}`);
    this.relay = this.node.relayIps.length > 0 && this.relayUpstreams.length > 0 ? new StandbyRelay({ bind: this.node.relayIps, port: settings.relayPort, upstreams: this.relayUpstreams }, this.logger.child({ component: 'relay' })) : null;
    this.metrics = new GuardMetrics(() => this.relay?.requests() ?? 0, this.setupErrors);
  }

  /** Clears rules a killed guard left, serves /health and /metrics, starts probing. */
  async start(): Promise<void> {
    this.logger.info({ version: VERSION, node: process.version, ...this.settings, localIps: this.flags.localIps, relayUpstreams: this.relayUpstreams }, `Starting node-local-dns guard ${VERSION}`);
    await this.node.removeGuardRules();
    this.running = true;
    await this.serveHttp();
    this.health.markReady();
    this.loop = this.probeLoop();
  }

  /**
   * /health and /metrics on all addresses. In a surge rollout the old pod's guard still holds the
   * port: keep guarding and retry every second until it is free.
   */
  private async serveHttp(): Promise<void> {
    try {
      this.http = await startHttpServer({ host: '0.0.0.0', port: this.settings.healthPort, routes: { health: this.health, registry: this.metrics.registry }, log: this.logger });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (!this.httpRetry) this.logger.warn(`port ${this.settings.healthPort} is in use (another guard is leaving?); retrying every second`);
      this.httpRetry = setTimeout(() => {
        if (this.running) void this.serveHttp().catch((e: unknown) => this.logger.error({ err: e }, 'guard health listener failed'));
      }, 1000);
    }
  }

  /** Stops probing and undoes only the guard's own changes (relay, its rules); the daemon's stay as they are. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.machine.ownsNode) this.logger.info('guard stopping while it has the node: removing its relay rules; the daemon restores its own on start');
    await this.node.removeGuardRules();
    await this.relay?.stop();
    this.health.stop();
    if (this.httpRetry) clearTimeout(this.httpRetry);
    await this.http?.close();
  }

  private async probeLoop(): Promise<void> {
    while (this.running) {
      const started = this.clock.nowMs();
      const { dnsPort } = this.node.config.node;
      const timeoutMs = Math.max(50, Math.min(this.settings.intervalMs, 1000) - 20);
      const results = await Promise.all(this.flags.localIps.map((ip) => probeDaemon(ip, dnsPort, timeoutMs)));
      const answered = results.some((r) => r.answered);
      this.metrics.probe(answered);
      const transition = this.machine.observe(answered, this.clock.nowMs());
      if (transition) await this.apply(transition, results);
      const wait = this.settings.intervalMs - (this.clock.nowMs() - started);
      if (this.running && wait > 0) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, wait)));
    }
  }

  private async apply(t: Transition, results: ProbeResult[]): Promise<void> {
    this.metrics.transition(t.from, t.to);
    const where = `${this.flags.localIps.join(',')} port ${this.node.config.node.dnsPort}`;
    const why = results.map((r, i) => (r.answered ? `${this.flags.localIps[i]}: answered by ${r.instance}` : `${this.flags.localIps[i]}: ${r.reason}`)).join('; ');
    const fields = { from: t.from, to: t.to };
    if (t.action === 'take-over') {
      this.logger.warn({ ...fields, probes: why }, `node-local-dns has not answered on ${where} for ${seconds(t.forMs)}, falling back to kube-dns`);
      await this.takeOver();
    } else if (t.action === 'hand-back') {
      this.logger.info(fields, `node-local-dns has answered on ${where} for ${seconds(t.forMs)}, handing the node back`);
      await this.handBack();
    } else if (t.to === 'serving') {
      this.logger.info({ ...fields, probes: why }, `node-local-dns is answering on ${where}`);
    } else if (t.to === 'suspect') {
      this.logger.warn({ ...fields, probes: why }, `node-local-dns did not answer on ${where}, falling back to kube-dns in ${seconds(this.settings.graceMs)} unless it does`);
    } else if (t.to === 'recovering') {
      this.logger.info({ ...fields, probes: why }, `node-local-dns is answering on ${where} again, handing the node back after ${seconds(this.settings.recoverMs)} of answers`);
    } else if (t.to === 'fallback') {
      this.logger.warn({ ...fields, probes: why }, 'node-local-dns stopped answering again, keeping the fallback to kube-dns');
    }
  }

  private async takeOver(): Promise<void> {
    const started = this.clock.nowMs();
    const { relayIps, serviceIps } = this.node;
    await this.node.prepareRelayAddresses();
    let relaying = false;
    if (this.relay) {
      try {
        await this.relay.start();
        relaying = true;
      } catch (err) {
        this.logger.error(`Failed to start the standby relay on ${relayIps.join(',')}:${this.settings.relayPort} - ${(err as Error).message}; lookups to ${relayIps.join(',')} stay unanswered`);
      }
    }
    const errors = await this.node.divert(relaying);
    const steps = [
      ...(relaying ? [`relaying ${relayIps.join(',')}:${this.node.config.node.dnsPort} to ${this.relayUpstreams.join(',')} over TCP`] : []),
      ...(this.node.config.node.setupIptables ? ['removed nodelocaldns rules'] : []),
      ...(serviceIps.length > 0 && this.node.config.node.setupInterface ? [`removed ${serviceIps.join(',')} from the node (kube-proxy's DNAT takes over)`] : []),
    ];
    this.logger.warn({ errors: errors.length, tookMs: Math.round(this.clock.nowMs() - started) }, `Fell back to kube-dns: ${steps.join('; ') || 'nothing to change'}`);
  }

  private async handBack(): Promise<void> {
    const started = this.clock.nowMs();
    const errors = await this.node.restore();
    await this.relay?.stop();
    this.logger.info({ errors: errors.length, tookMs: Math.round(this.clock.nowMs() - started) }, 'Handed the node back to node-local-dns: nodelocaldns rules and addresses in place, standby relay stopped');
  }
}

/** Entry of `node-local-dns guard`: resolves once started; SIGTERM/SIGINT stop it. */
export async function runGuard(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  if (argv.includes('--help') || argv.includes('-h') || argv.includes('-help')) {
    console.log(GUARD_USAGE);
    return 0;
  }
  const parsed = parseGuardArgs(argv);
  if (!parsed.ok) {
    console.error(`node-local-dns guard: ${parsed.error}\n${GUARD_USAGE}`);
    return 2;
  }
  const guard = new Guard(parsed.settings, parsed.flags, { env });
  try {
    await guard.start();
  } catch (err) {
    console.error(`node-local-dns guard: cannot start on ${hostname()}: ${(err as Error).message}`);
    return 1;
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    guard.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`node-local-dns guard: stop failed: ${(err as Error)?.stack ?? String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return null;
}
