#!/usr/bin/env bash
# One benchmark run on loopback: the same hello-worker (2 processes) measured
#   direct   — hello-worker --listen (SO_REUSEPORT)
#   vhostd   — behind vhostd (handoff, then out of the path)
#   nginx    — behind nginx as a reverse proxy with upstream keep-alive
#   haproxy  — behind HAProxy routing by Host
# for three workloads (keep-alive requests; a new connection per request; WebSocket setup:
# connect, upgrade, one echo, close), alternating the targets and repeating so that drift
# shows. Prints req/s (setups/s for WebSocket), p50/p99 and the ratios vhostd/other.
#
#   bench/run.sh                 # full run: 3 rounds of 5 s per target and workload
#   bench/run.sh --smoke         # seconds: proves the script works (CI)
#   ROUNDS=5 DURATION=10 bench/run.sh
#   RESULTS_DIR=out bench/run.sh  # keep results.tsv, summary.md and chart.png (gnuplot) in out/
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-50}
if [ "${1:-}" = "--smoke" ]; then rounds=1; duration=1; fi

missing=()
for tool in wrk nginx haproxy; do command -v "$tool" > /dev/null || missing+=("$tool"); done
[ -n "${RESULTS_DIR:-}" ] && ! command -v gnuplot > /dev/null && missing+=(gnuplot)
if [ ${#missing[@]} -gt 0 ]; then
  packages=("${missing[@]/nginx/nginx-light}")
  packages=("${packages[@]/gnuplot/gnuplot-nox}")
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
fill() { sed -e "s|@PORT@|$2|g" -e "s|@UPSTREAM_PORT@|${direct_port}|g" -e "s|@DIR@|$work|g" -e "s|@BIN@|$PWD/build/bin|g" "$1"; }

direct_port=$(free_port); vhostd_port=$(free_port); nginx_port=$(free_port); haproxy_port=$(free_port)

for _ in 1 2; do
  build/bin/hello-worker --listen "127.0.0.1:$direct_port" --reuse-port --site hello & pids+=($!)
done
fill bench/vhostd.toml.in "$vhostd_port" > "$work/vhostd.toml"
build/bin/vhostd -c "$work/vhostd.toml" --log-level warn > "$work/vhostd.log" 2>&1 & pids+=($!)
fill bench/nginx.conf.in "$nginx_port" > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
fill bench/haproxy.cfg.in "$haproxy_port" > "$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" -db > "$work/haproxy.log" 2>&1 & pids+=($!)

declare -A port=([direct]=$direct_port [vhostd]=$vhostd_port [nginx]=$nginx_port [haproxy]=$haproxy_port)
targets=(direct vhostd nginx haproxy)
for target in "${targets[@]}"; do
  for _ in $(seq 100); do
    curl -fs -m 1 -H 'Host: hello.test' "http://127.0.0.1:${port[$target]}/" > /dev/null && continue 2
    sleep 0.1
  done
  echo "$target did not answer on port ${port[$target]}" >&2
  exit 1
done

results="$work/results.tsv"
for round in $(seq "$rounds"); do
  # Rotate the order each round, so no target always runs first or last.
  order=("${targets[@]:$(( (round - 1) % 4 ))}" "${targets[@]:0:$(( (round - 1) % 4 ))}")
  for workload in keepalive close websocket; do
    for target in "${order[@]}"; do
      case $workload in
        keepalive) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' "http://127.0.0.1:${port[$target]}/") ;;
        close) output=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -H 'Host: hello.test' -H 'Connection: close' "http://127.0.0.1:${port[$target]}/") ;;
        websocket) output=$(build/bin/websocket_setup 127.0.0.1 "${port[$target]}" "$connections" "$duration") ;;
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
  python3 bench/summarize.py "$results" --chart-data "$keep/chart.dat" | tee "$keep/summary.md"
  if command -v gnuplot > /dev/null; then
    gnuplot -e "data='$keep/chart.dat'; output='$keep/chart.png'" bench/chart.gp
    echo "chart: $keep/chart.png"
  fi
else
  python3 bench/summarize.py "$results"
fi
