// What the guard changes on the node when it takes the DNS path over from a dead daemon, and how it
// gives it back. Built on the same iptables and interface helpers the daemon's node setup uses
// (node-setup/iptables.ts, node-setup/interface.ts), so the rules removed and restored are byte for byte the
// daemon's (node-cache's 12 per local IP).
//
// The local IPs split in two (node-cache's convention, `-localip LINK_LOCAL[,KUBE_DNS_CLUSTER_IP]`):
//   - the first one (169.254.20.10; the only one in IPVS mode) keeps its address; its port 53 is
//     DNAT'ed to the guard's standby relay on the same address, which forwards over TCP to the
//     upstream Service (kube-dns-upstream). The relay's own upstream connections are locally
//     generated, so kube-proxy's nat OUTPUT rules (or IPVS) route them to kube-dns endpoints; a DNAT
//     straight to the ClusterIP would not work, since a packet DNAT'ed once is not DNAT'ed again by
//     kube-proxy's KUBE-SERVICES in the same pass.
//   - the others (the kube-dns ClusterIP, iptables mode) lose their address and the NOTRACK rules,
//     so kube-proxy's DNAT in PREROUTING sends pods' lookups to kube-dns directly.
// The guard's rules skip packets from the loopback source, which is where its probes come from,
// so the probes reach the daemon's socket (if one is bound) rather than the relay.
//
// takeOver order: relay address present → (caller binds the relay) → guard DNAT rules → daemon's
// rules removed → ClusterIP addresses removed. handBack order: daemon's addresses and rules
// ensured (its NOTRACK rules divert traffic to it again) → guard rules removed → (caller closes
// the relay). Nothing ever points at a socket nobody reads.
import { isIPv6 } from 'node:net';
import type { NodeSetupConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { SetupErrors } from '../node-setup/setup-errors.js';
import type { Exec } from '../node-setup/exec.js';
import { buildRules, deleteRulesOnce, ensureRules, removeRules, type IptablesOptions, type IptablesRule } from '../node-setup/iptables.js';
import { ensureInterface, removeAddresses, type InterfaceOptions } from '../node-setup/interface.js';

export const COMMENT_GUARD_RELAY = 'NodeLocal DNS Cache guard: relay to kube-dns';

export interface NodeFallbackConfig {
  /** The daemon's node setup, from the same flags the daemon got. */
  readonly node: NodeSetupConfig;
  /** Port of the standby relay on the relayed addresses. */
  readonly relayPort: number;
}

export interface NodeFallbackDeps {
  readonly logger: Logger;
  readonly setupErrors: SetupErrors;
  readonly exec?: Exec;
  readonly netns?: string;
}

/** The first local IP is relayed; the others are kube-proxy's (see the top of this file). */
export function splitLocalIps(localIps: readonly string[]): { relayIps: string[]; serviceIps: string[] } {
  return { relayIps: localIps.slice(0, 1), serviceIps: localIps.slice(1) };
}

/** `IP:PORT` / `[IP]:PORT` as iptables' --to-destination spells it. */
function destination(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The guard's DNAT rules: port 53 of each relayed IP to the relay, from pods (PREROUTING) and the node (OUTPUT). */
export function guardRules(relayIps: readonly string[], dnsPort: number, relayPort: number): IptablesRule[] {
  const rules: IptablesRule[] = [];
  for (const ip of relayIps) {
    const family = isIPv6(ip) ? 6 : 4;
    const loopback = family === 6 ? '::1/128' : '127.0.0.0/8';
    for (const proto of ['tcp', 'udp']) {
      const match = ['-p', proto, '-d', ip, '--dport', String(dnsPort), '-j', 'DNAT', '--to-destination', destination(ip, relayPort), '-m', 'comment', '--comment', COMMENT_GUARD_RELAY];
      rules.push({ family, table: 'nat', chain: 'PREROUTING', args: match });
      rules.push({ family, table: 'nat', chain: 'OUTPUT', args: ['!', '-s', loopback, ...match] });
    }
  }
  return rules;
}

export class NodeFallback {
  readonly relayIps: readonly string[];
  readonly serviceIps: readonly string[];

  constructor(
    readonly config: NodeFallbackConfig,
    private readonly deps: NodeFallbackDeps,
  ) {
    ({ relayIps: this.relayIps, serviceIps: this.serviceIps } = splitLocalIps(config.node.localIps));
  }

  private get node(): NodeSetupConfig {
    return this.config.node;
  }

  /** Step 1 of takeOver: the relayed addresses exist (a daemon that tore down removed them). */
  async prepareRelayAddresses(): Promise<void> {
    if (!this.node.setupInterface || this.relayIps.length === 0) return;
    await ensureInterface(this.node.interfaceName, this.relayIps, this.interfaceOpts());
  }

  /**
   * Step 2 of takeOver, once the relay listens (`relaying`): divert the node's DNS from the daemon,
   * what pods need first: the guard's PREROUTING DNAT rules, then the raw PREROUTING NOTRACK rules
   * go (pods' lookups become conntracked, so the guard's and kube-proxy's DNAT apply), then the
   * ClusterIP addresses, then the node's own path and the daemon's other rules, then a pass for
   * duplicates. Each iptables command costs tens of ms, so the order decides how long pods wait.
   */
  async divert(relaying: boolean): Promise<string[]> {
    const errors: string[] = [];
    const opts = this.iptablesOpts();
    const relayRules = relaying ? guardRules(this.relayIps, this.node.dnsPort, this.config.relayPort) : [];
    const fromPods = (r: IptablesRule) => r.chain === 'PREROUTING';
    errors.push(...(await ensureRules(relayRules.filter(fromPods), opts)).errors);
    const daemonRules = this.node.setupIptables ? this.daemonRules() : [];
    const podsFirst = daemonRules.filter((r) => r.table === 'raw' && fromPods(r));
    errors.push(...(await deleteRulesOnce(podsFirst, opts)).errors);
    if (this.node.setupInterface && this.serviceIps.length > 0) {
      // On the daemon's link, or on lo when the kernel had no dummy link type; absent is no error.
      errors.push(...(await removeAddresses(this.node.interfaceName, this.serviceIps, this.interfaceOpts())));
      errors.push(...(await removeAddresses('lo', this.serviceIps, this.interfaceOpts())));
    }
    // Then the node's own lookups (OUTPUT), the daemon's remaining rules, and duplicates.
    errors.push(...(await ensureRules(relayRules.filter((r) => !fromPods(r)), opts)).errors);
    errors.push(...(await deleteRulesOnce(daemonRules.filter((r) => !podsFirst.includes(r)), opts)).errors);
    errors.push(...(await removeRules(daemonRules, opts)).errors);
    return errors;
  }

  /** handBack, before the relay closes: the daemon's addresses and rules again, then the guard's rules go. */
  async restore(): Promise<string[]> {
    const errors: string[] = [];
    if (this.node.setupInterface) errors.push(...(await ensureInterface(this.node.interfaceName, this.node.localIps, this.interfaceOpts())).errors);
    if (this.node.setupIptables) errors.push(...(await ensureRules(this.daemonRules(), this.iptablesOpts())).errors);
    errors.push(...(await this.removeGuardRules()));
    return errors;
  }

  /** Removes the guard's own rules (hand-back, exit, and at start: left over by a killed guard). */
  async removeGuardRules(): Promise<string[]> {
    if (this.relayIps.length === 0) return [];
    return [...(await removeRules(guardRules(this.relayIps, this.node.dnsPort, this.config.relayPort), this.iptablesOpts())).errors];
  }

  private daemonRules(): IptablesRule[] {
    return buildRules(this.node.localIps, this.node.dnsPort, this.node.healthPort);
  }

  private interfaceOpts(): InterfaceOptions {
    const { logger, setupErrors, exec, netns } = this.deps;
    return { logger, setupErrors, ...(exec ? { exec } : {}), ...(netns ? { netns } : {}) };
  }

  private iptablesOpts(): IptablesOptions {
    const { logger, setupErrors, exec, netns } = this.deps;
    return { logger, setupErrors, ...(exec ? { exec } : {}), ...(netns ? { netns } : {}) };
  }
}
