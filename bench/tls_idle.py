#!/usr/bin/env python3
"""Opens N TLS connections to a vhostd TLS listener, sends one keep-alive request on each,
reads the answer and keeps the connection open: each is then relayed by vhostd (terminate
mode) between its TLS socket and the worker's socketpair. Reports vhostd's RSS growth per
open relay.  Usage: tls_idle.py PID PORT N"""
import socket
import ssl
import sys
import time

from half_heads import connect, raise_fd_limit, rss_kib


def main(pid, port, count):
    raise_fd_limit(count)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    before = rss_kib(pid)
    started = time.monotonic()
    connections = []
    answered = 0
    for i in range(count):
        raw = connect(port, i)
        raw.settimeout(10)
        tls = context.wrap_socket(raw, server_hostname="hello.test")
        tls.sendall(b"GET / HTTP/1.1\r\nHost: hello.test\r\n\r\n")
        answered += tls.recv(4096).startswith(b"HTTP/1.1 200")
        connections.append(tls)
    time.sleep(0.5)
    after = rss_kib(pid)
    print(f"TLS keep-alive connections: {count} opened and answered ({answered} with 200) in {time.monotonic() - started:.1f} s")
    print(f"front RSS: {before} KiB -> {after} KiB: {(after - before) * 1024 / count:.0f} bytes per idle relayed TLS connection")
    for tls in connections:
        tls.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
