// The services around the DNS engine (node setup, HTTP, pidfile) and the order their hooks run
// in. Used by the single-process Daemon and by the cluster primary, so both start, reload and
// stop the same way: hooks run in registration order going up, in reverse order going down, and
// a failing close or detach is logged, never fatal.
import type { Config } from './config/types.js';
import type { Logger } from './log/logger.js';

/** A part of the daemon with its own lifecycle, around the DNS listeners. */
export interface DaemonService {
  readonly name: string;
  /** Called before listeners bind (e.g. to add the local IPs they bind to). */
  beforeListen?(config: Config): Promise<void>;
  /** Called once listeners are bound (e.g. to install iptables rules, start HTTP servers). */
  afterListen?(config: Config): Promise<void>;
  /** Called on reload with the new config, after the new listeners are bound. */
  reload?(config: Config): Promise<void>;
  /** Called at the start of shutdown, before the lameduck wait. */
  lameduck?(): void;
  /** Called after the lameduck wait while listeners still serve (node-cache tears rules down here). */
  beforeClose?(): Promise<void>;
  /** Called on stop, in reverse order of registration. */
  close(): Promise<void>;
  /** Called instead of close() when a successor took over: release without undoing shared state. */
  detach?(): Promise<void>;
}

export class ServiceGroup {
  constructor(
    private readonly services: readonly DaemonService[],
    private readonly logger: Logger,
  ) {}

  async beforeListen(config: Config): Promise<void> {
    for (const s of this.services) await s.beforeListen?.(config);
  }

  async afterListen(config: Config): Promise<void> {
    for (const s of this.services) await s.afterListen?.(config);
  }

  async reload(config: Config): Promise<void> {
    for (const s of this.services) await s.reload?.(config);
  }

  lameduck(): void {
    for (const s of this.services) s.lameduck?.();
  }

  async beforeClose(): Promise<void> {
    await this.eachReversed('before closing', (s) => s.beforeClose?.());
  }

  async close(): Promise<void> {
    await this.eachReversed('closing', (s) => s.close());
  }

  async detach(): Promise<void> {
    await this.eachReversed('detaching', (s) => (s.detach ? s.detach() : s.close()));
  }

  private async eachReversed(what: string, fn: (s: DaemonService) => Promise<void> | undefined): Promise<void> {
    for (const s of [...this.services].reverse()) {
      try {
        await fn(s);
      } catch (err) {
        this.logger.error({ service: s.name, err }, `error while ${what}`);
      }
    }
  }
}
