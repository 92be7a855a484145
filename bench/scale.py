#!/usr/bin/env python3
"""vhostd with 1,000 on-demand sites (no idle worker): start time, RSS, first-request
latency of a cold site, reload time.  Usage: scale.py BUILD_BIN_DIR [SITES]"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def config(port, bin_dir, sites, extra_host=""):
    parts = [f'[[listen]]\naddress = "127.0.0.1:{port}"\n']
    for i in range(sites):
        hosts = f'"site{i}.example", "*.site{i}.example"' + (f', "{extra_host}"' if i == 1 and extra_host else "")
        parts.append(f'[sites.site{i}]\nhosts = [{hosts}]\ncommand = ["{bin_dir}/hello-worker"]\n'
                     f'min_workers = 0\nmax_workers = 1\n')
    return "\n".join(parts)


def wait_until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.001)


def request_ms(port, host):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := s.recv(4096):
            response += chunk
    if not response.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{host}: {response[:60]!r}")
    return (time.monotonic() - started) * 1000


def main(bin_dir, sites):
    bin_dir = os.path.abspath(bin_dir)  # the config lives in a temp dir: no relative paths
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        path = os.path.join(work, "vhostd.toml")
        log_path = os.path.join(work, "vhostd.log")
        with open(path, "w") as f:
            f.write(config(port, bin_dir, sites))
        log = open(log_path, "w")
        started = time.monotonic()
        vhostd = subprocess.Popen([f"{bin_dir}/vhostd", "-c", path], stdout=log, stderr=subprocess.STDOUT)
        try:
            def listening():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return True
                except OSError:
                    return False
            wait_until(listening)
            start_ms = (time.monotonic() - started) * 1000
            time.sleep(0.5)
            rss_start = rss_kib(vhostd.pid)
            cold = request_ms(port, "site500.example")
            warm = request_ms(port, "site500.example")
            wildcard_cold = request_ms(port, "www.site900.example")

            with open(path, "w") as f:
                f.write(config(port, bin_dir, sites, extra_host="alias.example"))
            before = open(log_path).read().count("reload: ")
            reload_started = time.monotonic()
            vhostd.send_signal(signal.SIGHUP)
            wait_until(lambda: open(log_path).read().count("reload: ") > before)
            reload_ms = (time.monotonic() - reload_started) * 1000
            alias = request_ms(port, "alias.example")
            rss_end = rss_kib(vhostd.pid)

            print(f"sites: {sites} (min_workers = 0: no worker until a request)")
            print(f"start to listening: {start_ms:.0f} ms; RSS {rss_start / 1024:.1f} MiB")
            print(f"cold site, first request (starts its worker): {cold:.1f} ms; second request: {warm:.2f} ms")
            print(f"another cold site through a wildcard: {wildcard_cold:.1f} ms")
            print(f"reload (one host added; read, validate, diff, apply): {reload_ms:.0f} ms; the new host answers in {alias:.1f} ms")
            print(f"RSS after: {rss_end / 1024:.1f} MiB")
        except Exception:
            print(open(log_path).read()[-3000:])
            raise
        finally:
            vhostd.send_signal(signal.SIGTERM)
            try:
                vhostd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                vhostd.kill()
                vhostd.wait()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
