#!/usr/bin/env bash
# What the front costs per connection:
#  1. handoff latency (accept to fd sent; vhostd's own histogram, logged when it stops) with
#     a new connection per request, at saturation and at about half that rate;
#  2. front memory per connection waiting for its head: 10,000 connections that send half
#     a head and stall (bench/half_heads.py), while a normal request is still served;
#  3. front memory per idle TLS connection it relays (terminate mode): 2,000 keep-alive
#     connections, each after one request (bench/tls_idle.py).
#  4. front memory per stalled TLS handshake: 3,000 connections that send a ClientHello and
#     never finish (bench/tls_stalls.py), under the default max_tls_handshakes.
#   bench/front_cost.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5
pending=10000
relayed=2000
stalled=3000
if [ "${1:-}" = "--smoke" ]; then duration=1; pending=1000; relayed=100; stalled=300; fi
command -v wrk > /dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null; }
./scripts/build.sh > /dev/null

work=$(mktemp -d /tmp/vhostd-front-cost-XXXXXX)
vhostd_pid=""
stop_vhostd() {
  [ -n "$vhostd_pid" ] || return 0
  kill "$vhostd_pid" 2> /dev/null || true
  for _ in $(seq 100); do kill -0 "$vhostd_pid" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$vhostd_pid" 2> /dev/null || true
  wait "$vhostd_pid" 2> /dev/null || true
  vhostd_pid=""
}
trap 'stop_vhostd; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
tls_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=hello.test \
  -addext subjectAltName=DNS:hello.test -keyout "$work/hello.key" -out "$work/hello.pem" 2> /dev/null
sed -e "s|@PORT@|$port|g" -e "s|@TLS_PORT@|$tls_port|g" -e "s|@TLS_MODE@|terminate|g" -e "s|@DIR@|$work|g" \
    -e "s|@BIN@|$PWD/build/bin|g" -e "s|@WORKERS@|2|g" bench/vhostd.toml.in > "$work/vhostd.toml"
# Half heads must outlive the measurement: a long head_timeout.
sed -i 's|^\[server\]$|[server]\nhead_timeout = "60s"|' "$work/vhostd.toml"

start_vhostd() {
  build/bin/vhostd -c "$work/vhostd.toml" > "$work/vhostd.log" 2>&1 &
  vhostd_pid=$!
  for _ in $(seq 100); do curl -fs -m 1 -H 'Host: hello.test' "http://127.0.0.1:$port/" > /dev/null && return 0; sleep 0.1; done
  echo "vhostd did not start" >&2; cat "$work/vhostd.log" >&2; exit 1
}

handoff_latency() {  # connections label
  start_vhostd
  rate=$(wrk -t1 -c"$1" -d"${duration}s" -H 'Host: hello.test' -H 'Connection: close' "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  stop_vhostd
  echo "$2: $rate connections/s (wrk -c$1, Connection: close); $(grep -o 'handoff latency.*' "$work/vhostd.log")"
}

handoff_latency 50 "saturated"
handoff_latency 2 "about half the rate"

start_vhostd
for _ in $(seq 50); do curl -fs -o /dev/null -H 'Host: hello.test' "http://127.0.0.1:$port/"; done
python3 bench/half_heads.py "$vhostd_pid" "$port" "$pending"
python3 bench/tls_idle.py "$vhostd_pid" "$tls_port" "$relayed"
python3 bench/tls_stalls.py "$vhostd_pid" "$tls_port" "$stalled"
