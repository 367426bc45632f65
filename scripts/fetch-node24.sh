#!/usr/bin/env bash
# Puts the container image's runtime (Node 24, as in `FROM node:24-bookworm-slim`) under
# .runtime/node24/ so the suite and the benchmarks can run on it as well as on the machine's Node.
# The only network it needs is the npm registry: Node's release binaries are published there as
# the package node-linux-<arch> (a tarball whose package/ folder is the usual bin/ lib/ include/).
# Idempotent: does nothing when .runtime/node24/bin/node already reports major 24.
# Prints the path of the node binary on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

MAJOR=24
DEST=.runtime/node${MAJOR}

case "$(uname -m)" in
  x86_64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) echo "fetch-node24: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

have_major() { [ -x "$DEST/bin/node" ] && [ "$("$DEST/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$MAJOR" ]; }

if ! have_major; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-node24: npm pack node-linux-${ARCH}@${MAJOR}" >&2
  tarball=$(npm pack "node-linux-${ARCH}@${MAJOR}" --pack-destination "$tmp" --silent --no-audit --no-fund | tail -n 1)
  tar -xzf "$tmp/$tarball" -C "$tmp"
  [ -x "$tmp/package/bin/node" ] || { echo "fetch-node24: $tarball has no package/bin/node" >&2; exit 1; }
  rm -rf "$DEST"
  mkdir -p "$(dirname "$DEST")"
  mv "$tmp/package" "$DEST"
  have_major || { echo "fetch-node24: $DEST/bin/node is not Node $MAJOR" >&2; exit 1; }
fi
echo "fetch-node24: $("$DEST/bin/node" -v) at $DEST" >&2
echo "$PWD/$DEST/bin/node"
