// `node-local-dns query`: one lookup printed like dig, for operators inside the image (it has no
// dig) and for seeing what a pod sees:
//   query [@SERVER] [-p PORT] [+tcp] [+short] [+ignore] [+edns[=SIZE]] [+dnssec] [+timeout=T]
//         [-t TYPE] [-c CLASS] [-x ADDRESS] [--search [--resolv-conf FILE]] NAME [TYPE] [CLASS]
// As dig: a truncated UDP reply (TC) is reported and asked again over TCP (unless +ignore);
// `-x` asks the PTR of an address; a class such as CH may follow the type (id.server TXT CH).
// `--search` walks the resolv.conf search list as glibc does (resolv-conf.ts) and prints every
// name it asked. No EDNS unless asked: glibc and musl stub resolvers send none.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { parseDuration } from '../config/values.js';
import { CLASS_IN, HEADER_SIZE, TYPE } from '../dns/constants.js';
import { encodeName, reverseName } from '../dns/names.js';
import { className, parseClass, parseType, rcodeName, typeName } from '../dns/qtypes.js';
import { encodeQuery } from '../dns/question.js';
import { decodeMessage, type DecodedMessage, type DecodedRecord } from '../dns/records.js';
import { ArgError, parseServer, readFlags, type ServerAddress } from './args.js';
import { exchange } from './exchange.js';
import { parseResolvConf, searchCandidates, searchGoesOn, type ResolvConf } from './resolv-conf.js';

interface QueryArgs {
  server: ServerAddress | null; // null: the first nameserver of resolv.conf (--search) or 127.0.0.1
  port: number | null;
  name: string;
  qtype: number;
  qclass: number;
  tcp: boolean;
  short: boolean;
  ignoreTruncation: boolean;
  edns: { payload: number; dnssecOk: boolean } | null;
  timeoutMs: number;
  search: boolean;
  resolvConf: string;
}

const QUERY_USAGE = `usage: node-local-dns query [@SERVER] [-p PORT] [options] NAME [TYPE] [CLASS]
  @SERVER          IP address to ask (default 127.0.0.1; with --search the first nameserver of resolv.conf)
  -p PORT          port (default 53)
  -t TYPE, -c CLASS, -x ADDRESS   type, class (IN, CH, ...), or the PTR of an address
  +tcp             ask over TCP (by default UDP; a truncated reply is asked again over TCP, like dig)
  +ignore          keep a truncated UDP reply, do not retry over TCP
  +short           print only the answer data
  +edns[=SIZE]     send an EDNS OPT (default size 1232); +dnssec also sets DO
  +timeout=T       per query (default 3s; a bare number is seconds, like dig)
  --search         walk the resolv.conf search list and ndots as glibc does; --resolv-conf FILE (default /etc/resolv.conf)`;

type Parsed = { ok: true; args: QueryArgs } | { ok: false; error: string };

export function parseQueryArgs(argv: readonly string[]): Parsed {
  try {
    return { ok: true, args: readQueryArgs(argv) };
  } catch (err) {
    if (err instanceof ArgError) return { ok: false, error: err.message };
    throw err;
  }
}

function readQueryArgs(argv: readonly string[]): QueryArgs {
  const flags = readFlags(
    argv,
    { port: { type: 'string', short: 'p' }, type: { type: 'string', short: 't' }, class: { type: 'string', short: 'c' }, reverse: { type: 'string', short: 'x' }, search: { type: 'boolean' }, 'resolv-conf': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    { positionals: true },
  );
  if (flags.bools.get('help')) throw new ArgError(QUERY_USAGE);
  const args: QueryArgs = { server: null, port: null, name: '', qtype: TYPE.A, qclass: CLASS_IN, tcp: false, short: false, ignoreTruncation: false, edns: null, timeoutMs: 3000, search: flags.bools.get('search') ?? false, resolvConf: flags.strings.get('resolv-conf') ?? '/etc/resolv.conf' };
  const words: string[] = [];
  for (const word of flags.positionals) {
    if (word.startsWith('@')) args.server = parseServer('@server', word.slice(1).replace(/^\[(.*)\]$/, '$1'));
    else if (word.startsWith('+')) readPlusOption(word, args);
    else words.push(word);
  }
  const port = flags.strings.get('port');
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) throw new ArgError(`-p must be a port 1-65535, got '${port}'`);
    args.port = n;
  }
  const reverse = flags.strings.get('reverse');
  if (reverse !== undefined) {
    const name = reverseName(reverse);
    if (!name) throw new ArgError(`-x needs an IPv4 or IPv6 address, got '${reverse}'`);
    args.name = name;
    args.qtype = TYPE.PTR;
  } else {
    const name = words.shift();
    if (name === undefined) throw new ArgError(QUERY_USAGE);
    args.name = name;
  }
  const typeFlag = flags.strings.get('type');
  const classFlag = flags.strings.get('class');
  if (typeFlag !== undefined) args.qtype = typeOrThrow(typeFlag);
  if (classFlag !== undefined) args.qclass = classOrThrow(classFlag);
  for (const word of words) {
    // After the name, dig takes a type and a class in any order.
    const t = parseType(word);
    const c = parseClass(word);
    if (c !== undefined && !/^TYPE/i.test(word) && (t === undefined || /^(IN|CH|HS|NONE|CS)$/i.test(word))) args.qclass = c;
    else if (t !== undefined) args.qtype = t;
    else throw new ArgError(`unknown type ${word} (A, AAAA, MX, TXT, SRV, PTR, ... or TYPEnnn) or class (IN, CH, HS, or CLASSnnn)`);
  }
  const encoded = encodeName(args.name);
  if (!encoded.ok) throw new ArgError(`bad name: ${encoded.error}`);
  return args;
}

function readPlusOption(word: string, args: QueryArgs): void {
  const [name, value] = word.slice(1).split('=', 2);
  switch (name) {
    case 'tcp':
    case 'vc':
      args.tcp = true;
      return;
    case 'notcp':
      args.tcp = false;
      return;
    case 'short':
      args.short = true;
      return;
    case 'ignore':
      args.ignoreTruncation = true;
      return;
    case 'edns':
    case 'bufsize': {
      const size = value === undefined ? 1232 : Number(value);
      if (!Number.isInteger(size) || size < 512 || size > 65535) throw new ArgError(`+${name} size must be 512-65535, got '${value}'`);
      args.edns = { payload: size, dnssecOk: args.edns?.dnssecOk ?? false };
      return;
    }
    case 'dnssec':
      args.edns = { payload: args.edns?.payload ?? 1232, dnssecOk: true };
      return;
    case 'timeout': {
      const parsed = parseDuration(value ?? '');
      if (!parsed.ok || parsed.value <= 0) throw new ArgError(`+timeout must be a duration > 0 (3, 3s, 500ms), got '${value ?? ''}'`);
      args.timeoutMs = parsed.value;
      return;
    }
    default:
      throw new ArgError(`unknown option ${word}\n${QUERY_USAGE}`);
  }
}

function typeOrThrow(text: string): number {
  const t = parseType(text);
  if (t === undefined) throw new ArgError(`unknown type ${text} (A, AAAA, MX, TXT, SRV, PTR, ... or TYPEnnn)`);
  return t;
}

function classOrThrow(text: string): number {
  const c = parseClass(text);
  if (c === undefined) throw new ArgError(`unknown class ${text} (IN, CH, HS, or CLASSnnn)`);
  return c;
}

function readResolvConf(path: string): ResolvConf {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ArgError(`--search: cannot read ${path}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Asking and printing

interface Asked {
  readonly message: DecodedMessage;
  readonly tcp: boolean;
  readonly ms: number;
}

/** Asks one name; a truncated UDP reply is asked again over TCP unless +ignore. Notes go to `say`. */
async function ask(args: QueryArgs, server: ServerAddress, name: string, say: (line: string) => void): Promise<Asked | { error: string }> {
  const wire = encodeName(name);
  if (!wire.ok) return { error: wire.error };
  const query = encodeQuery({ id: randomInt(65536), name: wire.wire, qtype: args.qtype, qclass: args.qclass, edns: args.edns });
  const questionEnd = HEADER_SIZE + wire.wire.length + 4;
  let tcp = args.tcp;
  for (;;) {
    const result = await exchange(server, query, questionEnd, tcp, args.timeoutMs);
    if (!result.ok) return { error: result.error };
    const decoded = decodeMessage(result.reply);
    if (!decoded.ok) return { error: `unreadable reply from ${server.address}: ${decoded.error}` };
    if (decoded.message.truncated && !tcp && !args.ignoreTruncation) {
      say(`;; Truncated, retrying in TCP mode.`);
      tcp = true;
      continue;
    }
    if (decoded.message.truncated) say(`;; WARNING: truncated reply (TC): records may be missing; a client retries over TCP`);
    return { message: decoded.message, tcp, ms: result.ms };
  }
}

const recordLine = (r: DecodedRecord): string => `${r.name}\t${r.ttl}\t${className(r.rclass)}\t${typeName(r.type)}\t${r.data}`;

/** The reply as dig's sections read; +short: the answer data only. */
function formatReply(asked: Asked, server: ServerAddress, short: boolean): string {
  const m = asked.message;
  if (short) return m.answer.map((r) => `${r.data}\n`).join('');
  const edns = m.edns ? `; EDNS udp ${m.edns.payload}${m.edns.dnssecOk ? ' do' : ''}` : '';
  const lines = [`;; ${rcodeName(m.rcode)}, id ${m.id}, flags: ${m.flags.join(' ')}${edns}; ${asked.tcp ? 'tcp' : 'udp'} ${server.address}#${server.port} in ${asked.ms.toFixed(1)} ms`];
  const section = (title: string, records: readonly DecodedRecord[]) => {
    if (records.length === 0) return;
    lines.push(`;; ${title}`, ...records.map(recordLine));
  };
  section('ANSWER', m.answer);
  section('AUTHORITY', m.authority);
  section('ADDITIONAL', m.additional);
  return `${lines.join('\n')}\n`;
}

/** The server to ask: @SERVER, else (with --search) the first resolv.conf nameserver, else 127.0.0.1. */
function serverFor(args: QueryArgs, nameservers: readonly string[]): ServerAddress {
  const base = args.server ?? (args.search && nameservers[0] ? parseServer('nameserver', nameservers[0]) : parseServer('@server', '127.0.0.1'));
  return { ...base, port: args.port ?? base.port };
}

export async function runQuery(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const parsed = parseQueryArgs(argv);
  if (!parsed.ok) {
    const help = parsed.error === QUERY_USAGE && argv.some((a) => a === '--help' || a === '-h');
    (help ? out : err).write(`${parsed.error}\n`);
    return help ? 0 : 2;
  }
  const args = parsed.args;
  const say = (line: string) => {
    if (!args.short) out.write(`${line}\n`);
  };
  let conf: ResolvConf | undefined;
  try {
    conf = args.search ? readResolvConf(args.resolvConf) : undefined;
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  const server = serverFor(args, conf?.nameservers ?? []);
  const names = conf ? searchCandidates(args.name, conf) : [args.name];
  if (conf) say(`;; search: ${args.resolvConf}: ndots ${conf.ndots}, search ${conf.search.join(' ') || '(none)'}; asking ${server.address}#${server.port}`);
  let last: Asked | undefined;
  for (const name of names) {
    const asked = await ask(args, server, name, say);
    if ('error' in asked) {
      err.write(`query failed: ${asked.error}\n`);
      return 1;
    }
    last = asked;
    const m = asked.message;
    if (conf) say(`;; ${name} ${typeName(args.qtype)}: ${rcodeName(m.rcode)}${m.rcode === 0 ? `, ${m.answer.length} answer${m.answer.length === 1 ? '' : 's'}` : ''}`);
    if (!conf || !searchGoesOn(m.rcode, m.answer.length)) break;
  }
  out.write(formatReply(last!, server, args.short));
  return 0;
}
