"""The Python worker SDK for vhostd: standard library only (Python 3.9+).

A worker started by vhostd finds the channel at VHOSTD_CHANNEL_FD, says ready, and then
receives client connections with their first request still unread (docs/protocol.md).
This package does the channel part and serves HTTP/1.1 on the connections it is given:

    import vhostd_worker

    def app(environ, start_response):                     # any WSGI application
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello\\n"]

    vhostd_worker.serve_wsgi(app)   # says ready, serves until vhostd drains the worker, returns

Also: serve_handler(HandlerClass) for an http.server.BaseHTTPRequestHandler subclass,
WebSocket.accept() for a minimal RFC 6455 server side, and Worker for serving the raw
sockets yourself. One thread per connection; every socket has a timeout, so a silent client
holds a thread for at most that long.

The processes of a site talk through vhostd (docs/protocol.md, section 12): Worker.send()
and Worker.call() (the WSGI environ has the worker as environ["vhostd.worker"]),
Worker.on_message() and Worker.on_task(), and serve_singleton(methods) for the site's
singleton process, which answers the calls:

    vhostd_worker.serve_singleton({"config.get": lambda args, sender: CONFIG[args[0]]})

Not supported: passthrough TLS sites (tls_mode = "passthrough"); such connections are
closed with a message on stderr. Terminate mode (the default) needs no TLS code at all.
"""

from .channel import ConnectionInfo, started_by_vhostd
from .errors import CallError, NotStartedByVhostd
from .host import normalize_host, same_host
from .http_handler import VhostdRequestHandling, serve_handler
from .singleton import serve_singleton
from .websocket import WebSocket
from .worker import Worker
from .wsgi import serve_wsgi

__all__ = [
    "CallError", "ConnectionInfo", "NotStartedByVhostd", "VhostdRequestHandling", "WebSocket",
    "Worker", "normalize_host", "same_host", "serve_handler", "serve_singleton", "serve_wsgi",
    "started_by_vhostd",
]
