// The embedded default config used by `node-local-dns` with no --config: loopback, unprivileged
// ports, forwarding everything to the nameservers in /etc/resolv.conf.
export const DEFAULT_CONFIG_NAME = '<embedded default>';

export const DEFAULT_CONFIG_YAML = `# node-local-dns embedded default: a local caching forwarder for development.
servers:
  - zones: [.]
    bind: [127.0.0.1]
    port: 5353
    cache:
      success: { capacity: 9984, maxTTL: 30, minTTL: 5 }
      denial: { capacity: 9984, maxTTL: 5, minTTL: 5 }
    forward:
      to: [/etc/resolv.conf]
health: { listen: "127.0.0.1:8080" }
metrics: { listen: "127.0.0.1:9253" }
`;
