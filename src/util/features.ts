// Runtime feature checks.

/**
 * SO_REUSEPORT from JS (dgram and net `reusePort`) needs Node >= 22.12 or 23.1; older versions
 * silently ignore the option, so we only ask for it where it works.
 */
export const REUSE_PORT_SUPPORTED = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
})();
