"""HTTP/1.1 on handed connections, on top of http.server.BaseHTTPRequestHandler: keep-alive
and pipelining under vhostd's rules (drain, 421 for another host, counters)."""

from __future__ import annotations

import http
import http.client
import socket
from typing import Optional

from .channel import ConnectionInfo
from .host import ConnectionHost
from .request_head import HeadLimits, HeadRefused, RequestHead, parse_request_head
from .sockets import drain_before_close, log
from .worker import DEFAULT_TIMEOUT, Worker


class HandedSite:
    """What BaseHTTPRequestHandler calls `server`: the worker and this connection's details."""

    def __init__(self, worker: Worker, info: ConnectionInfo, timeout: float, **extra):
        self.vhostd_worker = worker
        self.vhostd_info = info
        self.timeout = timeout
        self.server_name = info.host or info.local_address
        self.server_port = info.local_port
        self.vhostd_limits = HeadLimits.from_environment()
        self.__dict__.update(extra)


class VhostdRequestHandling:
    """Mixed in before a BaseHTTPRequestHandler subclass: keep-alive and pipelining under
    vhostd's rules. Every head is read by the front's grammar (request_head.py): what it
    refuses gets its status, `Connection: close` and a log line. A drain closes idle
    connections and answers the request in progress with `Connection: close`; a request for
    another host than the connection was routed on gets 421 and the connection closes; each
    request is counted for the heartbeats.

    In the handler: self.vhostd_info (ConnectionInfo), self.vhostd_worker (Worker);
    self.client_address is the client from vhostd's metadata."""

    protocol_version = "HTTP/1.1"
    # Errors found before the request line's version is known get a status line too (the
    # stdlib would answer them as HTTP/0.9, with a bare body). vhostd hands 1.0 and 1.1 only.
    default_request_version = "HTTP/1.0"

    def setup(self):
        super().setup()
        self.vhostd_worker = self.server.vhostd_worker
        self.vhostd_info = self.server.vhostd_info
        self.vhostd_head = None                 # the request being served (RequestHead)
        self._vhostd_host = ConnectionHost(self.vhostd_info.host)
        self._vhostd_status = 0               # the status being sent, 0 before one
        self._vhostd_connection_sent = False  # the handler sent its own Connection header

    def handle(self):
        # The first request's head is already in the socket; later ones may never come.
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            if not self.vhostd_worker.wait_for_request(self.connection, self.rfile, self.server.timeout):
                break
            self.handle_one_request()

    def handle_one_request(self):
        self._vhostd_status = 0
        self._vhostd_connection_sent = False
        try:
            head = self._vhostd_read_head()
            if head is None:
                self.close_connection = True       # the client left before a whole head
                return
            if not self._vhostd_host.admits(head.host):
                self._vhostd_refuse(HeadRefused(421, "a request for another host than the connection's"),
                                    f"421 this connection is for {self.vhostd_info.host or 'no host'}\n")
                return
            self._vhostd_accept(head)
            if head.expect_continue:
                self.handle_expect_100()
            if self.vhostd_worker.draining:
                self.close_connection = True
            self.vhostd_dispatch()
            self.wfile.flush()
        except HeadRefused as refused:
            self._vhostd_refuse(refused)
        except TimeoutError as e:
            self.log_error("Request timed out: %r", e)
            self.close_connection = True
        except ConnectionError:
            self.close_connection = True

    def _vhostd_read_head(self) -> Optional[RequestHead]:
        """The next head, read a line at a time and judged by the front's grammar as it
        grows (request_head.py); None when the client closes first. Raises HeadRefused."""
        limits = self.server.vhostd_limits
        data = b""
        while True:
            line = self.rfile.readline(limits.max_head_size + 2 - len(data))
            if not line:
                return None
            data += line
            head = parse_request_head(data, limits)
            if head is not None:
                return head

    def _vhostd_accept(self, head: RequestHead) -> None:
        """What BaseHTTPRequestHandler.parse_request would have set, from our reading."""
        version = f"HTTP/1.{head.minor_version}"
        self.command, self.path, self.request_version = head.method, head.target, version
        self.requestline = f"{head.method} {head.target} {version}"
        self.raw_requestline = (self.requestline + "\r\n").encode("latin-1")
        self.vhostd_head = head
        self.headers = http.client.HTTPMessage()
        for name, value in head.fields:
            self.headers[name] = value            # appends: repeated fields stay
        connection = {token.strip().lower() for token in self.headers.get("Connection", "").split(",")}
        self.close_connection = "close" in connection or (head.minor_version == 0 and "keep-alive" not in connection)

    def _vhostd_refuse(self, refused: HeadRefused, body: Optional[str] = None) -> None:
        """The answer and the log line for a request this worker does not serve; then the
        connection ends. What the client still sends is read first (at most 1 MiB, for at
        most 2 s): closing with unread bytes would reset the connection and lose the answer."""
        log(f"refused a request: {refused.status} {refused.reason}")
        self.close_connection = True
        phrase = http.HTTPStatus(refused.status).phrase
        data = (body or f"{refused.status} {phrase}\n").encode()
        self.wfile.write((f"HTTP/1.1 {refused.status} {phrase}\r\nContent-Type: text/plain\r\n"
                          f"Connection: close\r\nContent-Length: {len(data)}\r\n\r\n").encode("latin-1") + data)
        self.wfile.flush()
        drain_before_close(self.connection)

    def vhostd_dispatch(self):
        """Runs the request (the default: BaseHTTPRequestHandler's do_METHOD) and counts it."""
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        method()
        self.vhostd_worker.request_served()

    # While draining, every final answer says `Connection: close`, whatever the handler sets.
    def send_response_only(self, code, message=None):
        self._vhostd_status = code
        super().send_response_only(code, message)

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and self._vhostd_status >= 200:
            self._vhostd_connection_sent = True
            if self.vhostd_worker.draining:
                value = "close"
        super().send_header(keyword, value)

    def end_headers(self):
        if (self._vhostd_status >= 200 and self.vhostd_worker.draining
                and not self._vhostd_connection_sent and self.request_version != "HTTP/0.9"):
            super().send_header("Connection", "close")
        super().end_headers()


def serve_connection(handler_class, worker, timeout, **extra):
    def on_connection(sock, info):
        if info.tls and info.tls.get("mode") == "passthrough":
            log(f"vhostd: connection {info.id} is passthrough TLS, which the Python SDK does "
                 "not terminate; use tls_mode = \"terminate\" for this site")
            return
        try:
            # TCP only; a relayed TLS connection is an AF_UNIX socket. Without it, Nagle can
            # hold a streamed response's second write back until the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        handler_class(sock, (info.remote_address, info.remote_port),
                      HandedSite(worker, info, timeout, **extra))
    return on_connection


def serve_handler(handler_class, *, worker: Optional[Worker] = None,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """Serves a plain http.server.BaseHTTPRequestHandler subclass on the connections vhostd
    hands over, with keep-alive (its do_* methods must then send a Content-Length or close),
    until vhostd drains the worker. Returns when every connection has ended."""
    worker = worker or Worker()
    handler = type(handler_class.__name__, (VhostdRequestHandling, handler_class), {})
    worker.serve(serve_connection(handler, worker, timeout), timeout)
