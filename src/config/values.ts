// Parsers for the small value types config files use: durations, host:port, upstream addresses,
// zone names. Pure functions returning values or an error string; no I/O except resolv.conf.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { HostPort, UpstreamAddress } from './types.js';
import type { Result } from '../errors.js';

export type Parsed<T> = Result<T, string>;
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations ("500ms", "10s", "1m30s", "1h"); a bare number means seconds. */
export function parseDuration(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input >= 0 ? ok(input * 1000) : fail(`must be a non-negative duration, got ${input}`);
  }
  if (typeof input !== 'string') return fail(`must be a duration like "5s", got ${JSON.stringify(input)}`);
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return ok(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) return fail(`must be a duration like "500ms", "5s", "1m", got ${JSON.stringify(input)}`);
  return ok(Math.round(total));
}

/** Normalizes a zone to lower case with a trailing dot; "." is the root. */
export function normalizeZone(input: string): Parsed<string> {
  let zone = input.trim().toLowerCase();
  if (zone.startsWith('dns://')) zone = zone.slice(6);
  const colon = zone.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(zone.slice(colon + 1))) zone = zone.slice(0, colon);
  if (zone === '' || zone === '.') return ok('.');
  if (!zone.endsWith('.')) zone += '.';
  if (zone.length > 254) return fail(`zone name too long: ${input}`);
  for (const label of zone.slice(0, -1).split('.')) {
    if (label.length === 0 || label.length > 63) return fail(`invalid zone name ${JSON.stringify(input)}`);
  }
  return ok(zone);
}

/** "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1", ":9253" (all addresses). */
export function parseHostPort(input: string, defaultPort: number): Parsed<HostPort> {
  const text = input.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let portText: string | undefined;
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    } else {
      host = text;
    }
  }
  if (host === 'localhost') host = '127.0.0.1';
  if (host !== '' && isIP(host) === 0) return fail(`must be an IP address with optional port, got ${JSON.stringify(input)}`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`port must be 0-65535, got ${JSON.stringify(portText)}`);
  return ok({ host, port });
}

export function upstreamAddress(host: string, port: number): UpstreamAddress {
  const family = isIP(host) === 6 ? 6 : 4;
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** Reads the nameserver lines of a resolv.conf-style file. */
export function readResolvConf(path: string): Parsed<UpstreamAddress[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`cannot read resolv.conf ${path}: ${(err as Error).message}`);
  }
  const servers: UpstreamAddress[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1].replace(/%.*$/, ''); // drop IPv6 zone index
    if (isIP(host) !== 0) servers.push(upstreamAddress(host, 53));
  }
  if (servers.length === 0) return fail(`${path} lists no nameserver`);
  return ok(servers);
}

/** An upstream: IP, IP:port, [IPv6]:port, dns://IP[:port], or a path to a resolv.conf file. */
export function parseUpstream(input: string): Parsed<UpstreamAddress[]> {
  const text = input.trim();
  if (text.startsWith('/') || text.startsWith('./')) return readResolvConf(text);
  const stripped = text.startsWith('dns://') ? text.slice(6) : text;
  if (/^(tls|https|grpc):\/\//.test(stripped)) return fail(`only plain DNS upstreams are supported, got ${JSON.stringify(input)}`);
  const hp = parseHostPort(stripped, 53);
  if (!hp.ok) return hp;
  if (hp.value.host === '' || hp.value.port === 0) return fail(`upstream needs an IP address and a non-zero port, got ${JSON.stringify(input)}`);
  return ok([upstreamAddress(hp.value.host, hp.value.port)]);
}
