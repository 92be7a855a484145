#!/usr/bin/env python3
"""Opens N connections to a front that each send half a request head and then stall, and
reports the front's RSS growth per connection, while checking that a normal request is still
answered meanwhile.  Usage: half_heads.py PID PORT N"""
import os
import resource
import socket
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(port, i):
    """Client connection number `i`, from one of many loopback addresses (200 each): the
    front's per-address caps (max_waiting_heads_per_ip) would refuse most from one."""
    return socket.create_connection(("127.0.0.1", port), source_address=(f"127.1.{i // 50000}.{i // 200 % 250 + 1}", 0))


def raise_fd_limit(count):
    """Room for `count` client sockets and a margin."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))


def main(pid, port, count):
    raise_fd_limit(count)
    before_rss, before_fds = rss_kib(pid), open_fds(pid)
    half_head = b"GET / HTTP/1.1\r\nHost: hello.test\r\nX-Half: "
    sockets = []
    started = time.monotonic()
    for i in range(count):
        s = connect(port, i)
        s.sendall(half_head)
        sockets.append(s)
    # Bounded wait until the front has accepted them all.
    deadline = time.monotonic() + 30
    while open_fds(pid) < before_fds + count and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted = open_fds(pid) - before_fds
    time.sleep(0.5)  # let the coroutines settle after their first peek
    after_rss = rss_kib(pid)
    probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", "Host: hello.test",
                            f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=10).stdout
    for s in sockets:
        s.close()
    per_connection = (after_rss - before_rss) * 1024 / max(accepted, 1)
    print(f"half-head connections: {count} opened in {time.monotonic() - started:.1f} s, {accepted} held by the front")
    print(f"front RSS: {before_rss} KiB -> {after_rss} KiB: {per_connection:.0f} bytes per pending connection")
    code, seconds = probe.split()
    print(f"a normal request meanwhile: HTTP {code} in {float(seconds) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
