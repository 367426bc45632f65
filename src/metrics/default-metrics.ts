// The standard process_* and nodejs_* metrics, as prom-client's collectDefaultMetrics registers
// them, except nodejs_gc_duration_seconds: it installs a PerformanceObserver that calls into JS on
// every garbage collection, and with the small young generation the image uses that is measured
// at about 6% of cache-hit QPS. Heap sizes per space (nodejs_heap_space_*) stay. The three
// nodejs_active_*_total gauges are left out too: a gauge named _total breaks the exposition
// naming rules (`promtool check metrics` flags it), and each is the sum of the per-type gauge
// next to it (sum(nodejs_active_handles)).
import type { Registry } from 'prom-client';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import version from 'prom-client/lib/metrics/version.js';

export function registerProcessMetrics(registry: Registry): void {
  const config = { eventLoopMonitoringPrecision: 10 };
  const collectors = [processCpuTotal, processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, eventLoopLag, processHandles, processRequests, heapSizeAndUsed, heapSpacesSizeAndUsed, version];
  if (typeof process.getActiveResourcesInfo === 'function') collectors.push(processResources);
  for (const collect of collectors) collect(registry, config);
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
}
