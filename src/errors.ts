// The error vocabulary: every failure a module hands back as a value carries one of these codes,
// as undici's UND_ERR_* (lib/core/errors.js) and fastify's FST_ERR_* (lib/errors.js) do. The code
// says what kind of failure it is (callers branch on it, never on message text); the message says
// what happened, in words a log reader understands; context fields (upstream, file, task, ...) say
// where. `raisedIn` is where the code is created (test/unit/error-codes.test.ts checks that every
// code is raised somewhere in src/ and that no two entries share a code).
//
// Failures that are not in this table on purpose:
// - config issues (config/load.ts ConfigIssue: file, line, field, reason) are a list, one per
//   mistake, so that one run reports them all: `{ ok: false, issues }`.
// - pure parsers of one value (dns/names, config/values, cli/args, kube/template, ...) return
//   `{ ok: false, error: string }` (Result<T, string>): the caller turns the message into a
//   ConfigIssue or a flag error, which is where the context lives.
// - a query that cannot be parsed (dns/query.ts QueryRejection.problem) is not an error of ours:
//   `problem` picks the reply (FORMERR, NOTIMP, drop) on the hot path.
import { format } from 'node:util';

interface ErrorSpec {
  /** util.format template: %s / %d are filled from the arguments given to nldError(). */
  readonly template: string;
  /** The module(s) that create this code. */
  readonly raisedIn: string;
}

export const ERRORS = {
  // An exchange with one upstream (forward/errors.ts UpstreamError); the forwarder tries the next.
  NLD_ERR_UPSTREAM_TIMEOUT: { template: 'upstream %s: timeout', raisedIn: 'forward/tcp-connection.ts, forward/udp-transport.ts' },
  NLD_ERR_UPSTREAM_CONNECT: { template: 'upstream %s: connect', raisedIn: 'forward/tcp-connection.ts, forward/udp-transport.ts' },
  NLD_ERR_UPSTREAM_CLOSED: { template: 'upstream %s: closed', raisedIn: 'forward/tcp-connection.ts, forward/udp-transport.ts' },
  NLD_ERR_UPSTREAM_MALFORMED: { template: 'upstream %s: malformed', raisedIn: 'forward/forwarder.ts' },
  NLD_ERR_UPSTREAM_BUSY: { template: 'upstream %s: busy', raisedIn: 'forward/tcp-connection.ts, forward/udp-transport.ts' },
  // A miss that gets no upstream answer (forward/forwarder.ts ForwardResult, cache/handler.ts MissOutcome).
  NLD_ERR_FORWARD_MAX_CONCURRENT: { template: '%d queries in flight%s', raisedIn: 'forward/forwarder.ts' },
  NLD_ERR_FORWARD_ALL_FAILED: { template: '%s', raisedIn: 'forward/forwarder.ts' },
  NLD_ERR_FORWARD_DEADLINE: { template: 'deadline of %d ms passed; last error: %s', raisedIn: 'forward/forwarder.ts' },
  NLD_ERR_FORWARD_EXCEPTED: { template: 'name excepted from forward', raisedIn: 'server/block.ts' },
  NLD_ERR_NO_FORWARD: { template: 'no forward configured for this zone', raisedIn: 'server/block.ts' },
  NLD_ERR_LOCAL_ANSWER: { template: '%s', raisedIn: 'server/block.ts (template/hosts failures from plugins/chain.ts)' },
  // template `rcode SERVFAIL`, a regex miss without fallthrough, hosts without fallthrough: an
  // answer, not a failure, so the errors log stays quiet (CoreDNS returns no error there either).
  NLD_ERR_LOCAL_SERVFAIL: { template: '%s', raisedIn: 'server/block.ts (template/hosts SERVFAIL answers from plugins/chain.ts)' },
  // Lifecycle: reload and handover (daemon.ts, cluster/primary.ts); the old config keeps serving.
  NLD_ERR_NOT_RUNNING: { template: 'cannot %s while %s', raisedIn: 'daemon.ts, cluster/primary.ts' },
  NLD_ERR_LISTEN: { template: 'cannot listen on %s %s:%s: %s', raisedIn: 'server/server-set.ts' },
  NLD_ERR_LISTEN_NO_FREE_PORT: { template: 'cannot find a free port for udp and tcp on %s', raisedIn: 'server/server-set.ts' },
  NLD_ERR_WORKER_RELOAD: { template: 'a worker did not answer the reload', raisedIn: 'cluster/primary.ts' },
  NLD_ERR_HANDOVER_FAILED: { template: '%s', raisedIn: 'daemon.ts (server/handover.ts handOverTo rejected)' },
  // A cache snapshot (warm start) that cannot be read: ignored, the caches start empty.
  NLD_ERR_SNAPSHOT_INVALID: { template: '%s', raisedIn: 'cache/snapshot.ts' },
  // kube-dns ConfigMap (kube/configmap.ts KubeDnsResult).
  NLD_ERR_KUBE_CONFIGMAP_INVALID: { template: '%s', raisedIn: 'kube/configmap.ts' },
  // Work nobody awaits (util/background.ts): counted in coredns_panics_total and logged, as a
  // bug in one query is; never an unhandled rejection.
  NLD_ERR_BACKGROUND_TASK: { template: 'background %s failed (still serving): %s', raisedIn: 'util/background.ts, cluster/worker.ts (a reload that threw)' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A failure as a value: a code from ERRORS, the message, and context fields saying where. */
export interface NldError<C extends ErrorCode = ErrorCode> {
  readonly code: C;
  readonly message: string;
  readonly [context: string]: unknown;
}

/** The failure half of every result: `{ ok: false, error }`, the error an NldError (or, from a pure parser, its message). */
export type Failure<E = NldError> = { readonly ok: false; readonly error: E };

/** The one result shape: a value, or an error with a code (pure parsers: Result<T, string>, see above). */
export type Result<T, E = NldError> = { readonly ok: true; readonly value: T } | Failure<E>;

/** An NldError with the code's message filled from `args` (util.format) and optional context. */
export function nldError<C extends ErrorCode, X extends Record<string, unknown> = Record<never, never>>(code: C, args: readonly unknown[] = [], context?: X): NldError<C> & X {
  return { ...(context as X), code, message: format(ERRORS[code].template, ...args) };
}

/** The text of anything thrown or rejected: the stack when there is one. */
export function describeThrown(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
