#!/usr/bin/env python3
"""tls = "auto" against Debian's pebble (PEBBLE_VA_NOSLEEP=1) on loopback:
1. SITES auto sites (on-demand pools): the time from vhostd's start until every site has
   answered over HTTPS with a chain that curl checks against pebble's root;
2. the handshake rate with NAMES certificates loaded (one name asked, full handshakes one
   at a time from Python's ssl, no resumption), against a site with one certificate of its
   own (tls = { cert, key }), alternating; and vhostd's RSS with them.
Usage: auto_tls.py BUILD_BIN_DIR [SITES [NAMES]]"""
import json
import os
import re
import signal
import ssl
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs).stdout


def issue(work, name):
    """`name`.pem and `name`.key for DNS name `name`, signed by the bench CA in `work`."""
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
         "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.csr"])
    with open(f"{work}/{name}.ext", "w") as ext:
        ext.write(f"subjectAltName=DNS:{name}\n")
    run(["openssl", "x509", "-req", "-in", f"{work}/{name}.csr", "-CA", f"{work}/ca.pem", "-CAkey", f"{work}/ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", f"{work}/{name}.ext", "-out", f"{work}/{name}.pem"])


class Pebble:
    def __init__(self, work, http_port, tls_port):
        self.work, self.port, self.management = work, free_port(), free_port()
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=bench CA", "-keyout", f"{work}/ca.key", "-out", f"{work}/ca.pem"])
        issue(work, "localhost")
        dns = free_port()
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.management}",
                             "certificate": f"{work}/localhost.pem", "privateKey": f"{work}/localhost.key", "httpPort": http_port,
                             "tlsPort": tls_port, "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        with open(f"{work}/pebble.json", "w") as out:
            json.dump(config, out)
        self.dns = subprocess.Popen(["pebble-challtestsrv", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{dns}", "-http01", "",
                                     "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{free_port()}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log = open(f"{work}/pebble.log", "w")
        self.process = subprocess.Popen(["pebble", "-config", f"{work}/pebble.json", "-dnsserver", f"127.0.0.1:{dns}"],
                                        env={**os.environ, "PEBBLE_VA_NOSLEEP": "1"}, stdout=self.log, stderr=self.log)
        wait_until(lambda: listening(self.port) and listening(self.management), 10, "pebble")
        with open(f"{work}/root.pem", "w") as out:
            out.write(run(["curl", "-sS", "--cacert", f"{work}/ca.pem", f"https://localhost:{self.management}/roots/0"]))

    def stop(self):
        for process in (self.process, self.dns):
            process.terminate()
            process.wait()


def vhostd_config(work, pebble, bin_dir, plain, tls, hosts_per_site, extra=""):
    parts = [f'[[listen]]\naddress = "127.0.0.1:{plain}"\n[[listen]]\naddress = "127.0.0.1:{tls}"\ntls = true\n',
             f'[acme]\ndirectory = "https://localhost:{pebble.port}/dir"\nca_bundle = "{work}/ca.pem"\n'
             f'state_dir = "{work}/acme-{plain}"\n']
    for i, hosts in enumerate(hosts_per_site):
        names = ", ".join(f'"{host}"' for host in hosts)
        parts.append(f'[sites.s{i}]\nhosts = [{names}]\ncommand = ["{bin_dir}/hello-worker"]\nmin_workers = 0\n'
                     f'max_workers = 1\ntls = "auto"\n')
    parts.append(extra)
    return "\n".join(parts)


def start_vhostd(work, bin_dir, text, name):
    with open(f"{work}/{name}.toml", "w") as out:
        out.write(text)
    log = open(f"{work}/{name}.log", "w")
    return subprocess.Popen([f"{bin_dir}/vhostd", "-c", f"{work}/{name}.toml"], stdout=log, stderr=log)


def https_ok(tls, host, root):
    result = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", root, "--resolve", f"{host}:{tls}:127.0.0.1", "-o",
                             "/dev/null", "-w", "%{http_code}", f"https://{host}:{tls}/"], capture_output=True, text=True)
    return result.stdout == "200"


def handshakes_per_second(tls, name, root, seconds):
    """Full handshakes (no resumption) for SNI `name`, one at a time, for `seconds`."""
    context = ssl.create_default_context(cafile=root)
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", tls)) as raw:
            with context.wrap_socket(raw, server_hostname=name):
                count += 1
    return count / seconds


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    sites = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    names = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    with tempfile.TemporaryDirectory() as work:
        plain, tls = free_port(), free_port()
        pebble = Pebble(work, plain, tls)
        try:
            # 1. SITES sites, one name each, from start to every one answering over HTTPS.
            started = time.monotonic()
            vhostd = start_vhostd(work, bin_dir, vhostd_config(work, pebble, bin_dir, plain, tls, [[f"site{i}.bench"] for i in range(sites)]), "sites")
            pending = set(range(sites))
            first = None
            while pending:
                for i in sorted(pending):
                    if https_ok(tls, f"site{i}.bench", f"{work}/root.pem"):
                        pending.discard(i)
                        first = first or time.monotonic() - started
                if time.monotonic() - started > 600:
                    raise TimeoutError(f"{len(pending)} sites without HTTPS after 600 s")
            every = time.monotonic() - started
            print(f"{sites} auto sites: first HTTPS answer {first:.2f} s after start, all {every:.2f} s")
            for line in open(f"{work}/sites.log"):
                if "failed" in line:
                    print("  " + line.rstrip())
            vhostd.send_signal(signal.SIGTERM)
            vhostd.wait()

            # 2. NAMES names loaded; handshakes for one of them, then for a site with its own file.
            plain, tls = free_port(), free_port()
            pebble.stop()
            pebble = Pebble(work, plain, tls)
            issue(work, "own.bench")
            own = (f'[sites.own]\nhosts = ["own.bench"]\ncommand = ["{bin_dir}/hello-worker"]\nmin_workers = 0\nmax_workers = 1\n'
                   f'tls = {{ cert = "{work}/own.bench.pem", key = "{work}/own.bench.key" }}\n')
            started = time.monotonic()
            hosts = [f"n{i}.bench" for i in range(names)]
            vhostd = start_vhostd(work, bin_dir, vhostd_config(work, pebble, bin_dir, plain, tls, [hosts], own), "names")
            log = f"{work}/names.log"
            wait_until(lambda: open(log).read().count("ACME: obtained the certificate") >= names, 900, f"{names} certificates")
            print(f"{names} names of one site: all certificates obtained {time.monotonic() - started:.1f} s after start")
            rss = next(int(line.split()[1]) for line in open(f"/proc/{vhostd.pid}/status") if line.startswith("VmRSS:"))
            print(f"vhostd RSS with {names} certificates: {rss / 1024:.1f} MiB")
            for round_ in range(2):  # alternating, so that drift on a noisy machine shows
                auto = handshakes_per_second(tls, f"n{names // 2}.bench", f"{work}/root.pem", 10)
                single = handshakes_per_second(tls, "own.bench", f"{work}/ca.pem", 10)
                print(f"round {round_ + 1}: new TLS handshakes per second: {auto:.0f} for one of {names} auto names, "
                      f"{single:.0f} for a site's own certificate: ratio {auto / single:.2f}")
            vhostd.send_signal(signal.SIGTERM)
            vhostd.wait()
        finally:
            pebble.stop()


if __name__ == "__main__":
    main()
