// YAML schemas of the plugins' config sections (template, hosts, rewrite, dns64). They live here, not
// beside each plugin's runtime, so that the plugins' runtime modules do not import zod: a DNS
// worker thread (workers > 1) loads those and would otherwise compile and keep all of zod
// (about 10 MiB more per worker thread on Node 24).
import { z } from 'zod';
import { DEFAULT_HOSTS_RELOAD, DEFAULT_HOSTS_TTL } from '../plugins/hosts.js';
import { DEFAULT_DNS64_PREFIX } from '../plugins/dns64.js';

export const hostsSchema = z.strictObject({
  file: z.string().nullable().default(null),
  zones: z.array(z.string()).optional(),
  entries: z.array(z.string()).default([]),
  ttl: z.number().int().min(1).max(65535).default(DEFAULT_HOSTS_TTL),
  reload: z.union([z.string(), z.number()]).default(DEFAULT_HOSTS_RELOAD),
  noReverse: z.boolean().default(false),
  fallthrough: z.union([z.boolean(), z.array(z.string())]).default(false),
  fallthroughUnsupported: z.boolean().default(false),
});

const zoneList = z.array(z.string());

export const templateSchema = z.strictObject({
  class: z.string().default('IN'),
  type: z.string(),
  zones: zoneList.optional(),
  match: z.array(z.string()).default([]),
  answer: z.array(z.string()).default([]),
  additional: z.array(z.string()).default([]),
  authority: z.array(z.string()).default([]),
  rcode: z.string().default('NOERROR'),
  fallthrough: z.union([z.boolean(), zoneList]).default(false),
});

export type RawTemplate = z.output<typeof templateSchema>;

const pair = z.tuple([z.string(), z.string()]);
const matchEnum = z.enum(['exact', 'prefix', 'suffix', 'substring', 'regex']).default('exact');

export const rewriteRuleSchema = z.discriminatedUnion('field', [
  z.strictObject({
    field: z.literal('name'),
    continue: z.boolean().default(false),
    match: matchEnum,
    from: z.string(),
    to: z.string(),
    answer: z.strictObject({ auto: z.boolean().default(false), name: z.array(pair).default([]), value: z.array(pair).default([]) }).default({ auto: false, name: [], value: [] }),
  }),
  z.strictObject({ field: z.enum(['type', 'class']), continue: z.boolean().default(false), from: z.string(), to: z.string() }),
  z.strictObject({ field: z.literal('ttl'), continue: z.boolean().default(false), match: matchEnum, name: z.string(), ttl: z.union([z.string(), z.number()]) }),
  z.strictObject({ field: z.literal('cname'), continue: z.boolean().default(false), match: matchEnum, from: z.string(), to: z.string() }),
  z.strictObject({ field: z.literal('rcode'), continue: z.boolean().default(false), match: matchEnum, name: z.string(), from: z.union([z.string(), z.number()]), to: z.union([z.string(), z.number()]) }),
  z.strictObject({
    field: z.literal('edns0'),
    continue: z.boolean().default(false),
    option: z.enum(['local', 'nsid', 'subnet']),
    action: z.enum(['set', 'append', 'replace', 'unset']),
    code: z.number().int().min(0).max(65535).default(0), // local
    data: z.string().regex(/^([0-9a-f]{2})*$/i, 'must be hex').default(''), // local
    variable: z.enum(['{qname}', '{qtype}', '{client_ip}', '{client_port}', '{protocol}']).nullable().default(null), // local
    v4Bits: z.number().int().min(0).max(32).default(0), // subnet
    v6Bits: z.number().int().min(0).max(128).default(0),
  }),
]);

export type RawRewriteRule = z.output<typeof rewriteRuleSchema>;

export const dns64Schema = z.strictObject({
  prefix: z.string().default(DEFAULT_DNS64_PREFIX),
  translateAll: z.boolean().default(false),
  allowIPv4: z.boolean().default(false),
});

export type RawDns64 = z.output<typeof dns64Schema>;

export const dnstapSchema = z.strictObject({
  endpoint: z.string(), // /path, unix:///path or tcp://host:port
  full: z.boolean().default(false),
  queue: z.number().int().min(1).max(4096).default(1),
  identity: z.string().nullable().default(null),
  version: z.string().nullable().default(null),
});

export const loadbalanceSchema = z.union([
  z.boolean(),
  z.literal('round_robin'),
  z.strictObject({
    policy: z.enum(['round_robin', 'weighted']).default('round_robin'),
    weightFile: z.string().nullable().default(null),
    reload: z.union([z.string(), z.number()]).default('30s'),
    prefer: z.array(z.string()).default([]),
  }),
]);
