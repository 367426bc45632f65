// The config file schema (YAML shape, camelCase keys as in the docs) and its transformation into
// the normalized model in types.ts. One schema holds every default; validation happens once.
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Config, ForwardConfig, CacheConfig, ServerBlockConfig, UpstreamAddress, PluginsConfig } from './types.js';
import { normalizeZone, parseDuration, parseHostPort, parseUpstream } from './values.js';
import { REUSE_PORT_SUPPORTED } from '../util/features.js';
import { validateTemplate } from '../plugins/template.js';
import { validateRewriteRule } from '../plugins/rewrite.js';
import { dns64Schema, dnstapSchema, hostsSchema, loadbalanceSchema, rewriteRuleSchema, templateSchema } from './plugin-schemas.js';
import { parseCidr, weightReloadMs } from '../plugins/loadbalance.js';
import { MAX_BUFSIZE, MIN_BUFSIZE } from '../plugins/bufsize.js';
import { validateDns64 } from '../plugins/dns64.js';
import { dnstapEndpoint } from '../plugins/dnstap.js';
import { DEFAULT_PPROF_ADDRESS } from '../plugins/pprof.js';
import { DEFAULT_SERVICE } from '../plugins/trace.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.error, input: value });
    return z.NEVER;
  }
  return parsed.value;
});

const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);
const port = z.number().int().min(0).max(65535);

const zoneName = z.string().transform((value, ctx) => {
  const parsed = normalizeZone(value);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.error, input: value });
    return z.NEVER;
  }
  return parsed.value;
});

const ipAddress = z.string().refine((v) => isIP(v) !== 0, { message: 'must be an IPv4 or IPv6 address' });

const listenAddress = (defaultPort: number) =>
  z.string().transform((value, ctx) => {
    const parsed = parseHostPort(value, defaultPort);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.error, input: value });
      return z.NEVER;
    }
    return parsed.value;
  });

const upstreamList = z
  .array(z.string())
  .min(1)
  .max(15) // CoreDNS's limit
  .transform((values, ctx) => {
    const out: UpstreamAddress[] = [];
    values.forEach((value, index) => {
      const parsed = parseUpstream(value);
      if (parsed.ok) out.push(...parsed.value);
      else ctx.addIssue({ code: 'custom', message: parsed.error, input: value, path: [index] });
    });
    return out;
  });

const cacheStore = (defaults: { capacity: number; maxTTL: number; minTTL: number }) =>
  z
    .strictObject({
      capacity: positiveInt.default(defaults.capacity),
      maxTTL: positiveInt.default(defaults.maxTTL),
      minTTL: nonNegativeInt.default(defaults.minTTL),
    })
    .default(defaults)
    .transform((s) => ({ capacity: s.capacity, maxTtlSeconds: s.maxTTL, minTtlSeconds: Math.min(s.minTTL, s.maxTTL) }));

// Defaults follow CoreDNS's cache plugin: 9984 entries (its 256-shard rounding of 10000),
// success TTL cap 3600 s, denial 1800 s, both floored at 5 s.
const cacheSchema = z
  .strictObject({
    success: cacheStore({ capacity: 9984, maxTTL: 3600, minTTL: 5 }),
    denial: cacheStore({ capacity: 9984, maxTTL: 1800, minTTL: 5 }),
    prefetch: z
      .strictObject({
        amount: nonNegativeInt.default(1),
        duration: duration.default(60_000),
        percentage: z.number().int().min(10).max(90).default(10),
      })
      .nullable()
      .default(null),
    serveStale: z
      .strictObject({ duration: duration.default(3_600_000), mode: z.enum(['immediate', 'verify']).default('immediate') })
      .nullable()
      .default(null),
    servfail: duration.default(5000).refine((ms) => ms <= 300_000, { message: 'must be at most 5m' }),
  })
  .transform(
    (c): CacheConfig => ({
      success: c.success,
      denial: c.denial,
      prefetch: c.prefetch && { amount: c.prefetch.amount, durationMs: c.prefetch.duration, percentage: c.prefetch.percentage },
      serveStale: c.serveStale && { durationMs: c.serveStale.duration, mode: c.serveStale.mode },
      servfailTtlSeconds: Math.floor(c.servfail / 1000),
    }),
  );

// Defaults follow CoreDNS's forward plugin (5 s deadline, 2 s per attempt, 10 s expire, 0.5 s
// health checks, max_fails 2) except maxConcurrent, which CoreDNS leaves unlimited: an unbounded
// backlog is how node-cache grows to gigabytes when kube-dns is slow.
const forwardSchema = z
  .strictObject({
    to: upstreamList,
    forceTCP: z.boolean().default(false),
    preferUDP: z.boolean().default(false),
    policy: z.enum(['random', 'round_robin', 'sequential']).default('random'),
    maxConcurrent: nonNegativeInt.default(1000),
    maxFails: nonNegativeInt.default(2),
    healthCheck: duration.default(500),
    expire: duration.default(10_000),
    timeout: duration.default(5000).refine((ms) => ms > 0, { message: 'must be > 0' }),
    attemptTimeout: duration.default(2000).refine((ms) => ms > 0, { message: 'must be > 0' }),
    maxConnections: positiveInt.max(64).default(4),
    except: z.array(zoneName).default([]),
  })
  .transform(
    (f): ForwardConfig => ({
      to: f.to,
      forceTcp: f.forceTCP,
      preferUdp: f.preferUDP && !f.forceTCP, // force_tcp wins, as in CoreDNS
      policy: f.policy,
      maxConcurrent: f.maxConcurrent,
      maxFails: f.maxFails,
      healthCheckMs: f.healthCheck,
      expireMs: f.expire,
      timeoutMs: f.timeout,
      attemptTimeoutMs: Math.min(f.attemptTimeout, f.timeout),
      maxConnectionsPerUpstream: f.maxConnections,
      except: f.except,
    }),
  );

const zoneOrUndefined = (zone: string): string | undefined => {
  const n = normalizeZone(zone);
  return n.ok ? n.value : undefined;
};
const zoneListOf = (zones: readonly string[], ctx: z.RefinementCtx, path: PropertyKey[]): string[] =>
  zones.map((zone, i) => {
    const n = normalizeZone(zone);
    if (!n.ok) ctx.addIssue({ code: 'custom', message: n.error, input: zone, path: [...path, i] });
    return n.ok ? n.value : '.';
  });

// Plugins (src/plugins/*): each field is off when absent; a block with none has `plugins: null`,
// which is all the query path checks.
const pluginFields = {
  template: z.array(templateSchema).default([]),
  hosts: hostsSchema.nullable().default(null),
  rewrite: z.array(rewriteRuleSchema).default([]),
  bufsize: z.number().int().min(MIN_BUFSIZE).max(MAX_BUFSIZE).nullable().default(null),
  loadbalance: loadbalanceSchema.default(false),
  whoami: z.boolean().default(false),
  dns64: dns64Schema.nullable().default(null),
  dnstap: z.array(dnstapSchema).default([]),
};

type RawPlugins = { [K in keyof typeof pluginFields]: z.output<(typeof pluginFields)[K]> };

function loadbalanceConfig(raw: RawPlugins['loadbalance'], ctx: z.RefinementCtx): PluginsConfig['loadbalance'] {
  if (raw === false) return null;
  if (raw === true || raw === 'round_robin') return { policy: 'round_robin', weightFile: null, reloadMs: 0, prefer: [] };
  if (raw.policy === 'weighted' && !raw.weightFile) ctx.addIssue({ code: 'custom', message: 'weighted needs a weightFile', path: ['loadbalance', 'weightFile'] });
  const reload = weightReloadMs(String(raw.reload));
  if (typeof reload === 'string') ctx.addIssue({ code: 'custom', message: reload, path: ['loadbalance', 'reload'] });
  raw.prefer.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed, path: ['loadbalance', 'prefer', i] });
  });
  return { policy: raw.policy, weightFile: raw.policy === 'weighted' ? raw.weightFile : null, reloadMs: typeof reload === 'number' ? reload : 0, prefer: raw.prefer };
}

function pluginsConfig(b: RawPlugins, zones: readonly string[], ctx: z.RefinementCtx): PluginsConfig | null {
  const template = b.template.flatMap((t, i) => {
    const v = validateTemplate(t, zones, zoneOrUndefined);
    if ('error' in v) ctx.addIssue({ code: 'custom', message: v.error, path: ['template', i, v.field] });
    return 'config' in v ? [v.config] : [];
  });
  const rewrite = b.rewrite.flatMap((r, i) => {
    const v = validateRewriteRule(r);
    if ('error' in v) ctx.addIssue({ code: 'custom', message: v.error, path: ['rewrite', i, v.field] });
    return 'config' in v ? [v.config] : [];
  });
  let hosts: PluginsConfig['hosts'] = null;
  if (b.hosts) {
    const h = b.hosts;
    const reload = parseDuration(h.reload);
    if (!reload.ok) ctx.addIssue({ code: 'custom', message: reload.error, path: ['hosts', 'reload'] });
    hosts = {
      file: h.file,
      zones: h.zones && h.zones.length > 0 ? zoneListOf(h.zones, ctx, ['hosts', 'zones']) : zones,
      entries: h.entries,
      ttlSeconds: h.ttl,
      reloadMs: reload.ok ? reload.value : 0,
      reverse: !h.noReverse,
      fallthrough: h.fallthrough === false ? null : h.fallthrough === true || h.fallthrough.length === 0 ? ['.'] : zoneListOf(h.fallthrough, ctx, ['hosts', 'fallthrough']),
      fallthroughUnsupported: h.fallthroughUnsupported,
    };
  }
  let dns64: PluginsConfig['dns64'] = null;
  if (b.dns64) {
    const v = validateDns64(b.dns64);
    if ('error' in v) ctx.addIssue({ code: 'custom', message: v.error, path: ['dns64', v.field] });
    else dns64 = v.config;
  }
  const dnstap = b.dnstap.flatMap((t, i) => {
    const endpoint = dnstapEndpoint(t.endpoint);
    if (typeof endpoint === 'string') ctx.addIssue({ code: 'custom', message: endpoint, path: ['dnstap', i, 'endpoint'] });
    return typeof endpoint === 'string' ? [] : [{ endpoint, full: t.full, queue: t.queue, identity: t.identity, version: t.version }];
  });
  const loadbalance = loadbalanceConfig(b.loadbalance, ctx);
  if (template.length === 0 && !hosts && rewrite.length === 0 && b.bufsize === null && !loadbalance && !b.whoami && !dns64 && dnstap.length === 0) return null;
  return { template, hosts, rewrite, bufsize: b.bufsize, loadbalance, whoami: b.whoami, dns64, dnstap };
}

const serverBlockSchema = z
  .strictObject({
    ...pluginFields,
    zones: z.array(zoneName).min(1).default(['.']),
    bind: z.array(ipAddress).min(1).default(['127.0.0.1']),
    port: port.default(53),
    cache: cacheSchema.nullable().default(null),
    forward: forwardSchema.nullable().default(null),
    log: z
      .union([z.boolean(), z.strictObject({ sampleRate: z.number().min(0).max(1).default(1) })])
      .default(false)
      .transform((l) => (l === false ? null : l === true ? { sampleRate: 1 } : l)),
    loop: z.boolean().default(false),
  })
  .transform(
    (b, ctx): ServerBlockConfig => ({
      zones: b.zones,
      bind: b.bind,
      port: b.port,
      cache: b.cache,
      forward: b.forward,
      log: b.log,
      loopDetect: b.loop,
      plugins: pluginsConfig(b, b.zones, ctx),
    }),
  );

const nodeSchema = z.strictObject({
  localIPs: z.array(ipAddress).min(1),
  setupInterface: z.boolean().default(true),
  setupIptables: z.boolean().default(true),
  interfaceName: z.string().min(1).max(15).default('nodelocaldns'),
  syncInterval: duration.default(60_000),
  skipTeardown: z.boolean().default(false),
  dnsPort: port.default(53),
  healthPort: port.default(8080),
});

export const configSchema = z
  .strictObject({
    servers: z.array(serverBlockSchema).min(1),
    health: z
      .strictObject({ listen: listenAddress(8080).nullable().default(null), lameduck: duration.default(0) })
      .default({ listen: null, lameduck: 0 }),
    metrics: z.strictObject({ listen: listenAddress(9253).nullable().default(null) }).default({ listen: null }),
    log: z
      .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .default({ level: 'info' }),
    // Timeouts are CoreDNS's server defaults (core/dnsserver: read 3s, write 5s, idle 10s).
    tcp: z
      .strictObject({
        readTimeout: duration.default(3000),
        idleTimeout: duration.default(10_000),
        writeTimeout: duration.default(5000),
        maxConnections: positiveInt.default(1000),
        maxQueriesInFlightPerConnection: positiveInt.default(100),
        maxQueuedBytesPerConnection: positiveInt.default(65_536),
      })
      .prefault({}),
    // The receive buffer bounds how long a query can wait to be read, and how large a burst is
    // absorbed: about 832 bytes per queued datagram, and the kernel doubles what is asked. 1 MiB
    // holds about 2,500 queries: under overload answers wait ~15 ms (8 MiB held 10,000 and they
    // waited 55-190 ms), while a pause of ~150 ms at 8k qps still loses nothing (256 KiB dropped
    // there, and a dropped query costs a glibc client 5 s). bench/udp-overload.ts, bench/attacks.ts.
    udp: z
      .strictObject({ receiveBuffer: positiveInt.default(1 << 20), sendBuffer: positiveInt.default(8 << 20) })
      .prefault({}),
    workers: positiveInt.max(64).default(1),
    reload: z.strictObject({ interval: duration.default(0) }).default({ interval: 0 }),
    node: nodeSchema.nullable().default(null),
    pprof: z.strictObject({ listen: z.string().default(DEFAULT_PPROF_ADDRESS).pipe(listenAddress(6053)) }).nullable().default(null),
    trace: z
      .strictObject({ endpoint: z.url({ protocol: /^https?$/ }), service: z.string().min(1).default(DEFAULT_SERVICE), every: positiveInt.default(1) })
      .nullable()
      .default(null),
    // Written by the Corefile reader: directives accepted but not applied (warned at start and reload).
    ignored: z.array(z.strictObject({ plugin: z.string(), at: z.string(), reason: z.string() })).default([]),
  })
  .superRefine((c, ctx) => {
    // workers > 1: worker threads, each with its own SO_REUSEPORT sockets on the same port.
    if (c.workers > 1 && !REUSE_PORT_SUPPORTED) {
      ctx.addIssue({ code: 'custom', path: ['workers'], message: `workers > 1 needs Node >= 22.12 (SO_REUSEPORT); this is Node ${process.versions.node}, use workers: 1` });
    }
    if (c.workers > 1) {
      c.servers.forEach((block, index) => {
        if (block.port === 0) ctx.addIssue({ code: 'custom', path: ['servers', index, 'port'], message: 'port 0 (any free port) needs workers: 1: every worker binds the same port' });
      });
    }
    // Two blocks may share a listener only if they serve different zones (CoreDNS rule).
    const seen = new Map<string, number>();
    c.servers.forEach((block, index) => {
      for (const addr of block.bind) {
        for (const zone of block.zones) {
          const key = `${addr}|${block.port}|${zone}`;
          const previous = seen.get(key);
          if (previous !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['servers', index, 'zones'],
              message: `zone ${zone} on ${addr}:${block.port} is already served by servers[${previous}]`,
            });
          }
          seen.set(key, index);
        }
      }
    });
  })
  .transform(
    (c): Config => ({
      servers: c.servers,
      health: { listen: c.health.listen, lameduckMs: c.health.lameduck },
      metrics: { listen: c.metrics.listen },
      log: c.log,
      tcp: {
        readTimeoutMs: c.tcp.readTimeout,
        idleTimeoutMs: c.tcp.idleTimeout,
        writeTimeoutMs: c.tcp.writeTimeout,
        maxConnections: c.tcp.maxConnections,
        maxQueriesInFlightPerConnection: c.tcp.maxQueriesInFlightPerConnection,
        maxQueuedBytesPerConnection: c.tcp.maxQueuedBytesPerConnection,
      },
      udp: { receiveBufferBytes: c.udp.receiveBuffer, sendBufferBytes: c.udp.sendBuffer },
      workers: c.workers,
      reload: { intervalMs: c.reload.interval },
      node: c.node && {
        localIps: c.node.localIPs,
        setupInterface: c.node.setupInterface,
        setupIptables: c.node.setupIptables,
        interfaceName: c.node.interfaceName,
        syncIntervalMs: c.node.syncInterval,
        skipTeardown: c.node.skipTeardown,
        dnsPort: c.node.dnsPort,
        healthPort: c.node.healthPort,
      },
      pprof: c.pprof,
      trace: c.trace && { endpoint: c.trace.endpoint, serviceName: c.trace.service, every: c.trace.every },
      ignored: c.ignored,
    }),
  );

/** The raw, YAML-shaped config (what a file or the Corefile converter produces). */
export type RawConfig = z.input<typeof configSchema>;
