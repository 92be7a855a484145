#!/usr/bin/env python3
"""vhostd_worker.wsgi: the environ, bodies and framing, errors, 421 and the counters."""

from __future__ import annotations

import http.client
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fake_vhostd import ServesWsgi, read_all, recording_app  # noqa: E402


class WsgiTest(ServesWsgi):
    def test_environ(self):
        seen = []
        v = self.serve(recording_app(seen))
        c = v.http()
        c.request("POST", "/a%20b/c?x=1&y=%20", body=b"0123456789",
                  headers={"Host": "Unit.Test:8080", "X-Custom": "1", "X_Custom": "spoof", "Content-Type": "text/x"})
        self.assertEqual(c.getresponse().read(), b"ok")
        e = seen[0]
        self.assertEqual((e["REQUEST_METHOD"], e["SCRIPT_NAME"], e["PATH_INFO"], e["QUERY_STRING"]),
                         ("POST", "", "/a b/c", "x=1&y=%20"))
        self.assertEqual((e["SERVER_NAME"], e["SERVER_PORT"], e["SERVER_PROTOCOL"]), ("unit.test", "8080", "HTTP/1.1"))
        self.assertEqual((e["REMOTE_ADDR"], e["REMOTE_PORT"]), ("192.0.2.9", "4321"))
        self.assertEqual((e["CONTENT_TYPE"], e["CONTENT_LENGTH"], e["body"]), ("text/x", "10", b"0123456789"))
        self.assertEqual((e["HTTP_HOST"], e["HTTP_X_CUSTOM"]), ("Unit.Test:8080", "1"))
        self.assertEqual(e["wsgi.url_scheme"], "http")
        self.assertEqual(e["vhostd.connection"].id, 1)
        # Absolute-form target, TLS terminated by vhostd.
        c = v.http(tls={"mode": "terminate", "serverName": "unit.test"})
        c.sock.sendall(b"GET http://unit.test/p/q?r=1 HTTP/1.1\r\nHost: unit.test\r\n\r\n")
        response = http.client.HTTPResponse(c.sock)
        response.begin()
        response.read()
        self.assertEqual((seen[1]["PATH_INFO"], seen[1]["QUERY_STRING"], seen[1]["wsgi.url_scheme"]),
                         ("/p/q", "r=1", "https"))

    def test_bodies_and_framing(self):
        def app(environ, start_response):
            path = environ["PATH_INFO"]
            if path == "/partial":                 # reads 3 of the body's bytes only
                environ["wsgi.input"].read(3)
                start_response("200 OK", [])
                return [b"partial"]
            if path == "/lines":
                lines = list(environ["wsgi.input"])
                start_response("200 OK", [])
                return [b"%d lines" % len(lines)]
            if path == "/stream":
                start_response("200 OK", [])
                return (part for part in [b"a", b"", b"bc"])
            start_response("204 No Content", [])
            return []
        v = self.serve(app)
        c = v.http()
        c.request("POST", "/partial", body=b"x" * 100)
        self.assertEqual(c.getresponse().read(), b"partial")
        c.request("POST", "/lines", body=iter([b"one\n", b"two\nthree"]))   # chunked by http.client
        self.assertEqual(c.getresponse().read(), b"3 lines")
        c.request("GET", "/stream")
        response = c.getresponse()
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(response.read(), b"abc")
        c.request("HEAD", "/stream")
        response = c.getresponse()
        self.assertEqual((response.read(), response.getheader("Transfer-Encoding")), (b"", None))
        c.request("GET", "/nothing")
        self.assertEqual(c.getresponse().status, 204)
        # HTTP/1.0 and a body of unknown length: the end of the connection ends it.
        sock = v.hand()
        sock.sendall(b"GET /stream HTTP/1.0\r\nHost: unit.test\r\n\r\n")
        answer = read_all(sock)
        self.assertIn(b"Connection: close\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nabc"), answer)

    def test_application_error_is_500_and_closes(self):
        def app(environ, start_response):
            raise RuntimeError("boom (expected by the test)")
        v = self.serve(app)
        sock = v.hand()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: unit.test\r\n\r\n")
        self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 500 "))

    def test_misdirected_and_counters(self):
        v = self.serve(recording_app([]))
        c = v.http()
        for _ in range(2):
            c.request("GET", "/")
            c.getresponse().read()
        c.request("GET", "/", headers={"Host": "other.test"})
        response = c.getresponse()
        self.assertEqual((response.status, response.getheader("Connection")), (421, "close"))
        response.read()
        c.close()
        v.wait_for(lambda _: v.last_heartbeat()["active"] == 0 and v.last_heartbeat()["requests"] == 2,
                   "requests == 2 (the 421 is not counted), active == 0")

    def test_bad_request_heads(self):
        v = self.serve(recording_app([]))
        for head, status in [(b"POST / HTTP/1.1\r\nHost: unit.test\r\nContent-Length: -1\r\n\r\n", b"400"),
                             (b"POST / HTTP/1.1\r\nHost: unit.test\r\nTransfer-Encoding: gzip\r\n\r\n", b"400"),
                             (b"POST / HTTP/1.1\r\nHost: unit.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", b"501"),
                             (b"GARBAGE\r\n\r\n", b"400"), (b"GET / HTTP/2.0\r\n\r\n", b"505")]:
            sock = v.hand()
            sock.sendall(head)
            self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 " + status), head)

if __name__ == "__main__":
    unittest.main(verbosity=2)
