"""Bus protocol cases for a worker: ready, messages, send(), call(), tasks, the channel's end."""

from __future__ import annotations

import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "conformance")]
from harness import expect  # noqa: E402
from bus_suite import SINGLETON, WAIT, WORKER, sent  # noqa: E402


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
