#!/usr/bin/env python3
"""The worker protocol conformance suite: one set of checks every worker SDK passes.

    python3 tests/conformance/conformance.py [--runtime node] -- WORKER_COMMAND...

It plays vhostd's side of the channel (docs/protocol.md) for real: the worker is started
with a Unix socketpair end at fd 3, in a process group of its own, with the environment
vhostd gives (plus NODE_CHANNEL_FD=3 and NODE_CHANNEL_SERIALIZATION_MODE=json with
--runtime node), and is handed real TCP connections accepted on 127.0.0.1 from real client
sockets. The worker must answer like examples/hello-worker: 200 "hello from conformance
(pid N)\\n", plus "received N bytes\\n" for a request with a body, and echo WebSocket
messages.

Prints TAP (`ok N - name`, `not ok N - name: reason`, the worker's output as `#` lines on a
failure) and exits 1 if any case fails. Every wait is bounded; the whole run is cut off
after --time-limit seconds; every worker started is killed by process group at the end.
Standard library only; behind_vhostd.py reuses the HTTP and WebSocket client below, and
tests/bus/bus_protocol_test.py vhostd's side of the channel and the process it starts.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure, run_cases, tap_comments, wait_until  # noqa: E402

SITE = "conformance"
HOST = "conformance.test"
HEARTBEAT_INTERVAL_MS = 100
WAIT = 5.0                  # the default bound on any wait, in seconds
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class NoWorker(Failure):
    """A case cannot run: no worker ever said ready (that case showed its output)."""


# --- an HTTP/1.1 and WebSocket client on a raw socket ------------------------------------

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers          # [(lower-case name, value)]
        self.body = body

    def header(self, name):
        values = [v for n, v in self.headers if n == name.lower()]
        return ", ".join(values) if values else None

    def closes(self):
        return "close" in (self.header("Connection") or "").lower()

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.body[:80]!r}>"


class Client:
    """One client connection. Reads are bounded by a deadline; a timeout raises Failure."""

    def __init__(self, sock: socket.socket, name="client"):
        self.sock, self.name = sock, name
        self.buffer = b""
        self.eof = False

    def send(self, data: bytes):
        self.sock.settimeout(WAIT)    # not what the last read left of its deadline
        self.sock.sendall(data)

    def _more(self, deadline, what):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failure(f"{self.name}: timed out waiting for {what}")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Failure(f"{self.name}: timed out waiting for {what}") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def read_exact(self, n, deadline, what="data"):
        while len(self.buffer) < n:
            if not self._more(deadline, what):
                raise Failure(f"{self.name}: the connection closed while waiting for {what} "
                              f"(had {self.buffer[:200]!r})")
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_line(self, deadline, what="a line"):
        while b"\r\n" not in self.buffer:
            if not self._more(deadline, what):
                raise Failure(f"{self.name}: the connection closed while waiting for {what} "
                              f"(had {self.buffer[:200]!r})")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def response(self, timeout=WAIT, what="a response", head_request=False) -> Response:
        deadline = time.monotonic() + timeout
        while True:
            status_line = self.read_line(deadline, what).decode("latin-1")
            match = re.fullmatch(r"(HTTP/1\.[01]) (\d{3})(?: (.*))?", status_line)
            if not match:
                raise Failure(f"{self.name}: not a status line: {status_line!r}")
            headers = []
            while True:
                line = self.read_line(deadline, what).decode("latin-1")
                if not line:
                    break
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
            status = int(match.group(2))
            if status != 100:                    # an interim 100 Continue: read on
                break
        response = Response(match.group(1), status, match.group(3) or "", headers, b"")
        if head_request or status in (101, 204, 304):
            return response
        if "chunked" in (response.header("Transfer-Encoding") or "").lower():
            body = b""
            while True:
                size = int(self.read_line(deadline, what).split(b";")[0], 16)
                if size == 0:
                    while self.read_line(deadline, what):
                        pass
                    break
                body += self.read_exact(size, deadline, what)
                self.read_exact(2, deadline, what)
            response.body = body
        elif response.header("Content-Length") is not None:
            response.body = self.read_exact(int(response.header("Content-Length")), deadline, what)
        else:                                     # delimited by the end of the connection
            while self._more(deadline, what):
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def expect_eof(self, timeout=WAIT, what="the worker to close the connection"):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if self.buffer:
                raise Failure(f"{self.name}: unexpected bytes while waiting for {what}: {self.buffer[:200]!r}")
            self._more(deadline, what)
        if self.buffer:
            raise Failure(f"{self.name}: unexpected bytes before the end: {self.buffer[:200]!r}")

    def close(self):
        self.sock.close()

    # WebSocket frames (RFC 6455): the client masks, the server must not.
    def send_frame(self, opcode, payload: bytes, fin=True):
        mask = os.urandom(4)
        length = len(payload)
        first = (0x80 if fin else 0) | opcode
        if length < 126:
            head = struct.pack("!BB", first, 0x80 | length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.send(head + mask + masked)

    def read_frame(self, timeout=WAIT, what="a WebSocket frame"):
        deadline = time.monotonic() + timeout
        first, second = self.read_exact(2, deadline, what)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.read_exact(2, deadline, what))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.read_exact(8, deadline, what))[0]
        if second & 0x80:
            raise Failure(f"{self.name}: the server masked a WebSocket frame (RFC 6455 5.1)")
        return bool(first & 0x80), first & 0x0F, self.read_exact(length, deadline, what)


def request(method="GET", path="/", host=HOST, body=None, headers=(), version="HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", f"Host: {host}", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def websocket_request(path="/echo", host=HOST):
    key = base64.b64encode(os.urandom(16)).decode()
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    head = request("GET", path, host, headers=(
        "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13"))
    return head, accept


def check_websocket_upgrade(response: Response, accept: str):
    if response.status != 101:
        raise Failure(f"the upgrade got {response.status} {response.reason}, expected 101 ({response.body[:100]!r})")
    if (response.header("Upgrade") or "").lower() != "websocket":
        raise Failure(f"101 without Upgrade: websocket ({response.headers})")
    if response.header("Sec-WebSocket-Accept") != accept:
        raise Failure(f"Sec-WebSocket-Accept is {response.header('Sec-WebSocket-Accept')!r}, expected {accept!r}")


def read_message(client: Client, timeout=WAIT, what="a WebSocket message"):
    """(opcode, payload) of the next data message, its fragments joined (RFC 6455 5.4)."""
    deadline = time.monotonic() + timeout
    fin, opcode, payload = client.read_frame(max(deadline - time.monotonic(), 0.01), what)
    while not fin:
        fin, continuation, more = client.read_frame(max(deadline - time.monotonic(), 0.01), what)
        if continuation != 0x0:
            raise Failure(f"opcode {continuation} inside a fragmented message, expected a continuation")
        payload += more
    return opcode, payload


def check_echo(client: Client, opcode: int, payload: bytes):
    client.send_frame(opcode, payload)
    got_opcode, got = read_message(client, what="the echo")
    kind = "text" if opcode == 1 else "binary"
    if got_opcode != opcode or got != payload:
        raise Failure(f"the {kind} echo is opcode {got_opcode} with {len(got)} bytes {got[:60]!r}, "
                      f"expected opcode {opcode} with {len(payload)} bytes {payload[:60]!r}")


# --- vhostd's side of the channel --------------------------------------------------------

class Channel:
    """vhostd's end of a worker's channel. Sends lines (NODE_HANDLE with its fd, as vhostd
    does: one sendmsg, one fd); a thread reads what the worker sends, checks its form and
    keeps it, with the time it arrived, for the waits below."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.changed = threading.Condition()
        self.messages = []     # (monotonic time, dict), in arrival order
        self.errors = []       # what the worker did wrong on the channel
        self.handed = 0        # NODE_HANDLE sent
        self.acks = 0          # NODE_HANDLE_ACK received
        self.eof = False
        threading.Thread(target=self._read, name="channel-reader", daemon=True).start()

    def _error(self, text):
        with self.changed:
            self.errors.append(text)
            self.changed.notify_all()

    def _read(self):
        buffer = b""
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            except OSError:
                break
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for fd in struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) // 4 * 4]):
                        os.close(fd)
                    self._error("the worker attached file descriptors to a message (protocol.md 4)")
            if not data:
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self._take(line)
            if len(buffer) > 64 * 1024:
                self._error("a line longer than 64 KiB from the worker")
                buffer = b""
        with self.changed:
            self.eof = True
            self.changed.notify_all()

    def _take(self, line: bytes):
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("cmd"), str):
            self._error(f"a line that is not a JSON object with a string cmd: {line[:200]!r}")
            return
        command = message["cmd"]
        if command == "vhostd:heartbeat":
            for member in ("active", "requests", "websockets"):
                value = message.get(member)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    self._error(f"a heartbeat whose {member} is not a non-negative integer: {message}")
        elif command == "NODE_HANDLE":
            self._error("the worker sent NODE_HANDLE")
        with self.changed:
            if command == "NODE_HANDLE_ACK":
                self.acks += 1
                if self.acks > self.handed:
                    self.errors.append(f"NODE_HANDLE_ACK number {self.acks} with only {self.handed} handles sent")
            self.messages.append((time.monotonic(), message))
            self.changed.notify_all()

    def send(self, message: dict, fd=None):
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        if message.get("cmd") == "NODE_HANDLE":
            with self.changed:
                self.handed += 1
        if fd is None:
            self.sock.sendall(line)
        else:
            socket.send_fds(self.sock, [line], [fd])

    def wait(self, condition, timeout, what):
        """Waits until `condition()` (called with the lock held) returns something true."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                result = condition()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(f"timed out after {timeout:g} s waiting for {what}")
                self.changed.wait(remaining)

    def commands(self, command, since=0.0):
        return [(t, m) for t, m in self.messages if m["cmd"] == command and t >= since]

    def heartbeat_after(self, since, condition=lambda hb: True, timeout=WAIT, what="a heartbeat"):
        """The first heartbeat that arrived after `since` and satisfies `condition`."""
        def found():
            for t, m in self.messages:
                if t > since and m["cmd"] == "vhostd:heartbeat" and condition(m):
                    return m
            return None
        return self.wait(found, timeout, what)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def vhostd_env(site, runtime):
    """The environment vhostd gives a process of `site` (with `runtime` node, Node's IPC too),
    on top of ours without its VHOSTD_* and NODE_CHANNEL*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VHOSTD_") and not k.startswith("NODE_CHANNEL")}
    env.update(VHOSTD_CHANNEL_FD="3", VHOSTD_PROTOCOL="1", VHOSTD_SITE=site,
               VHOSTD_WORKER_SLOT="0", VHOSTD_GENERATION="1",
               VHOSTD_HEARTBEAT_INTERVAL_MS=str(HEARTBEAT_INTERVAL_MS))
    if runtime == "node":
        env.update(NODE_CHANNEL_FD="3", NODE_CHANNEL_SERIALIZATION_MODE="json")
    return env


class ChildProcess:
    """A process started the way vhostd starts one: fd 0 /dev/null, 1 and 2 the fds `stdout`
    and `stderr`, 3 the channel, its own process group (setsid: pgid = pid)."""

    def __init__(self, command, env, stdout, stderr):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        # Sources above 10, so no dup2 below overwrites a source it still needs.
        sources = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (devnull, stdout, stderr, child.fileno())]
        try:
            actions = [(os.POSIX_SPAWN_DUP2, source, target) for target, source in enumerate(sources)]
            self.pid = os.posix_spawnp(command[0], command, env, file_actions=actions, setsid=True)
        except OSError:
            parent.close()
            raise
        finally:
            for fd in sources + [devnull]:
                os.close(fd)
            child.close()
        self.started = time.monotonic()
        self.pidfd = os.pidfd_open(self.pid)
        self.status = None
        self.channel = Channel(parent)

    def exit_status(self, timeout=0.0):
        """The exit code (negative: killed by that signal), or None if it still runs after `timeout`."""
        if self.status is None and self.pidfd >= 0:
            readable, _, _ = select.select([self.pidfd], [], [], timeout)
            if readable:
                _, status = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def alive(self):
        return self.exit_status() is None

    def kill(self):
        if self.pidfd < 0:
            return                                # killed already
        try:                                      # it, and anything it left in its group
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_status(timeout=5)
        self.channel.close()
        os.close(self.pidfd)
        self.pidfd = -1


class WorkerProcess(ChildProcess):
    """A worker, its stdout and stderr to files (shown on failure)."""

    def __init__(self, command, env):
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        super().__init__(command, env, self.stdout.fileno(), self.stderr.fileno())

    def output(self, lines=40):
        text = []
        for name, f in (("stdout", self.stdout), ("stderr", self.stderr)):
            f.seek(0)
            content = f.read().decode("utf-8", "replace").splitlines()
            text.append(f"worker {self.pid} {name} ({len(content)} lines, last {lines}):")
            text.extend("  " + line for line in content[-lines:])
        return text


# --- the suite ---------------------------------------------------------------------------

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


# --- the cases: each raises Failure to fail ----------------------------------------------

def case_ready(suite: Suite):
    """ready within 10 s"""
    took = suite.start_worker(ready_timeout=10.0)
    return f"ready after {took:.3f} s"


def case_heartbeats(suite: Suite):
    """heartbeats at about the interval, with integer counters"""
    suite.ensure_worker()
    channel = suite.channel
    ready_at = channel.commands("vhostd:ready")[0][0]
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", ready_at)) >= 10, WAIT,
                 "10 heartbeats after vhostd:ready")
    beats = channel.commands("vhostd:heartbeat", ready_at)
    first = beats[0][0] - ready_at
    if first > 1.0:
        raise Failure(f"the first heartbeat came {first:.3f} s after ready; expected right after it")
    # The average over the whole run, not each gap: arrival times are stamped by this
    # process, and on a loaded machine its reader may take several heartbeats at once.
    average = (beats[-1][0] - beats[0][0]) / (len(beats) - 1) * 1000
    if not 0.5 * HEARTBEAT_INTERVAL_MS <= average <= 3 * HEARTBEAT_INTERVAL_MS:
        raise Failure(f"heartbeats every {average:.0f} ms on average, expected about "
                      f"{HEARTBEAT_INTERVAL_MS} ms (VHOSTD_HEARTBEAT_INTERVAL_MS)")
    # The counters' form is checked on every heartbeat by the channel reader.
    return f"first {first * 1000:.0f} ms after ready, every {average:.0f} ms on average"


def case_acks(suite: Suite):
    """one ack per handle, in order, before the client sends a byte"""
    suite.ensure_worker()
    channel = suite.channel
    # Three connections handed back to back, with nothing sent yet: the worker must
    # acknowledge each without waiting for the request. Each gets its own routed host, so
    # a worker pairing fds and metadata out of order answers the later requests 421.
    clients, hosts, first = [], [], None
    for i in range(3):
        client, server = suite.tcp_pair()
        hosts.append(f"h{i}.{HOST}")
        number = suite.hand(server, suite.metadata(client.getsockname(), hosts[i]))
        first = first or number
        clients.append((Client(client, f"client {i}"), server))
    try:
        suite.wait_ack(first + 2)
    finally:
        for _, server in clients:
            server.close()
    if channel.acks != channel.handed:
        raise Failure(f"{channel.acks} acks for {channel.handed} handles")
    # Now the requests, each head in two pieces with a pause between them.
    for i, (client, _) in enumerate(clients):
        client.send(f"GET /late HTTP/1.1\r\nHo".encode())
    time.sleep(0.2)   # deliberately: the rest of the head comes late
    for i, (client, _) in enumerate(clients):
        client.send(f"st: {hosts[i]}\r\n\r\n".encode())
    for i, (client, _) in enumerate(clients):
        suite.expect_hello(client.response(), what=f"client {i}'s late request")
        client.send(request(host=hosts[i]))
        suite.expect_hello(client.response(), what=f"client {i}'s second request (Host {hosts[i]})")
        client.close()
    if channel.acks != channel.handed:
        raise Failure(f"{channel.acks} acks for {channel.handed} handles")


def case_keep_alive(suite: Suite):
    """keep-alive: 3 requests on one connection"""
    suite.ensure_worker()
    client = suite.connect(request(path="/one"))
    for i, path in enumerate(["/one", "/two", "/three"]):
        if i:
            client.send(request(path=path))
        response = client.response(what=f"request {i + 1}")
        suite.expect_hello(response, what=f"request {i + 1}")
        if response.closes():
            raise Failure(f"request {i + 1} was answered with Connection: close")
    client.close()


def case_pipelining(suite: Suite):
    """pipelining: 3 requests in one write, 3 answers in order"""
    suite.ensure_worker()
    burst = request(path="/a") + request("POST", "/b", body=b"12345") + request("POST", "/c", body=b"1234567")
    client = suite.connect(burst)
    for i, received in enumerate([0, 5, 7]):
        suite.expect_hello(client.response(what=f"answer {i + 1}"), received, f"answer {i + 1}")
    client.close()


def case_post_body(suite: Suite):
    """POST body: "received N bytes" (Content-Length and chunked)"""
    suite.ensure_worker()
    client = suite.connect(request("POST", "/small", body=b"x" * 1000))
    suite.expect_hello(client.response(), 1000, "a 1000-byte body")
    # A chunked body of 300 + 700 bytes.
    client.send(request("POST", "/chunked", headers=("Transfer-Encoding: chunked",))
                + b"12c\r\n" + b"a" * 300 + b"\r\n2bc;ext=1\r\n" + b"b" * 700 + b"\r\n0\r\n\r\n")
    suite.expect_hello(client.response(), 1000, "a chunked body of 1000 bytes")
    # A large body that arrives after the handoff, in pieces.
    big = os.urandom(200_000)
    client.send(request("POST", "/big", headers=(f"Content-Length: {len(big)}",)))
    for offset in range(0, len(big), 50_000):
        client.send(big[offset:offset + 50_000])
    suite.expect_hello(client.response(), len(big), "a 200000-byte body")
    client.close()


def case_counters(suite: Suite):
    """heartbeat requests rises by exactly the requests served; active returns to 0"""
    suite.ensure_worker()
    channel = suite.channel
    baseline = suite.settle()["requests"]
    a = suite.connect(request(path="/1"), name="connection A")
    suite.expect_hello(a.response())
    opened = time.monotonic()
    channel.heartbeat_after(opened, lambda hb: hb["active"] >= 1, WAIT,
                            "a heartbeat with active >= 1 while a connection is open")
    for path in ("/2", "/3"):
        a.send(request(path=path))
        suite.expect_hello(a.response())
    b = suite.connect(request(path="/4") + request(path="/5", headers=("Connection: close",)),
                      name="connection B")
    suite.expect_hello(b.response())
    suite.expect_hello(b.response())
    b.expect_eof(what="the worker to close connection B after Connection: close")
    a.close()
    b.close()
    expected = baseline + 5
    closed = time.monotonic()
    beat = channel.heartbeat_after(closed, lambda hb: hb["requests"] >= expected and hb["active"] == 0,
                                   WAIT, f"a heartbeat with requests == {expected} and active == 0")
    if beat["requests"] != expected:
        raise Failure(f"requests went from {baseline} to {beat['requests']} for 5 requests")
    seen = time.monotonic()
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", seen)) >= 3, WAIT, "3 more heartbeats")
    later = {m["requests"] for _, m in channel.commands("vhostd:heartbeat", seen)}
    if later != {expected}:
        raise Failure(f"requests should stay {expected}, the next heartbeats say {sorted(later)}")
    return f"requests {baseline} -> {expected}"


def case_websocket(suite: Suite):
    """WebSocket: upgrade, echo, websockets = 1 while open, then 0"""
    suite.ensure_worker()
    channel = suite.channel
    head, accept = websocket_request()
    client = suite.connect(head, websocket=True, name="websocket")
    check_websocket_upgrade(client.response(what="the 101 answer"), accept)
    check_echo(client, 0x1, "hello, conformance ✓".encode())
    check_echo(client, 0x2, bytes(range(256)) * 2)     # 512 bytes: a 16-bit length
    channel.heartbeat_after(time.monotonic(), lambda hb: hb["websockets"] == 1, WAIT,
                            "a heartbeat with websockets == 1 while the session is open")
    client.send_frame(0x8, struct.pack("!H", 1000))
    _, opcode, payload = client.read_frame(what="the close frame answering ours")
    if opcode != 0x8:
        raise Failure(f"expected a close frame, got opcode {opcode} {payload[:60]!r}")
    client.expect_eof(what="the worker to close the connection after the closing handshake")
    client.close()
    channel.heartbeat_after(time.monotonic(), lambda hb: hb["websockets"] == 0 and hb["active"] == 0,
                            WAIT, "a heartbeat with websockets == 0 and active == 0 after the close")


def case_misdirected(suite: Suite):
    """a later request for another Host on the same connection gets 421"""
    suite.ensure_worker()
    client = suite.connect(request(path="/first"))
    suite.expect_hello(client.response(), what="the first request")
    # The same host spelled differently is still this connection's host.
    client.send(request(host="CONFORMANCE.Test.:8080"))
    suite.expect_hello(client.response(), what="Host CONFORMANCE.Test.:8080 (the same host)")
    client.send(request(host="other.test"))
    response = client.response(what="the answer for Host other.test")
    if response.status != 421:
        raise Failure(f"Host other.test got {response.status} {response.body[:100]!r}, expected 421")
    client.expect_eof(what="the worker to close the connection after 421")
    client.close()


def case_misdirected_kelvin(suite: Suite):
    """a later request for Host \u212aiwi.example (UTF-8, a Kelvin sign) after kiwi.example gets 421"""
    suite.ensure_worker()
    client = suite.connect(request(path="/first", host="kiwi.example"), host="kiwi.example")
    suite.expect_hello(client.response(), what="the first request, for kiwi.example")
    # Unicode case folding makes the Kelvin sign a "k"; the front's ASCII-only grammar does not.
    client.send(request(host="kiwi.example").replace(b"Host: k", "Host: \u212a".encode()))
    response = client.response(what="the answer for Host \u212aiwi.example")
    if response.status != 421:
        raise Failure(f"Host \u212aiwi.example got {response.status} {response.body[:100]!r}, expected 421")
    client.expect_eof(what="the worker to close the connection after 421")
    client.close()


def case_unknown_message(suite: Suite):
    """unknown vhostd:* messages are ignored"""
    suite.ensure_worker()
    channel = suite.channel
    channel.send({"cmd": "vhostd:something", "payload": {"nested": [1, 2, 3]}, "n": 1})
    channel.send({"cmd": "vhostd:future-command"})
    sent = time.monotonic()
    client = suite.connect(request())
    suite.expect_hello(client.response(), what="a request after the unknown messages")
    client.close()
    channel.heartbeat_after(sent, timeout=WAIT, what="a heartbeat after the unknown messages")


def case_drain(suite: Suite):
    """drain: idle keep-alive closed, request in progress finished, heartbeats go on, exit 0"""
    worker = suite.ensure_worker()
    channel = suite.channel
    idle = suite.connect(request(path="/before-drain"), name="the idle connection")
    suite.expect_hello(idle.response())
    # A request in progress: its head is in, half of its body is not.
    busy = suite.connect(request("POST", "/slow", body=b"12345")[:-5] + b"12", name="the busy connection")
    channel.send({"cmd": "vhostd:drain"})
    drained = time.monotonic()
    idle.expect_eof(3.0, "the worker to close the idle keep-alive connection on drain")
    idle.close()
    if not worker.alive():
        raise Failure(f"the worker exited (status {worker.status}) with a request in progress")
    channel.wait(lambda: len(channel.commands("vhostd:heartbeat", drained)) >= 2, 3.0,
                 "heartbeats while draining")
    busy.send(b"345")
    response = busy.response(what="the answer to the request in progress")
    suite.expect_hello(response, 5, "the request in progress")
    if not response.closes():
        raise Failure("the answer while draining has no Connection: close (protocol.md 8)")
    busy.expect_eof(3.0, "the worker to close the connection after answering while draining")
    busy.close()
    status = worker.exit_status(timeout=5.0)
    if status is None:
        raise Failure("the worker was still running 5 s after its last connection ended")
    if status != 0:
        raise Failure(f"the worker exited with status {status}, expected 0")
    return f"exited {time.monotonic() - drained:.2f} s after the drain"


def case_channel_eof(suite: Suite):
    """channel EOF: idle connection closed, exit 0 within 5 s"""
    suite.start_worker()
    worker = suite.worker
    idle = suite.connect(request())
    suite.expect_hello(idle.response())
    worker.channel.close()          # vhostd is gone
    closed = time.monotonic()
    idle.expect_eof(WAIT, "the worker to close the idle connection at channel EOF")
    idle.close()
    status = worker.exit_status(timeout=max(0.0, 5.0 - (time.monotonic() - closed)))
    if status is None:
        raise Failure("the worker was still running 5 s after the channel closed")
    if status != 0:
        raise Failure(f"the worker exited with status {status} at channel EOF, expected 0")
    return f"exited {time.monotonic() - closed:.2f} s after EOF"


def case_split_handle(suite: Suite):
    """a NODE_HANDLE line split across two writes (the fd with its first bytes)"""
    suite.ensure_worker()
    channel = suite.channel
    client, server = suite.tcp_pair()
    client.sendall(request(path="/split"))
    line = json.dumps({"cmd": "NODE_HANDLE", "type": "net.Socket",
                       "msg": suite.metadata(client.getsockname())}, separators=(",", ":")).encode() + b"\n"
    with channel.changed:
        channel.handed += 1
    number = channel.handed
    # As vhostd does when the channel is nearly full: the fd goes with the line's first byte.
    socket.send_fds(channel.sock, [line[:9]], [server.fileno()])
    time.sleep(0.1)   # deliberately: the worker reads the first piece alone
    channel.sock.sendall(line[9:])
    try:
        suite.wait_ack(number)
    finally:
        server.close()
    c = Client(client)
    suite.expect_hello(c.response())
    c.close()


def case_unix_socket(suite: Suite):
    """a terminate-mode TLS connection (an AF_UNIX socketpair end) is served"""
    suite.ensure_worker()
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client.sendall(request(path="/tls"))
    tls = {"mode": "terminate", "serverName": HOST, "alpn": "http/1.1", "version": "TLSv1.3",
           "cipher": "TLS_AES_256_GCM_SHA384"}
    msg = suite.metadata(("192.0.2.7", 40123), head_length=len(request(path="/tls")), tls=tls)
    msg["localPort"] = 8443
    number = suite.hand(server, msg)
    try:
        suite.wait_ack(number)
    finally:
        server.close()
    c = Client(client, "relayed TLS client")
    suite.expect_hello(c.response(), what="the first request")
    c.send(request(path="/again", body=b"abc"))
    suite.expect_hello(c.response(), 3, "a second request on the socketpair")
    c.close()


CASES = [case_ready, case_heartbeats, case_acks, case_keep_alive, case_pipelining,
         case_post_body, case_counters, case_websocket, case_misdirected, case_misdirected_kelvin,
         case_unknown_message,
         case_drain, case_channel_eof, case_split_handle, case_unix_socket]

# Cases after which the worker is expected to be gone.
ENDS_WORKER = {case_drain, case_channel_eof}


def run_case(case, suite: Suite):
    """The case, then what every case must leave behind: no protocol error on the channel,
    and the worker alive unless the case ends it."""
    worker_before = suite.worker
    errors_before = len(worker_before.channel.errors) if worker_before else 0
    note = case(suite)
    worker = suite.worker
    errors = worker.channel.errors[errors_before if worker is worker_before else 0:]
    if errors:
        raise Failure("on the channel: " + "; ".join(errors[:3]))
    if case not in ENDS_WORKER and not worker.alive():
        raise Failure(f"the worker exited (status {worker.status})")
    return note


def worker_output(suite: Suite, case=None, error=None):
    """After a failure: the worker's last words (stopped first when the case was to end it)."""
    if suite.worker is None or isinstance(error, NoWorker):
        return
    if suite.worker.alive() and case in ENDS_WORKER:
        suite.worker.kill()
    suite.worker.exit_status(0.2)
    tap_comments(suite.worker.output())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s [--runtime node] -- WORKER_COMMAND...")
    parser.add_argument("--runtime", choices=["native", "node"], default="native",
                        help="node: also set NODE_CHANNEL_FD=3 and NODE_CHANNEL_SERIALIZATION_MODE=json")
    parser.add_argument("--time-limit", type=float, default=55.0,
                        help="stop the whole run after this many seconds (default 55)")
    parser.add_argument("command", nargs="+", help="the worker's command line")
    args = parser.parse_args()

    print(f"# worker: {' '.join(args.command)} (runtime {args.runtime})", flush=True)
    suite = Suite(args.command, args.runtime)
    try:
        failed = run_cases(CASES, suite, args.time_limit, run_case=run_case,
                           after_case=lambda case, error: error and worker_output(suite, case, error),
                           on_timeout=lambda: worker_output(suite))
    finally:
        suite.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
