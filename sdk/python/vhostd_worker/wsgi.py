"""A WSGI application (PEP 3333) on the connections vhostd hands over: serve_wsgi()."""

from __future__ import annotations

import email.utils
import http.server
import sys
import traceback
import urllib.parse
from typing import Optional

from .http_handler import VhostdRequestHandling, serve_connection
from .sockets import log
from .worker import DEFAULT_TIMEOUT, Worker
from .request_head import HeadRefused
from .wsgi_input import BadBody, ChunkedInput, LengthInput

BODY_DISCARD_LIMIT = 1 << 20   # unread request body we skip to keep a connection alive

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}


def header_tokens(value: Optional[str]) -> set:
    return {token.strip().lower() for token in (value or "").split(",")}


class _WSGIHandler(VhostdRequestHandling, http.server.BaseHTTPRequestHandler):
    """Runs a WSGI application (PEP 3333) for every request, whatever its method."""

    def log_request(self, code="-", size="-"):
        pass   # vhostd's access log has the connections; errors still go to stderr

    def vhostd_dispatch(self):
        environ, body = self._environ()
        websocket = self.server.websocket
        if websocket is not None and self.vhostd_head.websocket_upgrade:
            # The hook owns the connection from here; it closes when the hook returns.
            self.close_connection = True
            self.vhostd_worker.websocket_opened()
            try:
                websocket(self, environ)
            finally:
                self.vhostd_worker.websocket_closed()
            return
        self._run_application(environ, body)

    def _environ(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:        # absolute-form: keep path and query
            parts = urllib.parse.urlsplit(target)
            target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        info = self.vhostd_info
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_name,
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": info.remote_address,
            "REMOTE_PORT": str(info.remote_port),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if info.tls else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,         # reading to the end of wsgi.input is safe
            "vhostd.connection": info,
            "vhostd.worker": self.vhostd_worker,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if "_" in name:
                continue                           # X_Foo would pass for X-Foo (as wsgiref)
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            elif "HTTP_" + key in environ:
                environ["HTTP_" + key] += "," + value
            else:
                environ["HTTP_" + key] = value

        head = self.vhostd_head                     # framing checked by the grammar already
        if head.framing == "chunked":
            environ.pop("CONTENT_LENGTH", None)
            body = ChunkedInput(self.rfile)
        else:
            body = LengthInput(self.rfile, head.content_length)
        environ["wsgi.input"] = body
        return environ, body

    def _run_application(self, environ, body):
        response = _Response(self)
        result = None
        try:
            result = self.server.application(environ, response.start_response)
            if not response.headers_sent and isinstance(result, (list, tuple)):
                response.body_length = sum(len(chunk) for chunk in result)  # no chunking needed
            for chunk in result:
                if chunk:
                    response.write(chunk)
            response.finish()
        except BadBody as bad:
            if response.headers_sent:
                self.close_connection = True
            else:
                self._vhostd_refuse(HeadRefused(400, str(bad)))
            return
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception:
            log(f"vhostd: the application failed on {self.command} {self.path}:\n"
                 f"{traceback.format_exc()}")
            self.close_connection = True
            if not response.headers_sent:
                self.send_error(500)
            return
        finally:
            if hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    log(f"vhostd: close() of the application's result failed:\n{traceback.format_exc()}")
        self.vhostd_worker.request_served()
        if not self.close_connection and not body.discard(BODY_DISCARD_LIMIT):
            self.close_connection = True


class _Response:
    """start_response and the response framing: Content-Length when it is known, chunked
    otherwise (HTTP/1.1), or the end of the connection (HTTP/1.0)."""

    def __init__(self, handler: _WSGIHandler):
        self.handler = handler
        self.status = None
        self.headers = []
        self.headers_sent = False
        self.body_length = None        # known before the first write for list results
        self.length = None             # what the framing promises, if a length
        self.chunked = False
        self.written = 0
        self.no_body = handler.command == "HEAD"

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not (isinstance(status, str) and len(status) >= 3 and status[:3].isdigit()):
            raise AssertionError(f"bad WSGI status {status!r}")
        self.status, self.headers = status, list(headers)
        return self.write

    def _send_head(self, first_chunk: bytes):
        handler = self.handler
        if self.status is None:
            raise AssertionError("the application wrote a body before start_response")
        code = int(self.status[:3])
        self.no_body = self.no_body or code in (204, 304) or code < 200
        lines = [f"{handler.protocol_version} {self.status}"]
        names = set()
        for name, value in self.headers:
            lower = name.lower()
            if lower in HOP_BY_HOP:
                if lower == "connection" and "close" in header_tokens(value):
                    handler.close_connection = True
                continue                           # framing and connection are ours
            names.add(lower)
            if lower == "content-length":
                self.length = int(value)
            lines.append(f"{name}: {value}")
        if "date" not in names:
            lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        if not self.no_body and self.length is None:
            if self.body_length is not None:
                self.length = self.body_length
                lines.append(f"Content-Length: {self.length}")
            elif handler.request_version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked")
            else:
                handler.close_connection = True    # the end of the body is the end of the connection
        if handler.vhostd_worker.draining:
            handler.close_connection = True
        if handler.close_connection:
            lines.append("Connection: close")
        elif handler.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self.headers_sent = True
        handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self._frame(first_chunk))

    def _frame(self, data: bytes) -> bytes:
        if self.no_body or not data:
            return b""
        if self.length is not None:
            data = data[:max(self.length - self.written, 0)]   # never past the promised length
        self.written += len(data)
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(data), data)
        return data

    def write(self, data: bytes):
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")
        if not self.headers_sent:
            self._send_head(bytes(data))           # one write: head and first chunk together
        else:
            framed = self._frame(bytes(data))
            if framed:
                self.handler.wfile.write(framed)

    def finish(self):
        if not self.headers_sent:
            self._send_head(b"")
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        elif self.length is not None and not self.no_body and self.written != self.length:
            self.handler.close_connection = True   # short body: the framing is broken


def serve_wsgi(application, websocket=None, *, worker: Optional[Worker] = None,
               timeout: float = DEFAULT_TIMEOUT) -> None:
    """Serves a WSGI application on the connections vhostd hands over: HTTP/1.1 with
    keep-alive and pipelining, until vhostd drains the worker; returns when every connection
    has ended. Says ready first (pass your own Worker to say it earlier or later).

    `websocket(handler, environ)`, if given, receives every request that asks for a
    WebSocket upgrade (`Upgrade: websocket`): WebSocket.accept(handler, environ) answers the
    handshake. The connection counts as a WebSocket session until the hook returns, then
    closes."""
    worker = worker or Worker()
    worker.serve(serve_connection(_WSGIHandler, worker, timeout,
                                   application=application, websocket=websocket), timeout)
