"""Bus protocol cases for the singleton: ready, answering calls, errors, concurrency, its
own bus traffic, the drain."""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "conformance")]
from harness import expect  # noqa: E402
from bus_suite import WAIT, WORKER, sent  # noqa: E402


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
