#!/usr/bin/env python3
"""Unit tests of vhostd_worker: what the conformance suite cannot see from outside (the
WSGI environ, response framing, the WebSocket helper's edge cases, protocol errors).

    python3 sdk/python/test_vhostd_worker.py

Each test runs a Worker on a socketpair in this process, plays vhostd on the other end and
hands it real loopback TCP connections. Standard library only.
"""

import base64
import http.client
import http.server
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vhostd_worker  # noqa: E402
from vhostd_worker import channel  # noqa: E402
from vhostd_worker import ConnectionInfo, NotStartedByVhostd, WebSocket, Worker, normalize_host, same_host  # noqa: E402

WAIT = 5.0


class FakeVhostd:
    """vhostd's end of a channel, with a Worker serving in a thread on the other end."""

    def __init__(self, serve, **serve_kwargs):
        self.channel, worker_end = socket.socketpair()
        self.worker = Worker(environ={"VHOSTD_CHANNEL_FD": str(worker_end.detach()),
                                      "VHOSTD_SITE": "unit", "VHOSTD_HEARTBEAT_INTERVAL_MS": "50"})
        self.messages = []
        self.changed = threading.Condition()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.thread = threading.Thread(target=serve, kwargs=dict(worker=self.worker, timeout=WAIT, **serve_kwargs),
                                       daemon=True)
        self.thread.start()
        threading.Thread(target=self._read, daemon=True).start()
        self.handed = 0
        self.clients = []          # closed by stop()

    def _read(self):
        buffer = b""
        while True:
            try:
                data = self.channel.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            with self.changed:
                self.messages += [json.loads(line) for line in lines]
                self.changed.notify_all()

    def wait_for(self, condition, what):
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self.messages), WAIT):
                raise AssertionError(f"timed out waiting for {what}")

    def acks(self):
        return sum(1 for m in self.messages if m["cmd"] == "NODE_HANDLE_ACK")

    def last_heartbeat(self):
        return [m for m in self.messages if m["cmd"] == "vhostd:heartbeat"][-1]

    def hand(self, **meta) -> socket.socket:
        """A loopback TCP connection handed to the worker; returns the client's socket."""
        client = socket.create_connection(self.listener.getsockname(), timeout=WAIT)
        server, _ = self.listener.accept()
        server.setblocking(True)
        msg = {"id": self.handed + 1, "site": "unit", "remoteAddress": "192.0.2.9", "remotePort": 4321,
               "localAddress": "127.0.0.1", "localPort": 8080, "host": "unit.test", "websocket": False,
               "headLength": 0, **meta}
        self.send({"cmd": "NODE_HANDLE", "type": "net.Socket", "msg": msg}, server.fileno())
        self.handed += 1
        self.wait_for(lambda _: self.acks() >= self.handed, "the ack")
        server.close()
        self.clients.append(client)
        return client

    def http(self, **meta) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("unit.test", timeout=WAIT)
        connection.sock = self.hand(**meta)
        return connection

    def send(self, message, fd=None):
        line = json.dumps(message).encode() + b"\n"
        if fd is None:
            self.channel.sendall(line)
        else:
            socket.send_fds(self.channel, [line], [fd])

    def stop(self):
        try:
            self.send({"cmd": "vhostd:drain"})
        except OSError:
            pass
        self.thread.join(WAIT)
        finished = not self.thread.is_alive()
        for client in self.clients:
            client.close()
        self.channel.close()
        self.listener.close()
        return finished


def read_all(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "vectors")


def vectors(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


class HostVectorsTest(unittest.TestCase):
    """tests/vectors/hosts.json, which the C++ and Node suites run too."""

    def test_normalize(self):
        for case in vectors("hosts.json")["normalize"]:
            with self.subTest(raw=case["raw"]):
                self.assertEqual(normalize_host(case["raw"]), case["host"])
                if case["host"] is not None:       # a normalised host reads back as itself
                    self.assertEqual(normalize_host(case["host"]), case["host"])

    def test_same_host(self):
        for case in vectors("hosts.json")["same_host"]:
            with self.subTest(a=case["a"], b=case["b"]):
                self.assertEqual(same_host(case["a"], case["b"]), case["same"])
                self.assertEqual(same_host(case["b"], case["a"]), case["same"])

    def test_not_a_string(self):
        self.assertFalse(same_host(None, "blog.example"))
        self.assertIsNone(normalize_host(None))


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


class WorkerSetupTest(unittest.TestCase):
    def test_outside_vhostd(self):
        with self.assertRaisesRegex(NotStartedByVhostd, "VHOSTD_CHANNEL_FD is not set"):
            Worker(environ={})
        with self.assertRaises(NotStartedByVhostd):
            Worker(environ={"VHOSTD_CHANNEL_FD": "three"})
        with tempfile.TemporaryFile() as f:
            with self.assertRaisesRegex(NotStartedByVhostd, "not a usable channel"):
                Worker(environ={"VHOSTD_CHANNEL_FD": str(f.fileno())})

    def test_connection_info_tolerates_odd_metadata(self):
        info = ConnectionInfo.from_message({"id": "7", "remotePort": True, "host": 3, "tls": {"mode": "terminate"}})
        self.assertEqual((info.id, info.remote_port, info.host), (0, 0, ""))
        self.assertEqual(info.tls, {"mode": "terminate", "serverName": "", "alpn": "", "version": "", "cipher": ""})


def recording_app(seen):
    def app(environ, start_response):
        seen.append(dict(environ, body=environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


class WsgiTest(unittest.TestCase):
    def serve(self, app, **kwargs):
        self.vhostd = FakeVhostd(vhostd_worker.serve_wsgi, application=app, **kwargs)
        return self.vhostd

    def tearDown(self):
        self.assertTrue(self.vhostd.stop(), "the worker did not finish after the drain")

    def test_environ(self):
        seen = []
        v = self.serve(recording_app(seen))
        c = v.http()
        c.request("POST", "/a%20b/c?x=1&y=%20", body=b"0123456789",
                  headers={"Host": "Unit.Test:8080", "X-Custom": "1", "X_Custom": "spoof", "Content-Type": "text/x"})
        self.assertEqual(c.getresponse().read(), b"ok")
        e = seen[0]
        self.assertEqual((e["REQUEST_METHOD"], e["SCRIPT_NAME"], e["PATH_INFO"], e["QUERY_STRING"]),
                         ("POST", "", "/a b/c", "x=1&y=%20"))
        self.assertEqual((e["SERVER_NAME"], e["SERVER_PORT"], e["SERVER_PROTOCOL"]), ("unit.test", "8080", "HTTP/1.1"))
        self.assertEqual((e["REMOTE_ADDR"], e["REMOTE_PORT"]), ("192.0.2.9", "4321"))
        self.assertEqual((e["CONTENT_TYPE"], e["CONTENT_LENGTH"], e["body"]), ("text/x", "10", b"0123456789"))
        self.assertEqual((e["HTTP_HOST"], e["HTTP_X_CUSTOM"]), ("Unit.Test:8080", "1"))
        self.assertEqual(e["wsgi.url_scheme"], "http")
        self.assertEqual(e["vhostd.connection"].id, 1)
        # Absolute-form target, TLS terminated by vhostd.
        c = v.http(tls={"mode": "terminate", "serverName": "unit.test"})
        c.sock.sendall(b"GET http://unit.test/p/q?r=1 HTTP/1.1\r\nHost: unit.test\r\n\r\n")
        response = http.client.HTTPResponse(c.sock)
        response.begin()
        response.read()
        self.assertEqual((seen[1]["PATH_INFO"], seen[1]["QUERY_STRING"], seen[1]["wsgi.url_scheme"]),
                         ("/p/q", "r=1", "https"))

    def test_bodies_and_framing(self):
        def app(environ, start_response):
            path = environ["PATH_INFO"]
            if path == "/partial":                 # reads 3 of the body's bytes only
                environ["wsgi.input"].read(3)
                start_response("200 OK", [])
                return [b"partial"]
            if path == "/lines":
                lines = list(environ["wsgi.input"])
                start_response("200 OK", [])
                return [b"%d lines" % len(lines)]
            if path == "/stream":
                start_response("200 OK", [])
                return (part for part in [b"a", b"", b"bc"])
            start_response("204 No Content", [])
            return []
        v = self.serve(app)
        c = v.http()
        c.request("POST", "/partial", body=b"x" * 100)
        self.assertEqual(c.getresponse().read(), b"partial")
        c.request("POST", "/lines", body=iter([b"one\n", b"two\nthree"]))   # chunked by http.client
        self.assertEqual(c.getresponse().read(), b"3 lines")
        c.request("GET", "/stream")
        response = c.getresponse()
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(response.read(), b"abc")
        c.request("HEAD", "/stream")
        response = c.getresponse()
        self.assertEqual((response.read(), response.getheader("Transfer-Encoding")), (b"", None))
        c.request("GET", "/nothing")
        self.assertEqual(c.getresponse().status, 204)
        # HTTP/1.0 and a body of unknown length: the end of the connection ends it.
        sock = v.hand()
        sock.sendall(b"GET /stream HTTP/1.0\r\nHost: unit.test\r\n\r\n")
        answer = read_all(sock)
        self.assertIn(b"Connection: close\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nabc"), answer)

    def test_application_error_is_500_and_closes(self):
        def app(environ, start_response):
            raise RuntimeError("boom (expected by the test)")
        v = self.serve(app)
        sock = v.hand()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: unit.test\r\n\r\n")
        self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 500 "))

    def test_misdirected_and_counters(self):
        v = self.serve(recording_app([]))
        c = v.http()
        for _ in range(2):
            c.request("GET", "/")
            c.getresponse().read()
        c.request("GET", "/", headers={"Host": "other.test"})
        response = c.getresponse()
        self.assertEqual((response.status, response.getheader("Connection")), (421, "close"))
        response.read()
        c.close()
        v.wait_for(lambda _: v.last_heartbeat()["active"] == 0 and v.last_heartbeat()["requests"] == 2,
                   "requests == 2 (the 421 is not counted), active == 0")

    def test_bad_request_heads(self):
        v = self.serve(recording_app([]))
        for head, status in [(b"POST / HTTP/1.1\r\nHost: unit.test\r\nContent-Length: -1\r\n\r\n", b"400"),
                             (b"POST / HTTP/1.1\r\nHost: unit.test\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
                             (b"GARBAGE\r\n\r\n", b"400"), (b"GET / HTTP/2.0\r\n\r\n", b"505")]:
            sock = v.hand()
            sock.sendall(head)
            self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 " + status), head)

    def websocket_session(self, v):
        sock = v.hand(websocket=True)
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: unit.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        return sock

    def test_websocket(self):
        def hook(handler, environ):
            ws = WebSocket.accept(handler, environ)
            for message in ws or []:
                ws.send(message)
        v = self.serve(recording_app([]), websocket=hook)

        def frame(opcode, payload, fin=True, mask=True):
            mask_key = os.urandom(4) if mask else b""
            data = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload)) if mask else payload
            return struct.pack("!BB", (0x80 if fin else 0) | opcode, (0x80 if mask else 0) | len(payload)) + mask_key + data

        sock = self.websocket_session(v)
        # A text message in two fragments with a ping between them: pong first, then the echo.
        sock.sendall(frame(0x1, b"hel", fin=False) + frame(0x9, b"p") + frame(0x0, b"lo"))
        self.assertEqual(sock.recv(3), b"\x8a\x01p")
        self.assertEqual(sock.recv(7), b"\x81\x05hello")
        v.wait_for(lambda _: v.last_heartbeat()["websockets"] == 1, "websockets == 1")
        sock.sendall(frame(0x1, b"\xff"))                     # not UTF-8
        self.assertEqual(sock.recv(4), b"\x88\x02\x03\xef")   # close 1007
        self.assertEqual(read_all(sock), b"")
        sock = self.websocket_session(v)
        sock.sendall(frame(0x2, b"x", mask=False))            # clients must mask
        self.assertEqual(sock.recv(4), b"\x88\x02\x03\xea")   # close 1002
        # No Sec-WebSocket-Key: 400.
        sock = v.hand(websocket=True)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: unit.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        self.assertTrue(read_all(sock).startswith(b"HTTP/1.1 400 "))
        v.wait_for(lambda _: v.last_heartbeat()["websockets"] == 0 and v.last_heartbeat()["active"] == 0,
                   "websockets == 0 and active == 0")


class HandlerTest(unittest.TestCase):
    def test_base_http_request_handler(self):
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"hi {self.client_address[0]} {self.vhostd_info.host}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "keep-alive")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        v = FakeVhostd(vhostd_worker.serve_handler, handler_class=Hello)
        c = v.http()
        for _ in range(2):
            c.request("GET", "/")
            response = c.getresponse()
            self.assertEqual(response.read(), b"hi 192.0.2.9 unit.test")
        c.request("GET", "/", headers={"Host": "else.test"})
        self.assertEqual(c.getresponse().status, 421)
        # While draining, the answer says close even though the handler said keep-alive.
        c = v.http()
        v.worker._start_draining()
        c.request("GET", "/")
        response = c.getresponse()
        self.assertEqual((response.read(), response.getheader("Connection")), (b"hi 192.0.2.9 unit.test", "close"))
        self.assertTrue(v.stop())


class RawWorkerTest(unittest.TestCase):
    def test_on_connection_gets_a_cloexec_socket_with_a_timeout(self):
        seen = []

        def on_connection(sock, info):
            seen.append((os.get_inheritable(sock.fileno()), sock.gettimeout(), sock.family, info.remote_port))
            sock.sendall(sock.recv(100).upper())

        def serve(worker, timeout):
            worker.serve(on_connection, timeout)

        v = FakeVhostd(serve)
        sock = v.hand()
        sock.sendall(b"echo")
        self.assertEqual(read_all(sock), b"ECHO")   # closed by the SDK when on_connection returns
        self.assertEqual(seen, [(False, WAIT, socket.AF_INET, 4321)])
        self.assertTrue(v.stop())


class BusTest(unittest.TestCase):
    """What tests/bus cannot see from outside; that suite covers the message bus itself."""

    def test_call_before_serve(self):
        # A worker may ask the singleton for its configuration before it serves: the reply
        # must be read although serve() has not started the channel's reader yet.
        channel, worker_end = socket.socketpair()
        worker = Worker(environ={"VHOSTD_CHANNEL_FD": str(worker_end.detach())})
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(worker.call("config.get", ["db"], timeout=WAIT)))
        caller.start()
        channel.settimeout(WAIT)
        call = json.loads(channel.recv(65536))
        self.assertEqual((call["cmd"], call["method"], call["args"]), ("vhostd:call", "config.get", ["db"]))
        channel.sendall(json.dumps({"cmd": "vhostd:reply", "id": call["id"], "result": "db1"}).encode() + b"\n")
        caller.join(WAIT)
        self.assertEqual(outcome, ["db1"])
        channel.shutdown(socket.SHUT_WR)         # EOF: the reader ends, the worker drains
        worker.serve(lambda sock, info: None)    # returns at once: drained, nothing active
        channel.close()


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
