// CoreDNS `pprof [ADDRESS] { block [RATE] }` (plugin/pprof): profiling over HTTP, default
// localhost:6053, process-wide. The Node equivalent, under the same /debug/pprof/ paths:
//   /debug/pprof/                  index
//   /debug/pprof/profile?seconds=N a V8 CPU profile of N seconds (default 30, at most 300), as
//                                  .cpuprofile JSON for Chrome DevTools or speedscope (not Go's
//                                  pprof protobuf); one at a time
//   /debug/pprof/heap              a V8 heap snapshot (.heapsnapshot), streamed as it is taken
// `block` (Go's blocking profile) has no Node equivalent: warned about. With `workers` > 1 the
// profiles are of the primary process.
import type http from 'node:http';
import { Session } from 'node:inspector/promises';
import { getHeapSnapshot } from 'node:v8';
import { pipeline } from 'node:stream/promises';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import type { Config, HostPort } from '../config/types.js';
import type { DaemonService } from '../service-group.js';
import type { Logger } from '../log/logger.js';
import { startHttpServer, type HttpServerHandle } from '../metrics/http.js';

export const DEFAULT_PPROF_ADDRESS = 'localhost:6053';
const DEFAULT_PROFILE_SECONDS = 30;
const MAX_PROFILE_SECONDS = 300;

export function parsePprofDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  if (d.args.length > 1) return b.issue(d.line, 'pprof', 'takes at most one address');
  for (const sub of d.block ?? []) {
    if (sub.name !== 'block') return b.issue(sub.line, `pprof.${sub.name}`, `unknown option "${sub.name}"; supported: block`);
    b.ignore('pprof', sub.line, 'block: Go blocking profiles have no Node equivalent');
  }
  b.setGlobal('pprof', { listen: d.args[0]?.text ?? DEFAULT_PPROF_ADDRESS }, d.line);
}

const INDEX = `/debug/pprof/

profile?seconds=N  V8 CPU profile (.cpuprofile JSON; open in Chrome DevTools or speedscope)
heap               V8 heap snapshot (.heapsnapshot; open in Chrome DevTools, Memory tab)
`;

/** Serves the profiles; one CPU profile at a time. */
export class Profiler {
  private profiling = false;

  /** The HTTP routes; false for paths that are not ours. */
  readonly handle = async (path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    if (path === '/debug/pprof' || path === '/debug/pprof/') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(INDEX);
      return true;
    }
    if (path === '/debug/pprof/profile') {
      const seconds = Number(new URL(req.url ?? '', 'http://x').searchParams.get('seconds') ?? DEFAULT_PROFILE_SECONDS);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_PROFILE_SECONDS) {
        res.statusCode = 400;
        res.end(`seconds must be between 0 and ${MAX_PROFILE_SECONDS}\n`);
        return true;
      }
      if (this.profiling) {
        res.statusCode = 500; // Go: "Could not enable CPU profiling: cpu profiling already in use"
        res.end('Could not enable CPU profiling: cpu profiling already in use\n');
        return true;
      }
      this.profiling = true;
      try {
        const profile = await cpuProfile(seconds * 1000);
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Content-Disposition', 'attachment; filename="cpu.cpuprofile"');
        res.end(JSON.stringify(profile));
      } finally {
        this.profiling = false;
      }
      return true;
    }
    if (path === '/debug/pprof/heap') {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Disposition', 'attachment; filename="heap.heapsnapshot"');
      await pipeline(getHeapSnapshot(), res).catch(() => res.destroy()); // a client that leaves early
      return true;
    }
    return false;
  };
}

async function cpuProfile(ms: number): Promise<unknown> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

const sameAddress = (a: HostPort | null, b: HostPort | null): boolean => a?.host === b?.host && a?.port === b?.port;

/** The pprof listener as a daemon service: bound when configured, rebound when its address changes. */
export class PprofService implements DaemonService {
  readonly name = 'pprof';
  private server: HttpServerHandle | null = null;
  private listen: HostPort | null = null;
  private readonly profiler = new Profiler();

  constructor(private readonly logger: Logger) {}

  async afterListen(config: Config): Promise<void> {
    await this.apply(config);
  }

  async reload(config: Config): Promise<void> {
    await this.apply(config);
  }

  /** The bound address (tests use port 0). */
  address(): { host: string; port: number } | null {
    const a = this.server?.address();
    return a ? { host: a.address, port: a.port } : null;
  }

  private async apply(config: Config): Promise<void> {
    const listen = config.pprof?.listen ?? null;
    if (sameAddress(listen, this.listen)) return;
    await this.close();
    this.listen = listen;
    if (!listen) return;
    try {
      this.server = await startHttpServer({ host: listen.host, port: listen.port, routes: { handler: this.profiler.handle }, log: this.logger });
      this.logger.info({ listen: this.server.url }, 'pprof listening');
    } catch (err) {
      // Like a health listener that cannot bind: logged, DNS keeps serving.
      this.logger.error({ err: (err as Error).message, listen }, 'pprof cannot listen');
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.close();
  }
}
