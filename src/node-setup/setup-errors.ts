// node-cache's own error counter, coredns_nodecache_setup_errors_total{errortype}. All five
// label values exist from start (at 0) so alerts on rate() work before the first error.
export const SETUP_ERROR_TYPES = ['iptables', 'iptables_lock', 'interface_add', 'interface_check', 'configmap'] as const;
export type SetupErrorType = (typeof SETUP_ERROR_TYPES)[number];

export class SetupErrors {
  readonly counts: Record<SetupErrorType, number> = { iptables: 0, iptables_lock: 0, interface_add: 0, interface_check: 0, configmap: 0 };
  inc(type: SetupErrorType): void {
    this.counts[type]++;
  }
}
