"""Conformance cases on the request grammar (docs/http-grammar.md): every case of
tests/vectors/requests.json, as a connection's first request and as a later one, gets the
reading the front's parser gives it (http_test runs the same file through that parser).

A case is read alike when the worker answers what the reading implies: the refusal's status
and a closed connection; or, for an accepted request, 421 when it is for another host than
the connection's, else its hello with the body size the framing gives, and then a request
sent right after it, for another host, gets its 421 (so the head and the body ended where
they should, and the worker still reads by the grammar).
Each case lists every case the worker reads otherwise, not only the first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
import request_vectors  # noqa: E402
from suite import Suite  # noqa: E402

VECTORS = request_vectors.load()
SITE_HOST = VECTORS["site"]
# Sent right after an accepted request: for another host, so that its 421 shows both where
# the request ended and that the worker still reads by the grammar (an upgrade that the
# worker's parser takes and the grammar does not would let it through).
AFTER = b"GET /after HTTP/1.1\r\nHost: b.test\r\n\r\n"
CHUNKED_POST = f"POST / HTTP/1.1\r\nHost: {SITE_HOST}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()


def keep_alive_request(host: str) -> bytes:
    """A request for `host` after which the connection stays open ("" = none, HTTP/1.0)."""
    if not host:
        return b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    return f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("utf-8")


def chunked_size(body: bytes) -> int:
    """The size of a well-formed chunked body (the accepted vectors' are)."""
    size, rest = 0, body
    while True:
        line, rest = rest.split(b"\r\n", 1)
        chunk = int(line.split(b";")[0], 16)
        if chunk == 0:
            return size
        size += chunk
        rest = rest[chunk + 2:]


class Reading:
    """What the worker must answer to one request: a status, or a hello with a body size."""

    def __init__(self, status=200, received=0, keeps_open=True, head_request=False):
        self.status, self.received = status, received
        self.keeps_open, self.head_request = keeps_open, head_request


def head_reading(case: dict, routed: str) -> Reading:
    if case["status"]:
        return Reading(case["status"], keeps_open=False)
    if case["host"] != routed:
        return Reading(421, keeps_open=False)
    head, body = request_vectors.request_bytes(case)
    received = {"none": 0, "length": case.get("content_length", 0),
                "chunked": chunked_size(body) if case["framing"] == "chunked" else 0}[case["framing"]]
    request_line = head.removeprefix(b"\r\n").split(b"\r\n", 1)[0]
    keeps_open = request_line.endswith(b"HTTP/1.1") or b"connection: keep-alive" in head.lower()
    return Reading(200, received, keeps_open, head_request=request_line.startswith(b"HEAD "))


def check(suite: Suite, client, reading: Reading, name: str):
    """None when the answer on `client` is `reading`'s, else what differs."""
    try:
        response = client.response(what=name, head_request=reading.head_request)
    except Failure as e:
        return f"no answer ({e})"
    if reading.status != 200:
        if response.status != reading.status:
            return f"{response.status}, expected {reading.status}"
        try:
            client.expect_eof(what=f"the close after {reading.status}")
        except Failure as e:
            return str(e)
        return None
    if reading.head_request:
        return None if response.status == 200 else f"{response.status}, expected 200"
    try:
        suite.expect_hello(response, received=reading.received, what=name)
    except Failure as e:
        return str(e)
    return None


def run_reading(suite: Suite, routed: str, first: bytes, request: bytes, reading: Reading):
    """Sends `request` on a connection routed by `routed`: after `first` when given (its
    hello expected), else as the first request. None, or what the worker read otherwise."""
    client = suite.connect(first, host=routed) if first else suite.connect(b"", host=routed)
    try:
        if first:
            problem = check(suite, client, Reading(), "the first request")
            if problem:
                return f"the first request: {problem}"
        follow = AFTER if reading.status == 200 and reading.keeps_open and routed == SITE_HOST else b""
        client.send(request + follow)
        problem = check(suite, client, reading, "the request")
        if problem is None and follow:
            problem = check(suite, client, Reading(421, keeps_open=False), "the request after it")
            if problem:
                problem = f"the request after it: {problem}"
        return problem
    finally:
        client.close()


def report(differences, total, what):
    if differences:
        listed = "; ".join(differences[:20])
        raise Failure(f"{len(differences)} of {total} {what} read otherwise: {listed}")


def heads_case(later: bool):
    def case(suite: Suite):
        suite.ensure_worker()
        differences = []
        for vector in VECTORS["heads"]:
            head, body = request_vectors.request_bytes(vector)
            first = keep_alive_request(SITE_HOST) if later else b""
            problem = run_reading(suite, SITE_HOST, first, head + body, head_reading(vector, SITE_HOST))
            if problem:
                differences.append(f"{vector['name']!r}: {problem}")
        report(differences, len(VECTORS["heads"]), "requests")
    return case


def case_grammar_first(suite: Suite):
    """every request vector, as the first request, is read as the front's parser reads it"""
    heads_case(later=False)(suite)


def case_grammar_later(suite: Suite):
    """every request vector, as a later request on a kept-alive connection, is read alike"""
    heads_case(later=True)(suite)


def case_grammar_bodies(suite: Suite):
    """chunked bodies: 1*HEXDIG sizes, CRLF after each chunk's data, or 400"""
    suite.ensure_worker()
    differences = []
    for vector in VECTORS["bodies"]:
        reading = Reading(vector["status"], keeps_open=False) if vector["status"] else Reading(200, vector["received"])
        problem = run_reading(suite, SITE_HOST, keep_alive_request(SITE_HOST),
                              CHUNKED_POST + vector["body"].encode(), reading)
        if problem:
            differences.append(f"{vector['name']!r}: {problem}")
    report(differences, len(VECTORS["bodies"]), "bodies")


def case_grammar_connection_host(suite: Suite):
    """a connection's host is the one it was routed by, also none: another gets 421"""
    suite.ensure_worker()
    differences = []
    for vector in VECTORS["connections"]:
        raw = vector["request_host"]
        request = keep_alive_request(raw)
        reading = Reading() if vector["admitted"] else Reading(421, keeps_open=False)
        problem = run_reading(suite, vector["routed"], keep_alive_request(vector["routed"]), request, reading)
        if problem:
            differences.append(f"routed {vector['routed']!r}, Host {raw!r}: {problem}")
    report(differences, len(VECTORS["connections"]), "connections")


REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS_DIRS = [os.path.join(REPO, "fuzz", "corpus", "fuzz_head_vs_beast"),
               # what scripts/fuzz.sh grew, when it ran in this tree
               os.path.join(REPO, "build-fuzz", "fuzz", "fuzz_head_vs_beast-corpus")]
MAX_CORPUS = 2000


def front_readings(paths):
    """The front's reading of each file (tests/tools/head_reading.cpp), by path."""
    tool = os.environ.get("VHOSTD_HEAD_READING") or os.path.join(REPO, "build", "bin", "head-reading")
    if not os.access(tool, os.X_OK):
        raise Failure(f"no head-reading tool at {tool} (set VHOSTD_HEAD_READING)")
    readings = {}
    for start in range(0, len(paths), 200):
        out = subprocess.run([tool, *paths[start:start + 200]], capture_output=True, check=True, timeout=30).stdout
        for line in out.decode().splitlines():
            reading = json.loads(line)
            readings[reading["file"]] = reading
    return readings


def corpus_reading(front: dict, data: bytes) -> Reading:
    if front.get("incomplete"):
        return None                               # the front waits: nothing to compare
    if front["status"]:
        return Reading(front["status"], keeps_open=False)
    if front["host"] != SITE_HOST:
        return Reading(421, keeps_open=False)
    if front.get("upgrade"):
        return None                               # an upgrade hands the connection to the app
    if front["framing"] == "chunked":
        if "body_status" in front:
            return Reading(front["body_status"], keeps_open=False)
        if "received" not in front:
            return None                           # the body is not all there
        received = front["received"]
    else:
        received = front.get("content_length", 0)
        if len(data) - front["length"] < received:
            return None                           # the body is not all there
    head = data[:front["length"]]
    request_line = head.removeprefix(b"\r\n").split(b"\r\n", 1)[0]
    keeps_open = request_line.endswith(b"HTTP/1.1") or b"keep-alive" in head.lower()
    return Reading(200, received, keeps_open, head_request=request_line.startswith(b"HEAD "))


def case_grammar_corpus(suite: Suite):
    """the fuzz corpus (fuzz_head_vs_beast) as later requests, read as the front reads it"""
    suite.ensure_worker()
    paths = sorted(os.path.join(d, name) for d in CORPUS_DIRS if os.path.isdir(d) for name in os.listdir(d))
    paths = [p for p in paths if os.path.getsize(p) <= 32 * 1024][:MAX_CORPUS]
    if not paths:
        raise Failure("no fuzz corpus in fuzz/corpus/fuzz_head_vs_beast")
    readings = front_readings(paths)
    differences, compared = [], 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        reading = corpus_reading(readings[path], data)
        if reading is None:
            continue
        compared += 1
        front = readings[path]
        # An accepted request alone: what follows its body would be a further request.
        body_length = front.get("body_length", front.get("content_length", 0))
        request = data[:front["length"] + body_length] if reading.status == 200 else data
        problem = run_reading(suite, SITE_HOST, keep_alive_request(SITE_HOST), request, reading)
        if problem:
            differences.append(f"{os.path.basename(path)}: {problem}")
    report(differences, compared, "corpus inputs")
