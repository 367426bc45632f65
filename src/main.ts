// Process entry: `node-local-dns [run] [flags]`, `check-config FILE`, `convert-corefile FILE`,
// `load ...`. Flags follow node-cache (-localip, -conf, ...) plus --config FILE.yaml.
import { readFileSync } from 'node:fs';
import { runWorkerThread } from './cluster/worker.js';
import { workerThreadData } from './util/thread-data.js';
import { parseArgs, parseSubcommand } from './cli/args.js';
import { runDaemon, installSignalHandlers } from './cli/run.js';
import { checkConfig } from './cli/check-config.js';
import { formatIssue } from './config/load.js';
import { parseCorefile, rawConfigToYaml, SUPPORTED_DIRECTIVES } from './config/corefile.js';
import { VERSION } from './version.js';

const USAGE = `usage:
  node-local-dns [--config FILE.yaml] [node-cache flags]   run the daemon (no flags: embedded default on 127.0.0.1:5353)
  node-local-dns check-config FILE                         validate a YAML config, a Corefile (template) or a ConfigMap manifest
  node-local-dns convert-corefile FILE                     print the YAML equivalent of a Corefile
  node-local-dns load --server 127.0.0.1:53 --host NAME    load generator (see: load --help)
  node-local-dns query [@IP] [-p PORT] NAME [TYPE] [CLASS] one lookup, printed like dig (see: query --help)
  node-local-dns guard [node-cache flags] [-guard-* flags] fall back to kube-dns while the daemon is down (see: guard --help)
node-cache flags: -localip -conf -basecorefile -kubednscm -upstreamsvc -setupinterface -setupiptables
  -interfacename -syncinterval -health-port -metrics-listen-address -skipteardown -pidfile -dns.port`;

/** The file's text, or null after printing why it cannot be read. */
function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot read: ${(err as Error).message}`);
    return null;
  }
}

function convertCorefile(file: string | undefined): number {
  if (!file) {
    console.error('convert-corefile needs a FILE');
    return 2;
  }
  const text = readText(file);
  if (text === null) return 1;
  const parsed = parseCorefile(text, file);
  if (!parsed.ok) {
    for (const issue of parsed.issues) console.error(formatIssue(issue));
    return 1;
  }
  process.stdout.write(rawConfigToYaml(parsed.raw, { source: file }));
  return 0;
}

async function main(argv: string[]): Promise<number | null> {
  if (argv.includes('--help') || argv.includes('-h')) {
    if (argv[0] !== 'load' && argv[0] !== 'query' && argv[0] !== 'guard') {
      console.log(USAGE);
      return 0;
    }
  }
  const { command, rest } = parseSubcommand(argv);
  switch (command) {
    // The tools' code is loaded only when one runs, so the daemon does not carry it in memory.
    case 'load':
      return (await import('./tools/index.js')).runLoad(rest);
    case 'query':
      return (await import('./tools/index.js')).runQuery(rest);
    case 'guard':
      return (await import('./guard/run.js')).runGuard(rest);
    case 'check-config':
      return checkConfig(rest.find((a) => !a.startsWith('-')));
    case 'convert-corefile':
      return convertCorefile(rest.find((a) => !a.startsWith('-')));
    default: {
      const parsed = parseArgs(rest);
      if (!parsed.ok) {
        console.error(`node-local-dns: ${parsed.error}\n${USAGE}`);
        return 2;
      }
      if (parsed.flags.version) {
        console.log(`node-local-dns ${VERSION} (node ${process.version})`);
        return 0;
      }
      if (parsed.flags.plugins) {
        console.log(pluginListing());
        return 0;
      }
      if (parsed.flags.positionals.length > 0) {
        console.error(`node-local-dns: unexpected argument ${JSON.stringify(parsed.flags.positionals[0])}\n${USAGE}`);
        return 2;
      }
      const handle = await runDaemon(parsed.flags);
      installSignalHandlers(handle);
      return null; // keep running
    }
  }
}

/** `-plugins`, in CoreDNS's layout: the Corefile directives this build understands. */
export function pluginListing(): string {
  return ['Server types:', '  dns', '', 'Caddyfile loaders:', '  flag', '  default', '', 'Other plugins:', ...[...SUPPORTED_DIRECTIVES].sort().map((d) => `  dns.${d}`)].join('\n');
}

if (workerThreadData) runWorkerThread(workerThreadData);
else main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`node-local-dns: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
