// Who this node-local-dns process is, for the shutdown instance check (node-setup/instance-probe.ts
// asks, server/chaos.ts answers): a per-process id and token, the check's question suffix, marker
// and proof, and whether this instance is stopping. Below both users, so neither imports the other.
import { hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { workerThreadData } from './thread-data.js';

/** This process's id; worker threads (`workers` > 1) get the main thread's. */
export const INSTANCE_ID = workerThreadData?.instanceId ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

/**
 * Name of this instance in instance-check answers: derived from INSTANCE_ID (so every worker
 * thread answers with the same token) without showing hostname or PID.
 */
export const INSTANCE_TOKEN = createHash('sha256').update(`token/${INSTANCE_ID}`).digest('hex').slice(0, 16);

export const CHECK_SUFFIX = 'instance-check.node-local-dns.';
/** Hex characters of the nonce label (16 random bytes). */
export const NONCE_CHARS = 32;
/** First word of an instance-check answer (the format's version). */
export const CHECK_MARKER = 'nld-instance-check-1';

export type InstanceState = 'serving' | 'stopping';
let state: InstanceState = 'serving';

/** From now on instance-check answers say `stopping` (shutdown started: not a successor to keep rules for). */
export function markInstanceStopping(): void {
  state = 'stopping';
}

/** The value only node-local-dns derives from a nonce; proves the answer is in our format. */
export function instanceProof(nonce: string): string {
  return createHash('sha256').update(`${CHECK_MARKER}/${nonce.toLowerCase()}`).digest('hex').slice(0, 32);
}

/** The TXT text of an instance-check answer: marker, proof, token, state. */
export function instanceCheckText(nonce: string, token = INSTANCE_TOKEN, instanceState: InstanceState = state): string {
  return `${CHECK_MARKER} ${instanceProof(nonce)} ${token} ${instanceState}`;
}
