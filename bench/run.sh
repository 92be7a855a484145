#!/usr/bin/env bash
# One benchmark run on loopback: the same hello-worker (WORKERS processes, 2 by default) measured
#   direct   — hello-worker --listen (SO_REUSEPORT)
#   vhostd   — behind vhostd (handoff, then out of the path)
#   nginx    — behind nginx as a reverse proxy with upstream keep-alive
#   haproxy  — behind HAProxy routing by Host
# for three workloads (keep-alive requests; a new connection per request; WebSocket setup:
# connect, upgrade, one echo, close), alternating the targets and repeating so that drift
# shows. Prints req/s (setups/s for WebSocket), p50/p99 and the ratios vhostd/other, and
# the front's own cost with a new connection per request: vhostd's CPU time (from
# /proc/PID/stat) and system calls (perf stat, when perf can count them) per connection, and
# the system calls of vhostd's workers per connection; and beside it the CPU per connection of
# bench/handoff_floor, a front that only accepts, peeks and hands over to one hello-worker:
# what the kernel's part of a handoff costs on this machine.
# HTTPS (keep-alive and new connection per request, ECDSA P-256, TLS 1.3) compares
#   vhostd       — vhostd terminating TLS and relaying to the worker over a socketpair
#   passthrough  — a second vhostd with the site in passthrough mode: the worker terminates
#   nginx        — nginx terminating TLS and proxying to the worker
# Node.js (keep-alive and new connection per request) compares the same app, examples/node-site
# (WORKERS processes), served two ways:
#   node-vhostd  — behind vhostd, connections handed to it through sdk/node
#   node-cluster — under Node's own cluster module (the primary accepts, round-robin)
#
#   bench/run.sh                 # full run: 3 rounds of 5 s per target and workload
#   bench/run.sh --smoke         # seconds: proves the script works (CI)
#   WORKERS=1 bench/run.sh       # one worker behind each server: nothing hides the front's cost
#   ROUNDS=5 DURATION=10 bench/run.sh
#   RESULTS_DIR=out bench/run.sh  # keep results.tsv, summary.md and chart.png (gnuplot) in out/
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-50}
workers=${WORKERS:-2}
if [ "${1:-}" = "--smoke" ]; then rounds=1; duration=1; fi

missing=()
for tool in wrk nginx haproxy node; do command -v "$tool" > /dev/null || missing+=("$tool"); done
[ -n "${RESULTS_DIR:-}" ] && ! command -v gnuplot > /dev/null && missing+=(gnuplot)
if [ ${#missing[@]} -gt 0 ]; then
  packages=("${missing[@]/nginx/nginx-light}")
  packages=("${packages[@]/gnuplot/gnuplot-nox}")
  packages=("${packages[@]/#node/nodejs}")
  echo "installing: ${packages[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" > /dev/null
fi
./scripts/build.sh > /dev/null

work=$(mktemp -d /tmp/vhostd-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# fill TEMPLATE PORT TLS_PORT [TLS_MODE]
fill() {
  sed -e "s|@PORT@|$2|g" -e "s|@TLS_PORT@|$3|g" -e "s|@TLS_MODE@|${4:-terminate}|g" -e "s|@UPSTREAM_PORT@|${direct_port}|g" \
      -e "s|@DIR@|$work|g" -e "s|@BIN@|$PWD/build/bin|g" -e "s|@REPO@|$PWD|g" -e "s|@NODE@|$(command -v node)|g" \
      -e "s|@WORKERS@|$workers|g" "$1"
}

direct_port=$(free_port); vhostd_port=$(free_port); nginx_port=$(free_port); haproxy_port=$(free_port)
vhostd_tls_port=$(free_port); nginx_tls_port=$(free_port); passthrough_port=$(free_port); passthrough_tls_port=$(free_port)
node_vhostd_port=$(free_port); node_cluster_port=$(free_port); floor_port=$(free_port)
# One ECDSA certificate for every HTTPS target, made now: no key lives in the repository.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=hello.test \
  -addext subjectAltName=DNS:hello.test -keyout "$work/hello.key" -out "$work/hello.pem" 2> /dev/null

for _ in $(seq "$workers"); do
  build/bin/hello-worker --listen "127.0.0.1:$direct_port" --reuse-port --site hello & pids+=($!)
done
fill bench/vhostd.toml.in "$vhostd_port" "$vhostd_tls_port" > "$work/vhostd.toml"
build/bin/vhostd -c "$work/vhostd.toml" --log-level warn > "$work/vhostd.log" 2>&1 & pids+=($!)
vhostd_pid=$!
fill bench/vhostd.toml.in "$passthrough_port" "$passthrough_tls_port" passthrough > "$work/passthrough.toml"
build/bin/vhostd -c "$work/passthrough.toml" --log-level warn > "$work/passthrough.log" 2>&1 & pids+=($!)
fill bench/nginx.conf.in "$nginx_port" "$nginx_tls_port" > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
fill bench/haproxy.cfg.in "$haproxy_port" "" > "$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" -db > "$work/haproxy.log" 2>&1 & pids+=($!)
fill bench/vhostd-node.toml.in "$node_vhostd_port" "" > "$work/vhostd-node.toml"
build/bin/vhostd -c "$work/vhostd-node.toml" --log-level warn > "$work/vhostd-node.log" 2>&1 & pids+=($!)
build/bin/handoff_floor "$floor_port" "$PWD/build/bin/hello-worker" > "$work/handoff_floor.log" 2>&1 & pids+=($!)
floor_pid=$!
node examples/node-site/server.js --cluster "$workers" --listen "127.0.0.1:$node_cluster_port" --site hello > "$work/node-cluster.log" 2>&1 & pids+=($!)

declare -A port=([direct]=$direct_port [vhostd]=$vhostd_port [nginx]=$nginx_port [haproxy]=$haproxy_port)
declare -A tls_port=([vhostd]=$vhostd_tls_port [passthrough]=$passthrough_tls_port [nginx]=$nginx_tls_port)
declare -A node_port=([node-vhostd]=$node_vhostd_port [node-cluster]=$node_cluster_port)
targets=(direct vhostd nginx haproxy)
https_targets=(vhostd passthrough nginx)
node_targets=(node-vhostd node-cluster)
wait_for() {  # URL
  for _ in $(seq 100); do
    curl -fsk -m 1 -H 'Host: hello.test' "$1" > /dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  exit 1
}
for target in "${targets[@]}"; do wait_for "http://127.0.0.1:${port[$target]}/"; done
for target in "${https_targets[@]}"; do wait_for "https://127.0.0.1:${tls_port[$target]}/"; done
for target in "${node_targets[@]}"; do wait_for "http://127.0.0.1:${node_port[$target]}/"; done
wait_for "http://127.0.0.1:$floor_port/"

results="$work/results.tsv"
costs="$work/front_cost.tsv"
floor_costs="$work/floor_cost.tsv"

# CPU seconds (user + system) a process has used: fields 14 and 15 of /proc/PID/stat.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# vhostd's workers: its children.
worker_pids() { pgrep -d, -P "$vhostd_pid" || true; }
perf_works=false
perf stat -e raw_syscalls:sys_enter -- true > /dev/null 2>&1 && perf_works=true
# Runs wrk's command "$@" against vhostd and records vhostd's CPU and system calls, and its
# workers' system calls, over the run (round, then the wrk output on stdout).
measure_front() {
  local round=$1; shift
  local before after front_calls="-" worker_calls="-" perf_front="" perf_workers="" out
  if $perf_works; then
    perf stat -x, -e raw_syscalls:sys_enter -p "$vhostd_pid" -o "$work/perf-front.txt" & perf_front=$!
    perf stat -x, -e raw_syscalls:sys_enter -p "$(worker_pids)" -o "$work/perf-workers.txt" & perf_workers=$!
    sleep 0.2  # perf attaches
  fi
  before=$(cpu_seconds "$vhostd_pid")
  out=$("$@")
  after=$(cpu_seconds "$vhostd_pid")
  if $perf_works; then
    kill -INT "$perf_front" "$perf_workers"; wait "$perf_front" "$perf_workers" 2> /dev/null || true
    front_calls=$(awk -F, '/raw_syscalls/ { print $1 }' "$work/perf-front.txt")
    worker_calls=$(awk -F, '/raw_syscalls/ { print $1 }' "$work/perf-workers.txt")
  fi
  local requests
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$requests" "$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" "$front_calls" "$worker_calls" >> "$costs"
  echo "$out"
}
# The same load on bench/handoff_floor: round, connections, its CPU seconds.
measure_floor() {
  local before after out
  before=$(cpu_seconds "$floor_pid")
  out=$(wrk -t1 -c"$connections" -d"${duration}s" -H 'Host: hello.test' -H 'Connection: close' "http://127.0.0.1:$floor_port/")
  after=$(cpu_seconds "$floor_pid")
  printf '%s\t%s\t%s\n' "$1" "$(echo "$out" | awk '/requests in/ { print $1 }')" "$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" >> "$floor_costs"
}
for round in $(seq "$rounds"); do
  # Rotate the order each round, so no target always runs first or last.
  order=("${targets[@]:$(( (round - 1) % 4 ))}" "${targets[@]:0:$(( (round - 1) % 4 ))}")
  for workload in keepalive close websocket; do
    for target in "${order[@]}"; do
      case $workload in
        keepalive) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' "http://127.0.0.1:${port[$target]}/") ;;
        close)
          close_run=(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' -H 'Connection: close' "http://127.0.0.1:${port[$target]}/")
          if [ "$target" = vhostd ]; then
            output=$(measure_front "$round" "${close_run[@]}")
            measure_floor "$round"
          else
            output=$("${close_run[@]}")
          fi ;;
        websocket) output=$(build/bin/websocket_setup 127.0.0.1 "${port[$target]}" "$connections" "$duration") ;;
      esac
      printf '%s\t%s\t%s\t%s\n' "$round" "$workload" "$target" "$(echo "$output" | tr '\n' '|')" >> "$results"
      echo "round $round $workload $target: $(echo "$output" | grep -E 'Requests/sec' | tr -s ' ')"
    done
  done
  https_order=("${https_targets[@]:$(( (round - 1) % 3 ))}" "${https_targets[@]:0:$(( (round - 1) % 3 ))}")
  for workload in https-keepalive https-close; do
    for target in "${https_order[@]}"; do
      url="https://127.0.0.1:${tls_port[$target]}/"
      case $workload in
        https-keepalive) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' "$url") ;;
        https-close) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' -H 'Connection: close' "$url") ;;
      esac
      printf '%s\t%s\t%s\t%s\n' "$round" "$workload" "$target" "$(echo "$output" | tr '\n' '|')" >> "$results"
      echo "round $round $workload $target: $(echo "$output" | grep -E 'Requests/sec' | tr -s ' ')"
    done
  done
  # The same Node app, each way in turn; which one goes first alternates with the round.
  node_order=("${node_targets[@]:$(( (round - 1) % 2 ))}" "${node_targets[@]:0:$(( (round - 1) % 2 ))}")
  for workload in node-keepalive node-close; do
    for target in "${node_order[@]}"; do
      url="http://127.0.0.1:${node_port[$target]}/"
      case $workload in
        node-keepalive) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' "$url") ;;
        node-close) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' -H 'Connection: close' "$url") ;;
      esac
      printf '%s\t%s\t%s\t%s\n' "$round" "$workload" "$target" "$(echo "$output" | tr '\n' '|')" >> "$results"
      echo "round $round $workload $target: $(echo "$output" | grep -E 'Requests/sec' | tr -s ' ')"
    done
  done
done

echo
keep=${RESULTS_DIR:-}
if [ -n "$keep" ]; then
  mkdir -p "$keep"
  cp "$results" "$keep/results.tsv"
  cp "$costs" "$keep/front_cost.tsv"
  cp "$floor_costs" "$keep/floor_cost.tsv"
  python3 bench/summarize.py "$results" --front-cost "$costs" --floor-cost "$floor_costs" --chart-data "$keep/chart.dat" | tee "$keep/summary.md"
  if command -v gnuplot > /dev/null; then
    gnuplot -e "data='$keep/chart.dat'; output='$keep/chart.png'" bench/chart.gp
    echo "chart: $keep/chart.png"
  fi
else
  python3 bench/summarize.py "$results" --front-cost "$costs" --floor-cost "$floor_costs"
fi
