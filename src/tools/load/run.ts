// Entry point of `node-local-dns load`: parse options, run C concurrent
// workers that each loop lookups over the host list until the duration ends
// (or --max-count lookups were issued, or Ctrl-C), then print the report.
//
// Exit codes: 0 when the run completed (even if lookups failed), 1 when it
// could not run or the HTML report could not be written, 2 for bad options.

import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { LOAD_USAGE, parseLoadArgs, type LoadOptions } from './options.js';
import { ProgressLine, progressEnabled, type OutStream } from './progress.js';
import { formatJson, formatText, renderHtml, type LoadReport } from './report.js';
import { createBackend, type LookupBackend } from './resolvers.js';
import { LoadStats } from './stats.js';

export interface LoadIO {
  stdout: OutStream;
  stderr: OutStream;
}

const HOST_SAMPLE = 5;
const DEFAULT_THREADPOOL = 4;

interface RunState {
  stopped: boolean;
  stoppedBy: LoadReport['stoppedBy'];
  issued: number;
  nextHost: number;
}

export async function runLoad(argv: string[], io: LoadIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseLoadArgs(argv);
  if (!parsed.ok) {
    io.stderr.write(`node-local-dns load: ${parsed.error}\nRun 'node-local-dns load --help' for usage.\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(LOAD_USAGE);
    return 0;
  }
  const options = parsed.options;
  warnAboutThreadpool(options, io.stderr);

  let backend: LookupBackend;
  try {
    backend = createBackend(options);
  } catch (err) {
    io.stderr.write(`node-local-dns load: cannot start: ${(err as Error).message}\n`);
    return 1;
  }

  const report = await runWorkers(options, backend, io);
  io.stdout.write(options.json ? formatJson(report) : formatText(report));
  if (options.html !== undefined) {
    try {
      await writeFile(options.html, renderHtml(report));
      if (!options.json && !options.quiet) io.stdout.write(`\nHTML report written to ${options.html}\n`);
    } catch (err) {
      io.stderr.write(`node-local-dns load: --html ${options.html}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}

/** Run the workers to completion and build the report. */
async function runWorkers(options: LoadOptions, backend: LookupBackend, io: LoadIO): Promise<LoadReport> {
  const stats = new LoadStats(options.limitMs);
  const state: RunState = { stopped: false, stoppedBy: 'duration', issued: 0, nextHost: 0 };
  const startedAt = new Date();
  const t0 = performance.now();

  const stop = (why: RunState['stoppedBy']): void => {
    if (state.stopped) return;
    state.stopped = true;
    state.stoppedBy = why;
    stats.markStop(performance.now() - t0);
  };
  const stopTimer = setTimeout(() => stop('duration'), options.durationMs);
  const onSigint = (): void => stop('interrupt');
  process.once('SIGINT', onSigint);
  const progress = new ProgressLine(io.stdout, progressEnabled(io.stdout, options.quiet, options.json));
  progress.start(() => ({
    elapsedMs: performance.now() - t0,
    lookups: stats.lookups,
    errors: stats.errors,
    p99Ms: stats.latency.percentile(99),
  }));

  try {
    const workers: Promise<void>[] = [];
    for (let w = 0; w < options.concurrency; w++) workers.push(worker(w, options, backend, stats, state, t0, stop));
    await Promise.all(workers);
  } finally {
    clearTimeout(stopTimer);
    process.removeListener('SIGINT', onSigint);
    progress.stop();
    backend.close();
  }

  return {
    tool: 'node-local-dns load',
    startedAt: startedAt.toISOString(),
    target: backend.description,
    types: options.types.map((t) => t.name),
    queriesPerLookup: backend.queriesPerLookup,
    concurrency: options.concurrency,
    durationMs: options.durationMs,
    timeoutMs: options.timeoutMs,
    maxCount: options.maxCount ?? null,
    hosts: { count: options.hosts.length, sample: options.hosts.slice(0, HOST_SAMPLE) },
    stoppedBy: state.stoppedBy,
    summary: stats.summarize(performance.now() - t0, state.stoppedBy !== 'max-count'),
    series: stats.series.samples(),
    histogram: stats.latency.buckets(),
  };
}

type StopFn = (why: RunState['stoppedBy']) => void;

/** Take the next lookup slot, or false when the run is over. */
function claimLookup(options: LoadOptions, state: RunState, stop: StopFn): number | false {
  if (state.stopped) return false;
  if (options.maxCount !== undefined && state.issued >= options.maxCount) {
    stop('max-count');
    return false;
  }
  state.issued++;
  const host = state.nextHost;
  state.nextHost = host + 1 === options.hosts.length ? 0 : host + 1;
  return host;
}

async function worker(
  w: number,
  options: LoadOptions,
  backend: LookupBackend,
  stats: LoadStats,
  state: RunState,
  t0: number,
  stop: StopFn,
): Promise<void> {
  for (;;) {
    const idle = backend.waitIdle(w);
    if (idle) await idle;
    const host = claimLookup(options, state, stop);
    if (host === false) return;
    const start = performance.now();
    const outcome = await backend.lookup(w, host);
    const end = performance.now();
    stats.record(outcome, end - start, end - t0);
  }
}

/** getaddrinfo runs on libuv's threadpool, which caps --system concurrency. */
function warnAboutThreadpool(options: LoadOptions, stderr: OutStream): void {
  if (options.mode !== 'system' || options.quiet) return;
  const size = Number(process.env.UV_THREADPOOL_SIZE) || DEFAULT_THREADPOOL;
  if (options.concurrency <= size) return;
  stderr.write(
    `note: --system lookups run on libuv's threadpool (${size} threads), so at most ${size} run at once; ` +
      `set UV_THREADPOOL_SIZE=${Math.min(options.concurrency, 1024)} in the environment to allow ${options.concurrency}.\n`,
  );
}
