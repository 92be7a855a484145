"""A site's worker or singleton (as VHOSTD_ROLE says) on the Python SDK, for
behind_vhostd.py: the twin of node_bus_app.js, which describes its HTTP endpoints and the
singleton's methods."""

import json
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

import vhostd_worker  # noqa: E402

worker = vhostd_worker.Worker()


def run_singleton():
    received = []
    got = {}      # receipts of fanned-out messages: "one", or "all PID" per worker
    tasks = {}    # pid -> task receipts
    lock = threading.Lock()   # the callbacks' thread writes, the calls' pool reads

    def bump(counts, key):
        counts[key] = counts.get(key, 0) + 1

    def on_message(data, sender):
        with lock:
            received.append(data)
            if not isinstance(data, dict):
                return
            if isinstance(data.get("got"), dict):
                text = data["got"].get("text")
                to_all = isinstance(text, str) and text.startswith("workers ")
                bump(got, f"all {sender.get('pid')}" if to_all else "one")
            if "task" in data:
                bump(tasks, str(sender.get("pid")))

    def snapshot(value):
        # A copy: the SDK encodes the result after the handler returns, outside the lock.
        with lock:
            return json.loads(json.dumps(value))

    def fanout(spec, sender):
        to, count = spec.split(":")
        for i in range(int(count)):
            worker.send(to, {"text": f"{to} {i}"})
        return int(count)

    vhostd_worker.serve_singleton({
        "echo": lambda args, sender: args,
        "received": lambda args, sender: snapshot(received),
        "tally": lambda args, sender: snapshot({"got": got, "tasks": tasks}),
        "fanout": fanout,
    }, on_message=on_message, worker=worker)


def run_worker():
    undeliverable = []

    def answer(path, query):
        if path.startswith("/send/"):
            to, _, text = path[len("/send/"):].partition("/")
            worker.send(to, {"text": text})
            return 200, "sent\n"
        if path.startswith("/call/"):
            arg = urllib.parse.unquote(query.split("&")[0])
            ms = urllib.parse.parse_qs(query).get("ms", ["2000"])[0]
            try:
                result = worker.call(path[len("/call/"):], arg, timeout=int(ms) / 1000)
                return 200, json.dumps(result) + "\n"
            except vhostd_worker.CallError as e:
                return 502, f"{e}\n"
        if path == "/undeliverable":
            return 200, json.dumps(undeliverable) + "\n"
        return 404, "no such path\n"

    def app(environ, start_response):
        # PATH_INFO is already percent-decoded, as latin-1 (PEP 3333).
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
        status, body = answer(path, environ["QUERY_STRING"])
        start_response({200: "200 OK", 404: "404 Not Found", 502: "502 Bad Gateway"}[status],
                       [("Content-Type", "text/plain")])
        return [body.encode()]

    # Every receipt goes to the singleton, which counts them for the test.
    worker.on_message(lambda data, sender: worker.send("singleton", {"got": data}))
    worker.on_task(lambda name: worker.send("singleton", {"task": name}))
    worker.on_undeliverable(lambda report: undeliverable.append(report["reason"]))
    vhostd_worker.serve_wsgi(app, worker=worker)


if worker.role == "singleton":
    run_singleton()
else:
    run_worker()
