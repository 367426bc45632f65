// Names as text the way miekg/dns prints them (and so CoreDNS's log and errors lines): inside a
// label, the bytes . space ' @ ; ( ) " \ get a backslash, and bytes outside printable ASCII are
// written \DDD (decimal). A label can then never pass for a dot, a field separator or a quote.

/** True for the bytes miekg/dns escapes with a backslash (isDomainNameLabelSpecial). */
function isSpecial(b: number): boolean {
  return b === 0x2e || b === 0x20 || b === 0x27 || b === 0x40 || b === 0x3b || b === 0x28 || b === 0x29 || b === 0x22 || b === 0x5c;
}

/** Escaped presentation form of the qname at the start of a cache key ("svc.cluster.local."). */
export function keyToPresentationName(key: string): string {
  let out = '';
  let pos = 0;
  while (pos < key.length) {
    const len = key.charCodeAt(pos);
    if (len === 0) break;
    for (let i = pos + 1; i <= pos + len && i < key.length; i++) {
      const b = key.charCodeAt(i);
      if (isSpecial(b)) out += `\\${key[i]}`;
      else if (b < 0x20 || b > 0x7e) out += `\\${String(b).padStart(3, '0')}`;
      else out += key[i];
    }
    out += '.';
    pos += 1 + len;
  }
  return out === '' ? '.' : out;
}
