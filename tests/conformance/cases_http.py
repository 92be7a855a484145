"""Conformance cases on HTTP/1.1 framing: keep-alive, pipelining, bodies, the counters."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import WAIT, request  # noqa: E402
from suite import Suite  # noqa: E402


def case_keep_alive(suite: Suite):
    """keep-alive: 3 requests on one connection"""
    suite.ensure_worker()
    client = suite.connect(request(path="/one"))
    for i, path in enumerate(["/one", "/two", "/three"]):
        if i:
            client.send(request(path=path))
        response = client.response(what=f"request {i + 1}")
        suite.expect_hello(response, what=f"request {i + 1}")
        if response.closes():
            raise Failure(f"request {i + 1} was answered with Connection: close")
    client.close()


def case_pipelining(suite: Suite):
    """pipelining: 3 requests in one write, 3 answers in order"""
    suite.ensure_worker()
    burst = request(path="/a") + request("POST", "/b", body=b"12345") + request("POST", "/c", body=b"1234567")
    client = suite.connect(burst)
    for i, received in enumerate([0, 5, 7]):
        suite.expect_hello(client.response(what=f"answer {i + 1}"), received, f"answer {i + 1}")
    client.close()


def case_post_body(suite: Suite):
    """POST body: "received N bytes" (Content-Length and chunked)"""
    suite.ensure_worker()
    client = suite.connect(request("POST", "/small", body=b"x" * 1000))
    suite.expect_hello(client.response(), 1000, "a 1000-byte body")
    # A chunked body of 300 + 700 bytes.
    client.send(request("POST", "/chunked", headers=("Transfer-Encoding: chunked",))
                + b"12c\r\n" + b"a" * 300 + b"\r\n2bc;ext=1\r\n" + b"b" * 700 + b"\r\n0\r\n\r\n")
    suite.expect_hello(client.response(), 1000, "a chunked body of 1000 bytes")
    # A large body that arrives after the handoff, in pieces.
    big = os.urandom(200_000)
    client.send(request("POST", "/big", headers=(f"Content-Length: {len(big)}",)))
    for offset in range(0, len(big), 50_000):
        client.send(big[offset:offset + 50_000])
    suite.expect_hello(client.response(), len(big), "a 200000-byte body")
    client.close()


def case_counters(suite: Suite):
    """heartbeat requests rises by exactly the requests served; active returns to 0"""
    suite.ensure_worker()
    channel = suite.channel
    baseline = suite.settle()["requests"]
    a = suite.connect(request(path="/1"), name="connection A")
    suite.expect_hello(a.response())
    opened = time.monotonic()
    channel.heartbeat_after(opened, lambda hb: hb["active"] >= 1, WAIT,
                            "a heartbeat with active >= 1 while a connection is open")
    for path in ("/2", "/3"):
        a.send(request(path=path))
        suite.expect_hello(a.response())
    b = suite.connect(request(path="/4") + request(path="/5", headers=("Connection: close",)),
                      name="connection B")
    suite.expect_hello(b.response())
    suite.expect_hello(b.response())
    b.expect_eof(what="the worker to close connection B after Connection: close")
    a.close()
    b.close()
    expected = baseline + 5
    closed = time.monotonic()
    beat = channel.heartbeat_after(closed, lambda hb: hb["requests"] >= expected and hb["active"] == 0,
                                   WAIT, f"a heartbeat with requests == {expected} and active == 0")
    if beat["requests"] != expected:
        raise Failure(f"requests went from {baseline} to {beat['requests']} for 5 requests")
    seen = time.monotonic()
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", seen)) >= 3, WAIT, "3 more heartbeats")
    later = {m["requests"] for _, m in channel.commands("vhostd:heartbeat", seen)}
    if later != {expected}:
        raise Failure(f"requests should stay {expected}, the next heartbeats say {sorted(later)}")
    return f"requests {baseline} -> {expected}"
