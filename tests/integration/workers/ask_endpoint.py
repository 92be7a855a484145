#!/usr/bin/env python3
"""An on-demand TLS ask endpoint, as a hosting panel would run one, for vhostd's tests.

Usage: ask_endpoint.py PORT SUFFIX. Listens on 127.0.0.1:PORT and answers
GET /allowed?domain=NAME with 200 when NAME ends with SUFFIX, 403 otherwise; each question
is printed as "asked NAME ANSWER", so that a test can count them.
"""
import http.server
import socketserver
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        name = query.get("domain", [""])[0]
        status = 200 if name.endswith(sys.argv[2]) else 403
        print(f"asked {name} {status}", flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
