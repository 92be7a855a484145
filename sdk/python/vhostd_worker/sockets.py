"""Small helpers on sockets and stderr, shared by the worker and the HTTP side."""

from __future__ import annotations

import socket
import sys


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
