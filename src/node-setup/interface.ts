// The interface that holds the local DNS IPs, driven through the `ip` command (node-cache uses netlink).
// Ensure: if the link exists, (re-)add each IP as a host prefix (/32 or /128), ignoring "already
// assigned"; otherwise create it with `ip link add NAME type dummy` and add the IPs. Like node-cache,
// the dummy link is never set UP: the kernel still installs local routes for its addresses.
//
// Fallback: kernels built without the dummy link type ("Unknown device type", "not supported") get the
// IPs on `lo` instead, which is brought up (a fresh netns has lo DOWN). The result says `fallback: 'lo'`,
// the caller logs it once and passes `fallback: 'lo'` back on later calls so no further `ip link add`
// is tried. A successful fallback is NOT counted as `interface_add` (the IPs are in place and the
// counter is meant for alerting on broken setups); a failed create without a working fallback is
// counted as `interface_add`, and any ensure error as `interface_check`, as in node-cache.
import { isIPv6 } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { SetupErrors } from './setup-errors.js';
import { runCommand, type Exec } from './exec.js';

export type InterfaceFallback = 'lo' | null;

export interface InterfaceOptions {
  readonly exec?: Exec;
  readonly netns?: string;
  readonly logger?: Logger;
  readonly setupErrors?: SetupErrors;
  /** Fallback found by an earlier ensure: go straight to `lo`. */
  readonly fallback?: InterfaceFallback;
}

export interface EnsureInterfaceResult {
  readonly ok: boolean;
  /** The link (or lo, in fallback) was already there. */
  readonly existed: boolean;
  /** A dummy link was created by this call. */
  readonly created: boolean;
  readonly fallback: InterfaceFallback;
  readonly errors: readonly string[];
}

export interface RemoveResult {
  readonly ok: boolean;
  readonly errors: readonly string[];
}

const EXISTS = /already assigned|File exists/i;
const ABSENT = /not found|Cannot assign requested address|does not exist|Cannot find device/i;
const NO_DUMMY = /Unknown device type|not supported|Operation not supported/i;

/** `1.2.3.4/32` or `fd00::10/128`. */
export function hostPrefix(ip: string): string {
  return `${ip}/${isIPv6(ip) ? 128 : 32}`;
}

function ipCommand(args: readonly string[], opts: InterfaceOptions) {
  return (opts.exec ?? runCommand)(['ip', ...args], opts.netns ? { netns: opts.netns } : {});
}

/** Adds each IP to `dev`; "already assigned" is success. Returns the other errors. */
export async function addAddresses(dev: string, ips: readonly string[], opts: InterfaceOptions = {}): Promise<string[]> {
  const errors: string[] = [];
  for (const ip of ips) {
    const r = await ipCommand(['addr', 'add', hostPrefix(ip), 'dev', dev], opts);
    if (!r.ok && !EXISTS.test(r.stderr)) errors.push(r.error);
  }
  return errors;
}

/** Removes each IP from `dev`; an address that is not there is success. Returns the other errors. */
export async function removeAddresses(dev: string, ips: readonly string[], opts: InterfaceOptions = {}): Promise<string[]> {
  const errors: string[] = [];
  for (const ip of ips) {
    const r = await ipCommand(['addr', 'del', hostPrefix(ip), 'dev', dev], opts);
    if (!r.ok && !ABSENT.test(r.stderr)) errors.push(r.error);
  }
  return errors;
}

type LinkState = { state: 'present' } | { state: 'absent' } | { state: 'error'; error: string };

async function linkState(name: string, opts: InterfaceOptions): Promise<LinkState> {
  const r = await ipCommand(['link', 'show', 'dev', name], opts);
  if (r.ok) return { state: 'present' };
  if (ABSENT.test(r.stderr)) return { state: 'absent' };
  return { state: 'error', error: r.error };
}

/** The lo fallback: lo up (a no-op when it already is), then the addresses. */
async function ensureOnLo(ips: readonly string[], opts: InterfaceOptions): Promise<string[]> {
  const up = await ipCommand(['link', 'set', 'dev', 'lo', 'up'], opts);
  const errors = up.ok ? [] : [up.error];
  return [...errors, ...(await addAddresses('lo', ips, opts))];
}

type CreateOutcome = { kind: 'created'; errors: string[] } | { kind: 'no-dummy' } | { kind: 'failed'; errors: string[] };

async function createDummy(name: string, ips: readonly string[], opts: InterfaceOptions): Promise<CreateOutcome> {
  const r = await ipCommand(['link', 'add', name, 'type', 'dummy'], opts);
  if (!r.ok) return NO_DUMMY.test(r.stderr) ? { kind: 'no-dummy' } : { kind: 'failed', errors: [r.error] };
  const errors = await addAddresses(name, ips, opts);
  return errors.length === 0 ? { kind: 'created', errors } : { kind: 'failed', errors };
}

function report(result: EnsureInterfaceResult, name: string, opts: InterfaceOptions, createFailed: boolean): EnsureInterfaceResult {
  if (createFailed) {
    opts.logger?.error({ interface: name, errors: result.errors }, `Failed to add non-existent interface ${name}: ${result.errors.join('; ')}`);
    opts.setupErrors?.inc('interface_add');
  }
  if (!result.ok) {
    opts.logger?.error({ interface: name, errors: result.errors }, `Error checking dummy device ${name} - ${result.errors.join('; ')}`);
    opts.setupErrors?.inc('interface_check');
  }
  return result;
}

/** Makes sure `ips` are local addresses: on link `name` (created as dummy if missing) or on lo. Never throws. */
export async function ensureInterface(name: string, ips: readonly string[], opts: InterfaceOptions = {}): Promise<EnsureInterfaceResult> {
  if (opts.fallback === 'lo') {
    const errors = await ensureOnLo(ips, opts);
    return report({ ok: errors.length === 0, existed: true, created: false, fallback: 'lo', errors }, name, opts, false);
  }
  const link = await linkState(name, opts);
  if (link.state === 'error') return report({ ok: false, existed: false, created: false, fallback: null, errors: [link.error] }, name, opts, false);
  if (link.state === 'present') {
    const errors = await addAddresses(name, ips, opts);
    return report({ ok: errors.length === 0, existed: true, created: false, fallback: null, errors }, name, opts, false);
  }
  const created = await createDummy(name, ips, opts);
  if (created.kind === 'no-dummy') {
    const errors = await ensureOnLo(ips, opts);
    return report({ ok: errors.length === 0, existed: false, created: false, fallback: 'lo', errors }, name, opts, errors.length > 0);
  }
  opts.logger?.info({ interface: name }, `Added interface - ${name}`);
  const ok = created.kind === 'created';
  return report({ ok, existed: false, created: ok, fallback: null, errors: created.errors }, name, opts, !ok);
}

/** Deletes link `name` (which drops its IPs), or in lo fallback only `ips` from lo. A missing link is success. */
export async function removeInterface(name: string, ips: readonly string[], fallback: InterfaceFallback, opts: InterfaceOptions = {}): Promise<RemoveResult> {
  let errors: string[];
  if (fallback === 'lo') {
    errors = await removeAddresses('lo', ips, opts);
  } else {
    const r = await ipCommand(['link', 'del', name], opts);
    errors = r.ok || ABSENT.test(r.stderr) ? [] : [r.error];
  }
  if (errors.length > 0) opts.logger?.error({ interface: fallback ?? name, errors }, `Failed removing interface ${name} - ${errors.join('; ')}`);
  return { ok: errors.length === 0, errors };
}
