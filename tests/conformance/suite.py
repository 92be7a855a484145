"""The conformance suite's state: the worker under test (a fresh one where a case needs it),
the listener its connections come from, and the handoff the way vhostd does it."""

from __future__ import annotations

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure, wait_until  # noqa: E402
from http_client import HOST, WAIT, Client, Response  # noqa: E402
from vhostd_side import Channel, WorkerProcess, vhostd_env  # noqa: E402

SITE = "conformance"


class NoWorker(Failure):
    """A case cannot run: no worker ever said ready (that case showed its output)."""



class Suite:
    def __init__(self, command, runtime):
        self.command = command
        self.env = vhostd_env(SITE, runtime)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.port = self.listener.getsockname()[1]
        self.workers = []          # every worker started, killed at the end
        self.worker = None         # the one the cases talk to
        self.never_ready = None    # set when a worker failed to say ready: later cases stop
        self.next_id = 1

    # Workers.
    def start_worker(self, ready_timeout=10.0):
        """A fresh worker that has said ready; the time it took, in seconds."""
        if self.never_ready:
            raise NoWorker(f"no worker to test: {self.never_ready}")
        if self.worker is not None and self.worker.alive():
            self.worker.kill()
        self.worker = WorkerProcess(self.command, self.env)
        self.workers.append(self.worker)
        try:
            channel = self.worker.channel
            channel.wait(lambda: channel.commands("vhostd:ready") or channel.eof,
                         ready_timeout, "vhostd:ready")
            if not channel.commands("vhostd:ready"):
                raise Failure(f"the worker closed the channel (exit status {self.worker.exit_status(1)}) "
                              "without saying vhostd:ready")
        except Failure as e:
            self.never_ready = str(e)
            raise
        return channel.commands("vhostd:ready")[0][0] - self.worker.started

    def ensure_worker(self):
        if self.never_ready:
            raise NoWorker(f"no worker to test: {self.never_ready}")
        if self.worker is None or not self.worker.alive():
            self.start_worker()
        return self.worker

    @property
    def channel(self) -> Channel:
        return self.worker.channel

    # Connections.
    def tcp_pair(self):
        """A client socket and the server side the listener accepted (blocking, as vhostd hands it)."""
        client = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        server, _ = self.listener.accept()
        server.setblocking(True)
        return client, server

    def metadata(self, client_address, host=HOST, websocket=False, head_length=0, **extra):
        connection_id = self.next_id
        self.next_id += 1
        return {"id": connection_id, "site": SITE, "remoteAddress": client_address[0],
                "remotePort": client_address[1], "localAddress": "127.0.0.1",
                "localPort": self.port, "host": host, "websocket": websocket,
                "headLength": head_length, **extra}

    def hand(self, server: socket.socket, msg: dict) -> int:
        """Sends NODE_HANDLE with the fd; returns the handle's number (1, 2, ...)."""
        self.channel.send({"cmd": "NODE_HANDLE", "type": "net.Socket", "msg": msg}, server.fileno())
        return self.channel.handed

    def wait_ack(self, number, timeout=WAIT):
        channel = self.channel
        channel.wait(lambda: channel.acks >= number or channel.eof, timeout,
                     f"NODE_HANDLE_ACK for handle {number}")
        if channel.acks < number:
            raise Failure(f"the worker closed the channel (exit status {self.worker.exit_status(1)}) "
                          f"before handle {number} was acknowledged")

    def connect(self, first_bytes=b"", host=HOST, websocket=False, name="client") -> Client:
        """A connection handed over the way vhostd does it: the client's first request is
        peeked (left in the socket) until its head is complete, the socket is handed with
        one fd, and vhostd's copy is closed once the worker acknowledges it."""
        client, server = self.tcp_pair()
        head_length = 0
        if first_bytes:
            client.sendall(first_bytes)
            head = wait_until(lambda: self._peek_head(server), WAIT, "the request head in the socket",
                              poll=0.001)
            head_length = head
        number = self.hand(server, self.metadata(client.getsockname(), host, websocket, head_length))
        try:
            self.wait_ack(number)
        finally:
            server.close()
        return Client(client, name)

    @staticmethod
    def _peek_head(server):
        readable, _, _ = select.select([server], [], [], 0.1)
        if not readable:
            return 0
        data = server.recv(65536, socket.MSG_PEEK)
        end = data.find(b"\r\n\r\n")
        return end + 4 if end >= 0 else 0

    # Checks.
    def expect_hello(self, response: Response, received=0, what="the answer"):
        greeting = f"hello from {SITE} (pid {self.worker.pid})\n"
        expected = greeting + (f"received {received} bytes\n" if received else "")
        if response.status != 200 or response.body != expected.encode():
            raise Failure(f"{what}: got {response.status} {response.body[:200]!r}, "
                          f"expected 200 {expected!r}")

    def settle(self, timeout=WAIT):
        """A heartbeat sent after everything so far was answered and closed: active == 0."""
        now = time.monotonic()
        return self.channel.heartbeat_after(now, lambda hb: hb["active"] == 0, timeout,
                                            "a heartbeat with active == 0")

    def cleanup(self):
        for worker in self.workers:
            worker.kill()
        self.listener.close()
