#!/bin/sh
# node-local-dns container entrypoint (installed as /usr/local/bin/node-local-dns-entrypoint).
#
# 1. Picks the iptables backend the host uses (legacy or nft), as the iptables-wrapper of the
#    kube-proxy and k8s-dns-node-cache images does: rules written with the other backend would be
#    invisible to kube-proxy's and would not take effect as intended.
# 2. Runs the daemon with node-cache's arguments unchanged and stays as the container's main
#    process, so that SIGUSR2 (hand the sockets to a successor process and exit) does not end the
#    container: signals are forwarded to whichever daemon process is current, and the container
#    exits when the last one does.
# 3. Restart supervisor: a daemon that dies unexpectedly (killed by a signal, e.g. SIGKILL or the
#    kernel's OOM killer, or a non-zero exit) is started again after NLD_RESTART_DELAY_MS (200 ms),
#    not after kubelet's CrashLoop backoff (10 s, 20 s, ...). Repeated crashes double the delay up
#    to NLD_RESTART_MAX_DELAY_MS; a daemon that ran NLD_RESTART_STABLE_S seconds resets it. After
#    NLD_RESTART_LIMIT crashes in a row without a stable run the container exits with the daemon's
#    status and kubelet takes over. The guard container covers the node's DNS in between.
#    A clean exit (status 0, e.g. SIGTERM sent to the daemon itself) ends the container.
#
# Subcommands (check-config, convert-corefile, load, query) and -version/-help run node directly;
# `guard` runs node directly after the backend selection (it runs iptables too).
#
# Environment:
#   IPTABLES_MODE=legacy|nft   skip detection and use this backend
#   NLD_SELECT_IPTABLES=0      leave the iptables alternatives alone (tests, pre-selected images)
#   NLD_SUPERVISE=0            exec node directly (node becomes the main process; SIGUSR2 then ends
#                              the container, since the successor is killed with it; no restarts)
#   NLD_RESTART_DELAY_MS=200 NLD_RESTART_MAX_DELAY_MS=30000 NLD_RESTART_STABLE_S=60
#   NLD_RESTART_LIMIT=10       restart supervisor (0: never give up)
#   NLD_BUNDLE, NLD_NODE       bundle and node paths (tests)
set -u

BUNDLE=${NLD_BUNDLE:-/opt/node-local-dns/node-local-dns.cjs}
NODE=${NLD_NODE:-node}
SBIN=/usr/sbin

log() {
  echo "node-local-dns-entrypoint: $*" >&2
}

# Rule lines ("-A ...") in both families' dumps for one backend. nft can block on a kernel without
# nf_tables, hence the timeout; a missing binary or no permission counts as zero.
count_rules() {
  { timeout 5 "iptables-$1-save" 2>/dev/null; timeout 5 "ip6tables-$1-save" 2>/dev/null; } | grep -c '^-' || true
}

# kubelet creates KUBE-IPTABLES-HINT (and older ones KUBE-KUBELET-CANARY) in the mangle table with
# the backend the host uses, precisely so that containers can tell (KEP-3178).
has_hint() {
  { timeout 5 "iptables-$1-save" -t mangle 2>/dev/null; timeout 5 "ip6tables-$1-save" -t mangle 2>/dev/null; } |
    grep -qE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) '
}

select_iptables_mode() {
  mode=
  reason=
  case "${IPTABLES_MODE:-}" in
    legacy | nft) mode=$IPTABLES_MODE reason='IPTABLES_MODE' ;;
    '') ;;
    *) log "ignoring IPTABLES_MODE=${IPTABLES_MODE}: expected legacy or nft" ;;
  esac
  if [ -z "$mode" ]; then
    if has_hint nft; then
      mode=nft reason='kubelet hint chain in the nft tables'
    elif has_hint legacy; then
      mode=legacy reason='kubelet hint chain in the legacy tables'
    else
      legacy=$(count_rules legacy)
      nft=$(count_rules nft)
      if [ "$legacy" -gt "$nft" ]; then
        mode=legacy
      elif [ "$nft" -gt "$legacy" ]; then
        mode=nft
      else
        # No evidence either way (e.g. no NET_ADMIN): nft is Debian's default and current distros'.
        mode=nft
      fi
      reason="rules on the host: legacy ${legacy}, nft ${nft}"
    fi
  fi
  # Both families switch together; the daemon calls ip6tables for IPv6 local IPs.
  if update-alternatives --set iptables "$SBIN/iptables-$mode" >/dev/null 2>&1 &&
    update-alternatives --set ip6tables "$SBIN/ip6tables-$mode" >/dev/null 2>&1; then
    log "iptables backend: $mode ($reason)"
  else
    # Not fatal: e.g. a read-only root file system keeps the image default (nft).
    log "iptables backend: could not select $mode ($reason); update-alternatives failed, keeping the image default"
  fi
}

# True while PID runs (a zombie counts as gone: it has exited and only waits to be reaped).
alive() {
  [ -r "/proc/$1/status" ] || return 1
  while read -r key value _; do
    if [ "$key" = 'State:' ]; then
      [ "$value" != Z ]
      return
    fi
  done 2>/dev/null <"/proc/$1/status"
  return 1
}

# A successor started by SIGUSR2: a running process of our bundle with NLD_HANDOVER=1 in its
# environment. It is detached (own session), so after its predecessor exits it is reparented and
# the shell cannot wait for it; it is watched through /proc instead.
find_successor() {
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = "$$" ] && continue
    tr '\0' '\n' 2>/dev/null <"$dir/cmdline" | grep -qxF "$BUNDLE" || continue
    tr '\0' '\n' 2>/dev/null <"$dir/environ" | grep -qx 'NLD_HANDOVER=1' || continue
    alive "$pid" || continue
    echo "$pid"
    return 0
  done
  return 1
}

current=
stopping=0
forward() {
  case "$1" in TERM | INT | QUIT) stopping=1 ;; esac
  [ -n "$current" ] && kill -s "$1" "$current" 2>/dev/null
}

# Sleeps MS milliseconds; a trapped signal ends the sleep early (the caller checks $stopping).
sleep_ms() {
  sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" &
  wait $! 2>/dev/null
}

# Runs the daemon once, following SIGUSR2 successors; sets $status ($status > 128: killed by a signal).
run_daemon() {
  "$NODE" "$BUNDLE" "$@" &
  main=$!
  current=$main
  # A trapped signal interrupts `wait` (status > 128) while the daemon keeps running: wait again.
  while :; do
    wait "$main"
    status=$?
    if [ "$status" -gt 128 ] && kill -0 "$main" 2>/dev/null; then continue; fi
    break
  done
  # Follow successors: each may hand over again before it exits.
  while next=$(find_successor); do
    current=$next
    log "daemon handed over to pid $current; following it"
    while alive "$current"; do
      sleep 1 &
      wait $! 2>/dev/null
    done
    # Its exit status is not ours to collect: a stop we forwarded counts as a clean exit, anything
    # else as a crash (a successor that is gone without being asked).
    if [ "$stopping" = 1 ]; then status=0; else status=137; fi
  done
  current=
}

supervise() {
  for sig in TERM INT QUIT HUP USR1 USR2; do
    # shellcheck disable=SC2064 # expand $sig now
    trap "forward $sig" "$sig"
  done
  delay=${NLD_RESTART_DELAY_MS:-200}
  max_delay=${NLD_RESTART_MAX_DELAY_MS:-30000}
  stable=${NLD_RESTART_STABLE_S:-60}
  limit=${NLD_RESTART_LIMIT:-10}
  crashes=0
  while :; do
    started=$(date +%s)
    run_daemon "$@"
    if [ "$stopping" = 1 ] || [ "$status" = 0 ]; then exit "$status"; fi
    ran=$(($(date +%s) - started))
    if [ "$ran" -ge "$stable" ]; then
      delay=${NLD_RESTART_DELAY_MS:-200}
      crashes=0
    fi
    crashes=$((crashes + 1))
    if [ "$status" -gt 128 ]; then how="was killed by signal $((status - 128))"; else how="exited with status $status"; fi
    if [ "$limit" -gt 0 ] && [ "$crashes" -gt "$limit" ]; then
      log "daemon $how after ${ran}s; $limit restarts in a row did not last ${stable}s, exiting (status $status)"
      exit "$status"
    fi
    log "daemon $how after ${ran}s; restarting in ${delay} ms (restart $crashes)"
    sleep_ms "$delay"
    [ "$stopping" = 1 ] && exit 0
    delay=$((delay * 2))
    [ "$delay" -gt "$max_delay" ] && delay=$max_delay
  done
}

case "${1:-}" in
  check-config | convert-corefile | load | query | -version | --version | -h | -help | --help)
    exec "$NODE" "$BUNDLE" "$@"
    ;;
esac

[ "${NLD_SELECT_IPTABLES:-1}" = 0 ] || select_iptables_mode
if [ "${1:-}" = guard ] || [ "${NLD_SUPERVISE:-1}" = 0 ]; then
  exec "$NODE" "$BUNDLE" "$@"
fi
supervise "$@"
