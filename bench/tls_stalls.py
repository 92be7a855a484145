#!/usr/bin/env python3
"""Opens N connections to a vhostd TLS listener (terminate mode) that each send a whole
ClientHello and then stall, never finishing the handshake: vhostd has done its part of the
handshake for each and waits for the client's Finished. Reports vhostd's RSS growth per
stalled handshake it holds and how long a normal HTTPS request takes meanwhile.
Usage: tls_stalls.py PID PORT N"""
import socket
import ssl
import subprocess
import sys
import time

from half_heads import connect, open_fds, raise_fd_limit, rss_kib


def client_hello(server_name):
    """The bytes of a real ClientHello, made by Python's TLS client without a socket."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def https_probe(port):
    """curl's times for one request: TCP connect, TLS done, answer complete (ms)."""
    out = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{time_appconnect} %{time_total}",
                          "--resolve", f"hello.test:{port}:127.0.0.1", f"https://hello.test:{port}/"],
                         capture_output=True, text=True, timeout=30).stdout.split()
    return out[0], float(out[1]) * 1000, float(out[2]) * 1000


def main(pid, port, count):
    raise_fd_limit(count)
    hello = client_hello("hello.test")
    before_rss, before_fds = rss_kib(pid), open_fds(pid)
    started = time.monotonic()
    sockets = []
    for i in range(count):
        s = connect(port, i)
        s.sendall(hello)
        sockets.append(s)
    # Bounded wait until vhostd has answered each ClientHello with its flight.
    deadline = time.monotonic() + 60
    answered = 0
    for s in sockets:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            answered += len(s.recv(65536)) > 0
        except OSError:
            pass
    held = open_fds(pid) - before_fds
    time.sleep(0.5)
    after_rss = rss_kib(pid)
    code, handshake_ms, total_ms = https_probe(port)
    for s in sockets:
        s.close()
    print(f"stalled TLS handshakes: {count} ClientHellos sent in {time.monotonic() - started:.1f} s, "
          f"{answered} answered with the server's flight, {held} held by the front")
    print(f"front RSS: {before_rss} KiB -> {after_rss} KiB: {(after_rss - before_rss) * 1024 / max(held, 1):.0f} bytes "
          f"per stalled handshake held")
    print(f"a normal HTTPS request meanwhile: HTTP {code}, handshake done at {handshake_ms:.1f} ms, answer at {total_ms:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
