#!/usr/bin/env python3
"""The request grammar through the real front and a real worker, in one run: every case of
tests/vectors/requests.json goes to vhostd, as a connection's first request (read by the
front, then by the worker) and as a later one (read by the worker alone), on a plain and a
TLS listener. Each must get the reading docs/http-grammar.md gives it, from whichever of the
two answers, and no request for site b may be answered by site a's worker.

    python3 tests/conformance/grammar_through_vhostd.py --vhostd build/bin/vhostd \\
        --hello-worker build/bin/hello-worker [--runtime node] [--passthrough] -- WORKER_COMMAND...
    python3 tests/conformance/grammar_through_vhostd.py ... --static

Site a's TLS is terminated by the front, or with --passthrough by its worker: the front then
routes by SNI alone and the worker reads every request, the first included.

Site a (a.test, the default site) runs WORKER_COMMAND, which answers like hello-worker, or
with --static serves a directory with vhostd-static (then an accepted request is checked by
its status: 200 with the file, 404 or 405). Site b (b.test) runs hello-worker. The cases are those of
cases_grammar.py, which the conformance suite runs against one worker without the front.
Prints TAP; exits 1 if a case fails. vhostd and its workers are stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), HERE]
import cases_grammar as grammar  # noqa: E402
from harness import Failure, free_ports, run_cases, tap_log_tail, wait_until  # noqa: E402
from http_client import Client  # noqa: E402
import request_vectors  # noqa: E402

SITE, OTHER = grammar.SITE_HOST, "b.test"


class ThroughVhostd:
    """What cases_grammar needs of a suite, with vhostd in front: connect() opens a client
    connection to a listener and sends the first request; the front routes it."""

    def __init__(self, args, directory):
        self.args, self.directory = args, directory
        self.http_port, self.tls_port, self.admin_port = free_ports(3)
        self.tls = False              # which listener connect() uses
        self.answering_site = "a"     # whose hello an accepted request must get
        self.process = None
        self.log_path = os.path.join(directory, "vhostd.log")

    def write_config(self):
        key, cert = (os.path.join(self.directory, name) for name in ("a.key", "a.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={SITE}", "-addext", f"subjectAltName=DNS:{SITE}",
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
        if self.args.static:
            root = os.path.join(self.directory, "root")
            os.mkdir(root)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write("static a\n")
            worker = f"static = {json.dumps(root)}"
        else:
            worker = f"command = {json.dumps(self.args.command)}"
            if self.args.runtime:
                worker += f'\nruntime = "{self.args.runtime}"'
        config = f"""[[listen]]
address = "127.0.0.1:{self.http_port}"

[[listen]]
address = "127.0.0.1:{self.tls_port}"
tls = true

[admin]
listen = "127.0.0.1:{self.admin_port}"

[sites.a]
hosts = ["{SITE}"]
default = true
{worker}
workers = 1
tls = {{ cert = "{cert}", key = "{key}" }}
{'tls_mode = "passthrough"' if self.args.passthrough else ''}

[sites.b]
hosts = ["{OTHER}"]
command = [{json.dumps(self.args.hello_worker)}]
workers = 1
"""
        path = os.path.join(self.directory, "vhostd.toml")
        with open(path, "w") as f:
            f.write(config)
        return path

    def start(self):
        config = self.write_config()
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([self.args.vhostd, "-c", config], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.ready_sites() == {"a", "b"}, 30, "a ready worker for sites a and b")

    def ready_sites(self):
        if self.process.poll() is not None:
            raise Failure(f"vhostd exited with status {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/status", timeout=2) as r:
                sites = json.load(r)["sites"]
        except OSError:
            return set()
        return {s["name"] for s in sites if any(w["state"] == "ready" for w in s["workers"])}

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()   # its workers die with it (PR_SET_PDEATHSIG)
                self.process.wait(5)

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # What cases_grammar calls.
    def ensure_worker(self):
        pass

    def connect(self, first_bytes=b"", host=SITE) -> Client:
        sock = socket.create_connection(("127.0.0.1", self.tls_port if self.tls else self.http_port), timeout=5)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=SITE)
        client = Client(sock)
        if first_bytes:
            client.send(first_bytes)
        return client

    def expect_hello(self, response, received=0, what="the answer"):
        if self.args.static and self.answering_site == "a":
            # Read and answered: the file, no such file, or not a method for files.
            if response.status not in (200, 404, 405) or (response.status == 200 and response.body != b"static a\n"):
                raise Failure(f"{what}: got {response.status} {response.body[:200]!r}, expected the file, 404 or 405")
            return
        expected = rf"hello from {self.answering_site} \(pid \d+\)\n" + (rf"received {received} bytes\n" if received else "")
        if response.status != 200 or not re.fullmatch(expected.encode(), response.body):
            raise Failure(f"{what}: got {response.status} {response.body[:200]!r}, expected 200 {expected!r}")


def first_reading(case, tls):
    """A case as a connection's first request: the front routes it by its own Host."""
    if case["status"] or case["host"] != OTHER:
        return grammar.head_reading(case, case.get("host", "")), "a"
    if tls:      # the certificate is a.test's: another site's Host gets the front's 421
        return grammar.Reading(421, keeps_open=False), "a"
    return grammar.head_reading(case, OTHER), "b"


def passthrough_reading(case):
    """A case on a connection the front routed by SNI a.test: a request without Host is for
    a.test, any other host gets the worker's 421 (docs/http-grammar.md)."""
    return grammar.head_reading(case, "" if case.get("host") == "" else SITE)


def case_passthrough(later):
    def case(suite: ThroughVhostd):
        differences = []
        for vector in grammar.VECTORS["heads"]:
            head, body = request_vectors.request_bytes(vector)
            first = grammar.keep_alive_request(SITE) if later else b""
            problem = grammar.run_reading(suite, SITE, first, head + body, passthrough_reading(vector))
            if problem:
                differences.append(f"{vector['name']!r}: {problem}")
        grammar.report(differences, len(grammar.VECTORS["heads"]), "requests")
    case.__doc__ = f"every request vector as a {'later' if later else 'first'} request, read by the worker alone"
    return case


def on_listener(tls):
    def run(body):
        def case(suite: ThroughVhostd):
            suite.tls = tls
            try:
                return body(suite)
            finally:
                suite.answering_site = "a"
        case.__doc__ = f"{body.__doc__} ({'TLS' if tls else 'plain'} listener)"
        return case
    return run


def case_first(suite: ThroughVhostd):
    """every request vector as a connection's first request, through the front"""
    differences = []
    for vector in grammar.VECTORS["heads"]:
        head, body = request_vectors.request_bytes(vector)
        reading, suite.answering_site = first_reading(vector, suite.tls)
        problem = grammar.run_reading(suite, vector.get("host", ""), b"", head + body, reading)
        if problem:
            differences.append(f"{vector['name']!r}: {problem}")
    suite.answering_site = "a"
    grammar.report(differences, len(grammar.VECTORS["heads"]), "requests")


PLAIN_CASES = (case_first, grammar.case_grammar_later, grammar.case_grammar_bodies, grammar.case_grammar_connection_host)
# The routed-host vectors are about a host the front read; a passthrough connection has none.
PASSTHROUGH_CASES = (case_passthrough(later=False), case_passthrough(later=True), grammar.case_grammar_bodies)


def cases(passthrough):
    tls_cases = PASSTHROUGH_CASES if passthrough else PLAIN_CASES
    return [on_listener(False)(body) for body in PLAIN_CASES] + [on_listener(True)(body) for body in tls_cases]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vhostd", required=True)
    parser.add_argument("--hello-worker", required=True)
    parser.add_argument("--runtime")
    parser.add_argument("--static", action="store_true", help="site a serves a directory with vhostd-static")
    parser.add_argument("--passthrough", action="store_true", help="site a's worker terminates its TLS")
    parser.add_argument("--time-limit", type=float, default=110)
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    if not args.static and not args.command:
        parser.error("a WORKER_COMMAND, or --static")
    # The config's paths are relative to its own directory: give them whole.
    args.hello_worker = os.path.abspath(args.hello_worker)
    args.command = [os.path.abspath(part) if os.path.exists(part) else part for part in args.command]
    with tempfile.TemporaryDirectory(prefix="vhostd-grammar-") as directory:
        suite = ThroughVhostd(args, directory)
        started = time.monotonic()
        try:
            suite.start()
            failed = run_cases(cases(args.passthrough), suite, args.time_limit - (time.monotonic() - started))
        except Failure as e:
            print(f"Bail out! {e}", flush=True)
            failed = 1
        finally:
            suite.stop()
        if failed:
            tap_log_tail("vhostd's log", suite.log_text())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
