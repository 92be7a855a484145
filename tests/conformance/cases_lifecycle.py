"""Conformance cases on a worker's end: drain, channel EOF."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import WAIT, request  # noqa: E402
from suite import Suite  # noqa: E402


def expect_exit_zero(worker, timeout, since):
    """The worker ends with status 0 within `timeout` seconds; `since` names what it ends after."""
    status = worker.exit_status(timeout=timeout)
    if status is None:
        raise Failure(f"the worker was still running 5 s after {since}")
    if status != 0:
        raise Failure(f"the worker exited with status {status} after {since}, expected 0")


def case_drain(suite: Suite):
    """drain: idle keep-alive closed, requests in progress or mid-head finished, heartbeats go on, exit 0"""
    worker = suite.ensure_worker()
    channel = suite.channel
    idle = suite.connect(request(path="/before-drain"), name="the idle connection")
    suite.expect_hello(idle.response())
    # A request in progress: its head is in, half of its body is not.
    busy = suite.connect(request("POST", "/slow", body=b"12345")[:-5] + b"12", name="the busy connection")
    # A kept-alive connection with half of its next head in: sent with the first request, so
    # the worker has read it by the time the first answer comes.
    second = request(path="/second")
    mid_head = suite.connect(request(path="/first") + second[:-2], name="the mid-head connection")
    suite.expect_hello(mid_head.response(), what="the first answer on the mid-head connection")
    channel.send({"cmd": "vhostd:drain"})
    drained = time.monotonic()
    idle.expect_eof(3.0, "the worker to close the idle keep-alive connection on drain")
    idle.close()
    if not worker.alive():
        raise Failure(f"the worker exited (status {worker.status}) with a request in progress")
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", drained)) >= 2, 3.0,
                 "heartbeats while draining")
    busy.send(b"345")
    response = busy.response(what="the answer to the request in progress")
    suite.expect_hello(response, 5, "the request in progress")
    if not response.closes():
        raise Failure("the answer while draining has no Connection: close (protocol.md 8)")
    busy.expect_eof(3.0, "the worker to close the connection after answering while draining")
    busy.close()
    mid_head.send(second[-2:])
    response = mid_head.response(what="the answer to the request whose head was half in at the drain")
    suite.expect_hello(response, what="the request whose head was half in at the drain")
    if not response.closes():
        raise Failure("the answer to the mid-head request while draining has no Connection: close")
    mid_head.expect_eof(3.0, "the worker to close the mid-head connection after its answer")
    mid_head.close()
    expect_exit_zero(worker, 5.0, "its last connection ended")
    return f"exited {time.monotonic() - drained:.2f} s after the drain"


def case_channel_eof(suite: Suite):
    """channel EOF: idle connection closed, exit 0 within 5 s"""
    suite.start_worker()
    worker = suite.worker
    idle = suite.connect(request())
    suite.expect_hello(idle.response())
    worker.channel.close()          # vhostd is gone
    closed = time.monotonic()
    idle.expect_eof(WAIT, "the worker to close the idle connection at channel EOF")
    idle.close()
    expect_exit_zero(worker, max(0.0, 5.0 - (time.monotonic() - closed)), "the channel closed")
    return f"exited {time.monotonic() - closed:.2f} s after EOF"
