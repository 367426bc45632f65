// prom-client's per-metric default collectors (prom-client/lib/metrics/*), used one by one by
// src/metrics/default-metrics.ts. Each takes the registry and the collectDefaultMetrics config.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collector: (registry: Registry, config?: { eventLoopMonitoringPrecision?: number; prefix?: string }) => void;
  export default collector;
}
