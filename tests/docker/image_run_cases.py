"""The cases of docker_files_test.py that run the image's commands here, its paths mapped to
--bin and docker/: vhostd --check on the configs, ENTRYPOINT + CMD and the HEALTHCHECK, and
two replicas behind HAProxy."""

from __future__ import annotations

import http.client
import json
import os
import socket

from compose_reader import volumes
from docker_common import COMPOSE_HAPROXY, CONFIG, DOCKER, HAPROXY_CFG, WAIT, load_toml, output, read, run
from docker_suite import Suite, http_get, map_paths, toml_text
from harness import Failure, expect, free_ports, wait_until


def case_configs_check(s: Suite):
    """vhostd --check accepts vhostd.toml and vhostd-replica.toml, the image's paths mapped here"""
    vhostd = os.path.join(s.bin, "vhostd")
    for name in ("vhostd.toml", "vhostd-replica.toml"):
        config = load_toml(os.path.join(DOCKER, name))
        path = os.path.join(s.directory, "check-" + name)
        with open(path, "w") as f:
            f.write(toml_text(map_paths(config, s.to_host)))
        result = run([vhostd, "--check", "-c", path])
        expect(result.returncode == 0, f"vhostd --check {name}: {output(result, 800)}")
    replica, single = (load_toml(os.path.join(DOCKER, n)) for n in ("vhostd-replica.toml", "vhostd.toml"))
    expect(replica["sites"] == single["sites"], "vhostd-replica.toml's sites differ from vhostd.toml's")


def case_image_runs(s: Suite):
    """the image's ENTRYPOINT and CMD serve both sites here; its HEALTHCHECK says 1, then 0"""
    config = load_toml(s.to_host(CONFIG))
    path, (port, *_), _ = s.local_config(config, "image.toml")
    health = s.image_command(s.health_command()[1], path)
    result = run(health, timeout=10)
    expect(result.returncode == 1, f"with no vhostd running, `{' '.join(health)}` exited {result.returncode} "
                                   f"(Docker reads 1 as unhealthy; 2 is reserved): {output(result, 120, head=True)}")
    vhostd = s.start("vhostd", s.image_command(s.server_command(), path))
    s.wait_healthy("vhostd", vhostd, health)
    default = None
    for name, site in config["sites"].items():
        host = (site.get("hosts") or ["default.invalid"])[0]
        status, body, _ = wait_until(lambda: http_get(port, host), WAIT, f"an answer for {host}")
        expect(status == 200, f"{host}: {status} {body[:200]!r}")
        if "static" in site:
            index = os.path.join(s.to_host(site["static"]), "index.html")
            expect(body == open(index, "rb").read(), f"{host}: the body is not {index}")
        elif site.get("command", [""])[0].endswith("/hello-worker"):
            expect(body.startswith(f"hello from {name} (pid".encode()), f"{host}: {body[:200]!r}")
        if site.get("default"):
            default = body
    if default is not None:
        status, body, _ = http_get(port, "unknown.invalid")
        expect(status == 200 and body == default, f"a host of no site got {status} {body[:100]!r}, not the default site")
    status = vhostd.stop("vhostd")
    expect(status == 0, f"vhostd exited with status {status} after SIGTERM")


def case_haproxy_runs(s: Suite):
    """HAProxy with haproxy.cfg sends PROXY v2 round robin to two vhostd replicas here"""
    services = s.compose(COMPOSE_HAPROXY)["services"]
    replicas = sorted(n for n, v in services.items() if (v.get("build") or {}).get("dockerfile") == "docker/Dockerfile")
    config = load_toml(next(src for src, target, _ in volumes(services[replicas[0]]) if target == CONFIG))
    ports, logs = {}, {}
    for name in replicas:
        logs[name] = os.path.join(s.directory, f"{name}-access.log")
        path, (port,), _ = s.local_config(config, f"{name}.toml", proxy_from=["127.0.0.1"], access_log=logs[name])
        ports[name] = port
        process = s.start(name, s.image_command(s.server_command(), path))
        s.wait_healthy(name, process, s.image_command(s.health_command()[1], path))

    (front,) = free_ports(1)
    text, servers = [], set()
    for line in read(HAPROXY_CFG).splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            line = line.replace(words[1], f"127.0.0.1:{front}")
        elif words[:1] == ["server"]:
            expect(words[1] in ports, f"haproxy.cfg's server {words[1]} is no replica in compose.haproxy.yaml")
            line = line.replace(words[2], f"127.0.0.1:{ports[words[1]]}")
            servers.add(words[1])
        text.append(line)
    expect(servers == set(replicas), f"haproxy.cfg's servers {sorted(servers)}, the replicas {replicas}")
    cfg = os.path.join(s.directory, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join(text) + "\n")
    balancer = s.start("haproxy", ["haproxy", "-db", "-f", cfg])

    hello = next(n for n, site in config["sites"].items() if site.get("command", [""])[0].endswith("/hello-worker"))
    host = config["sites"][hello]["hosts"][0]
    sent = []
    for i in range(2 * len(replicas)):
        errors = []

        def answered():
            expect(balancer.alive(), f"haproxy exited with status {balancer.popen.returncode}")
            try:
                return http_get(front, host)
            except (OSError, http.client.HTTPException) as e:
                errors[:] = [f"{type(e).__name__}: {e}"]
                return None
        try:
            status, body, client_port = wait_until(answered, WAIT, "an answer through HAProxy", poll=0.1)
        except Failure as e:
            raise Failure(f"{e} (the last try: {errors[0] if errors else '-'})") from None
        expect(status == 200 and body.startswith(f"hello from {hello} (pid".encode()),
               f"request {i + 1} through HAProxy got {status} {body[:200]!r}")
        sent.append(client_port)

    def clients(name):
        """The client ports in a replica's access log (the address PROXY v2 gave it)."""
        found = set()
        with open(logs[name], errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                address, _, port = entry.get("client", "").rpartition(":")
                if address == "127.0.0.1" and entry.get("site") == hello:
                    found.add(int(port))
        return found
    def all_logged():
        found = {name: clients(name) for name in replicas}
        return found if set(sent) <= set().union(*found.values()) else None
    seen = wait_until(all_logged, WAIT, "every request in a replica's access log", poll=0.1)
    for name in replicas:
        expect(seen[name] & set(sent), f"{name} got none of the {len(sent)} requests: not round robin")
    expect(sum(len(seen[n] & set(sent)) for n in replicas) == len(sent), "a request was logged by two replicas")

    # Straight to a replica, without a PROXY header: closed unanswered.
    with socket.create_connection(("127.0.0.1", ports[replicas[0]]), timeout=WAIT) as direct:
        direct.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        try:
            answer = direct.recv(100)
        except ConnectionResetError:
            answer = b""
    expect(answer == b"", f"a replica answered a connection without PROXY header: {answer!r}")

    balancer.stop("haproxy")
    for name, process in s.processes:
        if name in replicas:
            status = process.stop(name)
            expect(status == 0, f"{name} exited with status {status} after SIGTERM")
    return " / ".join(f"{n}: {len(seen[n] & set(sent))}" for n in replicas) + " connections"
