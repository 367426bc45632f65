// Starts our daemon in-process for tests on 127.0.0.1 with port 0, from a YAML config string
// (so tests exercise the same validation as users), and stops it in after().
import { Daemon, type DaemonService } from '../../src/daemon.js';
import { loadConfigText, formatIssue } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import type { Clock } from '../../src/util/clock.js';

export interface RunningDaemon {
  readonly daemon: Daemon;
  readonly config: Config;
  /** UDP/TCP port of the first listener. */
  readonly port: number;
  readonly server: { host: string; port: number };
  stop(): Promise<void>;
}

export function configFromYaml(yaml: string): Config {
  const result = loadConfigText(yaml, 'test.yaml');
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.config;
}

/** A typical block forwarding cluster.local to `upstream` (host:port), with CoreDNS-like cache settings. */
export function clusterConfigYaml(upstream: string, extra: { forward?: string; cache?: string; top?: string; zones?: string; success?: string } = {}): string {
  return `servers:
  - zones: [${extra.zones ?? 'cluster.local, 10.in-addr.arpa'}]
    bind: [127.0.0.1]
    port: 0
    cache:
      success: ${extra.success ?? '{ capacity: 9984, maxTTL: 30, minTTL: 5 }'}
      denial: { capacity: 9984, maxTTL: 5, minTTL: 5 }
${extra.cache ?? ''}
    forward:
      to: ["${upstream}"]
      forceTCP: true
${extra.forward ?? ''}
${extra.top ?? ''}`;
}

export async function startDaemon(yamlOrConfig: string | Config, opts: { logger?: Logger; clock?: Clock; services?: DaemonService[] } = {}): Promise<RunningDaemon> {
  const config = typeof yamlOrConfig === 'string' ? configFromYaml(yamlOrConfig) : yamlOrConfig;
  const daemon = new Daemon({ logger: opts.logger ?? silentLogger, clock: opts.clock, services: opts.services });
  await daemon.start(config);
  const first = daemon.listeners()[0];
  const port = first.udp.port;
  let stopped = false;
  return {
    daemon,
    config,
    port,
    server: { host: first.host, port },
    async stop() {
      if (stopped) return;
      stopped = true;
      await daemon.stop(0);
    },
  };
}
