"""Conformance cases on WebSocket: the upgrade, echoes, the counter."""

from __future__ import annotations

import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import WAIT, check_echo, check_websocket_upgrade, websocket_request  # noqa: E402
from suite import Suite  # noqa: E402


def case_websocket(suite: Suite):
    """WebSocket: upgrade, echo, websockets = 1 while open, then 0"""
    suite.ensure_worker()
    channel = suite.channel
    head, accept = websocket_request()
    client = suite.connect(head, websocket=True, name="websocket")
    check_websocket_upgrade(client.response(what="the 101 answer"), accept)
    check_echo(client, 0x1, "hello, conformance ✓".encode())
    check_echo(client, 0x2, bytes(range(256)) * 2)     # 512 bytes: a 16-bit length
    channel.heartbeat_after(time.monotonic(), lambda hb: hb["websockets"] == 1, WAIT,
                            "a heartbeat with websockets == 1 while the session is open")
    client.send_frame(0x8, struct.pack("!H", 1000))
    _, opcode, payload = client.read_frame(what="the close frame answering ours")
    if opcode != 0x8:
        raise Failure(f"expected a close frame, got opcode {opcode} {payload[:60]!r}")
    client.expect_eof(what="the worker to close the connection after the closing handshake")
    client.close()
    channel.heartbeat_after(time.monotonic(), lambda hb: hb["websockets"] == 0 and hb["active"] == 0,
                            WAIT, "a heartbeat with websockets == 0 and active == 0 after the close")
