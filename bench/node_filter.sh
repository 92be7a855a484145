#!/usr/bin/env bash
# What reading every request by the grammar costs a Node worker (sdk/node/request_stream.js
# between the socket and llhttp): the same app (examples/node-site, one worker, behind vhostd)
# with this tree's SDK and with the SDK of REV (default: the commit before the filter came),
# in alternating rounds of wrk, keep-alive and a new connection per request.
#   bench/node_filter.sh [REV] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-79a4468^}
rounds=${2:-3}
duration=5
command -v wrk > /dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null; }
./scripts/build.sh > /dev/null

work=$(mktemp -d /tmp/vhostd-node-filter-XXXXXX)
git worktree add --detach "$work/old" "$rev" > /dev/null 2>&1
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  git worktree remove --force "$work/old" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A port
for tree in new old; do
  port[$tree]=$(free_port)
  root=$PWD
  [ "$tree" = old ] && root=$work/old
  cat > "$work/$tree.toml" <<TOML
[[listen]]
address = "127.0.0.1:${port[$tree]}"
[server]
threads = 1
[sites.hello]
hosts = ["hello.test"]
command = ["$(command -v node)", "$root/examples/node-site/server.js"]
workers = 1
runtime = "node"
TOML
  build/bin/vhostd -c "$work/$tree.toml" --log-level warn > "$work/$tree.log" 2>&1 & pids+=($!)
done
for tree in new old; do
  for _ in $(seq 100); do curl -fs -m 1 -H 'Host: hello.test' "http://127.0.0.1:${port[$tree]}/" > /dev/null && break; sleep 0.1; done
done

rate() {  # tree, extra wrk header or ""
  local args=(-t1 -c50 -d"${duration}s" -H 'Host: hello.test')
  [ -n "$2" ] && args+=(-H "$2")
  wrk "${args[@]}" "http://127.0.0.1:${port[$1]}/" | awk '/Requests\/sec/ {print $2}'
}
for workload in keepalive close; do
  header=""
  [ "$workload" = close ] && header="Connection: close"
  for round in $(seq "$rounds"); do
    order=(new old)
    [ $((round % 2)) -eq 0 ] && order=(old new)
    declare -A result=()
    for tree in "${order[@]}"; do result[$tree]=$(rate "$tree" "$header"); done
    awk -v w="$workload" -v r="$round" -v n="${result[new]}" -v o="${result[old]}" \
      'BEGIN { printf "%s round %d: with the filter %.0f req/s, without %.0f req/s: %.3fx\n", w, r, n, o, n / o }'
  done
done
