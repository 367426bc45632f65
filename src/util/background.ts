// Work nobody awaits: a cache refresh, a loop probe, a reload from a watcher or a timer, a worker
// message. Such a promise must never end in an unhandled rejection, which the process policy
// (cli/crash-policy.ts) can only count as "unhandled" without saying which task failed. A bug in
// one is counted in coredns_panics_total and logged (at most once per 5 s per task), exactly as
// the same bug in a client's query is, and serving goes on.
import type { Logger } from '../log/logger.js';
import { describeThrown, nldError } from '../errors.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** Where a failed background task is reported: `task` names it ("cache refresh", "reload"). */
export type BackgroundErrorSink = (task: string, err: unknown) => void;

/** Lets `work` run on; a rejection goes to `onError`, never to the process. */
export function inBackground(task: string, work: Promise<unknown>, onError: BackgroundErrorSink): void {
  work.then(undefined, (err: unknown) => onError(task, err));
}

/** Counts and logs background failures (NLD_ERR_BACKGROUND_TASK). */
export class BackgroundFailures {
  private readonly log: RateLimitedLog;

  constructor(
    private readonly count: () => void,
    logger: Logger,
  ) {
    this.log = new RateLimitedLog(logger);
  }

  readonly report: BackgroundErrorSink = (task, err) => {
    this.count();
    this.log.report(`background:${task}`, nldError('NLD_ERR_BACKGROUND_TASK', [task, describeThrown(err)]).message);
  };
}
