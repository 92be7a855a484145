#!/usr/bin/env python3
"""The migration examples of docs/migrating.md, each run by the real vhostd as a user would.

    python3 tests/examples/examples_behind_vhostd.py --vhostd build/bin/vhostd --vhostctl build/bin/vhostctl [--node NODE]

Each case copies one folder of examples/ into a temporary directory (with sdk/ linked beside
it, so that its require('../../sdk/node') resolves), moves its vhostd.toml to free loopback
ports, starts vhostd on it and checks what the guide says the example does. Prints TAP and
exits 1 if a case fails, with vhostd's log. Every wait is bounded; vhostd and every process
of its sites are killed by pid on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from harness import expect, free_ports, run_cases, tap_log_tail, wait_until  # noqa: E402
from vhostd_process import VhostdProcess, get  # noqa: E402


class Example:
    """examples/NAME copied and started on free ports."""

    def __init__(self, suite, name, directory):
        self.suite = suite
        self.directory = os.path.join(directory, "examples", name)
        shutil.copytree(os.path.join(ROOT, "examples", name), self.directory)
        os.symlink(os.path.join(ROOT, "sdk"), os.path.join(directory, "sdk"))
        self.port, self.admin = free_ports(2)
        config_path = os.path.join(self.directory, "vhostd.toml")
        with open(config_path) as f:
            config = f.read()
        config = config.replace("127.0.0.1:8080", f"127.0.0.1:{self.port}").replace("127.0.0.1:9180", f"127.0.0.1:{self.admin}")
        # The examples say `node`; the test runs the Node.js it was given.
        config = re.sub(r'command = \["node", ', f'command = [{json.dumps(suite.node)}, ', config)
        with open(config_path, "w") as f:
            f.write(config)
        self.vhostd = VhostdProcess(suite.vhostd, config_path, self.admin)

    def get(self, host, path="/"):
        return get(self.port, host, path)

    def vhostctl(self, *command):
        run = subprocess.run([self.suite.vhostctl, "--admin", f"127.0.0.1:{self.admin}", *command],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        expect(run.returncode == 0, f"vhostctl {' '.join(command)} exited {run.returncode}: {run.stderr.strip()}")
        return run.stdout


class RequestLoop:
    """GETs one after another on new connections until stopped; counts every answer."""

    def __init__(self, example, host):
        self.example, self.host = example, host
        self.answers, self.failures = 0, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set() and len(self.failures) < 20:
            try:
                status, body = self.example.get(self.host)
                if status == 200:
                    self.answers += 1
                else:
                    self.failures.append(f"{status} {body.strip()[:80]}")
            except OSError as e:
                self.failures.append(str(e))

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def case_pm2_ecosystem(suite):
    """pm2-ecosystem: the translated ecosystem file serves, and a restart rolls it without a failed request"""
    example = suite.start("pm2-ecosystem")
    example.vhostd.wait_ready("api", 2)
    status, body = example.get("api.example")
    expect(status == 200 and body.startswith("hello from "), f"answered {status}: {body!r}")
    before = {w["pid"] for w in example.vhostd.site_status("api")["workers"]}
    loop = RequestLoop(example, "api.example")
    try:
        example.vhostctl("restart", "api")   # pm2 reload api

        def rolled():
            site = example.vhostd.site_status("api")
            pids = {w["pid"] for w in site["workers"] if w["state"] == "ready"}
            return len(pids) == 2 and not pids & before and len(site["workers"]) == 2
        wait_until(rolled, 30, "both workers to be replaced")
    finally:
        loop.stop()
    expect(not loop.failures, f"{len(loop.failures)} requests failed during the restart: {loop.failures[:3]}")
    expect(loop.answers > 0, "no request was answered during the restart")
    return f"{loop.answers} requests during the restart, 0 failed"


def case_egg_cluster(suite):
    """egg-cluster: the agent's broadcasts reach every worker, calls reach the agent, schedules run"""
    example = suite.start("egg-cluster")
    example.vhostd.wait_ready("egg", 2, singleton=True)
    seen = {}

    def every_worker_heard():
        status, body = example.get("egg.example")
        if status == 200:
            state = json.loads(body)
            seen[state["pid"]] = state
        return len(seen) == 2 and all(s["announced"] >= 2 for s in seen.values())
    wait_until(every_worker_heard, 20, "both workers to hear a config-changed from the agent")
    wait_until(lambda: sum(json.loads(example.get("egg.example")[1])["cleanups"] for _ in range(4)) > 0, 10,
               "the cache-cleanup schedule to run in a worker")
    status, body = example.get("egg.example", "/config")
    expect(status == 200 and json.loads(body)["version"] >= 2, f"/config answered {status}: {body!r}")
    wait_until(lambda: "agent: worker in slot 1 started" in example.vhostd.log(), 10, "the agent to log the workers' messages")
    return f"versions heard: {sorted(s['announced'] for s in seen.values())}"


def case_multi_site(suite):
    """multi-site: each domain reaches its site, vhostctl status lists them, each site has its log"""
    example = suite.start("multi-site")
    example.vhostd.wait_ready("blog", 2)
    example.vhostd.wait_ready("docs", 1)
    for host, expected in (("blog.example", "the blog\n"), ("www.blog.example", "the blog\n")):
        status, body = example.get(host)
        expect(status == 200 and body == expected, f"{host} answered {status}: {body!r}")
    status, body = example.get("docs.example", "/")
    expect(status == 200 and "The docs site" in body, f"docs.example answered {status}: {body[:80]!r}")
    status, _ = example.get("other.example")
    expect(status == 404, f"a host no site claims answered {status}")
    table = example.vhostctl("status")
    expect("blog" in table and "docs" in table, f"vhostctl status lists not both sites:\n{table}")
    log_path = os.path.join(example.directory, "logs", "blog.log")
    wait_until(lambda: os.path.exists(log_path) and "blog: GET /" in open(log_path).read(), 10,
               "the blog's request lines in logs/blog.log")


class Suite:
    def __init__(self, vhostd, vhostctl, node):
        self.vhostd, self.vhostctl, self.node = vhostd, vhostctl, node
        self.directory = None
        self.current = None

    def start(self, name):
        self.current = Example(self, name, self.directory)
        return self.current


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vhostd", required=True)
    parser.add_argument("--vhostctl", required=True)
    parser.add_argument("--node", default="node")
    parser.add_argument("--time-limit", type=float, default=110)
    args = parser.parse_args()
    node = shutil.which(args.node) or args.node
    suite = Suite(os.path.abspath(args.vhostd), os.path.abspath(args.vhostctl), node)

    def run_case(case, s):
        with tempfile.TemporaryDirectory(prefix="vhostd-example-") as directory:
            s.directory = directory
            try:
                return case(s)
            except BaseException:
                if s.current:
                    tap_log_tail("vhostd's log", s.current.vhostd.log())
                raise
            finally:
                if s.current:
                    s.current.vhostd.stop()
                s.current = None

    cases = [case_pm2_ecosystem, case_egg_cluster, case_multi_site]
    return 1 if run_cases(cases, suite, args.time_limit, run_case=run_case) else 0


if __name__ == "__main__":
    sys.exit(main())
