"""The site's message bus (docs/protocol.md, section 12): send(), call() and the callbacks,
and the answers to calls this process takes. A half of Worker: it shares the worker's lock
(`_lock`, `_changed`), its channel writes (`_send`, `_send_line`), its reader
(`_start_reader`) and `_stopping`."""

from __future__ import annotations

import concurrent.futures
import json
import queue
import threading
import traceback
from typing import Callable, Optional

from .channel import call_id_of, encode_line, reply_outcome, sender_of
from .errors import CallError
from .sockets import log

CALL_TIMEOUT = 5.0            # vhostd's default for a call, in seconds
CALL_TIMEOUT_MAX = 600.0
# vhostd answers a call that timed out itself; this margin only covers a vhostd that never
# answers, so that every call returns.
CALL_MARGIN = 1.0


class MessageBus:
    def _init_bus(self) -> None:
        self._next_id = 1                         # ids of sends and calls, unique in this process
        self._calls: dict[int, PendingCall] = {}   # our calls waiting for a reply
        self._receiving = True                    # False once no reply can come any more
        self._callbacks = {"message": [], "task": [], "undeliverable": []}
        self._events: Optional[queue.SimpleQueue] = None   # for the callback thread
        self._methods: dict[str, Callable] = {}   # what this process answers calls with
        self._call_threads = 8
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._answering = 0                       # calls to this process not answered yet

    def send(self, to, data=None) -> int:
        """Sends `data` (any JSON value) to processes of this site: "singleton", "worker"
        (one, at random), "workers" (all but this one) or one process by pid (an int, or a
        dict with "pid" such as a message's sender). Returns the message's id. There is no
        delivery receipt: a message that reached nobody comes back to on_undeliverable()
        ({"id", "to", "reason"}), logged when no callback is set. Raises TypeError for a bad
        `to` or data JSON cannot carry, ValueError for a message over 64 KiB."""
        message = {"cmd": "vhostd:send", "to": address_of(to), "id": self._new_id(), "data": data}
        if not self._send_line(encode_line(message)):
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
        line = encode_line(message)
        self._start_reader()                     # a call() before serve() needs its reply read
        pending = PendingCall()
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
        error, result = reply_outcome(pending.reply)
        if error is not None:
            raise CallError(method, error)
        return result

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
            log(f"vhostd: message {report['id']} to {json.dumps(report['to'])} was not delivered: "
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
                    log(f"vhostd: an on_{kind} callback failed:\n{traceback.format_exc()}")

    def _answer(self, call: dict) -> None:
        """A call to this process: the handler runs on the pool, the reply goes back once."""
        call_id = call_id_of(call)
        if call_id is None:
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
        self._pool.submit(self._run_call, call_id, handler, call.get("args"), sender_of(call))

    def _run_call(self, call_id: int, handler, args, sender) -> None:
        try:
            try:
                line = encode_line({"cmd": "vhostd:reply", "id": call_id, "result": handler(args, sender)})
            except Exception as e:               # also a result JSON cannot carry or too long
                line = encode_line({"cmd": "vhostd:reply", "id": call_id, "error": error_text(e)})
            self._send_line(line)
        finally:
            with self._lock:
                self._answering -= 1
                self._changed.notify_all()


class PendingCall:
    """One call() waiting for its vhostd:reply."""

    def __init__(self):
        self.done = threading.Event()
        self.reply: dict = {}



def address_of(to):
    """`to` of vhostd:send: "singleton", "worker", "workers", or {"pid": N} from a pid or
    from anything with one (a message's sender)."""
    if to in ("singleton", "worker", "workers"):
        return to
    pid = to.get("pid") if isinstance(to, dict) else to
    if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
        return {"pid": pid}
    raise TypeError(f"cannot send to {to!r}: expected \"singleton\", \"worker\", \"workers\", "
                    "a pid or {\"pid\": N}")


def error_text(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:4096] + "…" if len(text) > 4096 else text
