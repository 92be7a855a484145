#!/usr/bin/env python3
"""A raw-protocol worker that answers its first N handles with NODE_HANDLE_NACK (as Node.js
does when a handle's fd did not arrive) and serves the rest: "served by pid P after N refusals".
With a second argument "slot0", only the worker in slot 0 refuses.
"""
import json
import os
import socket
import sys

refusals_left = int(sys.argv[1]) if len(sys.argv) > 1 else 1
if len(sys.argv) > 2 and sys.argv[2] == "slot0" and os.environ.get("VHOSTD_WORKER_SLOT") != "0":
    refusals_left = 0
channel = socket.socket(fileno=int(os.environ["VHOSTD_CHANNEL_FD"]))
channel.sendall(b'{"cmd":"vhostd:ready"}\n')
pending = b""
refused = 0
while True:
    data, fds, _, _ = socket.recv_fds(channel, 65536, 16)
    if not data:
        sys.exit(0)
    pending += data
    fd_queue = list(fds)
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        message = json.loads(line)
        if message.get("cmd") == "vhostd:drain":
            sys.exit(0)
        if message.get("cmd") != "NODE_HANDLE":
            continue
        connection = socket.socket(fileno=fd_queue.pop(0))
        if refusals_left > 0:
            refusals_left -= 1
            refused += 1
            connection.close()  # vhostd keeps its own copy until an ack or a nack
            channel.sendall(b'{"cmd":"NODE_HANDLE_NACK"}\n')
            continue
        channel.sendall(b'{"cmd":"NODE_HANDLE_ACK"}\n')
        connection.recv(65536)
        body = f"served by pid {os.getpid()} after {refused} refusals\n".encode()
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        connection.close()
