// A pod's resolver configuration and the names glibc's res_nsearch() asks, in its order, so the
// tools can show what an application in that pod sees (resolv/res_query.c, resolv.conf(5)):
//   - a name ending in a dot is asked as it is, and nothing else;
//   - with at least `ndots` dots (default 1; Kubernetes pods get 5) it is asked as it is first,
//     then with each search domain appended;
//   - with fewer dots, each search domain first, then as it is;
//   - the walk goes on after NXDOMAIN, NODATA (NOERROR without answers) and SERVFAIL, and stops at
//     the first answer or any other failure (REFUSED, no reply).
import { isIP } from 'node:net';

export interface ResolvConf {
  readonly nameservers: readonly string[]; // at most 3 used, as glibc (MAXNS)
  readonly search: readonly string[]; // absolute, lower-case as written
  readonly ndots: number; // 0-15
  readonly timeoutSeconds: number;
  readonly attempts: number;
  readonly options: readonly string[]; // every option word as written (edns0, use-vc, ...)
}

const MAX_NAMESERVERS = 3;
const MAX_NDOTS = 15; // RES_MAXNDOTS

/** Parses resolv.conf text: the last `search` or `domain` line wins, as in glibc. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  let ndots = 1;
  let timeoutSeconds = 5;
  let attempts = 2;
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[;#].*$/, '').trim();
    const [keyword, ...words] = line.split(/\s+/);
    if (keyword === 'nameserver' && words[0]) {
      const address = words[0].replace(/%.*$/, ''); // an IPv6 zone index names the interface, not the server
      if (isIP(address) !== 0 && nameservers.length < MAX_NAMESERVERS) nameservers.push(address);
    } else if (keyword === 'search') {
      search = words.map(absolute);
    } else if (keyword === 'domain' && words[0]) {
      search = [absolute(words[0])];
    } else if (keyword === 'options') {
      for (const option of words) {
        options.push(option);
        const [name, value] = option.split(':');
        const n = Number(value);
        if (name === 'ndots' && Number.isInteger(n) && n >= 0) ndots = Math.min(n, MAX_NDOTS);
        if (name === 'timeout' && Number.isInteger(n) && n >= 1) timeoutSeconds = Math.min(n, 30);
        if (name === 'attempts' && Number.isInteger(n) && n >= 1) attempts = Math.min(n, 5);
      }
    }
  }
  return { nameservers, search, ndots, timeoutSeconds, attempts, options };
}

const absolute = (domain: string): string => (domain.endsWith('.') ? domain : `${domain}.`);

/** The absolute names res_nsearch() asks for `name`, in order. */
export function searchCandidates(name: string, conf: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  const dots = [...name].filter((c) => c === '.').length; // glibc counts a trailing dot too
  const trailingDot = name.endsWith('.');
  if (trailingDot) return [name];
  const asIs = `${name}.`;
  const out: string[] = [];
  if (dots >= conf.ndots) out.push(asIs);
  for (const domain of conf.search) {
    const candidate = domain === '.' ? asIs : `${name}.${domain}`;
    if (!out.includes(candidate)) out.push(candidate);
  }
  if (!out.includes(asIs)) out.push(asIs);
  return out;
}

/** What one answer means for the walk: go on to the next candidate, or stop here. */
export function searchGoesOn(rcode: number, answers: number): boolean {
  if (rcode === 0) return answers === 0; // NODATA: next candidate; an answer: done
  return rcode === 3 || rcode === 2; // NXDOMAIN, SERVFAIL
}
