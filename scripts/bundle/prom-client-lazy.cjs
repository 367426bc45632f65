'use strict';
// prom-client's index as the daemon bundle sees it (scripts/build.mjs points `prom-client` here).
// The real index requires every part when it loads, among them the Pushgateway (http and https,
// which brings tls and OpenSSL's setup: about 9 MiB more resident memory on Node 24) and the
// cluster AggregatorRegistry, neither of which the daemon uses. Here each export is required on
// first access, so only the parts in use are ever loaded. Same names as the real index.
const lazy = {
  register: () => require('prom-client/lib/registry').globalRegistry,
  Registry: () => require('prom-client/lib/registry'),
  prometheusContentType: () => require('prom-client/lib/registry').PROMETHEUS_CONTENT_TYPE,
  openMetricsContentType: () => require('prom-client/lib/registry').OPENMETRICS_CONTENT_TYPE,
  validateMetricName: () => require('prom-client/lib/validation').validateMetricName,
  Counter: () => require('prom-client/lib/counter'),
  Gauge: () => require('prom-client/lib/gauge'),
  Histogram: () => require('prom-client/lib/histogram'),
  Summary: () => require('prom-client/lib/summary'),
  Pushgateway: () => require('prom-client/lib/pushgateway'),
  linearBuckets: () => require('prom-client/lib/bucketGenerators').linearBuckets,
  exponentialBuckets: () => require('prom-client/lib/bucketGenerators').exponentialBuckets,
  collectDefaultMetrics: () => require('prom-client/lib/defaultMetrics'),
  aggregators: () => require('prom-client/lib/metricAggregators').aggregators,
  AggregatorRegistry: () => require('prom-client/lib/cluster'),
};
for (const [name, load] of Object.entries(lazy)) Object.defineProperty(exports, name, { enumerable: true, get: load });
Object.defineProperty(exports, 'contentType', {
  enumerable: true,
  get: () => exports.register.contentType,
  set: (value) => exports.register.setContentType(value),
});
