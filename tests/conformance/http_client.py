"""The conformance suite's HTTP/1.1 and WebSocket client on a raw socket, and the requests
it sends; behind_vhostd.py uses it too. Standard library only."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402

HOST = "conformance.test"
WAIT = 5.0                  # the default bound on any wait, in seconds
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


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
