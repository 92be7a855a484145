#!/usr/bin/env python3
"""vhostd_worker.worker: setting up outside vhostd, the metadata, the raw on_connection API."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vhostd_worker import ConnectionInfo, NotStartedByVhostd, Worker  # noqa: E402
from fake_vhostd import WAIT, FakeVhostd, read_all  # noqa: E402


class WorkerSetupTest(unittest.TestCase):
    def test_outside_vhostd(self):
        with self.assertRaisesRegex(NotStartedByVhostd, "VHOSTD_CHANNEL_FD is not set"):
            Worker(environ={})
        with self.assertRaises(NotStartedByVhostd):
            Worker(environ={"VHOSTD_CHANNEL_FD": "three"})
        with tempfile.TemporaryFile() as f:
            with self.assertRaisesRegex(NotStartedByVhostd, "not a usable channel"):
                Worker(environ={"VHOSTD_CHANNEL_FD": str(f.fileno())})

    def test_connection_info_tolerates_odd_metadata(self):
        info = ConnectionInfo.from_message({"id": "7", "remotePort": True, "host": 3, "tls": {"mode": "terminate"}})
        self.assertEqual((info.id, info.remote_port, info.host), (0, 0, ""))
        self.assertEqual(info.tls, {"mode": "terminate", "serverName": "", "alpn": "", "version": "", "cipher": ""})


class RawWorkerTest(unittest.TestCase):
    def test_on_connection_gets_a_cloexec_socket_with_a_timeout(self):
        seen = []

        def on_connection(sock, info):
            seen.append((os.get_inheritable(sock.fileno()), sock.gettimeout(), sock.family, info.remote_port))
            sock.sendall(sock.recv(100).upper())

        def serve(worker, timeout):
            worker.serve(on_connection, timeout)

        v = FakeVhostd(serve)
        sock = v.hand()
        sock.sendall(b"echo")
        self.assertEqual(read_all(sock), b"ECHO")   # closed by the SDK when on_connection returns
        self.assertEqual(seen, [(False, WAIT, socket.AF_INET, 4321)])
        self.assertTrue(v.stop())


if __name__ == "__main__":
    unittest.main(verbosity=2)
