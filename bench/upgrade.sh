#!/usr/bin/env bash
# Upgrades of vhostd itself under load, in one run: wrk for DURATION seconds without an
# upgrade, then again with `vhostctl upgrade` every UPGRADE_EVERY seconds, for keep-alive and
# for a new connection per request. Reports the requests, wrk's errors and non-2xx answers,
# the throughput with upgrades as a ratio of the one without, and how long each
# `vhostctl upgrade` took (started to the new process answering /status).
#   bench/upgrade.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
every=${UPGRADE_EVERY:-2}
if [ "${1:-}" = "--smoke" ]; then duration=2; every=1; fi
command -v wrk > /dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null; }
./scripts/build.sh > /dev/null

work=$(mktemp -d /tmp/vhostd-upgrade-XXXXXX)
# The vhostd running now: after an upgrade it is no longer the one started, so it is read
# from /status, and stopped by that pid at the end.
current_pid() { curl -fs -m 2 "http://127.0.0.1:$admin_port/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["pid"])'; }
stop_vhostd() {
  local pid
  pid=$(current_pid 2> /dev/null) || return 0
  kill "$pid" 2> /dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2> /dev/null || true
}
trap 'stop_vhostd; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin_port=$(free_port)
cat > "$work/vhostd.toml" <<TOML
[[listen]]
address = "127.0.0.1:$port"
[server]
threads = 1
[admin]
listen = "127.0.0.1:$admin_port"
[sites.hello]
hosts = ["hello.test"]
command = ["$PWD/build/bin/hello-worker"]
workers = 2
TOML
# setsid: the vhostd an upgrade starts outlives this shell's job control, as under systemd.
setsid build/bin/vhostd -c "$work/vhostd.toml" > "$work/vhostd.log" 2>&1 < /dev/null &
for _ in $(seq 100); do curl -fs -m 1 -H 'Host: hello.test' "http://127.0.0.1:$port/" > /dev/null && break; sleep 0.1; done

# wrk's totals: requests, then errors (connect+read+write+timeout), then non-2xx.
measure() {  # label, extra wrk arguments...
  local label=$1
  shift
  wrk -t1 -c20 -d"${duration}s" -H 'Host: hello.test' "$@" "http://127.0.0.1:$port/" > "$work/wrk.txt"
  awk -v label="$label" '
    /requests in/ {requests=$1}
    /Socket errors/ {gsub(",", ""); errors=$4+$6+$8+$10}
    /Non-2xx/ {non2xx=$NF}
    END {printf "%s %d %d %d\n", label, requests, errors+0, non2xx+0}' "$work/wrk.txt"
}

upgrade_loop() {
  : > "$work/upgrades.txt"
  local deadline=$((SECONDS + duration - 1))
  while [ $SECONDS -lt $deadline ]; do
    sleep "$every"
    local start end
    start=$(date +%s%N)
    build/bin/vhostctl --admin "127.0.0.1:$admin_port" upgrade > /dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000)) >> "$work/upgrades.txt"
  done
}

report() {  # mode wrk-arguments...
  local mode=$1
  shift
  read -r _ base_requests base_errors base_non2xx < <(measure run "$@")
  upgrade_loop &
  local loop=$!
  read -r _ requests errors non2xx < <(measure run "$@")
  wait "$loop"
  local upgrades times
  upgrades=$(wc -l < "$work/upgrades.txt")
  times=$(sort -n "$work/upgrades.txt" | tr '\n' ' ')
  python3 - "$mode" "$base_requests" "$base_errors" "$base_non2xx" "$requests" "$errors" "$non2xx" "$upgrades" "$times" <<'PY'
import sys
mode, base, base_errors, base_non2xx, requests, errors, non2xx, upgrades, times = sys.argv[1:]
print(f"{mode}: without upgrades {base} requests ({base_errors} errors, {base_non2xx} non-2xx); "
      f"with {upgrades} upgrades {requests} requests ({errors} errors, {non2xx} non-2xx); "
      f"throughput ratio {int(requests) / int(base):.2f}; vhostctl upgrade took (ms): {times.strip()}")
PY
}

report "keep-alive"
report "new connection per request" -H 'Connection: close'
