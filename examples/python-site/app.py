"""python-site: the example site in Python, with the same answers as hello-worker.

Every request gets 200 "hello from SITE (pid N)\\n", plus "received N bytes\\n" when it
had a body; a WebSocket upgrade on any path echoes text and binary messages. Started by
vhostd (a site's `command = ["python3", "app.py"]`); see README.md next to this file.
"""

import os
import sys

# The SDK is a stdlib-only package; this finds it in the repository without installing it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

import vhostd_worker  # noqa: E402

GREETING = f"hello from {os.environ.get('VHOSTD_SITE', '')} (pid {os.getpid()})\n"


def app(environ, start_response):
    body = environ["wsgi.input"].read()   # the SDK's wsgi.input ends where the body ends
    text = GREETING + (f"received {len(body)} bytes\n" if body else "")
    data = text.encode()
    start_response("200 OK", [("Server", "python-site"), ("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]


def websocket(handler, environ):
    ws = vhostd_worker.WebSocket.accept(handler, environ)
    if ws is None:
        return                            # not a valid handshake: it answered 400
    for message in ws:                    # str or bytes, until the client closes
        ws.send(message)                  # echoed as it came: text as text, binary as binary


if __name__ == "__main__":
    try:
        vhostd_worker.serve_wsgi(app, websocket=websocket)
    except vhostd_worker.NotStartedByVhostd as e:
        sys.exit(f"python-site: {e}")
