#!/usr/bin/env python3
"""vhostd_worker.websocket: the WebSocket helper behind serve_wsgi."""

from __future__ import annotations

import base64
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vhostd_worker import WebSocket  # noqa: E402
from fake_vhostd import ServesWsgi, read_all, recording_app  # noqa: E402


class WebSocketTest(ServesWsgi):
    def websocket_session(self, v):
        sock = v.hand(websocket=True)
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: unit.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        return sock

    def test_websocket(self):
        def hook(handler, environ):
            ws = WebSocket.accept(handler, environ)
            for message in ws or []:
                ws.send(message)
        v = self.serve(recording_app([]), websocket=hook)

        def frame(opcode, payload, fin=True, mask=True):
            mask_key = os.urandom(4) if mask else b""
            data = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload)) if mask else payload
            return struct.pack("!BB", (0x80 if fin else 0) | opcode, (0x80 if mask else 0) | len(payload)) + mask_key + data

        sock = self.websocket_session(v)
        # A text message in two fragments with a ping between them: pong first, then the echo.
        sock.sendall(frame(0x1, b"hel", fin=False) + frame(0x9, b"p") + frame(0x0, b"lo"))
        self.assertEqual(sock.recv(3), b"\x8a\x01p")
        self.assertEqual(sock.recv(7), b"\x81\x05hello")
        v.wait_for(lambda _: v.last_heartbeat()["websockets"] == 1, "websockets == 1")
        sock.sendall(frame(0x1, b"\xff"))                     # not UTF-8
        self.assertEqual(sock.recv(4), b"\x88\x02\x03\xef")   # close 1007
        self.assertEqual(read_all(sock), b"")
        sock = self.websocket_session(v)
        sock.sendall(frame(0x2, b"x", mask=False))            # clients must mask
        self.assertEqual(sock.recv(4), b"\x88\x02\x03\xea")   # close 1002
        # No Sec-WebSocket-Key: 400.
        sock = v.hand(websocket=True)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: unit.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 400 "))
        v.wait_for(lambda _: v.last_heartbeat()["websockets"] == 0 and v.last_heartbeat()["active"] == 0,
                   "websockets == 0 and active == 0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
