// CoreDNS `pprof [ADDRESS] { block [RATE] }` (plugin/pprof): profiling over HTTP, default
// localhost:6053. The Node equivalent serves /debug/pprof/profile?seconds=N (a V8 CPU profile,
// .cpuprofile JSON for Chrome DevTools, not Go's pprof protobuf) and /debug/pprof/heap (a V8 heap
// snapshot, streamed). `block` (Go's blocking profile) has no Node equivalent and is warned about.
import type { BlockBuilder, Directive } from '../config/corefile.js';

export const DEFAULT_PPROF_ADDRESS = 'localhost:6053';

export function parsePprofDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 1) return b.issue(d.line, 'pprof', 'takes at most one address');
  for (const sub of d.block ?? []) {
    if (sub.name !== 'block') return b.issue(sub.line, `pprof.${sub.name}`, `unknown option "${sub.name}"; supported: block`);
    b.ignore('pprof', sub.line, 'block: Go blocking profiles have no Node equivalent');
  }
  if (b.setGlobal('pprof', { listen: d.args[0]?.text ?? DEFAULT_PPROF_ADDRESS }, d.line)) b.ignore('pprof', d.line, 'profiles are not served yet');
}
