#!/usr/bin/env python3
"""vhostd_worker.channel: the channel vectors, and a worker draining when vhostd's side
breaks the protocol."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vhostd_worker  # noqa: E402
from vhostd_worker import channel  # noqa: E402
from vhostd_worker import ConnectionInfo, Worker  # noqa: E402
from fake_vhostd import WAIT, FakeVhostd, recording_app, vectors  # noqa: E402


def vector_line(case) -> bytes:
    """A vector's line; "long": N is a line of exactly N bytes that vhostd could send."""
    if "long" in case:
        head, tail = b'{"cmd":"vhostd:padding","pad":"', b'"}'
        return head + b"a" * (case["long"] - len(head) - len(tail)) + tail
    return case["line"].encode()


# ConnectionInfo's attribute for each member of NODE_HANDLE's msg.
CONNECTION_FIELDS = {"id": "id", "site": "site", "remoteAddress": "remote_address", "remotePort": "remote_port",
                     "localAddress": "local_address", "localPort": "local_port", "host": "host",
                     "websocket": "websocket", "headLength": "head_length", "tls": "tls"}


def decoded_fields(message):
    """What this SDK reads from `message`, in the vectors' terms (see channel.json's _about)."""
    command = message["cmd"]
    if command == "NODE_HANDLE":
        info = ConnectionInfo.from_message(message.get("msg"))
        return {"connection": {member: getattr(info, name) for member, name in CONNECTION_FIELDS.items()}}
    if command == "vhostd:message":
        return {"message": {"data": message.get("data"), "from": channel.sender_of(message)}}
    if command == "vhostd:reply":
        if channel.call_id_of(message) is None:
            return {"reply": {"id": None}}
        error, result = channel.reply_outcome(message)
        return {"reply": {"id": channel.call_id_of(message), "result": result, "error": error}}
    if command == "vhostd:call":
        if channel.call_id_of(message) is None:
            return {"call": {"id": None}}
        return {"call": {"id": channel.call_id_of(message), "method": message.get("method"),
                         "args": message.get("args"), "from": channel.sender_of(message)}}
    if command == "vhostd:task":
        return {"task": channel.task_name_of(message)}
    if command == "vhostd:undeliverable":
        return {"undeliverable": channel.undeliverable_of(message)}
    return {} if command == "vhostd:drain" else {"ignored": True}


class ChannelVectorsTest(unittest.TestCase):
    """tests/vectors/channel.json, which the C++ and Node suites run too."""

    KINDS = ("connection", "message", "reply", "call", "task", "undeliverable", "ignored")

    def test_decoded(self):
        for case in vectors("channel.json")["decoded"]:
            with self.subTest(case["name"]):
                message = channel.decode_line(vector_line(case))
                self.assertIsNotNone(message)
                self.assertEqual(message["cmd"], case["cmd"])
                self.assertEqual(decoded_fields(message), {k: case[k] for k in self.KINDS if k in case})

    def test_refused_by_the_decoder(self):
        for case in vectors("channel.json")["refused"]:
            with self.subTest(case["name"]):
                line = vector_line(case)
                if line.startswith(b'{"cmd":"NODE_HANDLE"'):
                    self.assertIsNotNone(channel.decode_line(line))   # the worker refuses it: no fd
                else:
                    self.assertIsNone(channel.decode_line(line))

    def test_refused_lines_drain_a_real_worker(self):
        for case in vectors("channel.json")["refused"]:
            with self.subTest(case["name"]):
                check_drains_after(self, lambda v: v.channel.sendall(vector_line(case) + b"\n"))

    def test_connections_reach_on_connection_decoded(self):
        handles = [case for case in vectors("channel.json")["decoded"] if case.get("fd")]
        seen = []

        def on_connection(sock, info):
            seen.append({member: getattr(info, name) for member, name in CONNECTION_FIELDS.items()})

        v = FakeVhostd(lambda worker, timeout: worker.serve(on_connection, timeout))
        for number, case in enumerate(handles, 1):
            server, client = socket.socketpair()
            socket.send_fds(v.channel, [vector_line(case) + b"\n"], [server.fileno()])
            v.wait_for(lambda _: v.acks() >= number, f"the ack of {case['name']}")
            server.close()
            client.close()
        self.assertTrue(v.stop())
        self.assertEqual(sorted(map(json.dumps, seen)), sorted(json.dumps(case["connection"]) for case in handles))

    def test_heartbeat_interval(self):
        for case in vectors("channel.json")["heartbeat_interval"]:
            with self.subTest(env=case["env"]):
                self.assertEqual(channel.heartbeat_interval_ms(case["env"]), case["ms"])
                ours, theirs = socket.socketpair()
                environ = {"VHOSTD_CHANNEL_FD": str(theirs.detach())}
                if case["env"] is not None:
                    environ["VHOSTD_HEARTBEAT_INTERVAL_MS"] = case["env"]
                worker = Worker(environ=environ)
                self.assertEqual(worker.heartbeat_interval, case["ms"] / 1000)
                worker._channel.close()
                ours.close()


def check_drains_after(test, send):
    """`send(fake_vhostd)` breaks the protocol: the worker must drain and serve() return."""
    v = FakeVhostd(vhostd_worker.serve_wsgi, application=recording_app([]))
    v.wait_for(lambda m: any(x["cmd"] == "vhostd:ready" for x in m), "ready")
    send(v)
    v.thread.join(WAIT)
    test.assertFalse(v.thread.is_alive(), "serve() did not return")
    v.stop()


class ChannelErrorTest(unittest.TestCase):
    """vhostd's side breaking the protocol beyond the vectors' lines: the worker drains and
    serve() returns."""

    def test_line_too_long(self):
        check_drains_after(self, lambda v: v.channel.sendall(b'{"cmd":"x","pad":"' + b"a" * 70000))

    def test_unknown_commands_and_eof(self):
        def send(v):
            v.send({"cmd": "vhostd:unknown"})
            v.send({"cmd": "SOMETHING"})
            time.sleep(0.1)
            self.assertTrue(v.thread.is_alive(), "unknown commands stopped the worker")
            v.channel.shutdown(socket.SHUT_WR)     # EOF: vhostd is gone
        check_drains_after(self, send)


if __name__ == "__main__":
    unittest.main(verbosity=2)
