"""The process's side of the channel: ready, heartbeats, the connections vhostd hands over,
and the drain. The message bus's half of the class is bus.MessageBus."""

from __future__ import annotations

import collections
import os
import select
import socket
import struct
import threading
import traceback
from typing import Callable, Optional

from .bus import MessageBus
from .channel import (MAX_FDS_PER_READ, MAX_LINE, ConnectionInfo, call_id_of, decode_line, encode_line,
                      heartbeat_interval_ms, int_or, sender_of, task_name_of, undeliverable_of)
from .errors import NotStartedByVhostd
from .sockets import close_gently, has_buffered_bytes, log

DEFAULT_TIMEOUT = 60.0        # seconds a connection may stay silent (idle or mid-request)


class Worker(MessageBus):
    """The process's side of the channel: a worker's, or the site's singleton's.

        worker = Worker()                 # raises NotStartedByVhostd outside vhostd
        worker.serve(on_connection)       # says ready; on_connection(sock, info) runs on a
                                          # thread per connection; returns after a drain

    `on_connection` owns a blocking socket.socket with a timeout; when it returns, the
    connection is shut down and closed, and it stops counting as active. Feed the counters
    with request_served() and websocket_opened()/websocket_closed(). Between requests on a
    kept-alive connection, call wait_for_request(): it is how a drain closes idle ones.

    The site's message bus, from any thread: send(to, data), call(method, args, timeout),
    and the callbacks on_message(), on_task() and on_undeliverable(), which run one at a
    time on a thread of their own, in the order the messages came; in the singleton,
    on_call(name, handler) for the calls it answers (see serve_singleton()).
    """

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        fd_text = env.get("VHOSTD_CHANNEL_FD")
        if fd_text is None:
            raise NotStartedByVhostd(
                "VHOSTD_CHANNEL_FD is not set: this worker must be started by vhostd "
                "(a site's `command`); see docs/protocol.md")
        try:
            fd = int(fd_text)
            self._channel = socket.socket(fileno=fd)
        except (ValueError, OSError) as e:
            raise NotStartedByVhostd(
                f"VHOSTD_CHANNEL_FD={fd_text!r} is not a usable channel socket: {e}") from None
        # Programs the app starts must not hold the channel open.
        self._channel.set_inheritable(False)

        self.site = env.get("VHOSTD_SITE", "")
        self.role = env.get("VHOSTD_ROLE") or "worker"   # or "singleton"
        self.slot = int_or(env.get("VHOSTD_WORKER_SLOT"), 0)
        self.generation = int_or(env.get("VHOSTD_GENERATION"), 0)
        self.heartbeat_interval = heartbeat_interval_ms(env.get("VHOSTD_HEARTBEAT_INTERVAL_MS")) / 1000

        self._send_lock = threading.Lock()        # one line at a time on the channel
        self._lock = threading.Lock()             # the counters and the state below
        self._changed = threading.Condition(self._lock)   # what serve() waits for
        self._active = self._requests = self._websockets = 0
        self._ready = False
        self._draining = False
        self._finished = threading.Event()        # ends the heartbeat thread
        self._drain_callbacks: list[Callable[[], None]] = []
        # Written once when the drain starts and never read: every wait_for_request() polls
        # it, so all idle connections wake at once (and later ones return at once).
        self._wake_read, self._wake_write = os.pipe()

        self._init_bus()
        self._stopping = False                    # serve() is returning: no calls are taken
        self._reader: Optional[threading.Thread] = None
        self._serving = None                      # (on_connection, timeout), once serve() runs
        self._early: list = []                    # connections handed before that

    # --- state and counters -------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._draining

    def on_drain(self, callback: Callable[[], None]) -> None:
        """Calls `callback` (on the channel thread) when vhostd asks to drain or goes away."""
        self._drain_callbacks.append(callback)

    def request_served(self, count: int = 1) -> None:
        with self._lock:
            self._requests += count

    def websocket_opened(self) -> None:
        """A session begins; its upgrade request counts as a request too."""
        with self._lock:
            self._websockets += 1
            self._requests += 1

    def websocket_closed(self) -> None:
        with self._lock:
            self._websockets -= 1

    # --- the channel --------------------------------------------------------------------

    def _send(self, message: dict) -> bool:
        return self._send_line(encode_line(message))

    def _send_line(self, line: bytes) -> bool:
        with self._send_lock:
            try:
                self._channel.sendall(line)
                return True
            except OSError:
                return False   # vhostd is gone; the receive loop sees EOF and drains

    def ready(self) -> None:
        """Tells vhostd this process can serve, and starts the heartbeats. Idempotent. A
        worker gets connections only after this; the site's workers start only once its
        singleton is ready."""
        with self._lock:
            if self._ready:
                return
            self._ready = True
        self._send({"cmd": "vhostd:ready"})
        threading.Thread(target=self._heartbeats, name="vhostd-heartbeat", daemon=True).start()

    def _heartbeats(self) -> None:
        # The first one right after ready, then every interval, until the process is done:
        # also while draining, or vhostd would take a draining worker for a hung one.
        while True:
            with self._lock:
                counters = {"active": self._active, "requests": self._requests,
                            "websockets": max(self._websockets, 0)}
            if not self._send({"cmd": "vhostd:heartbeat", **counters}):
                return
            if self._finished.wait(self.heartbeat_interval):
                return

    def serve(self, on_connection: Callable[[socket.socket, ConnectionInfo], None],
              timeout: float = DEFAULT_TIMEOUT) -> None:
        """Says ready (if not yet), receives connections until vhostd drains the worker or
        goes away, waits for every connection to end (and every call to this process to be
        answered), and returns. Call it on the main thread.

        The channel is read on a thread of its own, also while draining: replies to calls
        and messages still arrive for the connections that are finishing."""
        with self._lock:
            self._serving = (on_connection, timeout)
            early, self._early = self._early, []
        for fd, info in early:
            self._start_connection(fd, info, on_connection, timeout)
        self.ready()
        reader = self._start_reader()
        with self._lock:
            while not (self._draining and self._active == 0 and self._answering == 0):
                self._changed.wait()
            self._stopping = True
        self._finished.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False)    # idle: every call has been answered
        # An end of file wakes the reader in recvmsg; closing under it would not.
        with self._send_lock:
            try:
                self._channel.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        reader.join(timeout)
        with self._send_lock:
            self._channel.close()

    def _start_reader(self) -> threading.Thread:
        """The channel's reader, started once: by serve(), or by a call() made before it."""
        with self._lock:
            if self._reader is None:
                self._reader = threading.Thread(target=self._receive_loop, name="vhostd-channel",
                                                daemon=True)
                self._reader.start()
            return self._reader

    def _receive_loop(self) -> None:
        buffer = bytearray()
        fds: collections.deque[int] = collections.deque()   # arrived in order with their lines
        control_size = socket.CMSG_SPACE(MAX_FDS_PER_READ * 4)
        try:
            while True:
                # recvmsg itself, not socket.recv_fds: recv_fds silently drops its flags
                # argument (CPython gh-107898), and MSG_CMSG_CLOEXEC keeps the received
                # connections out of programs the app starts.
                try:
                    data, ancillary, flags, _ = self._channel.recvmsg(
                        65536, control_size, socket.MSG_CMSG_CLOEXEC)
                except OSError as e:
                    if not self._stopping:
                        log(f"vhostd channel: {e}; draining")
                    return
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        usable = len(payload) - len(payload) % 4
                        fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
                if flags & socket.MSG_CTRUNC:
                    log("vhostd channel: file descriptors truncated (MSG_CTRUNC); draining")
                    return
                if not data:
                    return                       # vhostd is gone: finish what we have
                buffer += data
                while True:
                    newline = buffer.find(b"\n")
                    if newline < 0:
                        break
                    line = bytes(buffer[:newline])
                    del buffer[:newline + 1]
                    if not self._dispatch(line, fds):
                        return
                if len(buffer) > MAX_LINE:
                    log("vhostd channel: a line longer than 64 KiB; draining")
                    return
        finally:
            for fd in fds:                       # fds no line claimed
                os.close(fd)
            self._stop_receiving()
            self._start_draining()

    def _dispatch(self, line: bytes, fds) -> bool:
        """Handles one line; False ends the receive loop (a protocol error)."""
        if len(line) > MAX_LINE:
            log("vhostd channel: a line longer than 64 KiB; draining")
            return False
        message = decode_line(line)
        if message is None:
            log("vhostd channel: a line that is not a JSON object with a \"cmd\"; draining")
            return False
        command = message["cmd"]
        if command == "NODE_HANDLE":
            if not fds:
                log("vhostd channel: NODE_HANDLE without a file descriptor; draining")
                return False
            fd = fds.popleft()
            # Acknowledge first, before touching the socket: from now on the connection is
            # ours alone, and vhostd must not hand it to another worker.
            self._send({"cmd": "NODE_HANDLE_ACK"})
            info = ConnectionInfo.from_message(message.get("msg"))
            with self._lock:
                serving = self._serving
                if serving is None:
                    self._early.append((fd, info))   # serve() starts them
            if serving is not None:
                self._start_connection(fd, info, *serving)
        elif command == "vhostd:drain":
            self._start_draining()               # and go on reading: replies, messages
        elif command == "vhostd:reply":
            if call_id_of(message) is not None:
                self._settle(call_id_of(message), message)
        elif command == "vhostd:message":
            self._emit("message", message.get("data"), sender_of(message))
        elif command == "vhostd:task":
            if task_name_of(message) is not None:
                self._emit("task", task_name_of(message))
        elif command == "vhostd:undeliverable":
            self._undeliverable(undeliverable_of(message))
        elif command == "vhostd:call":
            self._answer(message)
        # Anything else (a later "vhostd:*" command) is ignored, as the protocol asks.
        return True

    def _start_connection(self, fd, info, on_connection, timeout) -> None:
        try:
            # The family comes from the fd: AF_INET/AF_INET6, or AF_UNIX for a connection
            # whose TLS vhostd terminated (a socketpair end it relays).
            sock = socket.socket(fileno=fd)
        except OSError as e:
            os.close(fd)
            log(f"vhostd: connection {info.id} is not a socket: {e}")
            return
        sock.settimeout(timeout)
        with self._lock:
            self._active += 1
        threading.Thread(target=self._run_connection, args=(sock, info, on_connection),
                         name=f"vhostd-connection-{info.id}", daemon=True).start()

    def _run_connection(self, sock, info, on_connection) -> None:
        try:
            on_connection(sock, info)
        except Exception:
            log(f"vhostd: connection {info.id} failed:\n{traceback.format_exc()}")
        finally:
            close_gently(sock)
            with self._lock:
                self._active -= 1
                self._changed.notify_all()

    def _start_draining(self) -> None:
        with self._lock:
            if self._draining:
                return
            self._draining = True
            self._changed.notify_all()
        os.write(self._wake_write, b"x")
        for callback in self._drain_callbacks:
            try:
                callback()
            except Exception:
                log(f"vhostd: a drain callback failed:\n{traceback.format_exc()}")


    def wait_for_request(self, sock: socket.socket, reader=None,
                         timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Waits on a kept-alive connection for the next request: True when its bytes are
        there (in `reader`'s buffer, a buffered file from sock.makefile, or in the socket),
        False when the connection should be closed instead: the client stayed silent for
        `timeout` seconds, or the worker is draining and nothing of a next request is here.
        A request that has begun to arrive is served (with `Connection: close` when
        draining): closing would lose it."""
        if reader is not None and has_buffered_bytes(sock, reader):
            return True                            # a pipelined request is already read
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        if self._draining:
            return bool(poller.poll(0))
        poller.register(self._wake_read, select.POLLIN)
        events = poller.poll(None if timeout is None else int(timeout * 1000))
        return any(fd == sock.fileno() for fd, _ in events)
