// node-cache's NOTRACK/ACCEPT rules: the same 12 rules per local IP (tables, chains, matches, argument
// order and comments), so that a node can switch between node-cache and this daemon and each one's
// teardown removes the other's rules. The tool follows each IP's family (iptables / ip6tables), always
// with `-w 5`. ensureRules checks each rule with `-C` and, if it is missing, prepends it (`-I CHAIN 1`),
// so, as in node-cache, on a fresh node the last rule of the list ends up first in its chain. It never
// duplicates a rule. removeRules deletes each rule until `-C` says it is gone (this also removes
// duplicates left by others). Errors are logged and counted (`iptables_lock` when iptables reports
// "holding the xtables lock", else `iptables`), and returned as values, never thrown.
import { isIPv6 } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { SetupErrors } from './setup-errors.js';
import { runCommand, type Exec } from './exec.js';

export const COMMENT_SKIP_CONNTRACK = 'NodeLocal DNS Cache: skip conntrack';
export const COMMENT_ALLOW_TRAFFIC = 'NodeLocal DNS Cache: allow DNS traffic';
export const IPTABLES_WAIT_ARGS: readonly string[] = ['-w', '5'];
/** Safety cap on delete loops (a rule duplicated more often than this is removed on the next teardown). */
const MAX_DELETES_PER_RULE = 100;

export type IpFamily = 4 | 6;
export type IptablesTable = 'raw' | 'filter' | 'nat'; // nat: the guard's relay redirect (guard/node-fallback.ts)
export type IptablesChain = 'PREROUTING' | 'INPUT' | 'OUTPUT';

export interface IptablesRule {
  readonly family: IpFamily;
  readonly table: IptablesTable;
  readonly chain: IptablesChain;
  /** Match and target, in node-cache's order: `-p P -d|-s IP --dport|--sport PORT -j T -m comment --comment C`. */
  readonly args: readonly string[];
}

export interface IptablesOptions {
  readonly exec?: Exec;
  readonly netns?: string;
  readonly logger?: Logger;
  readonly setupErrors?: SetupErrors;
  /** Binaries per family; default `iptables` and `ip6tables` from PATH. */
  readonly binaries?: { readonly v4?: string; readonly v6?: string };
}

export interface EnsureRulesResult {
  readonly ok: boolean;
  readonly added: number;
  readonly present: number;
  readonly errors: readonly string[];
}

export interface RemoveRulesResult {
  readonly ok: boolean;
  /** Number of `-D` that succeeded (duplicates count once each). */
  readonly removed: number;
  readonly errors: readonly string[];
}

type Proto = 'tcp' | 'udp';
type Direction = 'dst' | 'src';

function ruleArgs(proto: Proto, dir: Direction, ip: string, port: number, target: 'NOTRACK' | 'ACCEPT'): string[] {
  const [addr, portFlag] = dir === 'dst' ? ['-d', '--dport'] : ['-s', '--sport'];
  const comment = target === 'NOTRACK' ? COMMENT_SKIP_CONNTRACK : COMMENT_ALLOW_TRAFFIC;
  return ['-p', proto, addr, ip, portFlag, String(port), '-j', target, '-m', 'comment', '--comment', comment];
}

/** The 12 rules for one local IP, in node-cache's order (reference §2.4). */
export function rulesForIp(ip: string, dnsPort: number, healthPort: number): IptablesRule[] {
  const family: IpFamily = isIPv6(ip) ? 6 : 4;
  const r = (table: IptablesTable, chain: IptablesChain, args: string[]): IptablesRule => ({ family, table, chain, args });
  return [
    r('raw', 'PREROUTING', ruleArgs('tcp', 'dst', ip, dnsPort, 'NOTRACK')),
    r('raw', 'PREROUTING', ruleArgs('udp', 'dst', ip, dnsPort, 'NOTRACK')),
    r('filter', 'INPUT', ruleArgs('tcp', 'dst', ip, dnsPort, 'ACCEPT')),
    r('filter', 'INPUT', ruleArgs('udp', 'dst', ip, dnsPort, 'ACCEPT')),
    r('raw', 'OUTPUT', ruleArgs('tcp', 'src', ip, dnsPort, 'NOTRACK')),
    r('raw', 'OUTPUT', ruleArgs('udp', 'src', ip, dnsPort, 'NOTRACK')),
    r('filter', 'OUTPUT', ruleArgs('tcp', 'src', ip, dnsPort, 'ACCEPT')),
    r('filter', 'OUTPUT', ruleArgs('udp', 'src', ip, dnsPort, 'ACCEPT')),
    r('raw', 'OUTPUT', ruleArgs('tcp', 'dst', ip, dnsPort, 'NOTRACK')),
    r('raw', 'OUTPUT', ruleArgs('udp', 'dst', ip, dnsPort, 'NOTRACK')),
    r('raw', 'OUTPUT', ruleArgs('tcp', 'dst', ip, healthPort, 'NOTRACK')),
    r('raw', 'OUTPUT', ruleArgs('tcp', 'src', ip, healthPort, 'NOTRACK')),
  ];
}

/** All rules for all local IPs (12 per IP), IP by IP. */
export function buildRules(localIps: readonly string[], dnsPort: number, healthPort: number): IptablesRule[] {
  return localIps.flatMap((ip) => rulesForIp(ip, dnsPort, healthPort));
}

/** node-cache's log form of a rule (Go `%v` of its struct): `{raw PREROUTING [-p tcp -d IP ...]}`. */
export function formatRule(rule: IptablesRule): string {
  return `{${rule.table} ${rule.chain} [${rule.args.join(' ')}]}`;
}

/** A stable identity for set operations (reload diffs). */
export function ruleKey(rule: IptablesRule): string {
  return `${rule.family}\u0000${rule.table}\u0000${rule.chain}\u0000${rule.args.join('\u0000')}`;
}

function binaryFor(family: IpFamily, opts: IptablesOptions): string {
  return family === 6 ? (opts.binaries?.v6 ?? 'ip6tables') : (opts.binaries?.v4 ?? 'iptables');
}

/** The full argv for one operation on a rule: `-C CHAIN`, `-I CHAIN 1` or `-D CHAIN`. */
export function ruleArgv(rule: IptablesRule, op: '-C' | '-I' | '-D', opts: IptablesOptions = {}): string[] {
  const position = op === '-I' ? [rule.chain, '1'] : [rule.chain];
  return [binaryFor(rule.family, opts), ...IPTABLES_WAIT_ARGS, '-t', rule.table, op, ...position, ...rule.args];
}

function run(rule: IptablesRule, op: '-C' | '-I' | '-D', opts: IptablesOptions) {
  return (opts.exec ?? runCommand)(ruleArgv(rule, op, opts), opts.netns ? { netns: opts.netns } : {});
}

type CheckOutcome = { readonly state: 'present' } | { readonly state: 'absent' } | { readonly state: 'error'; readonly error: string };

/** `-C`: exit 0 present, exit 1 absent (iptables' "operation failed"); anything else is an error. */
export async function checkRule(rule: IptablesRule, opts: IptablesOptions = {}): Promise<CheckOutcome> {
  const r = await run(rule, '-C', opts);
  if (r.ok) return { state: 'present' };
  if (r.code === 1) return { state: 'absent' };
  return { state: 'error', error: r.error };
}

/** Counts an iptables error under the label node-cache uses. */
export function countIptablesError(error: string, setupErrors?: SetupErrors): void {
  setupErrors?.inc(error.includes('holding the xtables lock') ? 'iptables_lock' : 'iptables');
}

type EnsureOutcome = { readonly state: 'present' } | { readonly state: 'added' } | { readonly state: 'error'; readonly error: string };

async function ensureRule(rule: IptablesRule, opts: IptablesOptions): Promise<EnsureOutcome> {
  const check = await checkRule(rule, opts);
  if (check.state !== 'absent') return check;
  const insert = await run(rule, '-I', opts);
  return insert.ok ? { state: 'added' } : { state: 'error', error: insert.error };
}

/** Checks every rule and prepends the missing ones, in list order. Never throws. */
export async function ensureRules(rules: readonly IptablesRule[], opts: IptablesOptions = {}): Promise<EnsureRulesResult> {
  let added = 0;
  let present = 0;
  const errors: string[] = [];
  for (const rule of rules) {
    const outcome = await ensureRule(rule, opts);
    if (outcome.state === 'present') {
      present++;
      opts.logger?.debug(`iptables rule ${formatRule(rule)} for nodelocaldns already exists`);
    } else if (outcome.state === 'added') {
      added++;
      opts.logger?.info(`Added back nodelocaldns rule - ${formatRule(rule)}`);
    } else {
      errors.push(outcome.error);
      opts.logger?.error(`Error checking/adding iptables rule ${formatRule(rule)}, error - ${outcome.error}`);
      countIptablesError(outcome.error, opts.setupErrors);
    }
  }
  return { ok: errors.length === 0, added, present, errors };
}

/** Deletes one rule until `-C` reports it absent; returns how many copies were deleted and any error. */
async function removeRule(rule: IptablesRule, opts: IptablesOptions): Promise<{ removed: number; error: string | null }> {
  let removed = 0;
  for (let i = 0; i < MAX_DELETES_PER_RULE; i++) {
    const check = await checkRule(rule, opts);
    if (check.state === 'absent') return { removed, error: null };
    if (check.state === 'error') return { removed, error: check.error };
    const del = await run(rule, '-D', opts);
    if (!del.ok) return { removed, error: del.error };
    removed++;
  }
  return { removed, error: null };
}

/**
 * One `-D` per rule, no checks: the fast path for a takeover, where every command counts. A rule
 * that is not there (exit 1) is no error. Follow with removeRules() to clear duplicates.
 */
export async function deleteRulesOnce(rules: readonly IptablesRule[], opts: IptablesOptions = {}): Promise<RemoveRulesResult> {
  let removed = 0;
  const errors: string[] = [];
  for (const rule of rules) {
    const r = await run(rule, '-D', opts);
    if (r.ok) removed++;
    else if (r.code !== 1) {
      errors.push(r.error);
      opts.logger?.error(`Failed deleting iptables rule ${formatRule(rule)}, error - ${r.error}`);
      countIptablesError(r.error, opts.setupErrors);
    }
  }
  return { ok: errors.length === 0, removed, errors };
}

/** Removes every rule including duplicates. Errors are logged, counted and returned; never throws. */
export async function removeRules(rules: readonly IptablesRule[], opts: IptablesOptions = {}): Promise<RemoveRulesResult> {
  let removed = 0;
  const errors: string[] = [];
  for (const rule of rules) {
    const outcome = await removeRule(rule, opts);
    removed += outcome.removed;
    if (outcome.error !== null) {
      errors.push(outcome.error);
      opts.logger?.error(`Failed deleting iptables rule ${formatRule(rule)}, error - ${outcome.error}`);
      countIptablesError(outcome.error, opts.setupErrors);
    }
  }
  return { ok: errors.length === 0, removed, errors };
}
