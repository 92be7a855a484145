#!/usr/bin/env python3
"""The message bus of an SDK (docs/protocol.md, section 12) against vhostd's side of the
channel, played by this script: no vhostd needed.

    python3 tests/bus/bus_protocol_test.py [--runtime node] -- BUS_WORKER_COMMAND...

BUS_WORKER_COMMAND is a small program on the SDK under test that reports what the SDK hands
it as JSON lines on stdout and acts on the messages it receives (node_bus_worker.js describes
the contract; python_bus_worker.py is the Python one). It is started twice the way vhostd
starts a process (tests/conformance/vhostd_side.py's way: channel at fd 3, its own process
group, the VHOSTD_* environment, with VHOSTD_ROLE=worker and then VHOSTD_ROLE=singleton),
and the cases check the lines it writes on the channel and the events it prints.

Prints TAP and exits 1 if any case fails. Every wait is bounded; the whole run is cut off
after --time-limit seconds; every process started is killed by process group at the end.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "conformance")]
from vhostd_side import ChildProcess, run_checked, vhostd_env  # noqa: E402
from harness import Failure, expect, run_worker_suite, tap_comments  # noqa: E402

WAIT = 5.0
SITE = "bus"
SINGLETON = {"role": "singleton", "slot": 0, "pid": 4242}   # a `from` vhostd would send
WORKER = {"role": "worker", "slot": 1, "pid": 4243}


class BusProcess(ChildProcess):
    """A process started as vhostd starts one, with its stdout read as JSON events."""

    def __init__(self, command, env):
        out_read, out_write = os.pipe()
        self.stderr = tempfile.TemporaryFile()
        try:
            super().__init__(command, env, out_write, self.stderr.fileno())
        except OSError:
            os.close(out_read)
            raise
        finally:
            os.close(out_write)
        self.changed = threading.Condition()
        self.events = []          # (monotonic time, dict) from stdout
        self.lines = []           # stdout lines that are not JSON
        threading.Thread(target=self._read_stdout, args=(out_read,), daemon=True).start()

    def _read_stdout(self, fd):
        with os.fdopen(fd, "rb") as stdout:
            for line in stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                with self.changed:
                    if isinstance(event, dict):
                        self.events.append((time.monotonic(), event))
                    else:
                        self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                    self.changed.notify_all()

    def event(self, condition, what, timeout=WAIT, since=0.0):
        """The first event after `since` for which condition(event) is true, with its time."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for t, e in self.events:
                    if t >= since and condition(e):
                        return t, e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(f"timed out after {timeout:g} s waiting for {what}")
                self.changed.wait(remaining)

    def line(self, condition, what, timeout=WAIT, since=0.0):
        """The first channel message after `since` for which condition(message) is true."""
        channel = self.channel

        def found():
            return next(((t, m) for t, m in channel.messages if t >= since and condition(m)), None)
        return channel.wait(found, timeout, what)

    def tell(self, data, sender=SINGLETON):
        """A vhostd:message to the process; returns the time it was sent."""
        now = time.monotonic()
        self.channel.send({"cmd": "vhostd:message", "from": sender, "data": data})
        return now

    def output(self):
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace").splitlines()
        return ([f"process {self.pid} stdout (not JSON): {line}" for line in self.lines[-20:]]
                + [f"process {self.pid} stderr: {line}" for line in text[-40:]])


class Suite:
    def __init__(self, command, runtime):
        self.command = command
        self.env = vhostd_env(SITE, runtime)
        self.processes = {}       # role -> BusProcess
        self.current = None       # the process the running case is about

    def process(self, role) -> BusProcess:
        """The process of `role`, started (and ready) on first use."""
        p = self.processes.get(role)
        if p is None:
            p = self.processes[role] = BusProcess(self.command, dict(self.env, VHOSTD_ROLE=role))
        self.current = p
        p.channel.wait(lambda: p.channel.commands("vhostd:ready") or p.channel.eof, 10.0, "vhostd:ready")
        if not p.channel.commands("vhostd:ready"):
            raise Failure(f"the {role} closed the channel without saying vhostd:ready")
        return p

    def cleanup(self):
        for p in self.processes.values():
            p.kill()


def sent(p: BusProcess, since, what):
    """The id the process reported for its send(), after checking that it did not fail."""
    _, event = p.event(lambda e: e.get("event") == "sent", what, since=since)
    if "error" in event:
        raise Failure(f"send() failed: {event}")
    return event["id"]


# --- the worker ---------------------------------------------------------------------------

def case_worker_ready(suite):
    """worker: says ready, then sends heartbeats"""
    p = suite.process("worker")
    p.line(lambda m: m["cmd"] == "vhostd:heartbeat", "a heartbeat")


def case_message(suite):
    """worker: a vhostd:message reaches the message handler with its data and from"""
    p = suite.process("worker")
    data = {"note": [1, "two", {"three": 3.5}], "text": "é ✓ \n", "none": None}
    since = p.tell(data, sender=WORKER)
    _, event = p.event(lambda e: e.get("event") == "message", "the message event", since=since)
    expect(event["data"] == data and event["from"] == WORKER, f"got {event}")


def case_send(suite):
    """worker: send() writes vhostd:send with to, a fresh id and data"""
    p = suite.process("worker")
    ids = []
    for to, data, wire_to in [("singleton", {"hello": [1, 2]}, "singleton"),
                              ("workers", "to all", "workers"),
                              ("worker", None, "worker"),
                              (SINGLETON, 7, {"pid": SINGLETON["pid"]}),   # answering a `from`
                              (4243, [], {"pid": 4243})]:
        since = p.tell({"do": "send", "to": to, "data": data})
        id_ = sent(p, since, f"send() to {to!r}")
        _, line = p.line(lambda m: m["cmd"] == "vhostd:send", f"the vhostd:send to {to!r}", since=since)
        expect(line == {"cmd": "vhostd:send", "to": wire_to, "id": id_, "data": data},
               f"send() to {to!r} reported id {id_} and wrote {line}")
        ids.append(id_)
    expect(len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids), f"ids {ids} are not distinct integers")


def case_send_refused(suite):
    """worker: send() refuses a bad address and a line over 64 KiB, and writes nothing"""
    p = suite.process("worker")
    for data in ({"do": "send", "to": "everyone", "data": 1}, {"do": "send", "to": {"role": "worker"}, "data": 1},
                 {"do": "send", "to": "singleton", "size": 70000}):
        since = p.tell(data)
        _, event = p.event(lambda e: e.get("event") == "sent", "the outcome of send()", since=since)
        expect("error" in event, f"send() of {json.dumps(data)[:80]} did not fail: {event}")
        # The next send's line is the first vhostd:send after the refused one.
        since_ok = p.tell({"do": "send", "to": "singleton", "data": "after"})
        id_ = sent(p, since_ok, "the send after")
        _, line = p.line(lambda m: m["cmd"] == "vhostd:send", "a vhostd:send", since=since)
        expect(line.get("id") == id_ and line.get("data") == "after", f"the refused send wrote {str(line)[:200]}")


def case_undeliverable(suite):
    """worker: vhostd:undeliverable reaches the undeliverable handler"""
    p = suite.process("worker")
    since = p.tell({"do": "send", "to": "singleton", "data": "lost"})
    id_ = sent(p, since, "send()")
    report = {"id": id_, "to": "singleton", "reason": "the site has no singleton running"}
    p.channel.send({"cmd": "vhostd:undeliverable", **report})
    _, event = p.event(lambda e: e.get("event") == "undeliverable", "the undeliverable event", since=since)
    expect({k: event.get(k) for k in report} == report, f"reported {report}, the handler got {event}")


def start_call(p, tag, what, **call):
    """Makes the process call; returns its vhostd:call line."""
    since = p.tell({"do": "call", "tag": tag, **call})
    return p.line(lambda m: m["cmd"] == "vhostd:call", what, since=since)


def call_event(p, tag, timeout=WAIT, since=0.0):
    return p.event(lambda e: e.get("event") == "call" and e.get("tag") == tag,
                   f"the outcome of call {tag}", timeout=timeout, since=since)


def case_call_result(suite):
    """worker: call() writes vhostd:call and resolves with the result of the reply with its id"""
    p = suite.process("worker")
    _, line = start_call(p, "a", "the vhostd:call", method="config.get", args=["db"], timeoutMs=2000)
    id_ = line.get("id")
    expect(isinstance(id_, int) and line == {"cmd": "vhostd:call", "id": id_, "method": "config.get",
                                             "args": ["db"], "timeoutMs": 2000}, f"wrote {line}")
    p.channel.send({"cmd": "vhostd:reply", "id": id_ + 1000, "result": "not mine"})   # no such call: ignored
    p.channel.send({"cmd": "vhostd:reply", "id": id_, "result": {"host": "db1"}})
    _, event = call_event(p, "a")
    expect(event.get("result") == {"host": "db1"} and "error" not in event, f"got {event}")
    # No args: no args member, and vhostd's default timeout.
    _, line = start_call(p, "b", "the vhostd:call without args", method="ping")
    expect("args" not in line and line.get("timeoutMs") == 5000, f"wrote {line}")
    p.channel.send({"cmd": "vhostd:reply", "id": line["id"], "result": None})
    _, event = call_event(p, "b")
    expect(event.get("result") is None and "error" not in event, f"got {event}")


def case_calls_in_flight(suite):
    """worker: two calls in flight, answered in reverse order, each get their own reply"""
    p = suite.process("worker")
    _, first = start_call(p, "c", "the first vhostd:call", method="first")
    _, second = start_call(p, "d", "the second vhostd:call", method="second")
    expect(first["id"] != second["id"], f"two calls in flight with one id: {first}, {second}")
    p.channel.send({"cmd": "vhostd:reply", "id": second["id"], "result": "second"})
    p.channel.send({"cmd": "vhostd:reply", "id": first["id"], "result": "first"})
    results = (call_event(p, "c")[1].get("result"), call_event(p, "d")[1].get("result"))
    expect(results == ("first", "second"), f"the calls got {results}")


def case_call_error(suite):
    """worker: call() fails with the error of the reply"""
    p = suite.process("worker")
    _, line = start_call(p, "e", "the vhostd:call", method="config.get", timeoutMs=3000)
    p.channel.send({"cmd": "vhostd:reply", "id": line["id"], "error": "the singleton exited before replying"})
    _, event = call_event(p, "e")
    expect(event.get("error") == "the singleton exited before replying" and event.get("name") == "CallError",
           f"got {event}")


def case_call_timeout(suite):
    """worker: call() gives up by itself when no reply comes, and ignores a late reply"""
    p = suite.process("worker")
    sent_at, line = start_call(p, "f", "the vhostd:call", method="slow", timeoutMs=200)
    settled_at, event = call_event(p, "f")
    expect("error" in event and "200 ms" in event["error"], f"got {event}")
    expect(settled_at - sent_at >= 0.2, f"gave up {settled_at - sent_at:.3f} s after the call, before its timeoutMs")
    p.channel.send({"cmd": "vhostd:reply", "id": line["id"], "result": "late"})
    since = p.tell("after the late reply")
    p.event(lambda e: e.get("event") == "message", "the message after the late reply", since=since)
    late = [e for _, e in p.events if e.get("event") == "call" and e.get("tag") == "f"]
    expect(len(late) == 1, f"the call settled twice: {late}")


def case_task(suite):
    """worker: vhostd:task reaches the task handler; unknown commands are ignored"""
    p = suite.process("worker")
    p.channel.send({"cmd": "vhostd:someday", "x": 1})
    p.channel.send({"cmd": "SOMETHING_ELSE"})
    since = time.monotonic()
    p.channel.send({"cmd": "vhostd:task", "name": "purge-cache"})
    _, event = p.event(lambda e: e.get("event") == "task", "the task event", since=since)
    expect(event.get("name") == "purge-cache", f"got {event}")


def case_channel_closes(suite):
    """worker: a call in progress fails when the channel closes, and the worker exits 0"""
    p = suite.process("worker")
    start_call(p, "g", "the vhostd:call", method="never", timeoutMs=60000)
    since = time.monotonic()
    p.channel.sock.shutdown(socket.SHUT_WR)     # vhostd is gone
    _, event = call_event(p, "g", since=0.0)
    expect("error" in event, f"got {event}")
    status = p.exit_status(WAIT)
    expect(status == 0, f"exit status {status} {time.monotonic() - since:.1f} s after the end of file")


# --- the singleton ------------------------------------------------------------------------

def reply(p, id_, what):
    return p.line(lambda m: m["cmd"] == "vhostd:reply" and m.get("id") == id_, what)[1]


def case_singleton_ready(suite):
    """singleton: says ready, then sends heartbeats"""
    p = suite.process("singleton")
    p.line(lambda m: m["cmd"] == "vhostd:heartbeat", "a heartbeat")


def case_singleton_answers(suite):
    """singleton: answers vhostd:call with the method's result, once, under the call's id"""
    p = suite.process("singleton")
    p.channel.send({"cmd": "vhostd:call", "id": 3, "method": "echo", "args": ["db", {"n": 1}], "from": WORKER})
    expect(reply(p, 3, "the reply to call 3") == {"cmd": "vhostd:reply", "id": 3,
                                                  "result": {"args": ["db", {"n": 1}], "from": WORKER}},
           f"replied {p.channel.commands('vhostd:reply')[-1][1]}")
    p.channel.send({"cmd": "vhostd:call", "id": 4, "method": "echo", "from": WORKER})   # no args
    answer = reply(p, 4, "the reply to call 4")
    expect(answer.get("result") == {"args": None, "from": WORKER}, f"replied {answer}")
    replies = [m for _, m in p.channel.commands("vhostd:reply") if m.get("id") in (3, 4)]
    expect(len(replies) == 2, f"replied {replies}")


def case_singleton_errors(suite):
    """singleton: a handler's error and an unknown method are answered with error"""
    p = suite.process("singleton")
    p.channel.send({"cmd": "vhostd:call", "id": 5, "method": "fail", "args": [], "from": WORKER})
    answer = reply(p, 5, "the reply to call 5")
    expect(answer == {"cmd": "vhostd:reply", "id": 5, "error": "failed on purpose"}, f"replied {answer}")
    p.channel.send({"cmd": "vhostd:call", "id": 6, "method": "no.such.method", "from": WORKER})
    answer = reply(p, 6, "the reply to call 6")
    expect(isinstance(answer.get("error"), str) and "no.such.method" in answer["error"] and "result" not in answer,
           f"replied {answer}")


def case_singleton_concurrent(suite):
    """singleton: calls run concurrently: a quick one is answered while a slow one waits"""
    p = suite.process("singleton")
    p.channel.send({"cmd": "vhostd:call", "id": 7, "method": "sleep", "args": {"ms": 500}, "from": WORKER})
    p.channel.send({"cmd": "vhostd:call", "id": 8, "method": "echo", "args": 1, "from": WORKER})
    quick_at = p.line(lambda m: m["cmd"] == "vhostd:reply" and m.get("id") == 8, "the reply to call 8")[0]
    slow_at, answer = p.line(lambda m: m["cmd"] == "vhostd:reply" and m.get("id") == 7, "the reply to call 7")
    expect(answer.get("result") == "slept", f"replied {answer}")
    expect(quick_at < slow_at, "the quick call was answered after the slow one")


def case_singleton_bus(suite):
    """singleton: gets messages and tasks, and sends"""
    p = suite.process("singleton")
    since = p.tell({"do": "send", "to": "workers", "data": {"reload": True}}, sender=WORKER)
    _, event = p.event(lambda e: e.get("event") == "message", "the message event", since=since)
    expect(event["from"] == WORKER, f"got {event}")
    id_ = sent(p, since, "send()")
    _, line = p.line(lambda m: m["cmd"] == "vhostd:send", "the vhostd:send", since=since)
    expect(line == {"cmd": "vhostd:send", "to": "workers", "id": id_, "data": {"reload": True}}, f"wrote {line}")
    p.channel.send({"cmd": "vhostd:task", "name": "rotate-keys"})
    _, event = p.event(lambda e: e.get("event") == "task", "the task event", since=since)
    expect(event.get("name") == "rotate-keys", f"got {event}")


def case_singleton_drain(suite):
    """singleton: on vhostd:drain it answers the call in progress, then exits 0"""
    p = suite.process("singleton")
    p.channel.send({"cmd": "vhostd:call", "id": 9, "method": "sleep", "args": {"ms": 300}, "from": WORKER})
    drained_at = time.monotonic()
    p.channel.send({"cmd": "vhostd:drain"})
    answer = reply(p, 9, "the reply to the call in progress")
    expect(answer.get("result") == "slept", f"replied {answer}")
    status = p.exit_status(WAIT)
    expect(status == 0, f"exit status {status} {time.monotonic() - drained_at:.1f} s after the drain")


CASES = [case_worker_ready, case_message, case_send, case_send_refused, case_undeliverable, case_call_result,
         case_calls_in_flight, case_call_error, case_call_timeout, case_task, case_channel_closes,
         case_singleton_ready, case_singleton_answers, case_singleton_errors, case_singleton_concurrent,
         case_singleton_bus, case_singleton_drain]
ENDS_PROCESS = {case_channel_closes, case_singleton_drain}


def run_case(case, suite: Suite):
    """The case, checked for protocol errors and for a process that exited unasked."""
    return run_checked(case, suite, lambda s: s.current, ENDS_PROCESS, "process")


def process_output(suite: Suite):
    """After a failure: the process's last words."""
    if suite.current is not None:
        suite.current.exit_status(0.2)
        tap_comments(suite.current.output())


def main():
    return run_worker_suite(__doc__, "BUS_WORKER_COMMAND", "bus worker", Suite, CASES, lambda suite: dict(
        run_case=run_case, after_case=lambda case, error: error and process_output(suite)))


if __name__ == "__main__":
    sys.exit(main())
