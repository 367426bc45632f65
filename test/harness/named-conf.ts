// named.conf for BIND as the tests run it: authoritative only (recursion off, so replies carry AA
// and not RA, as kube-dns's do), listening where the test says, no controls channel, no DNSSEC
// validation, serving the given zone files. One writer for every test that starts BIND.

export interface NamedConfOptions {
  readonly dir: string; // working directory: pid file, session key, managed keys
  readonly port: number;
  readonly listenOn: string; // address match list for listen-on, e.g. "127.0.0.1" or "any"
  readonly zones: readonly { readonly origin: string; readonly file: string }[];
  readonly extraOptions?: string; // more lines inside options { }
  readonly extraStatements?: string; // statements after options (logging, ...)
}

export function authoritativeNamedConf(o: NamedConfOptions): string {
  const q = (s: string) => JSON.stringify(s);
  return `options {
  directory ${q(o.dir)};
  pid-file ${q(`${o.dir}/named.pid`)};
  session-keyfile ${q(`${o.dir}/session.key`)};
  managed-keys-directory ${q(o.dir)};
  listen-on port ${o.port} { ${o.listenOn}; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  dnssec-validation no;
  notify no;
${o.extraOptions ?? ''}
};
controls { };
${o.extraStatements ?? ''}
${o.zones.map((z) => `zone ${q(z.origin)} { type primary; file ${q(z.file)}; };`).join('\n')}
`;
}
