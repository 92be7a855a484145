#!/usr/bin/env python3
"""A site's singleton and workers talking through the real vhostd (docs/protocol.md,
section 12), on the Node or the Python SDK.

    python3 tests/bus/behind_vhostd.py --vhostd build/bin/vhostd --lang node|python [--node NODE]

Each case starts vhostd on free loopback ports with a temporary config whose site runs the
language's bus app (node_bus_app.js or python_bus_app.py) as its workers and as its
singleton, drives the workers over HTTP and checks through the singleton's tallies and the
admin /status: the SDK twin of tests/integration/bus_test.cpp.

Prints TAP and exits 1 if a case fails; vhostd's log is shown on failure. Every wait is
bounded; vhostd and every process of its sites are killed by pid on the way out.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Failure, expect, free_ports, run_cases, tap_log_tail  # noqa: E402

APPS = {"node": "node_bus_app.js", "python": "python_bus_app.py"}
WAIT = 10.0


def wait_until(condition, what, timeout=WAIT):
    """condition()'s first true value; an exception (vhostd not listening yet) counts as false."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except (OSError, ValueError, KeyError, TypeError, Failure) as e:
            last = e
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}" + (f" (last: {last})" if last else ""))
        time.sleep(0.05)


class Vhostd:
    def __init__(self, binary, program, lang, directory):
        self.binary, self.program, self.lang = binary, program, lang
        self.port, self.admin = free_ports(2)
        self.config_path = os.path.join(directory, "vhostd.toml")
        self.log_path = os.path.join(directory, "vhostd.log")
        self.process = None
        self.pids = set()          # every process of the sites seen, killed at the end

    def site(self, name, workers, singleton_extra=""):
        command = f"command = {json.dumps(self.program)}\n"
        # Explicit, so that a node binary named otherwise (node20) still gets Node's IPC.
        if self.lang == "node":
            command += 'runtime = "node"\n'
        # Short drains and kills: stopping vhostd at the end of a case stays quick.
        return (f'[sites.{name}]\nhosts = ["{name}.example"]\n{command}workers = {workers}\n'
                f'drain_timeout = "2s"\nkill_timeout = "1s"\n\n'
                f"[sites.{name}.singleton]\n{command}{singleton_extra}\n")

    def config(self, *sites):
        return (f'[[listen]]\naddress = "127.0.0.1:{self.port}"\n\n'
                f'[admin]\nlisten = "127.0.0.1:{self.admin}"\n\n' + "".join(sites))

    def start(self, config):
        with open(self.config_path, "w") as f:
            f.write(config)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([self.binary, "-c", self.config_path], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)

    def reload(self, config):
        """Rewrites the config, sends SIGHUP and waits for vhostd to log the reload's outcome."""
        before = self.log().count("reload: ")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.process.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log().count("reload: ") > before, "vhostd to log the reload")
        expect("keeping the running configuration" not in self.log(), "the reload was refused")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def get(self, path, site="bus"):
        """(status, body) of GET path on the site's host, through vhostd."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            connection.request("GET", path, headers={"Host": f"{site}.example", "Connection": "close"})
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def call(self, method, arg="", site="bus"):
        status, body = self.get(f"/call/{method}?{arg}", site)
        if status != 200:
            raise Failure(f"call {method}({arg!r}) answered {status}: {body.strip()}")
        return json.loads(body)

    def status(self, site="bus"):
        """The site's entry in the admin /status."""
        if self.process.poll() is not None:
            raise Failure(f"vhostd exited with status {self.process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=WAIT)
        try:
            connection.request("GET", "/status")
            data = json.load(connection.getresponse())
        finally:
            connection.close()
        entry = next((s for s in data["sites"] if s["name"] == site), None)
        if entry is None:
            raise Failure(f"no site {site} in /status")
        self.pids.update(w["pid"] for w in entry["workers"])
        if entry["singleton"] and entry["singleton"]["pid"]:
            self.pids.add(entry["singleton"]["pid"])
        return entry

    def wait_ready(self, workers, site="bus"):
        """Every worker and the singleton said ready."""
        def ready():
            entry = self.status(site)
            return (entry["workers_by_state"].get("ready") == workers
                    and entry["singleton"]["state"] == "ready")
        wait_until(ready, f"{workers} ready workers and a ready singleton in site {site}", timeout=20)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.pids.update(children(self.process.pid))
            except OSError:
                pass
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in self.pids:          # each is its own process group leader
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def children(pid):
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.update(int(child) for child in f.read().split())
    return found


def receipts(tally, prefix):
    return sum(n for key, n in tally.items() if key.startswith(prefix))


# --- the cases: each gets a vhostd of its own ----------------------------------------------

def case_message_and_call(v: Vhostd):
    """a worker's message reaches the singleton and a call's reply comes back"""
    v.start(v.config(v.site("bus", 2)))
    v.wait_ready(2)
    status, body = v.get("/send/singleton/hello%20there")
    expect(status == 200, f"/send answered {status}: {body}")
    wait_until(lambda: v.call("received")[-1:] == [{"text": "hello there"}], "the singleton to receive the message")
    echo = v.call("echo", "ping")
    expect(echo == "ping", f"echo answered {echo!r}")


def case_fanout(v: Vhostd):
    """"worker" reaches one worker per message, "workers" every worker, exactly"""
    v.start(v.config(v.site("bus", 4)))
    v.wait_ready(4)
    expect(v.call("fanout", "worker:12") == 12, "fanout worker:12 did not send 12")
    expect(v.call("fanout", "workers:10") == 10, "fanout workers:10 did not send 10")
    tally = {}

    def counted():
        nonlocal tally
        tally = v.call("tally")["got"]
        return tally.get("one") == 12 and receipts(tally, "all ") == 40
    try:
        wait_until(counted, "12 receipts of \"worker\" and 40 of \"workers\"")
    except Failure as e:
        raise Failure(f"{e}: {tally}") from None
    time.sleep(0.3)   # time for a duplicate to show
    tally = v.call("tally")["got"]
    expect(len(tally) == 5, f"\"one\" and four workers expected: {tally}")
    expect(tally["one"] == 12, f"one random worker per message, not more: {tally}")
    expect(all(n == 10 for key, n in tally.items() if key.startswith("all ")), f"10 per worker expected: {tally}")


def case_hung_and_dead_singleton(v: Vhostd):
    """a call to a hung singleton fails clearly; one made while it restarts waits for it"""
    # A restart delay long enough for a short call to run out waiting, even on a slow machine.
    v.start(v.config(v.site("bus", 1, 'restart_backoff = { initial = "3s", max = "3s" }\n')))
    v.wait_ready(1)
    singleton = v.status()["singleton"]["pid"]
    os.kill(singleton, signal.SIGSTOP)
    status, body = v.get("/call/echo?x&ms=300")
    expect(status == 502 and "no reply within 300 ms" in body, f"a hung singleton: {status} {body.strip()}")

    os.kill(singleton, signal.SIGKILL)
    wait_until(lambda: "singleton starts again" in v.log(), "vhostd to log \"singleton starts again\"")
    # Restarting (after the 3 s backoff): a short call runs out waiting, a longer one waits for it.
    status, body = v.get("/call/echo?x&ms=300")
    expect(status == 502 and "the singleton did not start in time" in body,
           f"a call while the singleton restarts: {status} {body.strip()}")
    status, body = v.get("/call/echo?back&ms=8000")
    expect(status == 200 and json.loads(body) == "back", f"a call that waits for the new singleton: {status} {body.strip()}")
    entry = v.status()
    expect(entry["singleton_failures"] == 1, f"singleton_failures {entry['singleton_failures']}, expected 1")
    expect(entry["singleton"]["pid"] != singleton, "the singleton has the same pid")
    return f"singleton {singleton} -> {entry['singleton']['pid']}"


def case_task(v: Vhostd):
    """a task every 200 ms runs once per interval on one of four workers"""
    task = '[[sites.bus.tasks]]\nname = "tick"\nevery = "200ms"\n'
    v.start(v.config(v.site("bus", 4)))
    v.wait_ready(4)
    # Scheduled only now: a run while the workers start is skipped, and no run may be.
    v.reload(v.config(v.site("bus", 4)) + task)
    wait_until(lambda: v.status()["tasks"]["run"] >= 8, "8 task runs in /status")
    # Stop the schedule; then every run must have reached exactly one worker.
    v.reload(v.config(v.site("bus", 4)))
    runs = v.status()["tasks"]["run"]
    tasks = {}

    def all_received():
        nonlocal tasks
        tasks = v.call("tally")["tasks"]
        return sum(tasks.values()) == runs
    try:
        wait_until(all_received, f"{runs} task receipts at the singleton")
    except Failure as e:
        raise Failure(f"{e}: {tasks}") from None
    entry = v.status()
    expect(entry["tasks"]["run"] == runs, f"tasks ran after the reload removed them: {entry['tasks']}")
    expect(entry["tasks"]["skipped"] == 0, f"skipped runs: {entry['tasks']}")
    expect(len(tasks) >= 2, f"a worker chosen at random each time, but: {tasks}")
    return f"{runs} runs: {tasks}"


def case_sites_apart(v: Vhostd):
    """sites never see each other's messages; "workers" alone is undeliverable"""
    v.start(v.config(v.site("bus", 1), v.site("other", 1)))
    v.wait_ready(1)
    v.wait_ready(1, "other")
    for path in ("/send/singleton/for-bus-only", "/send/workers/to-bus-workers"):
        status, body = v.get(path)
        expect(status == 200, f"{path} answered {status}: {body}")
    wait_until(lambda: v.call("received"), "the singleton of bus to receive the message")
    other = v.call("received", site="other")
    expect(other == [], f"the other site's singleton received {other}")

    # One worker alone: "workers" reaches nobody, and says so.
    reasons = wait_until(lambda: json.loads(v.get("/undeliverable")[1]), "the undeliverable report")
    expect(reasons == ["the site has no other ready worker"], f"undeliverable reasons {reasons}")


def case_app_messages(v: Vhostd):
    """process.send() from app code reaches the singleton; vhostd's messages never reach process.on('message')"""
    v.start(v.config(v.site("bus", 1)))
    v.wait_ready(1)
    worker = v.status()["workers"][0]["pid"]
    sent = ["hello", {"type": "hello"}, {"cmd": "notifyRequest"}]
    # First a handle, which vhostd must acknowledge: Node holds every later send until then.
    status, body = v.get("/process-send-handle")
    expect(status == 200, f"/process-send-handle answered {status}: {body}")
    for i in range(len(sent)):
        status, body = v.get(f"/process-send/{i}")
        expect(status == 200, f"/process-send/{i} answered {status}: {body}")
    wait_until(lambda: all(value in v.call("received") for value in sent), "the singleton to receive all three")
    senders = v.call("senders")
    expect(all(s == {"role": "worker", "slot": 0, "pid": worker} for s in senders), f"senders {senders}")
    expect("channel lost" not in v.log(), "a worker lost its channel over an app message")
    expect(v.status()["workers"][0]["pid"] == worker, "the worker was replaced")
    # The singleton sends the worker a bus message: that one the app sees, as its data.
    expect(v.call("fanout", "workers:1") == 1, "fanout workers:1")
    seen = wait_until(lambda: json.loads(v.get("/process-messages")[1]) or None, "a message at process.on('message')")
    expect(seen == [{"message": {"text": "workers 0"}, "handle": False}],
           f"process.on('message') saw {seen} (handoffs, heartbeats and bus internals must not show)")
    # Another library's process.emit wrapper undone (signal-exit does it): still served, and
    # calls still get their replies.
    status, body = v.get("/restore-emit")
    expect(status == 200, f"/restore-emit answered {status}: {body}")
    for _ in range(3):
        status, body = v.get("/undeliverable")
        expect(status == 200, f"a request after the wrapper was undone answered {status}: {body}")
    expect(v.call("echo", "still") == "still", "a call after the wrapper was undone")
    return f"{len(senders)} app messages from pid {worker}"


def case_app_messages_without_a_singleton(v: Vhostd):
    """without a singleton an app message is dropped and counted, and the worker keeps serving"""
    v.start(v.config(f'[sites.bus]\nhosts = ["bus.example"]\ncommand = {json.dumps(v.program)}\nruntime = "node"\n'
                     f'workers = 1\n\n'))
    wait_until(lambda: v.status()["workers_by_state"].get("ready") == 1, "a ready worker")
    worker = v.status()["workers"][0]["pid"]
    for i in (0, 1, 2):
        status, _ = v.get(f"/process-send/{i}")
        expect(status == 200, f"/process-send/{i} answered {status}")
    wait_until(lambda: v.status()["messages"]["app_dropped"] == 3, "3 app messages counted as dropped")
    expect(v.status()["workers"][0]["pid"] == worker, "the worker was replaced")


def case_cluster_tutorial(v: Vhostd):
    """the Node cluster tutorial's code, its primary as the singleton, counts every request"""
    tutorial = [v.program[0], os.path.join(HERE, "..", "..", "examples", "node-cluster", "app.js")]
    command = f'command = {json.dumps(tutorial)}\nruntime = "node"\n'
    v.start(v.config(f'[sites.bus]\nhosts = ["bus.example"]\n{command}workers = 2\n\n[sites.bus.singleton]\n{command}\n'))
    v.wait_ready(2)
    for _ in range(10):
        status, body = v.get("/")
        expect(status == 200 and body == "hello world\n", f"answered {status}: {body!r}")
    wait_until(lambda: "numReqs = 10" in v.log(), "the singleton to log numReqs = 10")


CASES = [case_message_and_call, case_fanout, case_hung_and_dead_singleton, case_task, case_sites_apart]
NODE_CASES = [case_app_messages, case_app_messages_without_a_singleton, case_cluster_tutorial]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vhostd", required=True, help="the vhostd binary")
    parser.add_argument("--lang", choices=sorted(APPS), required=True, help="the SDK under test")
    parser.add_argument("--node", default="node", help="the node binary (default: node on PATH)")
    parser.add_argument("--time-limit", type=float, default=85.0)
    args = parser.parse_args()

    app = os.path.join(HERE, APPS[args.lang])
    interpreter = shutil.which(args.node) if args.lang == "node" else sys.executable
    if interpreter is None:
        print(f"not ok - {args.node} not found")
        return 1
    program = [os.path.abspath(interpreter), app]

    print(f"# site: {' '.join(program)}", flush=True)

    def run_case(case, _):
        """Each case with a vhostd of its own, its log shown when the case fails."""
        with tempfile.TemporaryDirectory(prefix="vhostd-bus-") as directory:
            v = Vhostd(os.path.abspath(args.vhostd), program, args.lang, directory)
            try:
                return case(v)
            except BaseException:
                if v.process is not None:
                    tap_log_tail("vhostd log", v.log())
                raise
            finally:
                v.stop()

    failed = run_cases(CASES + (NODE_CASES if args.lang == "node" else []), None, args.time_limit, run_case=run_case)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
