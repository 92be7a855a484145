"""Small helpers on sockets and stderr, shared by the worker and the HTTP side."""

from __future__ import annotations

import socket
import sys
import time


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def close_gently(sock: socket.socket) -> None:
    """Our FIN, then close (as hello-worker does)."""
    if sock.fileno() < 0:
        return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


def has_buffered_bytes(sock: socket.socket, reader) -> bool:
    """True when `reader` (sock.makefile("rb")) has bytes buffered or the socket has some,
    without blocking: peek() does at most one read, which a zero timeout makes non-blocking."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return bool(reader.peek(1))
    except OSError:
        return True                                # let the real read report it
    finally:
        sock.settimeout(timeout)


def drain_before_close(sock: socket.socket, limit: int = 1 << 20, seconds: float = 2.0) -> None:
    """After a refusal's answer: our FIN, then what the client still sends is read and
    dropped (up to `limit` bytes, for up to `seconds`, until it closes), so that closing does
    not reset the connection before the client has read the answer."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline = time.monotonic() + seconds
    read = 0
    try:
        while read < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                return
            read += len(data)
    except OSError:
        return
