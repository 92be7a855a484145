"""The Python process of tests/bus/bus_protocol_test.py: the Python SDK's message bus,
driven over the bus itself; the twin of node_bus_worker.js, which describes the JSON lines
it prints and the messages it acts on. Calls run on threads of their own, so that several
can wait at once."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

import vhostd_worker  # noqa: E402

output_lock = threading.Lock()


def report(**event):
    with output_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


worker = vhostd_worker.Worker()


def call(data):
    try:
        timeout = data.get("timeoutMs", 5000) / 1000
        result = worker.call(data["method"], data.get("args"), timeout=timeout)
        report(event="call", tag=data.get("tag"), result=result)
    except vhostd_worker.CallError as e:
        report(event="call", tag=data.get("tag"), error=str(e), name=type(e).__name__)


def on_message(data, sender):
    report(event="message", data=data, **{"from": sender})
    action = data.get("do") if isinstance(data, dict) else None
    if action == "send":
        try:
            payload = "x" * data["size"] if data.get("size") else data.get("data")
            report(event="sent", id=worker.send(data.get("to"), payload))
        except (TypeError, ValueError) as e:
            report(event="sent", error=str(e), name=type(e).__name__)
    elif action == "call":
        # Not a daemon (which it would inherit from the SDK's callback thread): when the
        # channel closes, the failed call must still report before the interpreter exits.
        threading.Thread(target=call, args=(data,), daemon=False).start()


worker.on_message(on_message)
worker.on_task(lambda name: report(event="task", name=name))
worker.on_undeliverable(lambda undelivered: report(event="undeliverable", **undelivered))


def fail(args, sender):
    raise RuntimeError("failed on purpose")


def sleep(args, sender):
    time.sleep(args["ms"] / 1000)
    return "slept"


if worker.role == "singleton":
    vhostd_worker.serve_singleton({"echo": lambda args, sender: {"args": args, "from": sender},
                                   "fail": fail, "sleep": sleep}, worker=worker)
else:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"bus worker\n"]

    vhostd_worker.serve_wsgi(app, worker=worker)
