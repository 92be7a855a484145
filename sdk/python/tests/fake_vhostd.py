"""What the Python SDK's unit tests share: vhostd's end of a channel with a Worker serving
in a thread on the other end, a recording WSGI app, and the vector files of tests/vectors."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "..", "tests", "support")]
import vhostd_worker  # noqa: E402
from request_vectors import request_bytes as request_vector_bytes  # noqa: E402,F401
from vhostd_worker import Worker  # noqa: E402

WAIT = 5.0


class FakeVhostd:
    """vhostd's end of a channel, with a Worker serving in a thread on the other end."""

    def __init__(self, serve, **serve_kwargs):
        self.channel, worker_end = socket.socketpair()
        self.worker = Worker(environ={"VHOSTD_CHANNEL_FD": str(worker_end.detach()),
                                      "VHOSTD_SITE": "unit", "VHOSTD_HEARTBEAT_INTERVAL_MS": "50"})
        self.messages = []
        self.changed = threading.Condition()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.thread = threading.Thread(target=serve, kwargs=dict(worker=self.worker, timeout=WAIT, **serve_kwargs),
                                       daemon=True)
        self.thread.start()
        threading.Thread(target=self._read, daemon=True).start()
        self.handed = 0
        self.clients = []          # closed by stop()

    def _read(self):
        buffer = b""
        while True:
            try:
                data = self.channel.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            with self.changed:
                self.messages += [json.loads(line) for line in lines]
                self.changed.notify_all()

    def wait_for(self, condition, what):
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self.messages), WAIT):
                raise AssertionError(f"timed out waiting for {what}")

    def acks(self):
        return sum(1 for m in self.messages if m["cmd"] == "NODE_HANDLE_ACK")

    def last_heartbeat(self):
        return [m for m in self.messages if m["cmd"] == "vhostd:heartbeat"][-1]

    def hand(self, **meta) -> socket.socket:
        """A loopback TCP connection handed to the worker; returns the client's socket."""
        client = socket.create_connection(self.listener.getsockname(), timeout=WAIT)
        server, _ = self.listener.accept()
        server.setblocking(True)
        msg = {"id": self.handed + 1, "site": "unit", "remoteAddress": "192.0.2.9", "remotePort": 4321,
               "localAddress": "127.0.0.1", "localPort": 8080, "host": "unit.test", "websocket": False,
               "headLength": 0, **meta}
        self.send({"cmd": "NODE_HANDLE", "type": "net.Socket", "msg": msg}, server.fileno())
        self.handed += 1
        self.wait_for(lambda _: self.acks() >= self.handed, "the ack")
        server.close()
        self.clients.append(client)
        return client

    def http(self, **meta) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("unit.test", timeout=WAIT)
        connection.sock = self.hand(**meta)
        return connection

    def send(self, message, fd=None):
        line = json.dumps(message).encode() + b"\n"
        if fd is None:
            self.channel.sendall(line)
        else:
            socket.send_fds(self.channel, [line], [fd])

    def stop(self):
        try:
            self.send({"cmd": "vhostd:drain"})
        except OSError:
            pass
        self.thread.join(WAIT)
        finished = not self.thread.is_alive()
        for client in self.clients:
            client.close()
        self.channel.close()
        self.listener.close()
        return finished


def read_all(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


VECTORS = os.path.join(HERE, "..", "..", "..", "tests", "vectors")


def vectors(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def recording_app(seen):
    def app(environ, start_response):
        seen.append(dict(environ, body=environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


class ServesWsgi(unittest.TestCase):
    """A test serving a WSGI app behind a FakeVhostd, which must finish after the drain."""

    def serve(self, app, **kwargs):
        self.vhostd = FakeVhostd(vhostd_worker.serve_wsgi, application=app, **kwargs)
        return self.vhostd

    def tearDown(self):
        self.assertTrue(self.vhostd.stop(), "the worker did not finish after the drain")
