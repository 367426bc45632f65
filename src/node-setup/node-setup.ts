// Node setup as a service: the interface holding the local IPs and node-cache's iptables rules, kept in
// place by a periodic sync and removed on teardown (rules first, then the interface), like node-cache.
//
// Order the daemon follows (nodeSetupService() below wires it to the DaemonService hooks):
//   start:  await start()          interface + IPs (listeners need them to bind), periodic timer
//           ...bind listeners...
//           await installRules()   rules only once serving, so a daemon that cannot bind never diverts DNS
//   reload: await update(next)     stages `next`: adds new IPs/interface, nothing is removed yet
//           ...bind new listeners...
//           await installRules()   commits: removes rules, then IPs, that `next` no longer has; ensures all rules
//   stop:   await teardown()       `Tearing down`, timer stopped, rules removed, then interface (unless skipTeardown)
//   failed start: close()          timer stopped, nothing removed (node-cache does not tear down on fatal errors)
// Every operation is serialized, never throws, and logs and counts its errors in SetupErrors.
import type { NodeSetupConfig, Config } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { DaemonService } from '../service-group.js';
import type { SetupErrors } from './setup-errors.js';
import type { Exec } from './exec.js';
import { ensureInterface, removeInterface, removeAddresses, type EnsureInterfaceResult, type InterfaceFallback, type InterfaceOptions } from './interface.js';
import { buildRules, ensureRules, removeRules, ruleKey, type EnsureRulesResult, type IptablesOptions, type IptablesRule } from './iptables.js';
import { findOtherInstance, type OtherInstanceCheck } from './instance-probe.js';
import { markInstanceStopping } from '../util/instance-identity.js';

export interface NodeSetupDeps {
  readonly logger: Logger;
  readonly setupErrors: SetupErrors;
  /** Command runner; default runCommand. */
  readonly exec?: Exec;
  /** Run every command inside this network namespace (tests). */
  readonly netns?: string;
  /** iptables binaries per family; default `iptables` / `ip6tables`. */
  readonly iptablesBinaries?: { readonly v4?: string; readonly v6?: string };
}

export const FALLBACK_LOG = 'dummy link type unavailable, adding local IPs to lo';

function rulesOf(config: NodeSetupConfig): IptablesRule[] {
  return config.setupIptables ? buildRules(config.localIps, config.dnsPort, config.healthPort) : [];
}

function minus<T>(a: readonly T[], b: readonly T[], key: (x: T) => string = String): T[] {
  const drop = new Set(b.map(key));
  return a.filter((x) => !drop.has(key(x)));
}

function union<T>(a: readonly T[], b: readonly T[], key: (x: T) => string = String): T[] {
  return [...a, ...minus(b, a, key)];
}

export class NodeSetup {
  private cfg: NodeSetupConfig;
  private staged: NodeSetupConfig | null = null;
  private fallback: InterfaceFallback = null;
  private rulesEnabled = false;
  private started = false;
  private stopped = false;
  private ticking = false;
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readonly logger: Logger;

  constructor(
    config: NodeSetupConfig,
    private readonly deps: NodeSetupDeps,
  ) {
    this.cfg = config;
    this.logger = deps.logger;
  }

  /** The committed config (the one the periodic sync maintains). */
  get config(): NodeSetupConfig {
    return this.cfg;
  }

  /** 'lo' once the kernel was found to lack the dummy link type. */
  get interfaceFallback(): InterfaceFallback {
    return this.fallback;
  }

  /** True once installRules() ran (the periodic sync then maintains the rules too). */
  get rulesInstalled(): boolean {
    return this.rulesEnabled;
  }

  /** The rules of the committed config (empty when setupIptables is off). */
  rules(): IptablesRule[] {
    return rulesOf(this.cfg);
  }

  /** Ensures the interface now and starts the periodic sync. Call before the listeners bind. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    await this.ensureInterfaceNow();
    this.startTimer();
  }

  /** Adds the interface and IPs now (of the staged config if any). Null when setupInterface is off. */
  ensureInterfaceNow(): Promise<EnsureInterfaceResult | null> {
    return this.serial(() => this.ensureIface(this.staged ?? this.cfg));
  }

  /** Commits a staged update, then ensures every rule now; from then on the sync maintains them. */
  installRules(): Promise<EnsureRulesResult | null> {
    return this.serial(async () => {
      if (this.staged) await this.commit(this.staged);
      this.rulesEnabled = true;
      return this.cfg.setupIptables ? ensureRules(this.rules(), this.iptablesOpts()) : null;
    });
  }

  /** One pass of the periodic sync: rules (once installed), then the interface, as node-cache does. */
  syncNow(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      if (this.rulesEnabled && this.cfg.setupIptables) await ensureRules(this.rules(), this.iptablesOpts());
      await this.ensureIface(this.cfg);
    });
  }

  /** Reload, phase 1: stages `next` and adds its interface/IPs. installRules() commits it (phase 2). */
  update(next: NodeSetupConfig): Promise<void> {
    return this.serial(async () => {
      this.staged = next;
      await this.ensureIface(next);
    });
  }

  /** Stops the sync and removes rules, then the interface; with skipTeardown leaves both in place. */
  async teardown(): Promise<void> {
    this.close();
    const cfg = this.cfg;
    if (cfg.skipTeardown) {
      this.logger.info('skipTeardown set: leaving the interface and iptables rules in place');
      await this.queue;
      return;
    }
    this.logger.info('Tearing down');
    await this.serial(async () => {
      const all = this.staged ? [cfg, this.staged] : [cfg];
      await this.removeAllRules(all);
      await this.removeAllInterfaces(all);
      this.rulesEnabled = false;
      this.staged = null;
    });
  }

  /** Stops the periodic sync without removing anything. */
  close(): void {
    this.stopped = true;
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private startTimer(): void {
    if (this.timer) clearInterval(this.timer);
    const ms = Math.max(1, this.cfg.syncIntervalMs);
    this.timer = setInterval(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    this.syncNow()
      .catch((err: unknown) => this.logger.error({ err }, 'node setup sync failed'))
      .finally(() => {
        this.ticking = false;
      });
  }

  /** Runs operations one at a time so a sync never interleaves with an update or teardown. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async ensureIface(cfg: NodeSetupConfig): Promise<EnsureInterfaceResult | null> {
    if (!cfg.setupInterface) return null;
    const result = await ensureInterface(cfg.interfaceName, cfg.localIps, this.interfaceOpts());
    if (result.fallback === 'lo' && this.fallback !== 'lo') this.logger.warn({ interface: cfg.interfaceName }, FALLBACK_LOG);
    if (result.fallback === 'lo') this.fallback = 'lo';
    return result;
  }

  /** Reload, phase 2: removes rules, then IPs/links, that `next` no longer has, and makes it current. */
  private async commit(next: NodeSetupConfig): Promise<void> {
    const prev = this.cfg;
    const staleRules = minus(rulesOf(prev), rulesOf(next), ruleKey);
    if (staleRules.length > 0) await removeRules(staleRules, this.iptablesOpts());
    await this.removeStaleInterface(prev, next);
    this.cfg = next;
    this.staged = null;
    if (this.timer && prev.syncIntervalMs !== next.syncIntervalMs) this.startTimer();
  }

  private async removeStaleInterface(prev: NodeSetupConfig, next: NodeSetupConfig): Promise<void> {
    if (!prev.setupInterface) return;
    const sameLink = next.setupInterface && (this.fallback === 'lo' || prev.interfaceName === next.interfaceName);
    const stillWanted = next.setupInterface ? next.localIps : [];
    if (!sameLink) {
      await this.removeIface(prev.interfaceName, prev.localIps);
      return;
    }
    const staleIps = minus(prev.localIps, stillWanted);
    if (staleIps.length === 0) return;
    const errors = await removeAddresses(this.fallback === 'lo' ? 'lo' : prev.interfaceName, staleIps, this.interfaceOpts());
    if (errors.length > 0) this.logger.error({ errors }, `Failed removing local IPs ${staleIps.join(',')} - ${errors.join('; ')}`);
  }

  private async removeIface(name: string, ips: readonly string[]): Promise<void> {
    await removeInterface(name, ips, this.fallback, this.interfaceOpts());
  }

  private async removeAllRules(configs: readonly NodeSetupConfig[]): Promise<void> {
    const rules = configs.map(rulesOf).reduce((a, b) => union(a, b, ruleKey), []);
    if (rules.length > 0) await removeRules(rules, this.iptablesOpts());
  }

  private async removeAllInterfaces(configs: readonly NodeSetupConfig[]): Promise<void> {
    const withIface = configs.filter((c) => c.setupInterface);
    if (this.fallback === 'lo') {
      const ips = withIface.map((c) => c.localIps).reduce<string[]>((a, b) => union(a, b), []);
      if (ips.length > 0) await this.removeIface('lo', ips);
      return;
    }
    const names = [...new Set(withIface.map((c) => c.interfaceName))];
    for (const name of names) await this.removeIface(name, []);
  }

  private interfaceOpts(): InterfaceOptions {
    const { exec, netns, setupErrors } = this.deps;
    return { logger: this.logger, setupErrors, fallback: this.fallback, ...(exec ? { exec } : {}), ...(netns ? { netns } : {}) };
  }

  private iptablesOpts(): IptablesOptions {
    const { exec, netns, setupErrors, iptablesBinaries } = this.deps;
    return { logger: this.logger, setupErrors, ...(exec ? { exec } : {}), ...(netns ? { netns } : {}), ...(iptablesBinaries ? { binaries: iptablesBinaries } : {}) };
  }
}

/** `config.node`, or a copy of `current` with both setups off when the new config has none. */
function nodeConfigOf(config: Config, current: NodeSetupConfig): NodeSetupConfig {
  return config.node ?? { ...current, setupInterface: false, setupIptables: false };
}

/** Wires a NodeSetup to the daemon's service hooks in the order described at the top of this file. */
export function nodeSetupService(node: NodeSetup): DaemonService {
  let startedOnce = false;
  return {
    name: 'node-setup',
    async beforeListen(config: Config): Promise<void> {
      if (!startedOnce) {
        startedOnce = true;
        return node.start();
      }
      return node.update(nodeConfigOf(config, node.config));
    },
    async afterListen(): Promise<void> {
      await node.installRules();
    },
    async reload(): Promise<void> {
      await node.installRules();
    },
    async close(): Promise<void> {
      await node.teardown();
    },
    async detach(): Promise<void> {
      node.close(); // a successor serves on the same IPs: leave rules and addresses in place
    },
  };
}

/** Asks host:port whether an instance other than this one serves there (instance-probe.ts). */
export type OtherInstanceFinder = (host: string, port: number) => Promise<OtherInstanceCheck>;

/**
 * Node setup with node-cache's shutdown order (rules and interface removed while the listeners
 * still answer, so the ClusterIP falls back to kube-dns via DNAT at once), except when another
 * instance already serves our address (a rollout with SO_REUSEPORT): then the shared rules and
 * addresses stay. The check accepts only replies in our own format and ignores this instance's
 * own answers and those of instances that are stopping too (instance-probe.ts).
 */
export function shutdownAwareNodeService(node: NodeSetup, logger: Logger, findOther: OtherInstanceFinder = (host, port) => findOtherInstance(host, port)): DaemonService {
  const base = nodeSetupService(node);
  let done = false;
  return {
    ...base,
    lameduck() {
      markInstanceStopping(); // from now on our instance-check answers say we are no successor
    },
    async beforeClose() {
      done = true;
      const ip = node.config.localIps[0];
      const check = ip ? await findOther(ip, node.config.dnsPort) : null;
      const seen = check && { rounds: check.rounds, self: check.self, stopping: check.stopping, rejected: check.rejected, unanswered: check.unanswered };
      if (check?.rejected) logger.warn({ address: `${ip}:${node.config.dnsPort}`, ...seen }, 'replies not from node-local-dns ignored by the instance check');
      if (check?.other) {
        logger.info({ other: check.other, ...seen }, 'another node-local-dns instance answers on our address; leaving rules and interface in place');
        await base.detach!();
      } else {
        if (check) logger.info(seen, 'no other node-local-dns instance answers on our address');
        await base.close();
      }
    },
    async close() {
      if (!done) await base.close();
    },
  };
}
