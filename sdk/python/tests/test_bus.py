#!/usr/bin/env python3
"""vhostd_worker.bus: what tests/bus cannot see from outside."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vhostd_worker import channel  # noqa: E402
from vhostd_worker import Worker  # noqa: E402
from fake_vhostd import WAIT  # noqa: E402


class BusTest(unittest.TestCase):
    """What tests/bus cannot see from outside; that suite covers the message bus itself."""

    def test_call_before_serve(self):
        # A worker may ask the singleton for its configuration before it serves: the reply
        # must be read although serve() has not started the channel's reader yet.
        channel, worker_end = socket.socketpair()
        worker = Worker(environ={"VHOSTD_CHANNEL_FD": str(worker_end.detach())})
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(worker.call("config.get", ["db"], timeout=WAIT)))
        caller.start()
        channel.settimeout(WAIT)
        call = json.loads(channel.recv(65536))
        self.assertEqual((call["cmd"], call["method"], call["args"]), ("vhostd:call", "config.get", ["db"]))
        channel.sendall(json.dumps({"cmd": "vhostd:reply", "id": call["id"], "result": "db1"}).encode() + b"\n")
        caller.join(WAIT)
        self.assertEqual(outcome, ["db1"])
        channel.shutdown(socket.SHUT_WR)         # EOF: the reader ends, the worker drains
        worker.serve(lambda sock, info: None)    # returns at once: drained, nothing active
        channel.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
