#!/usr/bin/env python3
"""An example site behind the real vhostd: its workers get real handoffs, drains and stops.

    python3 tests/conformance/behind_vhostd.py --vhostd build/bin/vhostd [--runtime node] \\
        -- WORKER_COMMAND...

Starts vhostd on free loopback ports with a temporary config whose one site runs
WORKER_COMMAND with 2 workers (with `--runtime node`, as a `runtime = "node"` site), then
checks, with curl and a raw socket client: both workers answer; keep-alive and request
bodies work; a WebSocket echoes; a reload rolls the workers, and the old ones close their
idle connections and exit 0; stopping vhostd leaves no worker process behind. The worker
must answer like hello-worker (see conformance.py).

Prints TAP and exits 1 if a case fails; vhostd's log is shown on failure. Every wait is
bounded; vhostd and every worker seen are killed on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), HERE]
from http_client import Client, check_echo, check_websocket_upgrade, request, websocket_request  # noqa: E402
from harness import Failure, free_ports, run_cases, tap_log_tail, wait_until  # noqa: E402

WORKERS = 2


def process_gone(pid):
    """True when `pid` no longer runs (reaped, or a zombie waiting for vhostd's reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def group_empty(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Vhostd:
    def __init__(self, binary, command, runtime, directory):
        self.binary, self.command, self.runtime = binary, command, runtime
        self.directory = directory
        self.http_port, self.admin_port = free_ports(2)
        self.site = "example"
        self.host = "example.test"
        self.config = os.path.join(directory, "vhostd.toml")
        self.log_path = os.path.join(directory, "vhostd.log")
        self.process = None
        self.pids_seen = set()    # every worker pid, killed at the end if still there

    def write_config(self, roll):
        site = [f"[sites.{self.site}]",
                f"hosts = [{json.dumps(self.host)}]",
                f"command = [{', '.join(json.dumps(part) for part in self.command)}]",
                f"workers = {WORKERS}",
                'heartbeat_timeout = "3s"',   # a heartbeat every second
                'start_timeout = "15s"',
                'drain_timeout = "5s"',
                'kill_timeout = "1s"']
        # A changed env rolls the workers on reload (a new generation).
        env = {"ROLL": str(roll)}
        if self.runtime == "node":
            site.append('runtime = "node"')
        text = "\n".join([
            "[[listen]]", f'address = "127.0.0.1:{self.http_port}"', "",
            "[server]", "threads = 1", "",
            "[admin]", f'listen = "127.0.0.1:{self.admin_port}"', "",
            *site, "env = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items()) + " }", ""])
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.binary, "-c", self.config], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def status(self):
        """The site's entry in GET /status, or None while the admin endpoint does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/status", timeout=2) as r:
                data = json.load(r)
        except OSError:
            return None
        for site in data.get("sites", []):
            if site.get("name") == self.site:
                for worker in site.get("workers", []):
                    self.pids_seen.add(worker["pid"])
                return site
        return None

    def ready_workers(self, generation=None):
        """The pids of the site's ready workers (of `generation`, if given)."""
        if not self.alive():
            raise Failure(f"vhostd exited with status {self.process.returncode}")
        site = self.status() or {}
        return {w["pid"] for w in site.get("workers", [])
                if w.get("state") == "ready" and (generation is None or w.get("generation") == generation)}

    def curl(self, *args, timeout=15):
        """curl's stdout; the site's host resolves to vhostd's listener."""
        command = ["curl", "-sS", "-m", "10", "--resolve", f"{self.host}:{self.http_port}:127.0.0.1", *args]
        result = subprocess.run(command, capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise Failure(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()[:300]}")
        return result.stdout

    def url(self, path="/"):
        return f"http://{self.host}:{self.http_port}{path}"

    def connect(self, name="client") -> Client:
        return Client(socket.create_connection(("127.0.0.1", self.http_port), timeout=5), name)

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill_everything(self):
        if self.alive():
            self.process.kill()
            self.process.wait(10)
        for pid in self.pids_seen:          # each worker is its own process group leader
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def pid_of(body: bytes, site: str) -> int:
    match = re.fullmatch(rf"hello from {site} \(pid (\d+)\)\n(received \d+ bytes\n)?".encode(), body)
    if not match:
        raise Failure(f"unexpected answer {body[:200]!r}")
    return int(match.group(1))


def exit_line(log: str, pid: int) -> str:
    """vhostd's line saying how worker `pid` ended ("... (pid N): exited with code 0 after ..."), or ""."""
    return next((line for line in log.splitlines()
                 if re.search(rf"\(pid {pid}\): (exited|killed|ended)", line)), "")


# --- the cases ---------------------------------------------------------------------------

def case_start(v: Vhostd):
    """vhostd starts the site's 2 workers and they say ready"""
    v.write_config(roll=1)
    v.start()
    pids = wait_until(lambda: len(v.ready_workers(1)) == WORKERS and v.ready_workers(1), 20,
                      f"{WORKERS} ready workers in /status")
    return f"workers {sorted(pids)}"


def case_both_answer(v: Vhostd):
    """both workers answer (a new connection per request)"""
    ready = v.ready_workers(1)
    answered = set()
    for _ in range(20):
        answered.add(pid_of(v.curl(v.url()), v.site))
        if answered >= ready:
            break
    if answered != ready:
        raise Failure(f"answers came from {sorted(answered)}, the ready workers are {sorted(ready)}")


def case_keep_alive(v: Vhostd):
    """keep-alive through vhostd: 3 requests, one connection, one worker"""
    with tempfile.TemporaryDirectory() as d:
        files = [os.path.join(d, f"{i}") for i in range(3)]
        args = []
        for i, f in enumerate(files):
            args += [v.url(f"/{i}"), "-o", f]
        connects = v.curl("-w", "%{num_connects}\n", *args).decode().split()
        pids = {pid_of(open(f, "rb").read(), v.site) for f in files}
    if connects != ["1", "0", "0"]:
        raise Failure(f"curl opened connections {connects} for 3 requests, expected 1 then 0, 0")
    if len(pids) != 1:
        raise Failure(f"one kept-alive connection was answered by several workers: {sorted(pids)}")


def case_bodies(v: Vhostd):
    """request bodies: Content-Length and chunked"""
    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(3000))
        f.flush()
        for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
            body = v.curl("--data-binary", f"@{f.name}", *extra, v.url("/upload"))
            pid_of(body, v.site)
            if not body.endswith(b"received 3000 bytes\n"):
                raise Failure(f"a 3000-byte body {' '.join(extra)} got {body!r}")


def case_websocket(v: Vhostd):
    """a WebSocket through vhostd echoes"""
    client = v.connect("websocket")
    head, accept = websocket_request("/ws", v.host)
    client.send(head)
    check_websocket_upgrade(client.response(what="the 101 answer"), accept)
    check_echo(client, 0x1, b"hello through vhostd")
    check_echo(client, 0x2, os.urandom(70_000))        # a 64-bit length
    client.send_frame(0x8, b"\x03\xe8")
    client.read_frame(what="the close frame")
    client.expect_eof()
    client.close()


def case_reload(v: Vhostd):
    """a reload rolls the workers: the old ones close idle connections and exit 0"""
    old = v.ready_workers(1)
    idle = v.connect("idle keep-alive")
    idle.send(request(host=v.host))
    response = idle.response()
    old_pid = pid_of(response.body, v.site)
    v.write_config(roll=2)
    v.process.send_signal(signal.SIGHUP)
    new = wait_until(lambda: len(v.ready_workers(2)) == WORKERS and v.ready_workers(2), 20,
                     f"{WORKERS} ready workers of generation 2")
    idle.expect_eof(10, f"old worker {old_pid} to close its idle keep-alive connection")
    idle.close()
    wait_until(lambda: all(process_gone(pid) for pid in old), 10, f"the old workers {sorted(old)} to exit")
    for pid in old:
        line = wait_until(lambda: exit_line(v.log_text(), pid), 5, f"vhostd to log how worker {pid} ended")
        if "exited with code 0" not in line:
            raise Failure(f"old worker {pid} did not exit with code 0: {line}")
    answered = {pid_of(v.curl(v.url()), v.site) for _ in range(4)}
    if not answered <= new:
        raise Failure(f"after the reload, answers came from {sorted(answered)}; new workers are {sorted(new)}")
    return f"workers {sorted(old)} -> {sorted(new)}"


def case_stop(v: Vhostd):
    """stopping vhostd leaves nothing running"""
    current = v.ready_workers()
    idle = v.connect("idle keep-alive")
    idle.send(request(host=v.host))
    pid_of(idle.response().body, v.site)
    v.process.send_signal(signal.SIGTERM)
    try:
        status = v.process.wait(15)
    except subprocess.TimeoutExpired:
        raise Failure("vhostd was still running 15 s after SIGTERM") from None
    idle.expect_eof(5, "the worker to close its idle connection when vhostd stops")
    idle.close()
    if status != 0:
        raise Failure(f"vhostd exited with status {status} after SIGTERM")
    wait_until(lambda: all(process_gone(pid) and group_empty(pid) for pid in v.pids_seen), 5,
               f"every worker ({sorted(v.pids_seen)}) and its process group to be gone")
    log = v.log_text()
    for pid in current:
        line = exit_line(log, pid)
        if "exited with code 0" not in line:
            raise Failure(f"worker {pid} did not exit with code 0 at the stop: {line or 'no exit logged'}")
    trouble = [line for line in log.splitlines()
               if re.search(r"channel lost|acknowledged a connection it was not sent|NODE_HANDLE_NACK"
                            r"|lost with the worker|killed by signal|could not hand", line)]
    if trouble:
        raise Failure("vhostd logged: " + " | ".join(trouble[:3]))


CASES = [case_start, case_both_answer, case_keep_alive, case_bodies, case_websocket, case_reload, case_stop]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vhostd", required=True, help="the vhostd binary")
    parser.add_argument("--runtime", choices=["native", "node"], default="native",
                        help='node: the site gets runtime = "node" (NODE_CHANNEL_FD=3, json)')
    parser.add_argument("--time-limit", type=float, default=55.0)
    parser.add_argument("command", nargs="+", help="the site's worker command")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        print("not ok - curl is not installed (the checks use it)")
        return 1

    # vhostd resolves relative paths against the config's (temporary) directory.
    command = [os.path.abspath(part) if os.path.exists(part) and (i > 0 or "/" in part) else part
               for i, part in enumerate(args.command)]

    print(f"# site command: {' '.join(command)} (runtime {args.runtime})", flush=True)
    with tempfile.TemporaryDirectory(prefix="vhostd-behind-") as directory:
        v = Vhostd(os.path.abspath(args.vhostd), command, args.runtime, directory)
        failed = 1
        try:
            failed = run_cases(CASES, v, args.time_limit, essential=(case_start,))   # nothing else can work without it
        finally:
            if failed and v.process is not None:
                tap_log_tail("vhostd log", v.log_text())
            v.kill_everything()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
