#!/usr/bin/env bash
# Installs the system tools the integration tests and benchmarks need:
# authoritative servers (BIND named, unbound, dnsmasq), load/query tools
# (dnsperf, dig, kdig), network tools (ip, iptables, conntrack), promtool
# (Debian package prometheus: `promtool check metrics` on a live scrape) and
# the C compilers gcc and musl-gcc (musl-tools) that build the getaddrinfo
# programs of test/netns/pod-resolvers.test.ts.
#
# Idempotent: does nothing (and prints nothing) when everything is present.
# Uses sudo only when not root. tshark is optional and never installed.
#
# The test harness (test/harness/upstream.ts) starts its own server
# instances on 127.0.0.1; the distribution's system services must NOT run
# (they could recurse to the outside world), so service starts are blocked
# during installation and named/unbound are stopped and disabled afterwards.
#
# Env: APT_GET overrides the apt-get binary (for testing this script).
set -euo pipefail

# command:package pairs that must be available.
REQUIRED=(
  named:bind9
  unbound:unbound
  dnsmasq:dnsmasq-base
  dnsperf:dnsperf
  dig:bind9-dnsutils
  kdig:knot-dnsutils
  iptables:iptables
  ip:iproute2
  conntrack:conntrack
  promtool:prometheus
  gcc:gcc
  musl-gcc:musl-tools
)
PACKAGES=(bind9 bind9-dnsutils unbound dnsmasq-base dnsperf knot-dnsutils iproute2 iptables conntrack prometheus gcc libc6-dev musl-tools)
# System services that the packages above may start/enable.
SERVICES=(named unbound named-resolvconf unbound-resolvconf prometheus)
APT_GET=${APT_GET:-apt-get}
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_CREATED=0

log() { echo "install-test-deps: $*"; }

# True if the command exists in PATH or a sbin dir (sbin is often not in a user's PATH).
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local d
  for d in /usr/sbin /sbin /usr/local/sbin; do
    [ -x "$d/$1" ] && return 0
  done
  return 1
}

# Runs a command as root: directly if root, else via sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root or sudo to run: $*" >&2
    exit 1
  fi
}

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# Prevents maintainer scripts from starting services (Debian policy-rc.d, exit 101).
block_service_starts() {
  [ -e "$POLICY_RC" ] && return 0 # respect an existing policy (containers usually have one)
  as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY_RC && chmod 755 $POLICY_RC"
  POLICY_CREATED=1
}

restore_service_starts() {
  if [ "$POLICY_CREATED" -eq 1 ]; then
    as_root rm -f "$POLICY_RC"
    POLICY_CREATED=0
  fi
}

# Stops and disables one system service if it is running/enabled. Silent otherwise.
stop_and_disable() {
  local svc=$1
  if systemd_running; then
    if systemctl is-active --quiet "$svc" 2>/dev/null; then
      log "stopping system service $svc"
      as_root systemctl stop "$svc" >/dev/null 2>&1 || true
    fi
    if systemctl is-enabled --quiet "$svc" 2>/dev/null; then
      log "disabling system service $svc"
      as_root systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
    return 0
  fi
  # No systemd (containers, sysvinit): use the init script if there is one.
  [ -x "/etc/init.d/$svc" ] || return 0
  if "/etc/init.d/$svc" status >/dev/null 2>&1; then
    log "stopping system service $svc"
    as_root "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
  fi
  if compgen -G "/etc/rc[2-5].d/S[0-9][0-9]$svc" >/dev/null && command -v update-rc.d >/dev/null 2>&1; then
    log "disabling system service $svc"
    as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
}

main() {
  local missing=() pair cmd pkg
  for pair in "${REQUIRED[@]}"; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    have "$cmd" || missing+=("$cmd ($pkg)")
  done

  if [ "${#missing[@]}" -gt 0 ]; then
    log "missing: ${missing[*]}"
    log "installing: ${PACKAGES[*]}"
    trap restore_service_starts EXIT
    block_service_starts
    as_root "$APT_GET" update -qq
    as_root env DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq --no-install-recommends "${PACKAGES[@]}"
    restore_service_starts
    trap - EXIT
    for pair in "${REQUIRED[@]}"; do
      cmd=${pair%%:*}
      have "$cmd" || { log "still missing after install: $cmd" >&2; exit 1; }
    done
  fi

  local svc
  for svc in "${SERVICES[@]}"; do
    stop_and_disable "$svc"
  done
  # tshark is optional (packet captures in debugging sessions only): never installed here.
}

main "$@"
