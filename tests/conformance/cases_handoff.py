"""Conformance cases on handing connections over: acks, split lines, AF_UNIX sockets."""

from __future__ import annotations

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import HOST, Client, request  # noqa: E402
from suite import Suite  # noqa: E402


def case_acks(suite: Suite):
    """one ack per handle, in order, before the client sends a byte"""
    suite.ensure_worker()
    channel = suite.channel
    # Three connections handed back to back, with nothing sent yet: the worker must
    # acknowledge each without waiting for the request. Each gets its own routed host, so
    # a worker pairing fds and metadata out of order answers the later requests 421.
    clients, hosts, first = [], [], None
    for i in range(3):
        client, server = suite.tcp_pair()
        hosts.append(f"h{i}.{HOST}")
        number = suite.hand(server, suite.metadata(client.getsockname(), hosts[i]))
        first = first or number
        clients.append((Client(client, f"client {i}"), server))
    try:
        suite.wait_ack(first + 2)
    finally:
        for _, server in clients:
            server.close()
    if channel.acks != channel.handed:
        raise Failure(f"{channel.acks} acks for {channel.handed} handles")
    # Now the requests, each head in two pieces with a pause between them.
    for i, (client, _) in enumerate(clients):
        client.send(f"GET /late HTTP/1.1\r\nHo".encode())
    time.sleep(0.2)   # deliberately: the rest of the head comes late
    for i, (client, _) in enumerate(clients):
        client.send(f"st: {hosts[i]}\r\n\r\n".encode())
    for i, (client, _) in enumerate(clients):
        suite.expect_hello(client.response(), what=f"client {i}'s late request")
        client.send(request(host=hosts[i]))
        suite.expect_hello(client.response(), what=f"client {i}'s second request (Host {hosts[i]})")
        client.close()
    if channel.acks != channel.handed:
        raise Failure(f"{channel.acks} acks for {channel.handed} handles")


def case_split_handle(suite: Suite):
    """a NODE_HANDLE line split across two writes (the fd with its first bytes)"""
    suite.ensure_worker()
    channel = suite.channel
    client, server = suite.tcp_pair()
    client.sendall(request(path="/split"))
    line = json.dumps({"cmd": "NODE_HANDLE", "type": "net.Socket",
                       "msg": suite.metadata(client.getsockname())}, separators=(",", ":")).encode() + b"\n"
    with channel.changed:
        channel.handed += 1
    number = channel.handed
    # As vhostd does when the channel is nearly full: the fd goes with the line's first byte.
    socket.send_fds(channel.sock, [line[:9]], [server.fileno()])
    time.sleep(0.1)   # deliberately: the worker reads the first piece alone
    channel.sock.sendall(line[9:])
    try:
        suite.wait_ack(number)
    finally:
        server.close()
    c = Client(client)
    suite.expect_hello(c.response())
    c.close()


def case_unix_socket(suite: Suite):
    """a terminate-mode TLS connection (an AF_UNIX socketpair end) is served"""
    suite.ensure_worker()
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client.sendall(request(path="/tls"))
    tls = {"mode": "terminate", "serverName": HOST, "alpn": "http/1.1", "version": "TLSv1.3",
           "cipher": "TLS_AES_256_GCM_SHA384"}
    msg = suite.metadata(("192.0.2.7", 40123), head_length=len(request(path="/tls")), tls=tls)
    msg["localPort"] = 8443
    number = suite.hand(server, msg)
    try:
        suite.wait_ack(number)
    finally:
        server.close()
    c = Client(client, "relayed TLS client")
    suite.expect_hello(c.response(), what="the first request")
    c.send(request(path="/again", body=b"abc"))
    suite.expect_hello(c.response(), 3, "a second request on the socketpair")
    c.close()
