// CoreDNS `hosts`: A, AAAA and PTR answers from an /etc/hosts-style file and inline lines
// (plugin/hosts). Runs after the cache and before forward. The file is re-read when its
// modification time or size changes, checked every `reload` (5 s by default); a missing file
// serves the inline entries. Semantics of CoreDNS 1.13: names outside the plugin's zones go on
// (except PTR, answered for any reverse name it knows); a known name without records of the asked
// type is an authoritative NODATA; an unknown name is SERVFAIL unless `fallthrough` covers it.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { HostsConfig } from '../config/types.js';
import type { BlockBuilder, Directive } from '../config/corefile.js';
import { RCODE, TYPE } from '../dns/constants.js';
import { fallsThrough, matchZone, replyTo } from './common.js';
import { addressBytes } from './rr-text.js';
import type { Record } from './message.js';
import type { LocalAnswer, LocalAnswerer, LocalQuestion } from './local-answer.js';

export const DEFAULT_HOSTS_FILE = '/etc/hosts';
export const DEFAULT_HOSTS_TTL = 3600;
export const DEFAULT_HOSTS_RELOAD = '5s';

// ---------------------------------------------------------------------------------------------
// Corefile: hosts [FILE [ZONES...]] { INLINE...; ttl SECONDS; no_reverse; reload DURATION; fallthrough [ZONES...]; fallthrough_unsupported }

export function parseHostsDirective(d: Directive, b: BlockBuilder): void {
  if (!b.once(d)) return;
  const args = d.args.map((a) => a.text);
  const raw: { [k: string]: unknown } = { file: args[0] ?? DEFAULT_HOSTS_FILE };
  if (args.length > 1) raw.zones = args.slice(1);
  const entries: string[] = [];
  let fallSeen = false;
  for (const sub of d.block ?? []) {
    const subArgs = sub.args.map((a) => a.text);
    const field = `hosts.${sub.name}`;
    switch (sub.name) {
      case 'fallthrough':
        raw.fallthrough = subArgs.length === 0 ? true : subArgs;
        fallSeen = true;
        break;
      case 'fallthrough_unsupported':
        raw.fallthroughUnsupported = true;
        break;
      case 'no_reverse':
        raw.noReverse = true;
        break;
      case 'ttl': {
        const ttl = Number(subArgs[0]);
        if (subArgs.length < 1 || !/^\d+$/.test(subArgs[0]) || ttl <= 0 || ttl > 65535) return b.issue(sub.line, field, 'needs a number of seconds from 1 to 65535');
        raw.ttl = ttl;
        break;
      }
      case 'reload':
        if (subArgs.length !== 1) return b.issue(sub.line, field, 'needs a duration (0 disables reloading)');
        raw.reload = subArgs[0];
        break;
      default:
        // As in CoreDNS: lines before `fallthrough` that are not options are hosts-file lines.
        if (fallSeen) return b.issue(sub.line, field, `unknown property "${sub.name}"`);
        entries.push([sub.name, ...subArgs].join(' '));
    }
  }
  if (entries.length > 0) raw.entries = entries;
  if (raw.fallthroughUnsupported && !fallSeen) return b.issue(d.line, 'hosts.fallthrough_unsupported', 'requires fallthrough');
  b.set('hosts', raw, d.line);
}

// ---------------------------------------------------------------------------------------------
// YAML

// (the YAML schema is config/plugin-schemas.ts: zod stays out of what DNS worker threads load)

// ---------------------------------------------------------------------------------------------
// Runtime

interface HostsMap {
  readonly v4: Map<string, Buffer[]>; // name → addresses
  readonly v6: Map<string, Buffer[]>;
  readonly names: Map<string, string[]>; // address bytes (hex) → names, for PTR
  entries: number;
}

const emptyMap = (): HostsMap => ({ v4: new Map(), v6: new Map(), names: new Map(), entries: 0 });

const fqdn = (n: string): string => (n.endsWith('.') ? n : `${n}.`).toLowerCase();

/** hosts(5) text → maps; names outside `zones` are skipped (CoreDNS does the same). */
export function parseHostsText(text: string, zones: readonly string[], reverse: boolean): HostsMap {
  const map = emptyMap();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '');
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || f[0] === '') continue;
    const address = f[0].replace(/%.*$/, '');
    if (isIP(address) === 0) continue;
    let bytes = addressBytes(address)!;
    // IPv4-mapped IPv6 addresses are IPv4 (Go's To4).
    if (bytes.length === 16 && bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) bytes = Buffer.from(bytes.subarray(12));
    const family = bytes.length === 4 ? map.v4 : map.v6;
    for (const n of f.slice(1)) {
      const name = fqdn(n);
      if (matchZone(name, zones) === undefined) continue;
      const list = family.get(name) ?? [];
      list.push(bytes);
      family.set(name, list);
      map.entries++;
      if (!reverse) continue;
      const key = bytes.toString('hex');
      const names = map.names.get(key) ?? [];
      names.push(name);
      map.names.set(key, names);
    }
  }
  return map;
}

/** "4.3.2.1.in-addr.arpa." → the address bytes as hex; undefined if not a full reverse name. */
export function reverseNameToKey(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa.')) {
    const parts = name.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
    return Buffer.from(parts.reverse().map(Number)).toString('hex');
  }
  if (name.endsWith('.ip6.arpa.')) {
    const nibbles = name.slice(0, -'.ip6.arpa.'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    return nibbles.reverse().join('');
  }
  return undefined;
}

export class HostsStats {
  entries = 0;
  reloadTimestampSeconds = 0;
}

export class HostsHandler implements LocalAnswerer {
  private fromFile: HostsMap = emptyMap();
  private readonly inline: HostsMap;
  private fileStamp = '';
  private readonly timer: NodeJS.Timeout | null;
  readonly stats = new HostsStats();

  constructor(readonly config: HostsConfig) {
    this.inline = parseHostsText(config.entries.join('\n'), config.zones, config.reverse);
    this.readFile();
    this.timer = config.file && config.reloadMs > 0 ? setInterval(() => this.readFile(), config.reloadMs) : null;
    this.timer?.unref();
  }

  /** Re-reads the file when its mtime or size changed (CoreDNS's check). */
  readFile(): void {
    const file = this.config.file;
    if (file) {
      let stamp = '';
      try {
        const s = statSync(file);
        stamp = `${s.mtimeMs}:${s.size}`;
      } catch {
        stamp = 'missing';
      }
      if (stamp !== this.fileStamp) {
        this.fileStamp = stamp;
        let text = '';
        try {
          text = stamp === 'missing' ? '' : readFileSync(file, 'latin1');
        } catch {
          text = '';
        }
        this.fromFile = parseHostsText(text, this.config.zones, this.config.reverse);
        this.stats.reloadTimestampSeconds = Date.now() / 1000;
      }
    }
    this.stats.entries = this.fromFile.entries + this.inline.entries;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private lookup(kind: 'v4' | 'v6', name: string): Buffer[] {
    const a = this.fromFile[kind].get(name);
    const b = this.inline[kind].get(name);
    return a && b ? [...a, ...b] : (a ?? b ?? []);
  }

  answer(q: LocalQuestion): LocalAnswer | null {
    const { name, qtype } = q;
    const inZone = matchZone(name, this.config.zones) !== undefined;
    if (!inZone && qtype !== TYPE.PTR) return null;
    const ttl = this.config.ttlSeconds;
    let answer: Record[] = [];
    switch (qtype) {
      case TYPE.PTR: {
        const key = reverseNameToKey(name);
        const names = key === undefined ? [] : [...(this.fromFile.names.get(key) ?? []), ...(this.inline.names.get(key) ?? [])];
        if (names.length === 0) return null;
        answer = names.map((target) => ({ name, type: TYPE.PTR, class: 1, ttl, rdata: [{ name: target }] }));
        break;
      }
      case TYPE.A:
        answer = this.lookup('v4', name).map((ip) => ({ name, type: TYPE.A, class: 1, ttl, rdata: [ip] }));
        break;
      case TYPE.AAAA:
        answer = this.lookup('v6', name).map((ip) => ({ name, type: TYPE.AAAA, class: 1, ttl, rdata: [ip] }));
        break;
      default:
        if (this.config.fallthroughUnsupported && fallsThrough(this.config.fallthrough, name)) return null;
    }
    if (answer.length === 0 && this.lookup('v4', name).length === 0 && this.lookup('v6', name).length === 0) {
      if (fallsThrough(this.config.fallthrough, name)) return null;
      // CoreDNS: "we want NXDOMAIN, but /etc/hosts has no SOA", so SERVFAIL.
      return { rcode: RCODE.SERVFAIL };
    }
    const reply = replyTo(q.query, { rcode: RCODE.NOERROR, authoritative: true, answer });
    return reply ? { rcode: RCODE.NOERROR, reply } : { rcode: RCODE.SERVFAIL, error: 'hosts: reply could not be encoded' };
  }
}
