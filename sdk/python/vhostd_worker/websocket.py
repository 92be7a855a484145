"""WebSocket (RFC 6455), the server side, for the serve_wsgi() hook."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from typing import Optional


class WebSocket:
    """A minimal RFC 6455 server connection: text and binary messages, fragmentation,
    ping/pong and the closing handshake; no extensions. In the serve_wsgi hook:

        def websocket(handler, environ):
            ws = WebSocket.accept(handler, environ)
            if ws:
                for message in ws:      # str for text, bytes for binary, until closed
                    ws.send(message)
    """

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    MAX_MESSAGE = 16 << 20

    def __init__(self, sock: socket.socket, reader):
        self._sock, self._reader = sock, reader
        self._write_lock = threading.Lock()
        self.closed = False

    @classmethod
    def accept(cls, handler, environ, timeout: float = 300.0) -> Optional["WebSocket"]:
        """Answers the upgrade request with 101, or with 400 (returning None) if it is not a
        valid WebSocket handshake. `timeout`: how long the session may stay silent."""
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
        try:
            valid_key = len(base64.b64decode(key, validate=True)) == 16
        except ValueError:
            valid_key = False
        if (environ.get("REQUEST_METHOD") != "GET" or not valid_key
                or environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13"):
            body = b"not a valid WebSocket handshake\n"
            handler.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                b"Sec-WebSocket-Version: 13\r\nConnection: close\r\n"
                                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            return None
        accept = base64.b64encode(hashlib.sha1(key.encode() + cls.GUID).digest())
        handler.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        handler.connection.settimeout(timeout)
        # handler.rfile, not the socket: it may already hold the client's first frames.
        return cls(handler.connection, handler.rfile)

    def _read_exactly(self, n: int) -> bytes:
        data = self._reader.read(n)
        if len(data) != n:
            raise ConnectionError("the WebSocket connection ended")
        return data

    def _read_frame(self):
        first, second = self._read_exactly(2)
        opcode, fin, masked = first & 0x0F, bool(first & 0x80), bool(second & 0x80)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exactly(8))[0]
        if first & 0x70 or not masked:             # no extensions; clients must mask
            self.close(1002)
            raise ConnectionError("a protocol error on the WebSocket")
        if length > self.MAX_MESSAGE:
            self.close(1009)
            raise ConnectionError("a WebSocket frame too large")
        mask = self._read_exactly(4)
        payload = self._read_exactly(length)
        if length:
            # XOR with the mask repeated, as one big-integer operation instead of a byte loop.
            key = (mask * (length // 4 + 1))[:length]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
        return fin, opcode, payload

    def receive(self):
        """The next message: str (text) or bytes (binary); None once the session is closed."""
        parts, kind = [], None
        try:
            while not self.closed:
                fin, opcode, payload = self._read_frame()
                if opcode == 0x8:                  # close: answer it, then the session is over
                    code = payload[:2] if len(payload) >= 2 else b""
                    self._send_frame(0x8, code)
                    self.closed = True
                    return None
                if opcode == 0x9:
                    self._send_frame(0xA, payload)  # pong with the ping's data
                    continue
                if opcode == 0xA:
                    continue
                if opcode in (0x1, 0x2):
                    if kind is not None:
                        self.close(1002)
                        return None
                    kind = opcode
                elif opcode != 0x0 or kind is None:
                    self.close(1002)
                    return None
                parts.append(payload)
                if sum(map(len, parts)) > self.MAX_MESSAGE:
                    self.close(1009)
                    return None
                if fin:
                    data = b"".join(parts)
                    if kind == 0x2:
                        return data
                    try:
                        return data.decode("utf-8")
                    except UnicodeDecodeError:
                        self.close(1007)
                        return None
        except (OSError, ConnectionError, struct.error):
            self.closed = True
        return None

    def __iter__(self):
        return iter(self.receive, None)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self._write_lock:
            self._sock.sendall(head + payload)

    def send(self, message) -> None:
        """Sends a str as a text message, bytes as a binary one."""
        if isinstance(message, str):
            self._send_frame(0x1, message.encode("utf-8"))
        else:
            self._send_frame(0x2, bytes(message))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake; the connection closes when the hook returns."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8")[:123])
        except OSError:
            pass
