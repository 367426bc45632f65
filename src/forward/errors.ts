// Why an exchange with an upstream failed. Values, not throws: the forwarder decides what to try next.
export type ExchangeFailure =
  | 'timeout' // no reply within the attempt timeout
  | 'connect' // could not open a connection
  | 'closed' // the connection closed or reset with the query outstanding
  | 'mismatch' // a reply arrived that does not answer our question (never used)
  | 'malformed' // the reply could not be read
  | 'busy' // no free query ID on the transport
  | 'overflow'; // the reply was larger than we accept

export class UpstreamError extends Error {
  constructor(
    readonly failure: ExchangeFailure,
    readonly upstream: string,
    detail?: string,
  ) {
    super(`upstream ${upstream}: ${failure}${detail ? ` (${detail})` : ''}`);
  }
}
