"""Conformance cases on the channel itself: ready, heartbeats, unknown messages."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import WAIT, request  # noqa: E402
from suite import Suite  # noqa: E402
from vhostd_side import HEARTBEAT_INTERVAL_MS  # noqa: E402


def case_ready(suite: Suite):
    """ready within 10 s"""
    took = suite.start_worker(ready_timeout=10.0)
    return f"ready after {took:.3f} s"


def case_heartbeats(suite: Suite):
    """heartbeats at about the interval, with integer counters"""
    suite.ensure_worker()
    channel = suite.channel
    ready_at = channel.commands("vhostd:ready")[0][0]
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", ready_at)) >= 10, WAIT,
                 "10 heartbeats after vhostd:ready")
    beats = channel.commands("vhostd:heartbeat", ready_at)
    first = beats[0][0] - ready_at
    if first > 1.0:
        raise Failure(f"the first heartbeat came {first:.3f} s after ready; expected right after it")
    # The average over the whole run, not each gap: arrival times are stamped by this
    # process, and on a loaded machine its reader may take several heartbeats at once.
    average = (beats[-1][0] - beats[0][0]) / (len(beats) - 1) * 1000
    if not 0.5 * HEARTBEAT_INTERVAL_MS <= average <= 3 * HEARTBEAT_INTERVAL_MS:
        raise Failure(f"heartbeats every {average:.0f} ms on average, expected about "
                      f"{HEARTBEAT_INTERVAL_MS} ms (VHOSTD_HEARTBEAT_INTERVAL_MS)")
    # The counters' form is checked on every heartbeat by the channel reader.
    return f"first {first * 1000:.0f} ms after ready, every {average:.0f} ms on average"



def case_unknown_message(suite: Suite):
    """unknown vhostd:* messages are ignored"""
    suite.ensure_worker()
    channel = suite.channel
    channel.send({"cmd": "vhostd:something", "payload": {"nested": [1, 2, 3]}, "n": 1})
    channel.send({"cmd": "vhostd:future-command"})
    sent = time.monotonic()
    client = suite.connect(request())
    suite.expect_hello(client.response(), what="a request after the unknown messages")
    client.close()
    channel.heartbeat_after(sent, timeout=WAIT, what="a heartbeat after the unknown messages")
