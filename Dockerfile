# syntax=docker/dockerfile:1
# node-local-dns: drop-in image for registry.k8s.io/dns/k8s-dns-node-cache.
#   docker build -t ghcr.io/node-local-dns/node-local-dns:0.1.0 .
# The container takes node-cache's arguments unchanged (see deploy/daemonset.yaml).

# The bundle is plain JavaScript, so build it on the builder's own platform even for other targets.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS build
WORKDIR /src
# Lockfile first: the dependency layer stays cached while only sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/
COPY scripts/bundle/ scripts/bundle/
COPY src/ src/
# esbuild writes one self-contained file (all dependencies inlined) plus its source map.
RUN npm run build

FROM node:24-bookworm-slim
# iptables/ip6tables (legacy and nft backends, switched with update-alternatives) and ip, which the
# daemon runs for the NOTRACK/ACCEPT rules and the nodelocaldns dummy interface.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*
# The runtime needs node only: drop npm, npx, corepack and yarn (less to patch, smaller image).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
# The daemon, the worker-thread entry and the tools (load, query: loaded only when one runs).
COPY --from=build /src/dist/node-local-dns.cjs /src/dist/node-local-dns.cjs.map /src/dist/node-local-dns-worker.cjs /src/dist/node-local-dns-worker.cjs.map /src/dist/node-local-dns-tools.cjs /src/dist/node-local-dns-tools.cjs.map /opt/node-local-dns/
# Picks the host's iptables backend, then runs and supervises the daemon (SIGUSR2 handover).
COPY --chmod=0755 deploy/image/iptables-mode.sh /usr/local/bin/node-local-dns-entrypoint
# A 1 MiB young generation instead of V8's default 16 MiB: about 30 MiB less resident memory with
# full caches for a few more (cheap) scavenges; see README "Memory sizing".
ENV NODE_OPTIONS="--max-semi-space-size=1"
# Two glibc malloc arenas instead of one per thread that allocates (V8's GC and compiler threads,
# libuv's pool): measured with bench/memory.ts on Node 24, about 1 MiB less idle and 5-10 MiB less
# with both caches full, no measurable cost on the hit path. See README "Memory sizing".
ENV MALLOC_ARENA_MAX=2
# Root with NET_ADMIN (granted by the DaemonSet), like node-cache: it manages iptables and links.
USER root
# DNS, health (/health, /ready), CoreDNS metrics, node-cache setup metrics. Documentation only:
# the pod uses the host network.
EXPOSE 53/udp 53/tcp 8080 9253 9353
ENTRYPOINT ["/usr/local/bin/node-local-dns-entrypoint"]
