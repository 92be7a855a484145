#!/usr/bin/env bash
# The admin dashboard in a real browser: vhostd with an [admin] section and two hello-worker
# sites, some requests to one site, then headless Chromium loads GET / and the DOM it builds
# from GET /status must show that site's counters. Also saves a screenshot.
#
#   VHOSTD_BIN=build/bin/vhostd HELLO_WORKER_BIN=build/bin/hello-worker \
#     tests/integration/dashboard_test.sh OUT_DIR
#
# OUT_DIR receives vhostd.toml, vhostd.log, status.json, dashboard.dom.html, chromium.log and
# dashboard.png. Optional environment: REQUESTS (default 20), CHROMIUM (default chromium).
# Installs Debian's chromium with apt-get when it is missing. Prints one PASS or FAIL line;
# exits 0 only on PASS. Every process it starts is stopped by pid on the way out.
set -uo pipefail

requests=${REQUESTS:-20}
chromium=${CHROMIUM:-chromium}
site=alpha            # gets the requests
other=beta            # gets none (only the readiness probe)

vhostd_pid=""
chromium_pid=""
work=""

# The verdict goes to the script's own stdout even when a trap fires inside a redirected command.
exec 3>&1 4>&2
fail() {
  echo "FAIL: dashboard_test: $*" >&3
  exit 1
}

# Stops what this script started: the browser (timeout(1) passes the signal to its process
# group), then vhostd (SIGTERM, bounded wait, SIGKILL), then any of vhostd's workers still alive.
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
  if [ -n "$chromium_pid" ]; then
    kill "$chromium_pid" 2> /dev/null
    for _ in $(seq 50); do kill -0 "$chromium_pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$chromium_pid" 2> /dev/null
    wait "$chromium_pid" 2> /dev/null
    chromium_pid=""
  fi
  if [ -n "$vhostd_pid" ]; then
    local workers
    workers=$(pgrep -P "$vhostd_pid" 2> /dev/null || true)
    kill -TERM "$vhostd_pid" 2> /dev/null
    for _ in $(seq 100); do kill -0 "$vhostd_pid" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$vhostd_pid" 2> /dev/null; then
      echo "dashboard_test: vhostd did not stop within 10 s of SIGTERM; SIGKILL" >&4
      kill -KILL "$vhostd_pid" 2> /dev/null
    fi
    wait "$vhostd_pid" 2> /dev/null
    vhostd_pid=""
    for pid in $workers; do
      for _ in $(seq 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2> /dev/null
    done
  fi
  [ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'fail "interrupted (SIGINT)"' INT
trap 'fail "interrupted (SIGTERM or SIGHUP)"' TERM HUP

# --- arguments and tools ---------------------------------------------------------------
[ $# -eq 1 ] || { echo "usage: VHOSTD_BIN=... HELLO_WORKER_BIN=... $0 OUT_DIR" >&2; fail "no output directory given"; }
[ -x "${VHOSTD_BIN:-}" ] || fail "VHOSTD_BIN is not an executable: '${VHOSTD_BIN:-}'"
[ -x "${HELLO_WORKER_BIN:-}" ] || fail "HELLO_WORKER_BIN is not an executable: '${HELLO_WORKER_BIN:-}'"
for tool in python3 curl timeout; do command -v "$tool" > /dev/null || fail "$tool is not installed"; done
mkdir -p "$1" || fail "cannot create $1"
out=$(cd "$1" && pwd)
vhostd_bin=$(realpath "$VHOSTD_BIN")
hello_bin=$(realpath "$HELLO_WORKER_BIN")
rm -f "$out/dashboard.png" "$out/dashboard.dom.html" "$out/chromium.log" "$out/status.json"

if ! command -v "$chromium" > /dev/null; then
  echo "dashboard_test: installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 apt-get install -y chromium > "$out/apt.log" 2>&1; then
    timeout 600 apt-get update >> "$out/apt.log" 2>&1
    timeout 900 apt-get install -y chromium >> "$out/apt.log" 2>&1 || fail "cannot install chromium (see $out/apt.log)"
  fi
  command -v "$chromium" > /dev/null || fail "chromium is still missing after apt-get install"
fi

work=$(mktemp -d /tmp/vhostd-dashboard-XXXXXX) || fail "mktemp failed"

# --- vhostd with an admin listener and two sites -----------------------------------------
read -r http_port admin_port < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])')
[ -n "${admin_port:-}" ] || fail "could not find free ports"

toml_string() {  # a TOML basic string
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

cat > "$work/vhostd.toml" << EOF
[[listen]]
address = "127.0.0.1:$http_port"

[server]
threads = 1

[admin]
listen = "127.0.0.1:$admin_port"

[sites.$site]
hosts = ["$site.test"]
command = [$(toml_string "$hello_bin")]
workers = 1
heartbeat_timeout = "3s"   # a heartbeat (with the request counter) every second
drain_timeout = "2s"
kill_timeout = "1s"

[sites.$other]
hosts = ["$other.test"]
command = [$(toml_string "$hello_bin")]
workers = 1
heartbeat_timeout = "3s"
drain_timeout = "2s"
kill_timeout = "1s"
EOF
cp "$work/vhostd.toml" "$out/vhostd.toml"

"$vhostd_bin" -c "$work/vhostd.toml" > "$out/vhostd.log" 2>&1 &
vhostd_pid=$!

vhostd_alive() {
  kill -0 "$vhostd_pid" 2> /dev/null && return 0
  echo "--- vhostd.log (tail) ---"; tail -n 30 "$out/vhostd.log"
  fail "vhostd exited early (see $out/vhostd.log)"
}

# Both sites answer (a worker of each is ready).
for host in "$site.test" "$other.test"; do
  ready=""
  for _ in $(seq 100); do
    vhostd_alive
    if curl -fsS -m 2 -o /dev/null -H "Host: $host" "http://127.0.0.1:$http_port/" 2> /dev/null; then ready=1; break; fi
    sleep 0.1
  done
  [ -n "$ready" ] || fail "site $host did not answer 200 within ~10 s (see $out/vhostd.log)"
done

# The admin endpoint serves the JSON and the page.
status_ok=""
for _ in $(seq 100); do
  vhostd_alive
  if curl -fsS -m 2 -o "$work/status.json" "http://127.0.0.1:$admin_port/status" 2> /dev/null; then status_ok=1; break; fi
  sleep 0.1
done
[ -n "$status_ok" ] || fail "GET http://127.0.0.1:$admin_port/status did not answer 2xx within ~10 s"
page_code=$(curl -sS -m 5 -o "$work/page.html" -w '%{http_code}' "http://127.0.0.1:$admin_port/" 2> /dev/null)
[ "$page_code" = "200" ] || fail "GET / on the admin port answered '$page_code', not 200"
if ! grep -qi '<html' "$work/page.html" || ! grep -q 'data-site' "$work/page.html"; then
  fail "GET / on the admin port does not serve the dashboard page"
fi

# --- traffic to one site ---------------------------------------------------------------
failed=0
for _ in $(seq "$requests"); do
  curl -fsS -m 5 -o /dev/null -H "Host: $site.test" "http://127.0.0.1:$http_port/" 2> /dev/null || failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || fail "$failed of $requests requests to $site.test failed"

# Wait (bounded) until /status counts them: connections at once, requests with the next
# heartbeat. Diagnostics only; the verdict comes from the page.
json_counter() {  # file site field -> integer or -1
  python3 - "$@" << 'EOF'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
    site = next(s for s in data["sites"] if s.get("name") == sys.argv[2])
    print(int(site[sys.argv[3]]))
except Exception:
    print(-1)
EOF
}
for _ in $(seq 50); do
  curl -fsS -m 2 -o "$work/status.json" "http://127.0.0.1:$admin_port/status" 2> /dev/null &&
    [ "$(json_counter "$work/status.json" "$site" requests)" -ge "$requests" ] && break
  sleep 0.2
done
cp "$work/status.json" "$out/status.json" 2> /dev/null
echo "dashboard_test: /status for $site: requests=$(json_counter "$out/status.json" "$site" requests)" \
  "connections=$(json_counter "$out/status.json" "$site" connections)" \
  "handed_off=$(json_counter "$out/status.json" "$site" handed_off)"

# --- the page in headless Chromium -------------------------------------------------------
run_chromium() {  # chromium arguments...; bounded by timeout(1), killable by the trap
  local profile
  profile=$(mktemp -d "$work/chromium-profile-XXXXXX") || return 1
  timeout -k 5 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --hide-scrollbars --user-data-dir="$profile" "$@" &
  chromium_pid=$!
  wait "$chromium_pid"
  local rc=$?
  chromium_pid=""
  return $rc
}

# Prints what the dumped DOM shows and exits 0 when the row of the site that got the traffic
# has a non-zero requests or connections counter and both rows hold plain integers.
check_dom() {  # dom_file
  python3 - "$1" "$site" "$other" << 'EOF'
import re, sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FIELDS = ("requests", "connections", "handed_off")

class Rows(HTMLParser):
    """Text of the data-field elements inside each data-site element; the body's data-*."""
    def __init__(self):
        super().__init__()
        self.stack, self.rows, self.body = [], {}, {}
        self.row = self.field = None   # (name, depth)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag in VOID:
            return
        self.stack.append(tag)
        depth = len(self.stack)
        if self.row is None and a.get("data-site") is not None:
            self.row = (a["data-site"], depth)
            self.rows.setdefault(a["data-site"], {})
        elif self.row is not None and a.get("data-field") is not None and self.field is None:
            self.field = (a["data-field"], depth)
            self.rows[self.row[0]][a["data-field"]] = ""

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            depth = len(self.stack)
            top = self.stack.pop()
            if self.field and depth == self.field[1]:
                self.field = None
            if self.row and depth == self.row[1]:
                self.row = None
            if top == tag:
                break

    def handle_data(self, data):
        if self.row and self.field:
            self.rows[self.row[0]][self.field[0]] += data

path, site, other = sys.argv[1:4]
parser = Rows()
parser.feed(open(path, encoding="utf-8", errors="replace").read())
print(f"page: data-state={parser.body.get('data-state')} data-polls={parser.body.get('data-polls')}")
problems = []
for name in (site, other):
    row = parser.rows.get(name)
    if row is None:
        problems.append(f'no element with data-site="{name}"')
        continue
    print(f"row {name}: " + " ".join(f"{f}={row.get(f, '(missing)')!r}" for f in FIELDS))
    for f in FIELDS:
        if not re.fullmatch(r"\d+", row.get(f, "").strip()):
            problems.append(f'{name}: data-field="{f}" is {row.get(f, "missing")!r}, not a plain integer')
row = parser.rows.get(site, {})
values = [int(row[f]) for f in ("requests", "connections") if re.fullmatch(r"\d+", row.get(f, "").strip())]
if row and not any(v > 0 for v in values):
    problems.append(f"{site}: requests and connections are both 0 on the page")
for p in problems:
    print("problem: " + p)
sys.exit(1 if problems else 0)
EOF
}

url="http://127.0.0.1:$admin_port/"
dom_ok=""
for attempt in 1 2 3; do
  echo "--- dump-dom attempt $attempt" >> "$out/chromium.log"
  run_chromium --enable-logging=stderr --log-level=0 --virtual-time-budget=4000 --dump-dom "$url" \
    > "$out/dashboard.dom.html" 2>> "$out/chromium.log" || echo "dashboard_test: chromium --dump-dom exited $? (attempt $attempt)"
  if check_dom "$out/dashboard.dom.html"; then dom_ok=1; break; fi
  sleep 1
done
[ -n "$dom_ok" ] || fail "the dashboard DOM does not show the $site row with non-zero counters (see $out/dashboard.dom.html, $out/status.json)"

# Anything the page itself wrote to the console (an uncaught exception, say) is a failure.
if grep ':CONSOLE' "$out/chromium.log" | grep -q "127.0.0.1:$admin_port"; then
  grep ':CONSOLE' "$out/chromium.log" | grep "127.0.0.1:$admin_port" | head -n 5
  fail "the dashboard wrote to the browser console (see $out/chromium.log)"
fi

echo "--- screenshot" >> "$out/chromium.log"
run_chromium --virtual-time-budget=4000 --window-size=1280,900 --screenshot="$out/dashboard.png" "${url}?expand=$site" \
  > /dev/null 2>> "$out/chromium.log" || echo "dashboard_test: chromium --screenshot exited $?"
if [ ! -s "$out/dashboard.png" ] || [ "$(head -c 4 "$out/dashboard.png" | tail -c 3)" != "PNG" ]; then
  fail "no screenshot at $out/dashboard.png (see $out/chromium.log)"
fi

# --- a page on another origin cannot steer vhostd ----------------------------------------
# The operator's browser opens an attacker's page (here another port on 127.0.0.1: even the
# same site): its no-cors fetch and its form POST reach the admin endpoint, which must refuse
# them (403, by Origin and Sec-Fetch-Site) and leave the site running.
mkdir -p "$work/attacker"
cat > "$work/attacker/index.html" << PAGE
<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" target="sink" action="http://127.0.0.1:$admin_port/sites/$other/stop"></form>
<script>
fetch('http://127.0.0.1:$admin_port/sites/$other/stop', { method: 'POST', mode: 'no-cors' })
  .catch(() => {}).finally(() => document.getElementById('f').submit());
</script></body></html>
PAGE
attacker_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/attacker" "$attacker_port" > "$out/attacker.log" 2>&1 &
attacker_pid=$!
# shellcheck disable=SC2317  # reached through the trap
stop_attacker() { kill "$attacker_pid" 2> /dev/null; wait "$attacker_pid" 2> /dev/null; cleanup; }
trap stop_attacker EXIT
for _ in $(seq 50); do curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$attacker_port/" 2> /dev/null && break; sleep 0.1; done
echo "--- attacker page" >> "$out/chromium.log"
run_chromium --enable-logging=stderr --log-level=0 --virtual-time-budget=4000 --dump-dom "http://127.0.0.1:$attacker_port/" \
  > /dev/null 2>> "$out/chromium.log" || echo "dashboard_test: chromium on the attacker page exited $?"
refused=$(grep -c "admin endpoint: refused POST /sites/$other/stop" "$out/vhostd.log")
[ "$refused" -ge 1 ] || fail "no refused POST /sites/$other/stop from the attacker page in $out/vhostd.log"
curl -fsS -m 2 -o "$work/after.json" "http://127.0.0.1:$admin_port/status" || fail "GET /status failed after the attacker page"
python3 -c 'import json, sys; sys.exit(any(s["stopped"] for s in json.load(open(sys.argv[1]))["sites"] if s["name"] == sys.argv[2]))' \
  "$work/after.json" "$other" || fail "the attacker page stopped site $other"
curl -fsS -m 2 -o /dev/null -H "Host: $other.test" "http://127.0.0.1:$http_port/" ||
  fail "site $other no longer answers after the attacker page"
echo "dashboard_test: the attacker page's $refused POSTs were refused; $other still runs"

vhostd_alive
echo "PASS: dashboard_test: the $site row shows its counters; a page on another origin cannot stop a site; screenshot $out/dashboard.png" >&3
exit 0
