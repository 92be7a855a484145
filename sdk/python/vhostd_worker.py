"""The Python worker SDK for vhostd: standard library only (Python 3.9+).

A worker started by vhostd finds the channel at VHOSTD_CHANNEL_FD, says ready, and then
receives client connections with their first request still unread (docs/protocol.md).
This module does the channel part and serves HTTP/1.1 on the connections it is given:

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

from __future__ import annotations

import base64
import collections
import concurrent.futures
import dataclasses
import email.utils
import hashlib
import http.server
import json
import os
import queue
import select
import socket
import struct
import sys
import threading
import traceback
import urllib.parse
from typing import Callable, Optional

__all__ = [
    "CallError", "ConnectionInfo", "NotStartedByVhostd", "VhostdRequestHandling", "WebSocket",
    "Worker", "same_host", "serve_handler", "serve_singleton", "serve_wsgi", "started_by_vhostd",
]

MAX_LINE = 64 * 1024          # the channel's line limit (protocol.md section 3)
MAX_FDS_PER_READ = 16         # room for fds per recvmsg, as the C++ SDK
DEFAULT_TIMEOUT = 60.0        # seconds a connection may stay silent (idle or mid-request)
CALL_TIMEOUT = 5.0            # vhostd's default for a call, in seconds
CALL_TIMEOUT_MAX = 600.0
# vhostd answers a call that timed out itself; this margin only covers a vhostd that never
# answers, so that every call returns.
CALL_MARGIN = 1.0
_BODY_DISCARD_LIMIT = 1 << 20  # unread request body we skip to keep a connection alive


class NotStartedByVhostd(RuntimeError):
    """Raised by Worker() when the process was not started by vhostd."""


class CallError(Exception):
    """Worker.call() got an error instead of a result: the singleton's (its handler raised),
    vhostd's (no singleton ready, no reply in time) or the SDK's (the channel closed)."""

    def __init__(self, method: str, error: str):
        super().__init__(error)
        self.method = method
        self.error = error


def started_by_vhostd() -> bool:
    """True when this process was started by vhostd (the channel fd is in the environment)."""
    return "VHOSTD_CHANNEL_FD" in os.environ


def _without_port_and_dot(host: str) -> str:
    if host.startswith("["):                       # [IPv6]:port
        close = host.find("]")
        return host if close < 0 else host[:close + 1]
    host = host.split(":", 1)[0]
    return host[:-1] if host.endswith(".") else host


def same_host(a: Optional[str], b: Optional[str]) -> bool:
    """True when two Host values name the same host, ignoring case, a port and one
    trailing dot, as vhostd does when routing (the C++ SDK's vhostd::sdk::same_host)."""
    a, b = _without_port_and_dot(a or ""), _without_port_and_dot(b or "")
    return a != "" and a.lower() == b.lower()


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """The metadata vhostd sent with a connection (the `msg` of NODE_HANDLE). It describes
    the first request only; `raw` keeps the whole object, for members added later."""
    id: int = 0
    site: str = ""
    host: str = ""             # normalised Host the connection was routed on; "" without Host
    remote_address: str = ""   # the client, also for relayed TLS (where getpeername is useless)
    remote_port: int = 0
    local_address: str = ""
    local_port: int = 0
    websocket: bool = False
    head_length: int = 0
    tls: Optional[dict] = None  # {"mode","serverName","alpn","version","cipher"} on TLS listeners
    raw: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_message(cls, msg: dict) -> "ConnectionInfo":
        def integer(name):
            value = msg.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        def text(name):
            value = msg.get(name)
            return value if isinstance(value, str) else ""

        tls = msg.get("tls")
        return cls(id=integer("id"), site=text("site"), host=text("host"),
                   remote_address=text("remoteAddress"), remote_port=integer("remotePort"),
                   local_address=text("localAddress"), local_port=integer("localPort"),
                   websocket=msg.get("websocket") is True, head_length=integer("headLength"),
                   tls=tls if isinstance(tls, dict) else None, raw=msg)


class Worker:
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
        self.slot = _int_or(env.get("VHOSTD_WORKER_SLOT"), 0)
        self.generation = _int_or(env.get("VHOSTD_GENERATION"), 0)
        interval_ms = _int_or(env.get("VHOSTD_HEARTBEAT_INTERVAL_MS"), 1000)
        self.heartbeat_interval = (interval_ms if interval_ms > 0 else 1000) / 1000

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

        # The message bus.
        self._next_id = 1                         # ids of sends and calls, unique in this process
        self._calls: dict[int, _PendingCall] = {}   # our calls waiting for a reply
        self._receiving = True                    # False once no reply can come any more
        self._callbacks = {"message": [], "task": [], "undeliverable": []}
        self._events: Optional[queue.SimpleQueue] = None   # for the callback thread
        self._methods: dict[str, Callable] = {}   # what this process answers calls with
        self._call_threads = 8
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._answering = 0                       # calls to this process not answered yet
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
        with self._lock:
            self._websockets += 1

    def websocket_closed(self) -> None:
        with self._lock:
            self._websockets -= 1

    # --- the channel --------------------------------------------------------------------

    def _send(self, message: dict) -> bool:
        return self._send_line(_encode(message))

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
                        _log(f"vhostd channel: {e}; draining")
                    return
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        usable = len(payload) - len(payload) % 4
                        fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
                if flags & socket.MSG_CTRUNC:
                    _log("vhostd channel: file descriptors truncated (MSG_CTRUNC); draining")
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
                    _log("vhostd channel: a line longer than 64 KiB; draining")
                    return
        finally:
            for fd in fds:                       # fds no line claimed
                os.close(fd)
            self._stop_receiving()
            self._start_draining()

    def _dispatch(self, line: bytes, fds) -> bool:
        """Handles one line; False ends the receive loop (a protocol error)."""
        if len(line) > MAX_LINE:
            _log("vhostd channel: a line longer than 64 KiB; draining")
            return False
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("cmd"), str):
            _log("vhostd channel: a line that is not a JSON object with a \"cmd\"; draining")
            return False
        command = message["cmd"]
        if command == "NODE_HANDLE":
            if not fds:
                _log("vhostd channel: NODE_HANDLE without a file descriptor; draining")
                return False
            fd = fds.popleft()
            # Acknowledge first, before touching the socket: from now on the connection is
            # ours alone, and vhostd must not hand it to another worker.
            self._send({"cmd": "NODE_HANDLE_ACK"})
            msg = message.get("msg")
            info = ConnectionInfo.from_message(msg if isinstance(msg, dict) else {})
            with self._lock:
                serving = self._serving
                if serving is None:
                    self._early.append((fd, info))   # serve() starts them
            if serving is not None:
                self._start_connection(fd, info, *serving)
        elif command == "vhostd:drain":
            self._start_draining()               # and go on reading: replies, messages
        elif command == "vhostd:reply":
            if isinstance(message.get("id"), int):
                self._settle(message["id"], message)
        elif command == "vhostd:message":
            sender = message.get("from")
            self._emit("message", message.get("data"), sender if isinstance(sender, dict) else {})
        elif command == "vhostd:task":
            self._emit("task", message.get("name"))
        elif command == "vhostd:undeliverable":
            self._undeliverable({k: message.get(k) for k in ("id", "to", "reason")})
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
            _log(f"vhostd: connection {info.id} is not a socket: {e}")
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
            _log(f"vhostd: connection {info.id} failed:\n{traceback.format_exc()}")
        finally:
            _close(sock)
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
                _log(f"vhostd: a drain callback failed:\n{traceback.format_exc()}")

    # --- the site's message bus (protocol.md section 12) --------------------------------

    def send(self, to, data=None) -> int:
        """Sends `data` (any JSON value) to processes of this site: "singleton", "worker"
        (one, at random), "workers" (all but this one) or one process by pid (an int, or a
        dict with "pid" such as a message's sender). Returns the message's id. There is no
        delivery receipt: a message that reached nobody comes back to on_undeliverable()
        ({"id", "to", "reason"}), logged when no callback is set. Raises TypeError for a bad
        `to` or data JSON cannot carry, ValueError for a message over 64 KiB."""
        message = {"cmd": "vhostd:send", "to": _address(to), "id": self._new_id(), "data": data}
        if not self._send_line(_encode(message)):
            self._undeliverable({"id": message["id"], "to": message["to"],
                                 "reason": "the channel to vhostd is closed"})
        return message["id"]

    def call(self, method: str, args=None, timeout: float = CALL_TIMEOUT):
        """Calls `method` of the site's singleton with `args` (any JSON value; None sends
        none) and returns its result. Raises CallError with the singleton's error, vhostd's
        (no singleton ready, no reply within `timeout` seconds, at most 600) or the SDK's.
        Blocks the calling thread, never the channel: call it from any thread (not from a
        callback of this worker, which would hold the later ones back until it returns)."""
        if not isinstance(method, str) or not method:
            raise TypeError("call() needs a method name")
        timeout_ms = round(timeout * 1000)
        if not 1 <= timeout_ms <= CALL_TIMEOUT_MAX * 1000:
            raise ValueError(f"call() timeout must be from 0.001 to {CALL_TIMEOUT_MAX:g} seconds")
        call_id = self._new_id()
        message = {"cmd": "vhostd:call", "id": call_id, "method": method, "timeoutMs": timeout_ms}
        if args is not None:
            message["args"] = args
        line = _encode(message)
        self._start_reader()                     # a call() before serve() needs its reply read
        pending = _PendingCall()
        with self._lock:
            if not self._receiving:
                raise CallError(method, "the channel to vhostd is closed")
            self._calls[call_id] = pending
        try:
            if not self._send_line(line):
                raise CallError(method, "the channel to vhostd is closed")
            if not pending.done.wait(timeout + CALL_MARGIN):
                raise CallError(method, f"no reply within {timeout_ms} ms")
        finally:
            with self._lock:
                self._calls.pop(call_id, None)
        error = pending.reply.get("error")
        if error is not None:
            raise CallError(method, str(error))
        return pending.reply.get("result")

    def on_message(self, callback: Callable[[object, dict], None]) -> None:
        """Calls `callback(data, sender)` for each message another process sent this one;
        `sender` is {"role", "slot", "pid"}: send(sender, answer) answers it."""
        self._callbacks["message"].append(callback)

    def on_task(self, callback: Callable[[str], None]) -> None:
        """Calls `callback(name)` when vhostd runs one of the site's [[tasks]] here."""
        self._callbacks["task"].append(callback)

    def on_undeliverable(self, callback: Callable[[dict], None]) -> None:
        """Calls `callback(report)` for each message of send() that reached nobody:
        {"id": send()'s id, "to", "reason"}."""
        self._callbacks["undeliverable"].append(callback)

    def on_call(self, name: str, handler: Callable[[object, dict], object]) -> None:
        """Answers calls of `name` with handler(args, sender): its return value is the result,
        an exception the caller's error. serve_singleton() adds its `methods` with this."""
        self._methods[name] = handler

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id - 1

    def _settle(self, call_id, reply: dict) -> None:
        with self._lock:
            pending = self._calls.get(call_id)
        if pending is not None:                  # else a reply after call() gave up
            pending.reply = reply
            pending.done.set()

    def _stop_receiving(self) -> None:
        """No reply can come any more: the calls waiting for one fail now."""
        with self._lock:
            self._receiving = False
            waiting = list(self._calls.values())
        for pending in waiting:
            pending.reply = {"error": "the channel to vhostd closed before the reply"}
            pending.done.set()

    def _undeliverable(self, report: dict) -> None:
        if self._callbacks["undeliverable"]:
            self._emit("undeliverable", report)
        else:
            _log(f"vhostd: message {report['id']} to {json.dumps(report['to'])} was not delivered: "
                 f"{report['reason']}")

    def _emit(self, kind: str, *args) -> None:
        """Queues the callbacks of `kind` for the callback thread: the channel thread must
        go on reading, or a callback that calls call() would never see its reply."""
        if not self._callbacks[kind]:
            return
        with self._lock:
            if self._events is None:
                self._events = queue.SimpleQueue()
                threading.Thread(target=self._run_callbacks, name="vhostd-callbacks", daemon=True).start()
        self._events.put((kind, args))

    def _run_callbacks(self) -> None:
        while True:
            kind, args = self._events.get()
            for callback in self._callbacks[kind]:
                try:
                    callback(*args)
                except Exception:
                    _log(f"vhostd: an on_{kind} callback failed:\n{traceback.format_exc()}")

    def _answer(self, call: dict) -> None:
        """A call to this process: the handler runs on the pool, the reply goes back once."""
        call_id = call.get("id")
        if not isinstance(call_id, int) or isinstance(call_id, bool):
            return                               # nothing to answer to
        method = call.get("method")
        handler = self._methods.get(method) if isinstance(method, str) else None
        with self._lock:
            refused = "the process is stopping" if self._stopping else None
            if handler is None:
                refused = f"unknown method {json.dumps(method)}"
            if refused is None:
                self._answering += 1
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self._call_threads, thread_name_prefix="vhostd-call")
        if refused is not None:
            self._send({"cmd": "vhostd:reply", "id": call_id, "error": refused})
            return
        sender = call.get("from")
        self._pool.submit(self._run_call, call_id, handler, call.get("args"),
                          sender if isinstance(sender, dict) else {})

    def _run_call(self, call_id: int, handler, args, sender) -> None:
        try:
            try:
                line = _encode({"cmd": "vhostd:reply", "id": call_id, "result": handler(args, sender)})
            except Exception as e:               # also a result JSON cannot carry or too long
                line = _encode({"cmd": "vhostd:reply", "id": call_id, "error": _error_text(e)})
            self._send_line(line)
        finally:
            with self._lock:
                self._answering -= 1
                self._changed.notify_all()

    def wait_for_request(self, sock: socket.socket, reader=None,
                         timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Waits on a kept-alive connection for the next request: True when its bytes are
        there (in `reader`'s buffer, a buffered file from sock.makefile, or in the socket),
        False when the connection should be closed instead: the worker is draining, or the
        client stayed silent for `timeout` seconds."""
        if self._draining:
            return False
        if reader is not None and _buffered(sock, reader):
            return True                            # a pipelined request is already read
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        events = poller.poll(None if timeout is None else int(timeout * 1000))
        if self._draining:
            return False                           # data or not: no new requests now
        return any(fd == sock.fileno() for fd, _ in events)


class _PendingCall:
    """One call() waiting for its vhostd:reply."""

    def __init__(self):
        self.done = threading.Event()
        self.reply: dict = {}


def _encode(message: dict) -> bytes:
    """One channel line. Strict JSON (vhostd's parser takes no NaN), and at most 64 KiB:
    vhostd would take a longer line for a broken process and kill it."""
    text = json.dumps(message, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_LINE:   # ASCII (json.dumps escapes the rest), so characters are bytes
        raise ValueError(f"a {message['cmd']} line of {len(text)} bytes; the channel allows 64 KiB")
    return text.encode() + b"\n"


def _address(to):
    """`to` of vhostd:send: "singleton", "worker", "workers", or {"pid": N} from a pid or
    from anything with one (a message's sender)."""
    if to in ("singleton", "worker", "workers"):
        return to
    pid = to.get("pid") if isinstance(to, dict) else to
    if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
        return {"pid": pid}
    raise TypeError(f"cannot send to {to!r}: expected \"singleton\", \"worker\", \"workers\", "
                    "a pid or {\"pid\": N}")


def _error_text(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:4096] + "…" if len(text) > 4096 else text


def _int_or(text, fallback: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return fallback


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _close(sock: socket.socket) -> None:
    """Our FIN, then close (as hello-worker does)."""
    if sock.fileno() < 0:
        return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


def _buffered(sock: socket.socket, reader) -> bool:
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


# --- HTTP/1.1 on handed connections ------------------------------------------------------

class _Site:
    """What BaseHTTPRequestHandler calls `server`: the worker and this connection's details."""

    def __init__(self, worker: Worker, info: ConnectionInfo, timeout: float, **extra):
        self.vhostd_worker = worker
        self.vhostd_info = info
        self.timeout = timeout
        self.server_name = info.host or info.local_address
        self.server_port = info.local_port
        self.__dict__.update(extra)


class VhostdRequestHandling:
    """Mixed in before a BaseHTTPRequestHandler subclass: keep-alive and pipelining under
    vhostd's rules. A drain closes idle connections and answers the request in progress with
    `Connection: close`; a request for another host than the connection was routed on gets
    421 and the connection closes; each request is counted for the heartbeats.

    In the handler: self.vhostd_info (ConnectionInfo), self.vhostd_worker (Worker);
    self.client_address is the client from vhostd's metadata."""

    protocol_version = "HTTP/1.1"
    # Errors found before the request line's version is known get a status line too (the
    # stdlib would answer them as HTTP/0.9, with a bare body). vhostd hands 1.0 and 1.1 only.
    default_request_version = "HTTP/1.0"

    def setup(self):
        super().setup()
        self.vhostd_worker = self.server.vhostd_worker
        self.vhostd_info = self.server.vhostd_info
        self._vhostd_status = 0               # the status being sent, 0 before one
        self._vhostd_connection_sent = False  # the handler sent its own Connection header

    def handle(self):
        # The first request's head is already in the socket; later ones may never come.
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            if not self.vhostd_worker.wait_for_request(self.connection, self.rfile, self.server.timeout):
                break
            self.handle_one_request()

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            self._vhostd_status = 0
            self._vhostd_connection_sent = False
            if not self.parse_request():
                return                             # parse_request answered the error
            host = self.vhostd_info.host
            if host and not same_host(self.headers.get("Host"), host):
                self._vhostd_misdirected(host)
                return
            if self.vhostd_worker.draining:
                self.close_connection = True
            self.vhostd_dispatch()
            self.wfile.flush()
        except TimeoutError as e:
            self.log_error("Request timed out: %r", e)
            self.close_connection = True
        except ConnectionError:
            self.close_connection = True

    def vhostd_dispatch(self):
        """Runs the request (the default: BaseHTTPRequestHandler's do_METHOD) and counts it."""
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        method()
        self.vhostd_worker.request_served()

    def _vhostd_misdirected(self, host):
        body = f"421 this connection is for {host}\n".encode()
        self.close_connection = True
        head = (f"{self.protocol_version} 421 Misdirected Request\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + body)

    # While draining, every final answer says `Connection: close`, whatever the handler sets.
    def send_response_only(self, code, message=None):
        self._vhostd_status = code
        super().send_response_only(code, message)

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and self._vhostd_status >= 200:
            self._vhostd_connection_sent = True
            if self.vhostd_worker.draining:
                value = "close"
        super().send_header(keyword, value)

    def end_headers(self):
        if (self._vhostd_status >= 200 and self.vhostd_worker.draining
                and not self._vhostd_connection_sent and self.request_version != "HTTP/0.9"):
            super().send_header("Connection", "close")
        super().end_headers()


def _serve_connection(handler_class, worker, timeout, **extra):
    def on_connection(sock, info):
        if info.tls and info.tls.get("mode") == "passthrough":
            _log(f"vhostd: connection {info.id} is passthrough TLS, which the Python SDK does "
                 "not terminate; use tls_mode = \"terminate\" for this site")
            return
        try:
            # TCP only; a relayed TLS connection is an AF_UNIX socket. Without it, Nagle can
            # hold a streamed response's second write back until the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        handler_class(sock, (info.remote_address, info.remote_port),
                      _Site(worker, info, timeout, **extra))
    return on_connection


def serve_handler(handler_class, *, worker: Optional[Worker] = None,
                  timeout: float = DEFAULT_TIMEOUT) -> None:
    """Serves a plain http.server.BaseHTTPRequestHandler subclass on the connections vhostd
    hands over, with keep-alive (its do_* methods must then send a Content-Length or close),
    until vhostd drains the worker. Returns when every connection has ended."""
    worker = worker or Worker()
    handler = type(handler_class.__name__, (VhostdRequestHandling, handler_class), {})
    worker.serve(_serve_connection(handler, worker, timeout), timeout)


# --- WSGI --------------------------------------------------------------------------------

class _Input:
    """wsgi.input: the request body only, however it is framed, so an application may read
    to the end. Subclasses supply _fill(): the next bytes of the body, b"" at its end."""

    def __init__(self):
        self._buffer = b""
        self._done = False

    def _more(self) -> bool:
        if self._done:
            return False
        data = self._fill()
        if not data:
            self._done = True
            return False
        self._buffer += data
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._more():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._more():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size=-1):
        while b"\n" not in self._buffer and (size is None or size < 0 or len(self._buffer) < size):
            if not self._more():
                break
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return iter(self.readline, b"")

    def discard(self, limit: int) -> bool:
        """Skips what the application left unread, up to `limit` bytes; True when the body
        ended, so the next request starts where it should."""
        skipped = len(self._buffer)
        self._buffer = b""
        while skipped <= limit:
            if not self._more():
                return True
            skipped += len(self._buffer)
            self._buffer = b""
        return False


class _LengthInput(_Input):
    def __init__(self, rfile, length: int):
        super().__init__()
        self._rfile, self._left = rfile, length

    def _fill(self):
        if self._left <= 0:
            return b""
        data = self._rfile.read1(min(self._left, 65536))
        if not data:
            raise ConnectionError("the client closed the connection inside a request body")
        self._left -= len(data)
        return data


class _ChunkedInput(_Input):
    """Transfer-Encoding: chunked (RFC 9112 section 7.1); extensions and trailers are skipped."""

    def __init__(self, rfile):
        super().__init__()
        self._rfile, self._left = rfile, 0

    def _line(self) -> bytes:
        line = self._rfile.readline(8193)
        if not line.endswith(b"\n"):
            raise ConnectionError("a bad chunk header")
        return line

    def _fill(self):
        if self._left == 0:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                self._left = int(size_text, 16)
            except ValueError:
                raise ConnectionError("a bad chunk size") from None
            if self._left < 0:
                raise ConnectionError("a bad chunk size")
            if self._left == 0:
                while self._line() not in (b"\r\n", b"\n"):   # trailer fields
                    pass
                return b""
        data = self._rfile.read1(min(self._left, 65536))
        if not data:
            raise ConnectionError("the client closed the connection inside a chunk")
        self._left -= len(data)
        if self._left == 0:
            self._line()                                      # the CRLF after the data
        return data


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
               "transfer-encoding", "upgrade"}


def _header_tokens(value: Optional[str]) -> set:
    return {token.strip().lower() for token in (value or "").split(",")}


class _WSGIHandler(VhostdRequestHandling, http.server.BaseHTTPRequestHandler):
    """Runs a WSGI application (PEP 3333) for every request, whatever its method."""

    def log_request(self, code="-", size="-"):
        pass   # vhostd's access log has the connections; errors still go to stderr

    def vhostd_dispatch(self):
        environ, body = self._environ()
        if environ is None:
            return
        websocket = self.server.websocket
        if (websocket is not None and "websocket" in _header_tokens(self.headers.get("Upgrade"))
                and "upgrade" in _header_tokens(self.headers.get("Connection"))):
            # The hook owns the connection from here; it closes when the hook returns.
            self.close_connection = True
            self.vhostd_worker.websocket_opened()
            try:
                websocket(self, environ)
            finally:
                self.vhostd_worker.websocket_closed()
            return
        self._run_application(environ, body)

    def _environ(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:        # absolute-form: keep path and query
            parts = urllib.parse.urlsplit(target)
            target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        info = self.vhostd_info
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_name,
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": info.remote_address,
            "REMOTE_PORT": str(info.remote_port),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if info.tls else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,         # reading to the end of wsgi.input is safe
            "vhostd.connection": info,
            "vhostd.worker": self.vhostd_worker,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if "_" in name:
                continue                           # X_Foo would pass for X-Foo (as wsgiref)
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            elif "HTTP_" + key in environ:
                environ["HTTP_" + key] += "," + value
            else:
                environ["HTTP_" + key] = value

        encodings = [t for t in _header_tokens(self.headers.get("Transfer-Encoding")) if t]
        if encodings:
            if encodings[-1] != "chunked" or len(encodings) > 1:
                self.send_error(501, "Only chunked transfer coding is supported")
                return None, None
            environ.pop("CONTENT_LENGTH", None)
            if "Content-Length" in self.headers:
                self.close_connection = True       # RFC 9112 6.1: both, so close afterwards
            body = _ChunkedInput(self.rfile)
        else:
            lengths = self.headers.get_all("Content-Length") or []
            if len(set(lengths)) > 1 or not all(v.strip().isdigit() for v in lengths):
                self.send_error(400, "Bad Content-Length")
                return None, None
            body = _LengthInput(self.rfile, int(lengths[0]) if lengths else 0)
        environ["wsgi.input"] = body
        return environ, body

    def _run_application(self, environ, body):
        response = _Response(self)
        result = None
        try:
            result = self.server.application(environ, response.start_response)
            if not response.headers_sent and isinstance(result, (list, tuple)):
                response.body_length = sum(len(chunk) for chunk in result)  # no chunking needed
            for chunk in result:
                if chunk:
                    response.write(chunk)
            response.finish()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception:
            _log(f"vhostd: the application failed on {self.command} {self.path}:\n"
                 f"{traceback.format_exc()}")
            self.close_connection = True
            if not response.headers_sent:
                self.send_error(500)
            return
        finally:
            if hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    _log(f"vhostd: close() of the application's result failed:\n{traceback.format_exc()}")
        self.vhostd_worker.request_served()
        if not self.close_connection and not body.discard(_BODY_DISCARD_LIMIT):
            self.close_connection = True


class _Response:
    """start_response and the response framing: Content-Length when it is known, chunked
    otherwise (HTTP/1.1), or the end of the connection (HTTP/1.0)."""

    def __init__(self, handler: _WSGIHandler):
        self.handler = handler
        self.status = None
        self.headers = []
        self.headers_sent = False
        self.body_length = None        # known before the first write for list results
        self.length = None             # what the framing promises, if a length
        self.chunked = False
        self.written = 0
        self.no_body = handler.command == "HEAD"

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not (isinstance(status, str) and len(status) >= 3 and status[:3].isdigit()):
            raise AssertionError(f"bad WSGI status {status!r}")
        self.status, self.headers = status, list(headers)
        return self.write

    def _send_head(self, first_chunk: bytes):
        handler = self.handler
        if self.status is None:
            raise AssertionError("the application wrote a body before start_response")
        code = int(self.status[:3])
        self.no_body = self.no_body or code in (204, 304) or code < 200
        lines = [f"{handler.protocol_version} {self.status}"]
        names = set()
        for name, value in self.headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                if lower == "connection" and "close" in _header_tokens(value):
                    handler.close_connection = True
                continue                           # framing and connection are ours
            names.add(lower)
            if lower == "content-length":
                self.length = int(value)
            lines.append(f"{name}: {value}")
        if "date" not in names:
            lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        if not self.no_body and self.length is None:
            if self.body_length is not None:
                self.length = self.body_length
                lines.append(f"Content-Length: {self.length}")
            elif handler.request_version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked")
            else:
                handler.close_connection = True    # the end of the body is the end of the connection
        if handler.vhostd_worker.draining:
            handler.close_connection = True
        if handler.close_connection:
            lines.append("Connection: close")
        elif handler.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self.headers_sent = True
        handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self._frame(first_chunk))

    def _frame(self, data: bytes) -> bytes:
        if self.no_body or not data:
            return b""
        if self.length is not None:
            data = data[:max(self.length - self.written, 0)]   # never past the promised length
        self.written += len(data)
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(data), data)
        return data

    def write(self, data: bytes):
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")
        if not self.headers_sent:
            self._send_head(bytes(data))           # one write: head and first chunk together
        else:
            framed = self._frame(bytes(data))
            if framed:
                self.handler.wfile.write(framed)

    def finish(self):
        if not self.headers_sent:
            self._send_head(b"")
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        elif self.length is not None and not self.no_body and self.written != self.length:
            self.handler.close_connection = True   # short body: the framing is broken


def serve_wsgi(application, websocket=None, *, worker: Optional[Worker] = None,
               timeout: float = DEFAULT_TIMEOUT) -> None:
    """Serves a WSGI application on the connections vhostd hands over: HTTP/1.1 with
    keep-alive and pipelining, until vhostd drains the worker; returns when every connection
    has ended. Says ready first (pass your own Worker to say it earlier or later).

    `websocket(handler, environ)`, if given, receives every request that asks for a
    WebSocket upgrade (`Upgrade: websocket`): WebSocket.accept(handler, environ) answers the
    handshake. The connection counts as a WebSocket session until the hook returns, then
    closes."""
    worker = worker or Worker()
    worker.serve(_serve_connection(_WSGIHandler, worker, timeout,
                                   application=application, websocket=websocket), timeout)


# --- the site's singleton ----------------------------------------------------------------

def serve_singleton(methods: Optional[dict] = None, *, on_message=None, on_task=None,
                    worker: Optional[Worker] = None, threads: int = 8) -> None:
    """Runs this process as the site's singleton (VHOSTD_ROLE=singleton), which gets no
    connections: says ready, sends heartbeats, and answers the workers' calls with `methods`,
    {name: handler(args, sender)}, whose return value is the result and whose exception is
    the caller's error; an unknown method is an error too. Calls run on a pool of `threads`
    threads. on_message(data, sender) and on_task(name), if given, are registered on the
    worker. Returns after vhostd drains the process or goes away, once the calls in
    progress are answered. Pass your own Worker to send() from other threads or to say
    ready later."""
    worker = worker or Worker()
    for name, handler in (methods or {}).items():
        worker.on_call(name, handler)
    if on_message is not None:
        worker.on_message(on_message)
    if on_task is not None:
        worker.on_task(on_task)
    worker._call_threads = threads

    def refuse(sock, info):
        _log(f"vhostd: the singleton was handed connection {info.id}; closing it")

    worker.serve(refuse)


# --- WebSocket (RFC 6455), the server side -----------------------------------------------

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
