// A query sent to an upstream and waiting for its reply (shared by the TCP and UDP transports).
import type { UpstreamError } from './errors.js';
import type { Timer } from '../util/clock.js';

export interface PendingQuery {
  readonly sent: Buffer; // the query as sent (our ID), to match the reply's question against
  readonly questionEnd: number;
  readonly resolve: (reply: Buffer) => void;
  readonly reject: (err: UpstreamError) => void;
  readonly timer: Timer;
}
