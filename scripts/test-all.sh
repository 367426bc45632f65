#!/usr/bin/env bash
# The whole suite from a fresh clone: Debian packages the tests use (BIND9, unbound, dnsmasq,
# dnsperf, dig, iproute2, iptables, conntrack), npm packages, type-check, bundle, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm ci --no-audit --no-fund
npm run typecheck
npm run build
node scripts/run-tests.mjs "$@"
