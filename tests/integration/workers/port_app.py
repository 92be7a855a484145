#!/usr/bin/env python3
"""An app that only knows how to listen, for vhostd-upstream's tests.

Listens on 127.0.0.1:$PORT, or on the Unix socket $SOCKET; answers every GET with
"port-app pid N client C path P" (C is the address from a PROXY v1 line when one came first).
"GET /exit" makes it exit with status 3, to play a crash.
"""
import http.server
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxied_client = "-"

    def setup(self):
        super().setup()
        # A PROXY v1 line comes before the first request when the worker was told to send one.
        if self.rfile.peek(6)[:6] == b"PROXY ":
            fields = self.rfile.readline().decode().split()
            self.proxied_client = fields[2] if len(fields) > 2 else "unknown"

    def do_GET(self):
        if self.path == "/exit":
            os._exit(3)
        body = f"port-app pid {os.getpid()} client {self.proxied_client} path {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # client_address is empty on a Unix socket, and the tests need no access log


class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if __name__ == "__main__":
    if "SOCKET" in os.environ:
        server = UnixServer(os.environ["SOCKET"], Handler)
    else:
        server = TcpServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    print(f"port-app listening ({sys.argv[1:]})", flush=True)
    server.serve_forever()
