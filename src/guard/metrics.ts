// The guard's /metrics: its state, every transition, probe outcomes, what the relay served and the
// node setup errors of its own iptables/ip commands (node-cache's setup-errors metric, same labels).
import { Counter, Gauge, Registry } from 'prom-client';
import type { SetupErrors } from '../node-setup/setup-errors.js';
import { GUARD_STATES, type GuardState } from './state-machine.js';

export class GuardMetrics {
  readonly registry = new Registry();
  private readonly state: Gauge;
  private readonly transitions: Counter;
  private readonly probes: Counter;

  constructor(relayRequests: () => number, setupErrors: SetupErrors) {
    const registers = [this.registry];
    this.state = new Gauge({ name: 'node_local_dns_guard_state', help: 'The guard state (1 for the current one).', labelNames: ['state'], registers });
    this.transitions = new Counter({ name: 'node_local_dns_guard_transitions_total', help: 'Guard state transitions.', labelNames: ['from', 'to'], registers });
    this.probes = new Counter({ name: 'node_local_dns_guard_probes_total', help: 'Probe rounds (id.server CH TXT to every local IP), by outcome.', labelNames: ['result'], registers });
    new Counter({
      name: 'node_local_dns_guard_relay_requests_total',
      help: 'DNS requests the standby relay received while the guard had the node.',
      registers,
      collect() {
        this.reset();
        this.inc(relayRequests());
      },
    });
    new Counter({
      name: 'node_local_dns_guard_setup_errors_total',
      help: 'Errors of the iptables and ip commands the guard ran, by type.',
      labelNames: ['errortype'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(setupErrors.counts)) this.inc({ errortype: type }, n);
      },
    });
    this.setState('starting');
  }

  setState(current: GuardState): void {
    for (const s of GUARD_STATES) this.state.set({ state: s }, s === current ? 1 : 0);
  }

  transition(from: GuardState, to: GuardState): void {
    this.transitions.inc({ from, to });
    this.setState(to);
  }

  probe(answered: boolean): void {
    this.probes.inc({ result: answered ? 'answered' : 'unanswered' });
  }
}
