"""Conformance cases on the Host: another site's host gets 421 (docs/protocol.md)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import request  # noqa: E402
from suite import Suite  # noqa: E402


def case_misdirected(suite: Suite):
    """a later request for another Host on the same connection gets 421"""
    suite.ensure_worker()
    client = suite.connect(request(path="/first"))
    suite.expect_hello(client.response(), what="the first request")
    # The same host spelled differently is still this connection's host.
    client.send(request(host="CONFORMANCE.Test.:8080"))
    suite.expect_hello(client.response(), what="Host CONFORMANCE.Test.:8080 (the same host)")
    client.send(request(host="other.test"))
    response = client.response(what="the answer for Host other.test")
    if response.status != 421:
        raise Failure(f"Host other.test got {response.status} {response.body[:100]!r}, expected 421")
    client.expect_eof(what="the worker to close the connection after 421")
    client.close()


def case_misdirected_kelvin(suite: Suite):
    """a later request for Host \u212aiwi.example (UTF-8, a Kelvin sign) after kiwi.example is refused"""
    suite.ensure_worker()
    client = suite.connect(request(path="/first", host="kiwi.example"), host="kiwi.example")
    suite.expect_hello(client.response(), what="the first request, for kiwi.example")
    # Unicode case folding makes the Kelvin sign a "k"; the front's ASCII-only grammar does not.
    client.send(request(host="kiwi.example").replace(b"Host: k", "Host: \u212a".encode()))
    response = client.response(what="the answer for Host \u212aiwi.example")
    # The grammar (docs/http-grammar.md) calls it an invalid Host, 400, as the front does; a
    # worker that only compares it with the connection's host answers 421. Neither serves it.
    if response.status not in (400, 421):
        raise Failure(f"Host \u212aiwi.example got {response.status} {response.body[:100]!r}, expected 400 or 421")
    client.expect_eof(what="the worker to close the connection after its refusal")
    client.close()
