"""The cases of docker_files_test.py on the compose files and haproxy.cfg: their linters, and
that they agree with the image and the configs they mount."""

from __future__ import annotations

import os
import re

from compose_reader import published_ports, volumes
from docker_common import (COMPOSE, COMPOSE_HAPROXY, CONFIG, DOCKER, DOCKER_DNS, HAPROXY_CFG, HAPROXY_IMAGE_CONFIG,
                           REPO, YAMLLINT_RULES, load_toml, output, port_of, read, run, tool)
from docker_suite import Suite, map_paths
from haproxy_cfg import haproxy_sections, haproxy_servers
from harness import expect


def case_yamllint(s: Suite):
    """the compose files pass yamllint --strict"""
    linter = tool("yamllint", "the YAML linter, from Debian")
    files = sorted(os.path.join(DOCKER, f) for f in os.listdir(DOCKER) if f.endswith((".yaml", ".yml")))
    expect(COMPOSE in files and COMPOSE_HAPROXY in files, f"docker/ lacks a compose file: {files}")
    result = run([linter, "--strict", "-f", "parsable", "-d", YAMLLINT_RULES, *files])
    expect(result.returncode == 0, output(result, 1000).replace(REPO + "/", ""))
    return f"{len(files)} files"


def case_compose_config(s: Suite):
    """docker-compose config accepts both compose files, with no engine to reach"""
    for path in (COMPOSE, COMPOSE_HAPROXY):
        expect(s.compose(path).get("services"), f"{os.path.relpath(path, REPO)} has no services")
    return run(["docker-compose", "version", "--short"]).stdout.strip()


def case_haproxy_check(s: Suite):
    """haproxy.cfg passes haproxy -c (names that only Docker's DNS resolves aside)"""
    haproxy = tool("haproxy", "it checks haproxy.cfg")
    result = run([haproxy, "-c", "-f", HAPROXY_CFG])
    expect(result.returncode == 0, f"haproxy -c: {output(result, 800)}")
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "WARNING" in line and "could not resolve address" not in line]
    expect(not warnings, "haproxy -c warned: " + " | ".join(warnings))


def case_compose(s: Suite):
    """compose.yaml: the image, the config read-only at its path, the site's folder, the port"""
    services = s.compose(COMPOSE)["services"]
    expect(list(services) == ["vhostd"], f"compose.yaml has services {list(services)}, expected vhostd")
    service = services["vhostd"]
    build = service.get("build") or {}
    expect(build.get("context") == REPO and build.get("dockerfile") == "docker/Dockerfile",
           f"compose.yaml builds {build}, expected the repository with docker/Dockerfile")
    expect("healthcheck" not in service, "compose.yaml overrides the image's HEALTHCHECK")
    mounts = volumes(service)
    config_mounts = [m for m in mounts if m[1] == CONFIG]
    expect(len(config_mounts) == 1 and config_mounts[0][2], f"compose.yaml mounts {CONFIG}: {config_mounts}")
    config = load_toml(config_mounts[0][0])
    named = set()
    map_paths(config, lambda p: named.add(p) or p)
    for source, target, read_only in mounts:
        expect(os.path.exists(source), f"compose.yaml mounts {source}, which does not exist")
        expect(target == CONFIG or target in named, f"compose.yaml mounts {target}, which the config never names")
        expect(read_only, f"compose.yaml mounts {target} read-write")
    listening = {port_of(listen["address"]) for listen in config["listen"]}
    targets = {target for _, target in published_ports(service)}
    expect(targets == listening, f"compose.yaml publishes {sorted(targets)}, vhostd listens on {sorted(listening)}")
    return f"mounts {', '.join(t for _, t, _ in mounts)}"


def case_haproxy_files(s: Suite):
    """compose.haproxy.yaml, haproxy.cfg and vhostd-replica.toml agree: names, ports, subnet"""
    compose = s.compose(COMPOSE_HAPROXY)
    services = compose["services"]
    replicas = sorted(n for n, v in services.items() if (v.get("build") or {}).get("dockerfile") == "docker/Dockerfile")
    expect(len(replicas) >= 2, f"compose.haproxy.yaml has {len(replicas)} vhostd replicas, expected 2 or more")
    balancers = [n for n, v in services.items() if str(v.get("image", "")).startswith("haproxy:")]
    expect(len(balancers) == 1, f"compose.haproxy.yaml has HAProxy services {balancers}, expected one")
    haproxy = services[balancers[0]]
    version = re.search(r"version (\d+\.\d+)", run(["haproxy", "-v"]).stdout)
    expect(version and haproxy["image"] == f"haproxy:{version.group(1)}",
           f"compose.haproxy.yaml runs {haproxy['image']}; haproxy -c checks with {version and version.group(1)}")
    expect((HAPROXY_CFG, HAPROXY_IMAGE_CONFIG, True) in volumes(haproxy),
           f"HAProxy does not mount docker/haproxy.cfg read-only at {HAPROXY_IMAGE_CONFIG}")
    replica_toml = os.path.join(DOCKER, "vhostd-replica.toml")
    for name in replicas:
        expect((replica_toml, CONFIG, True) in volumes(services[name]),
               f"{name} does not mount docker/vhostd-replica.toml read-only at {CONFIG}")
        expect(not services[name].get("ports"), f"{name} publishes ports: only HAProxy should reach it")
    config = load_toml(replica_toml)
    (listen,) = config["listen"]
    expect(listen.get("proxy_protocol") is True, "vhostd-replica.toml's listener has no proxy_protocol = true")
    subnets = {c["subnet"] for network in (compose.get("networks") or {}).values() if network
               for c in (network.get("ipam") or {}).get("config", [])}
    expect(subnets and set(listen.get("proxy_from", [])) == subnets,
           f"proxy_from = {listen.get('proxy_from')}, the compose network's subnet is {sorted(subnets)}")
    for name in replicas + balancers:
        expect(set(services[name].get("networks") or {}) == set(compose["networks"]),
               f"{name} is not on the network {list(compose['networks'])}")

    sections = haproxy_sections(read(HAPROXY_CFG))
    mode = [w for key, lines in sections.items() if key[0] in ("defaults", "frontend", "backend")
            for w in lines if w[0] == "mode"]
    expect(mode and all(w == ["mode", "tcp"] for w in mode), f"haproxy.cfg modes: {mode}; expected mode tcp")
    (backend,) = [lines for key, lines in sections.items() if key[0] == "backend"]
    expect(["balance", "roundrobin"] in backend, "haproxy.cfg's backend is not balance roundrobin")
    servers = haproxy_servers(backend)
    expect(sorted(servers) == replicas, f"haproxy.cfg's servers {sorted(servers)}, the replicas {replicas}")
    for name, (address, options) in servers.items():
        expect(address == f"{name}:{port_of(listen['address'])}", f"server {name} at {address}")
        expect("send-proxy-v2" in options, f"server {name} without send-proxy-v2")
        if "resolvers" in options:
            resolvers = sections.get(("resolvers", options[options.index("resolvers") + 1]), [])
            expect(any(w[0] == "nameserver" and w[-1] == DOCKER_DNS for w in resolvers),
                   f"server {name}'s resolvers do not ask Docker's DNS at {DOCKER_DNS}")
        expect("init-addr" in options and "none" in options[options.index("init-addr") + 1].split(","),
               f"server {name} without init-addr ...,none: HAProxy would not start before it resolves")
    binds = {port_of(w[1]) for key, lines in sections.items() if key[0] == "frontend" for w in lines if w[0] == "bind"}
    targets = {target for _, target in published_ports(haproxy)}
    expect(binds and binds == targets, f"HAProxy binds {sorted(binds)} and publishes {sorted(targets)}")
    return f"replicas {', '.join(replicas)}, proxy_from {', '.join(sorted(subnets))}"
