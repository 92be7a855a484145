#!/usr/bin/env python3
"""socket.io behind vhostd with session affinity (docs/configuration.md, "Session affinity").

    python3 tests/affinity/socketio_behind_vhostd.py --vhostd build/bin/vhostd [--node NODE]

The real socket.io server (chat_worker.js, on the Node SDK) runs as a site's workers and the
real socket.io client (chat_clients.js) connects 20 clients, each sending 10 messages that
must all come back. socket.io keeps each session in one process: every polling request of a
session must reach the worker that holds it. Cases: 2 and 3 workers, polling-only and the
default transports (polling, then the upgrade to WebSocket); by a cookie the client brings,
by a cookie the worker that makes the session sets to its slot, and by client address; and
the same clients without affinity, which must fail, or the test proves nothing.

The packages come from tests/affinity/package.json (pinned; scripts/install-deps.sh installs
them). Prints TAP and exits 1 if a case fails. Every wait is bounded; vhostd and its workers
are killed by pid on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Failure, expect, free_ports, run_cases, tap_log_tail  # noqa: E402
from vhostd_process import VhostdProcess  # noqa: E402

CLIENTS = 20
MESSAGES = 10


class Site:
    """vhostd with one default site of socket.io workers."""

    def __init__(self, vhostd, node, directory, workers, affinity, env=""):
        self.node = node
        self.port, admin = free_ports(2)
        self.workers = workers
        config_path = os.path.join(directory, "vhostd.toml")
        affinity_line = (f"affinity = {affinity}\n" if affinity else "") + (f"env = {env}\n" if env else "")
        with open(config_path, "w") as f:
            f.write(f'[[listen]]\naddress = "127.0.0.1:{self.port}"\n\n'
                    f'[admin]\nlisten = "127.0.0.1:{admin}"\n\n'
                    f'[sites.chat]\ndefault = true\nhosts = []\n'
                    f'command = {json.dumps([node, os.path.join(HERE, "chat_worker.js")])}\nruntime = "node"\n'
                    f'workers = {workers}\n{affinity_line}drain_timeout = "1s"\nkill_timeout = "1s"\n')
        self.vhostd = VhostdProcess(vhostd, config_path, admin)

    def run_clients(self, transports, *extra):
        self.vhostd.wait_ready("chat", self.workers)
        command = [self.node, os.path.join(HERE, "chat_clients.js"), "--port", str(self.port), "--clients",
                   str(CLIENTS), "--messages", str(MESSAGES), "--transports", transports, *extra]
        run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=40)
        lines = run.stdout.strip().splitlines()
        if run.returncode != 0 or not lines:
            raise Failure(f"chat_clients.js exited {run.returncode}: {run.stdout.strip()} {run.stderr.strip()[-500:]}")
        return json.loads(lines[-1])


def expect_all_delivered(result, workers):
    """Every client got every echo, each from one worker, and the sessions used more than one."""
    expect(result["ok"] == CLIENTS, f"{CLIENTS - result['ok']} of {CLIENTS} clients failed: {result['failed'][:3]}")
    per_client = [set(pids) for pids in result["pids"]]
    expect(all(len(pids) == 1 for pids in per_client), f"a session was answered by two workers: {result['pids']}")
    used = set().union(*per_client)
    expect(len(used) > 1, f"all {CLIENTS} sessions went to one worker: nothing was tested")
    return f"{CLIENTS} clients x {MESSAGES} messages, sessions on {len(used)} of {workers} workers"


AFFINITIES = {
    # The client brings the cookie (its page set it).
    "cookie": ('{ cookie = "sid" }', "", ["--cookie", "sid"]),
    # The worker that makes the session names its slot in a cookie; the client keeps it.
    "slot cookie": ('{ cookie = "vhostd_slot" }', '{ SLOT_COOKIE = "vhostd_slot" }', ["--credentials"]),
    "client": ('"client"', "", ["--addresses"]),
}


def affinity_case(workers, transports, by):
    affinity, env, flags = AFFINITIES[by]

    def case(suite):
        site = suite.site(workers, affinity, env)
        return expect_all_delivered(site.run_clients(transports, *flags), workers)
    case.__doc__ = f"{workers} workers, {transports} transports, affinity by {by}: every message delivered"
    return case


def case_without_affinity(suite):
    """3 workers, polling, no affinity: sessions break (the test can fail)"""
    site = suite.site(3, None)
    result = site.run_clients("polling", "--cookie", "sid")
    expect(result["ok"] < CLIENTS, "every client succeeded without affinity: the other cases prove nothing")
    # A worker that does not hold the session answers 400 {"code":1,"message":"Session ID unknown"}.
    unknown = sum("(400)" in f["error"] for f in result["failed"])
    return f"{CLIENTS - result['ok']} of {CLIENTS} clients failed, {unknown} with a 400 for an unknown session"


class Suite:
    def __init__(self, vhostd, node):
        self.vhostd, self.node = vhostd, node
        self.current = None
        self.directory = None

    def site(self, workers, affinity, env=""):
        self.current = Site(self.vhostd, self.node, self.directory, workers, affinity, env)
        return self.current


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vhostd", required=True)
    parser.add_argument("--node", default="node")
    parser.add_argument("--time-limit", type=float, default=170)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "socket.io")):
        print("1..0 # socket.io is not installed: run scripts/install-deps.sh", flush=True)
        return 1
    suite = Suite(os.path.abspath(args.vhostd), args.node)
    cases = [affinity_case(workers, transports, "cookie") for workers in (2, 3) for transports in ("polling", "default")]
    cases += [affinity_case(3, transports, "slot cookie") for transports in ("polling", "default")]
    cases += [affinity_case(3, "polling", "client"), affinity_case(2, "default", "client"), case_without_affinity]

    def run_case(case, s):
        with tempfile.TemporaryDirectory(prefix="vhostd-affinity-") as directory:
            s.directory = directory
            try:
                return case(s)
            finally:
                if s.current:
                    s.current.vhostd.stop()

    def after_case(_case, error):
        if error is not None and suite.current:
            tap_log_tail("vhostd's log", suite.current.vhostd.log())
        suite.current = None

    return 1 if run_cases(cases, suite, args.time_limit, run_case=run_case, after_case=after_case) else 0


if __name__ == "__main__":
    sys.exit(main())
