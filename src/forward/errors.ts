// Why an exchange with an upstream failed. Values, not throws: the forwarder decides what to try next.
import { nldError, type ErrorCode } from '../errors.js';

export type ExchangeFailure =
  | 'timeout' // no reply within the attempt timeout
  | 'connect' // could not open a connection
  | 'closed' // the connection closed or reset with the query outstanding
  | 'malformed' // the reply could not be read
  | 'busy'; // no free query ID on the transport

/** The code of each failure in the error table (src/errors.ts). */
const CODES = {
  timeout: 'NLD_ERR_UPSTREAM_TIMEOUT',
  connect: 'NLD_ERR_UPSTREAM_CONNECT',
  closed: 'NLD_ERR_UPSTREAM_CLOSED',
  malformed: 'NLD_ERR_UPSTREAM_MALFORMED',
  busy: 'NLD_ERR_UPSTREAM_BUSY',
} as const satisfies Record<ExchangeFailure, ErrorCode>;

export class UpstreamError extends Error {
  readonly code: (typeof CODES)[ExchangeFailure];

  constructor(
    readonly failure: ExchangeFailure,
    readonly upstream: string,
    detail?: string,
  ) {
    const code = CODES[failure];
    super(`${nldError(code, [upstream]).message}${detail ? ` (${detail})` : ''}`); // "upstream 10.0.0.1:53: timeout (no reply in 2000 ms)"
    this.code = code;
  }
}
