#!/usr/bin/env python3
"""vhostd_worker.http_handler: a BaseHTTPRequestHandler served by the SDK."""

from __future__ import annotations

import http.server
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vhostd_worker  # noqa: E402
from fake_vhostd import FakeVhostd  # noqa: E402


class HandlerTest(unittest.TestCase):
    def test_base_http_request_handler(self):
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"hi {self.client_address[0]} {self.vhostd_info.host}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "keep-alive")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        v = FakeVhostd(vhostd_worker.serve_handler, handler_class=Hello)
        c = v.http()
        for _ in range(2):
            c.request("GET", "/")
            response = c.getresponse()
            self.assertEqual(response.read(), b"hi 192.0.2.9 unit.test")
        c.request("GET", "/", headers={"Host": "else.test"})
        self.assertEqual(c.getresponse().status, 421)
        # While draining, the answer says close even though the handler said keep-alive.
        c = v.http()
        v.worker._start_draining()
        c.request("GET", "/")
        response = c.getresponse()
        self.assertEqual((response.read(), response.getheader("Connection")), (b"hi 192.0.2.9 unit.test", "close"))
        self.assertTrue(v.stop())


if __name__ == "__main__":
    unittest.main(verbosity=2)
