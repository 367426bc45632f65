// The deploy/ manifests, offline: every Kubernetes object is validated against the API schemas
// (kubernetes-models) and type-checked for unknown fields; the DaemonSet is checked for drop-in
// compatibility with the official nodelocaldns manifest; the ConfigMap's Corefile goes through the
// install guide's sed commands (taken from deploy/README.md) and node-cache's template generation
// and must load; the README's patches are applied and re-validated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { parseArgs } from '../../src/cli/args.js';
import { parseGuardArgs } from '../../src/guard/run.js';
import { loadCorefile } from '../../src/config/corefile.js';
import { resolveConfig } from '../../src/config/sources.js';
import type { Config } from '../../src/config/types.js';
import { clusterDnsFromEnv, generateCorefile } from '../../src/kube/template.js';

type Obj = Record<string, any>;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = join(ROOT, 'deploy');
const README = readFileSync(join(DEPLOY, 'README.md'), 'utf8');

/** What the official manifest (kubernetes/kubernetes cluster/addons/dns/nodelocaldns) passes. */
const NODE_CACHE_ARGS = ['-localip', '__PILLAR__LOCAL__DNS__,__PILLAR__DNS__SERVER__', '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream', '-pidfile', '/tmp/node-cache.pid'];
const IMAGE = 'ghcr.io/node-local-dns/node-local-dns:0.1.0';
/** The install guide's shell variables. */
const VARS = { domain: 'cluster.local', localdns: '169.254.20.10', kubedns: '10.96.0.10' };
/** ClusterIP of kube-dns-upstream: the kubelet injects it as KUBE_DNS_UPSTREAM_SERVICE_HOST. */
const UPSTREAM_IP = '10.96.0.11';

// ---------------------------------------------------------------------------------------------
// Loading

interface Kind {
  readonly validate: (obj: Obj) => void;
  readonly typeModule: string; // for the unknown-field check
  readonly typeName: string;
}

const KINDS: Record<string, Kind> = {
  'v1/ServiceAccount': { validate: (o) => new ServiceAccount(o as never).validate(), typeModule: 'kubernetes-models/v1/ServiceAccount', typeName: 'IServiceAccount' },
  'v1/Service': { validate: (o) => new Service(o as never).validate(), typeModule: 'kubernetes-models/v1/Service', typeName: 'IService' },
  'v1/ConfigMap': { validate: (o) => new ConfigMap(o as never).validate(), typeModule: 'kubernetes-models/v1/ConfigMap', typeName: 'IConfigMap' },
  'apps/v1/DaemonSet': { validate: (o) => new DaemonSet(o as never).validate(), typeModule: 'kubernetes-models/apps/v1/DaemonSet', typeName: 'IDaemonSet' },
};
const KUSTOMIZATION = 'kustomize.config.k8s.io/v1beta1/Kustomization';

interface Doc {
  readonly file: string; // relative to deploy/
  readonly index: number;
  readonly obj: Obj;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

function parseDocs(text: string, file: string): Doc[] {
  const docs: Doc[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    assert.deepEqual(doc.errors.map(String), [], `${file}: YAML errors in document ${index}`);
    const obj = doc.toJS() as Obj | null;
    if (obj !== null) docs.push({ file, index, obj });
  });
  return docs;
}

const kindOf = (o: Obj): string => `${o.apiVersion}/${o.kind}`;
const ALL = yamlFiles(DEPLOY).flatMap((path) => parseDocs(readFileSync(path, 'utf8'), relative(DEPLOY, path)));
const OBJECTS = ALL.filter((d) => d.obj.apiVersion !== undefined && kindOf(d.obj) !== KUSTOMIZATION);

function only(kind: string, name: string, docs: readonly Doc[] = OBJECTS): Obj {
  const found = docs.filter((d) => kindOf(d.obj) === kind && d.obj.metadata?.name === name);
  assert.equal(found.length, 1, `exactly one ${kind} ${name}`);
  return found[0].obj;
}

const clone = <T>(v: T): T => structuredClone(v);

/** The validation error message, or '' when the object is valid. */
function validationError(obj: Obj): string {
  const kind = KINDS[kindOf(obj)];
  assert.ok(kind, `no model for ${kindOf(obj)}`);
  try {
    kind.validate(obj);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The schemas accept unknown properties (the API server would reject them with kubectl's default
 * strict validation), so a misspelt field such as `readinesProbe` would pass. Type-checking each
 * object as an object literal of its kubernetes-models interface catches those: TypeScript's
 * excess-property check applies at every depth. Returns one message per problem.
 */
function unknownFieldErrors(docs: readonly { label: string; obj: Obj }[]): string[] {
  const imports = new Set<string>();
  const lines: string[] = [];
  for (const { obj } of docs) {
    const kind = KINDS[kindOf(obj)];
    imports.add(`import type { ${kind.typeName} } from '${kind.typeModule}';`);
    lines.push(`export const o${lines.length}: ${kind.typeName} = ${JSON.stringify(obj)};`);
  }
  const header = [...imports];
  const source = [...header, ...lines].join('\n') + '\n';
  const virtual = join(ROOT, 'test/deploy/__manifest_types__.ts'); // never written: served from memory
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  const isVirtual = (f: string) => resolve(f) === virtual;
  host.getSourceFile = (f, lang, ...rest) => (isVirtual(f) ? ts.createSourceFile(f, source, lang) : getSourceFile.call(host, f, lang, ...rest));
  host.fileExists = (f) => isVirtual(f) || fileExists.call(host, f);
  host.readFile = (f) => (isVirtual(f) ? source : readFile.call(host, f));
  const program = ts.createProgram([virtual], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const label = line >= header.length ? docs[line - header.length].label : '(imports)';
    return `${label}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

// ---------------------------------------------------------------------------------------------
// README commands

/** The markdown between a heading and the next heading of the same or a higher level. */
function readmeSection(heading: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  assert.ok(start >= 0, `README.md has the heading "${heading}"`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The sed script of a README install section, with the shell variables filled in. */
function sedScript(heading: string): string {
  const m = /sed -e "([^"]+)"/.exec(readmeSection(heading));
  assert.ok(m, `a sed -e "..." command under ${heading}`);
  return m[1].replace(/\$(domain|localdns|kubedns)\b/g, (_, name: keyof typeof VARS) => VARS[name]);
}

/** Runs the real sed, as the guide does, on a manifest file. */
function sed(script: string, file: string): string {
  return execFileSync('sed', ['-e', script, join(DEPLOY, file)], { encoding: 'utf8' });
}

function rendered(heading: string): { daemonset: Obj; configmap: Obj } {
  const script = sedScript(heading);
  return {
    daemonset: only('apps/v1/DaemonSet', 'node-local-dns', parseDocs(sed(script, 'daemonset.yaml'), 'daemonset.yaml')),
    configmap: only('v1/ConfigMap', 'node-local-dns', parseDocs(sed(script, 'configmap.yaml'), 'configmap.yaml')),
  };
}

/** The daemon's container (`node-cache`, first, as in the official manifest). */
const container = (ds: Obj): Obj => {
  const containers = ds.spec.template.spec.containers as Obj[];
  assert.deepEqual(containers.map((c) => c.name), ['node-cache', 'guard'], 'node-cache and the guard');
  return containers[0];
};
const guardContainer = (ds: Obj): Obj => (ds.spec.template.spec.containers as Obj[]).find((c) => c.name === 'guard')!;

/** Flags of the container as the daemon parses them. */
function flagsOf(ds: Obj) {
  const parsed = parseArgs(container(ds).args as string[]);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.flags;
}

/** The Corefile the daemon generates from the rendered template and loads, as in the pod. */
function generateAndLoad(template: string, localIps: readonly string[]): { text: string; config: Config } {
  const generated = generateCorefile({
    template,
    localIps,
    dnsPort: 53,
    clusterDns: clusterDnsFromEnv('kube-dns-upstream', { KUBE_DNS_UPSTREAM_SERVICE_HOST: UPSTREAM_IP }),
    stubDomains: {},
    upstreamNameservers: [],
  });
  assert.ok(generated.ok, generated.ok ? '' : `line ${generated.line}: ${generated.error}`);
  const loaded = loadCorefile(generated.text, '/etc/Corefile');
  assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.issues));
  return { text: generated.text, config: loaded.config };
}

const serverFor = (config: Config, zone: string) => {
  const server = config.servers.find((s) => s.zones.includes(zone));
  assert.ok(server, `a server block for ${zone}`);
  return server;
};

/** Applies the RFC 6902 operations the README uses (add, remove, replace) to a copy. */
function jsonPatch(target: Obj, ops: readonly { op: string; path: string; value?: unknown }[]): Obj {
  const out = clone(target);
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent: Obj = out;
    for (const k of keys) {
      parent = parent[k];
      assert.ok(parent !== undefined && parent !== null, `patch path ${path} exists`);
    }
    if (op === 'remove' || op === 'replace') assert.ok(last in parent, `patch ${op} ${path}: target exists`);
    if (op === 'remove') delete parent[last];
    else if (op === 'add' || op === 'replace') parent[last] = clone(value);
    else assert.fail(`unsupported patch op ${op}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema validation

test('every YAML document under deploy/ is a known Kubernetes object, valid against the schema', () => {
  assert.ok(OBJECTS.length >= 5);
  for (const doc of ALL) {
    const where = `${doc.file}#${doc.index}`;
    if (doc.obj.apiVersion === undefined) {
      // Only monitoring/ holds non-Kubernetes YAML (a Prometheus rule file).
      assert.ok(doc.file.startsWith('monitoring/'), `${where}: not a Kubernetes object`);
      assert.ok(Array.isArray(doc.obj.groups), `${where}: expected a Prometheus rule file (groups:)`);
      continue;
    }
    if (kindOf(doc.obj) === KUSTOMIZATION) continue;
    assert.ok(KINDS[kindOf(doc.obj)], `${where}: unexpected ${kindOf(doc.obj)}`);
    assert.equal(validationError(doc.obj), '', `${where}: schema validation`);
    assert.equal(doc.obj.metadata.namespace, 'kube-system', `${where}: namespace`);
  }
});

test('the official object set is there, once each', () => {
  const names = OBJECTS.map((d) => `${kindOf(d.obj)} ${d.obj.metadata.name}`).sort();
  assert.deepEqual(names, ['apps/v1/DaemonSet node-local-dns', 'v1/ConfigMap node-local-dns', 'v1/Service kube-dns-upstream', 'v1/Service node-local-dns', 'v1/ServiceAccount node-local-dns']);
});

test('no manifest has an unknown (e.g. misspelt) field', () => {
  assert.deepEqual(unknownFieldErrors(OBJECTS.map((d) => ({ label: `${d.file}#${d.index}`, obj: d.obj }))), []);
});

test('the validators run: a broken DaemonSet fails the schema, a misspelt field fails the type check', () => {
  const ds = only('apps/v1/DaemonSet', 'node-local-dns');
  const stringPort = clone(ds);
  container(stringPort).ports[0].containerPort = '53';
  assert.match(validationError(stringPort), /containerPort must be integer/);
  const badProtocol = clone(ds);
  container(badProtocol).ports[0].protocol = 'udp';
  assert.match(validationError(badProtocol), /protocol must be equal to one of the allowed values/);
  const noSelector = clone(ds);
  delete noSelector.spec.selector;
  assert.match(validationError(noSelector), /selector/);

  const misspelt = clone(ds);
  const c = container(misspelt);
  c.readinesProbe = c.readinessProbe;
  delete c.readinessProbe;
  assert.equal(validationError(misspelt), '', 'the schema alone accepts unknown fields');
  const errors = unknownFieldErrors([{ label: 'misspelt', obj: misspelt }]);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /misspelt: .*readinesProbe/);
});

// ---------------------------------------------------------------------------------------------
// Drop-in compatibility with the official manifest

test('DaemonSet: same container, args, ports, probes, mounts and pod settings as node-cache', () => {
  const ds = only('apps/v1/DaemonSet', 'node-local-dns');
  const pod = ds.spec.template.spec;
  const c = container(ds);

  assert.equal(c.name, 'node-cache', 'kubectl set image ... node-cache=... must keep working');
  assert.equal(c.image, IMAGE);
  assert.deepEqual(c.args, NODE_CACHE_ARGS);
  assert.equal(c.command, undefined, 'the image entrypoint takes the args');

  const ports = (c.ports as Obj[]).map((p) => `${p.name} ${p.containerPort}/${p.protocol}`);
  assert.deepEqual(ports, ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9253/TCP']);

  assert.deepEqual(c.livenessProbe, { httpGet: { host: '__PILLAR__LOCAL__DNS__', path: '/health', port: 8080 }, initialDelaySeconds: 60, timeoutSeconds: 5 });
  assert.deepEqual(c.readinessProbe.httpGet, { host: '__PILLAR__LOCAL__DNS__', path: '/ready', port: 8080 });

  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'Default');
  assert.equal(pod.priorityClassName, 'system-node-critical');
  assert.equal(pod.serviceAccountName, 'node-local-dns');
  assert.deepEqual(c.securityContext, { capabilities: { add: ['NET_ADMIN'] } });
  assert.deepEqual(pod.tolerations, [
    { key: 'CriticalAddonsOnly', operator: 'Exists' },
    { effect: 'NoExecute', operator: 'Exists' },
    { effect: 'NoSchedule', operator: 'Exists' },
  ]);

  assert.deepEqual(c.resources.requests, { cpu: '25m', memory: '32Mi' });
  assert.match(String(c.resources.limits?.memory), /^\d+Mi$/, 'a memory limit');
  assert.equal(c.resources.limits?.cpu, undefined, 'no CPU limit');

  const volumes = Object.fromEntries((pod.volumes as Obj[]).map((v) => [v.name, v]));
  assert.deepEqual(volumes['xtables-lock'], { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } });
  assert.deepEqual(volumes['kube-dns-config'], { name: 'kube-dns-config', configMap: { name: 'kube-dns', optional: true } });
  assert.deepEqual(volumes['config-volume'], { name: 'config-volume', configMap: { name: 'node-local-dns', items: [{ key: 'Corefile', path: 'Corefile.base' }] } });
  assert.deepEqual(volumes['cache-snapshot'], { name: 'cache-snapshot', hostPath: { path: '/run/node-local-dns', type: 'DirectoryOrCreate' } });
  assert.equal(pod.volumes.length, 4);
  const mounts = Object.fromEntries((c.volumeMounts as Obj[]).map((m) => [m.name, m]));
  assert.deepEqual(mounts['xtables-lock'], { name: 'xtables-lock', mountPath: '/run/xtables.lock', readOnly: false });
  assert.equal(mounts['config-volume'].mountPath, '/etc/coredns', '-basecorefile default /etc/coredns/Corefile.base');
  assert.equal(mounts['kube-dns-config'].mountPath, '/etc/kube-dns', 'node-cache falls back to /etc/kube-dns');
  // Warm start: the snapshot file lives on the hostPath, so the next pod on the node reads it.
  const snapshotFile = (c.env as Obj[]).find((e) => e.name === 'NLD_CACHE_SNAPSHOT')?.value as string;
  assert.ok(snapshotFile?.startsWith(`${mounts['cache-snapshot'].mountPath}/`), 'NLD_CACHE_SNAPSHOT is on the cache-snapshot mount');
  assert.equal(c.volumeMounts.length, 4);

  const labels = ds.spec.template.metadata.labels;
  assert.deepEqual(ds.spec.selector.matchLabels, { 'k8s-app': 'node-local-dns' });
  assert.equal(labels['k8s-app'], 'node-local-dns');
  assert.deepEqual(ds.spec.template.metadata.annotations, { 'prometheus.io/port': '9253', 'prometheus.io/scrape': 'true' });
  assert.equal(ds.metadata.labels['addonmanager.kubernetes.io/mode'], 'Reconcile');
});

test('DaemonSet: the guard container gets node-cache\'s args, NET_ADMIN, the xtables lock and its own health port', () => {
  const ds = only('apps/v1/DaemonSet', 'node-local-dns');
  const guard = guardContainer(ds);
  const daemon = container(ds);
  assert.equal(guard.image, daemon.image, 'same image');
  assert.deepEqual(guard.args, ['guard', ...daemon.args], 'the daemon\'s own args after the subcommand');
  const renderedDs = rendered('### iptables mode').daemonset;
  const parsed = parseGuardArgs(guardContainer(renderedDs).args.slice(1));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  assert.deepEqual(parsed.flags.localIps, [VARS.localdns, VARS.kubedns]);
  assert.deepEqual(parsed.flags.localIps, flagsOf(renderedDs).localIps);
  assert.ok(parsed.settings.graceMs <= 2000, 'default grace at most 2 s');
  assert.equal(guard.command, undefined, 'the image entrypoint runs the guard');
  assert.deepEqual(guard.securityContext, { capabilities: { add: ['NET_ADMIN'] } });
  assert.deepEqual(guard.volumeMounts, [{ name: 'xtables-lock', mountPath: '/run/xtables.lock', readOnly: false }]);
  assert.deepEqual(guard.livenessProbe.httpGet, { path: '/health', port: parsed.settings.healthPort });
  assert.equal(guard.ports, undefined, 'no host port: a surge rollout stays schedulable');
  assert.match(String(guard.resources.limits?.memory), /^\d+Mi$/);
  assert.ok(readmeSection('## The guard').includes('NET_ADMIN'), 'the install guide says what the guard needs');
});

test('DaemonSet: the grace period covers the Corefile lameduck, and the strategy can be scheduled', () => {
  const ds = only('apps/v1/DaemonSet', 'node-local-dns');
  const { config } = generateAndLoad(rendered('### iptables mode').configmap.data.Corefile, [VARS.localdns, VARS.kubedns]);
  assert.equal(config.health.lameduckMs, 5000);
  // lameduck, then rules and interface removed (iptables -w 5 per call), then exit.
  assert.ok(ds.spec.template.spec.terminationGracePeriodSeconds * 1000 >= config.health.lameduckMs + 15_000);
  // hostNetwork turns container ports into host ports: a surge pod could never be scheduled.
  const surge = ds.spec.updateStrategy?.rollingUpdate?.maxSurge;
  if (surge !== undefined && surge !== 0 && surge !== '0%') assert.equal(container(ds).ports, undefined, 'maxSurge needs the container ports removed');
});

test('Service kube-dns-upstream selects the kube-dns pods on 53/UDP and 53/TCP', () => {
  const svc = only('v1/Service', 'kube-dns-upstream');
  assert.deepEqual(svc.spec.selector, { 'k8s-app': 'kube-dns' });
  assert.equal(svc.spec.clusterIP, undefined, 'a real ClusterIP: the kubelet injects it as KUBE_DNS_UPSTREAM_SERVICE_HOST');
  assert.deepEqual(
    (svc.spec.ports as Obj[]).map((p) => `${p.name} ${p.port}/${p.protocol}->${p.targetPort}`),
    ['dns 53/UDP->53', 'dns-tcp 53/TCP->53'],
  );
  // -upstreamsvc names this Service; the env var is derived from the name.
  assert.equal(flagsOf(rendered('### iptables mode').daemonset).upstreamService, svc.metadata.name);
});

test('headless metrics Service and ServiceAccount', () => {
  const svc = only('v1/Service', 'node-local-dns');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.deepEqual(svc.spec.selector, only('apps/v1/DaemonSet', 'node-local-dns').spec.selector.matchLabels);
  const guardPort = guardContainer(only('apps/v1/DaemonSet', 'node-local-dns')).livenessProbe.httpGet.port;
  assert.deepEqual(svc.spec.ports, [
    { name: 'metrics', port: 9253, targetPort: 9253 },
    { name: 'guard-metrics', port: guardPort, targetPort: guardPort },
  ]);
  assert.deepEqual(svc.metadata.annotations, { 'prometheus.io/port': '9253', 'prometheus.io/scrape': 'true' });
  only('v1/ServiceAccount', 'node-local-dns');
});

// ---------------------------------------------------------------------------------------------
// Corefile: the install guide's substitutions, then node-cache's template generation

test('the ConfigMap is the official Corefile template plus lameduck', () => {
  const corefile: string = only('v1/ConfigMap', 'node-local-dns').data.Corefile;
  for (const p of ['__PILLAR__DNS__DOMAIN__:53 {', 'bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__', 'forward . __PILLAR__CLUSTER__DNS__ {', 'forward . __PILLAR__UPSTREAM__SERVERS__', 'prometheus :9253']) {
    assert.ok(corefile.includes(p), `Corefile has "${p}"`);
  }
  assert.match(corefile, /health __PILLAR__LOCAL__DNS__:8080 \{\s*lameduck 5s\s*\}/);
  assert.equal(corefile.match(/^\S.*\{$/gm)?.length, 4, 'four server blocks');
});

test('iptables mode: the README sed and node-cache generation give a Corefile that loads', () => {
  const { daemonset, configmap } = rendered('### iptables mode');
  // The brief's substitutions, done here by hand, must match what the guide's sed does.
  const template = (only('v1/ConfigMap', 'node-local-dns').data.Corefile as string)
    .replaceAll('__PILLAR__DNS__DOMAIN__', VARS.domain)
    .replaceAll('__PILLAR__LOCAL__DNS__', VARS.localdns)
    .replaceAll('__PILLAR__DNS__SERVER__', VARS.kubedns);
  assert.equal(configmap.data.Corefile, template);
  assert.equal(validationError(daemonset), '');
  assert.equal(validationError(configmap), '');

  const flags = flagsOf(daemonset);
  assert.deepEqual(flags.localIps, [VARS.localdns, VARS.kubedns]);
  assert.equal(flags.conf, '/etc/Corefile');
  assert.equal(flags.pidFile, '/tmp/node-cache.pid');
  assert.equal(container(daemonset).livenessProbe.httpGet.host, VARS.localdns);
  assert.equal(container(daemonset).readinessProbe.httpGet.host, VARS.localdns);

  const { text, config } = generateAndLoad(template, flags.localIps);
  assert.doesNotMatch(text, /__PILLAR__/);
  assert.equal(config.servers.length, 4);
  for (const s of config.servers) {
    assert.deepEqual([...s.bind].sort(), [VARS.kubedns, VARS.localdns].sort(), `${s.zones} binds both addresses`);
    assert.equal(s.port, 53);
  }
  const cluster = serverFor(config, 'cluster.local.');
  assert.deepEqual(cluster.forward?.to.map((u) => u.label), [`${UPSTREAM_IP}:53`]);
  assert.equal(cluster.forward?.forceTcp, true);
  assert.deepEqual(cluster.cache?.success.capacity, 9984);
  assert.deepEqual(config.health.listen, { host: VARS.localdns, port: 8080 });
  assert.equal(config.metrics.listen?.port, 9253);
});

test('IPVS mode: the README sed deletes ",__PILLAR__DNS__SERVER__" with its comma; the Corefile loads', () => {
  const { daemonset, configmap } = rendered('### IPVS mode');
  assert.equal(validationError(daemonset), '');
  assert.deepEqual(container(daemonset).args.slice(0, 2), ['-localip', VARS.localdns]);
  const flags = flagsOf(daemonset); // a left-over comma would fail here ("invalid localip")
  assert.deepEqual(flags.localIps, [VARS.localdns]);

  const corefile: string = configmap.data.Corefile;
  assert.ok(corefile.includes(`forward . ${VARS.kubedns} {`), 'cluster domain forwarded to the kube-dns ClusterIP');
  assert.ok(corefile.includes('__PILLAR__DNS__SERVER__'), 'the bind lines keep it; node-cache blanks it at run time');
  const { text, config } = generateAndLoad(corefile, flags.localIps);
  assert.doesNotMatch(text, /__PILLAR__/);
  for (const s of config.servers) assert.deepEqual(s.bind, [VARS.localdns], `${s.zones} binds the local address only`);
  assert.deepEqual(serverFor(config, 'cluster.local.').forward?.to.map((u) => u.label), [`${VARS.kubedns}:53`]);
  assert.deepEqual(config.health.listen, { host: VARS.localdns, port: 8080 });
});

test('in a simulated pod (mounts, env, kube-dns ConfigMap) the daemon resolves the rendered manifest', () => {
  const { daemonset, configmap } = rendered('### iptables mode');
  const dir = mkdtempSync(join(tmpdir(), 'nld-deploy-'));
  try {
    // The volume layout of the DaemonSet, under a temp dir.
    mkdirSync(join(dir, 'etc/coredns'), { recursive: true });
    mkdirSync(join(dir, 'etc/kube-dns'), { recursive: true });
    writeFileSync(join(dir, 'etc/coredns/Corefile.base'), configmap.data.Corefile);
    writeFileSync(join(dir, 'etc/kube-dns/stubDomains'), JSON.stringify({ 'acme.local': ['10.150.0.1'] }));
    writeFileSync(join(dir, 'etc/kube-dns/upstreamNameservers'), JSON.stringify(['198.51.100.53', '192.0.2.53']));
    const args = (container(daemonset).args as string[]).map((a) => (a.startsWith('/') ? join(dir, a) : a));
    const parsed = parseArgs([...args, '-basecorefile', join(dir, 'etc/coredns/Corefile.base'), '-kubednscm', join(dir, 'etc/kube-dns')]);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    const resolved = resolveConfig(parsed.flags, { KUBE_DNS_UPSTREAM_SERVICE_HOST: UPSTREAM_IP });
    assert.ok(resolved.ok, resolved.ok ? '' : JSON.stringify(resolved.issues));
    assert.equal(resolved.mode, 'node-cache');
    // As node-cache logs it: the official `.` block forwards over UDP already.
    assert.deepEqual(resolved.warnings.map((w) => w.slice(w.indexOf(': ') + 2)), ['Did not find TCP upstream block to replace, assuming upstreams already use UDP.']);
    assert.ok(existsSync(join(dir, 'etc/Corefile')), 'the generated Corefile is written to -conf');
    const { config } = resolved;
    assert.deepEqual(config.node?.localIps, [VARS.localdns, VARS.kubedns]);
    assert.deepEqual(serverFor(config, 'acme.local.').forward?.to.map((u) => u.label), ['10.150.0.1:53']);
    assert.deepEqual(serverFor(config, '.').forward?.to.map((u) => u.label), ['198.51.100.53:53', '192.0.2.53:53']);
    assert.deepEqual(serverFor(config, 'cluster.local.').forward?.to.map((u) => u.label), [`${UPSTREAM_IP}:53`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// kustomization and the README's other commands

test('kustomization lists every manifest, and its dashboard generator points at a JSON file', () => {
  const found = ALL.filter((d) => kindOf(d.obj) === KUSTOMIZATION);
  assert.deepEqual(found.map((d) => d.file), ['kustomization.yaml']);
  const k = found[0].obj;
  assert.equal(k.namespace, 'kube-system');
  const manifests = [...new Set(OBJECTS.filter((d) => !d.file.includes('/')).map((d) => d.file))].sort();
  assert.deepEqual([...(k.resources as string[])].sort(), manifests);
  for (const gen of k.configMapGenerator ?? []) {
    for (const entry of gen.files as string[]) {
      const path = join(DEPLOY, entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : entry);
      assert.ok(existsSync(path), `${entry} exists`);
      if (path.endsWith('.json')) JSON.parse(readFileSync(path, 'utf8'));
    }
  }
});

test('kubectl kustomize renders valid objects (skipped without kubectl)', (t) => {
  const r = spawnSync('kubectl', ['kustomize', DEPLOY], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) {
    t.skip(`kubectl kustomize unavailable: ${r.error?.message ?? r.stderr.trim().split('\n')[0]}`);
    return;
  }
  const docs = parseDocs(r.stdout, 'kustomize output');
  const order = docs.map((d) => `${d.obj.kind} ${d.obj.metadata.name}`);
  assert.ok(order.indexOf('Service kube-dns-upstream') < order.indexOf('DaemonSet node-local-dns'), 'the upstream Service is created first');
  for (const d of docs) {
    assert.equal(d.obj.metadata.namespace, 'kube-system');
    assert.equal(validationError(d.obj), '', `${d.obj.kind} ${d.obj.metadata.name}`);
  }
  const dashboard = only('v1/ConfigMap', 'node-local-dns-dashboard', docs);
  assert.equal(dashboard.metadata.labels.grafana_dashboard, '1');
  assert.ok(JSON.parse(dashboard.data['node-local-dns.json']).panels.length > 0);
});

test('README surge patch: applies to the DaemonSet, stays valid, removes the host ports', () => {
  const section = readmeSection('## Rollout strategy');
  const m = /--type=json -p '([^']+)'/.exec(section);
  assert.ok(m, 'a kubectl patch --type=json command');
  const patched = jsonPatch(only('apps/v1/DaemonSet', 'node-local-dns'), JSON.parse(m[1]));
  assert.equal(validationError(patched), '');
  assert.deepEqual(unknownFieldErrors([{ label: 'surge', obj: patched }]), []);
  assert.deepEqual(patched.spec.updateStrategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
  assert.equal(container(patched).ports, undefined);
  assert.equal(patched.spec.minReadySeconds, 5);
});

test('README image-swap patch: the readiness probe matches the manifest and is sent with the image', () => {
  const section = readmeSection('## Replacing the image in an existing install');
  assert.ok(section.includes(`kubectl -n kube-system set image ds/node-local-dns node-cache=${IMAGE}`));
  const m = /patch ds node-local-dns -p '(.+)'$/m.exec(section);
  assert.ok(m, 'a strategic-merge patch');
  const patch = JSON.parse(m[1].replace(`'"$localdns"'`, VARS.localdns)) as Obj;
  const patchContainer = patch.spec.template.spec.containers[0];
  const c = container(only('apps/v1/DaemonSet', 'node-local-dns'));
  assert.equal(patchContainer.name, c.name);
  assert.equal(patchContainer.image, IMAGE);
  assert.deepEqual(patchContainer.readinessProbe, { ...c.readinessProbe, httpGet: { ...c.readinessProbe.httpGet, host: VARS.localdns } });
});

test('README PrometheusRule wrapper produces a PrometheusRule holding the alert groups', () => {
  const section = readmeSection('## Monitoring');
  const m = /```sh\n([\s\S]*?)\| kubectl apply -f -\n\s*```/.exec(section);
  assert.ok(m, 'the wrapper command');
  const script = m[1].replace(/^\s+/gm, '');
  const out = execFileSync('sh', ['-c', script], { cwd: ROOT, encoding: 'utf8' });
  const rule = parseYaml(out) as Obj;
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(rule.kind, 'PrometheusRule');
  const alerts = parseYaml(readFileSync(join(DEPLOY, 'monitoring/alerts.yaml'), 'utf8')) as Obj;
  assert.deepEqual(rule.spec.groups, alerts.groups);
});
