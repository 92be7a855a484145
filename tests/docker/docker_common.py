"""What the checks of docker/ share (docker_files_test.py): where the files are, what the
image is made of, running a tool and reading a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/support holds harness.py; every module of these checks imports this one first.
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Failure  # noqa: E402

try:
    import tomllib
except ImportError:       # Python < 3.11; Debian 12 has 3.11
    tomllib = None

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
DOCKER = os.path.join(REPO, "docker")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
COMPOSE = os.path.join(DOCKER, "compose.yaml")
COMPOSE_HAPROXY = os.path.join(DOCKER, "compose.haproxy.yaml")
HAPROXY_CFG = os.path.join(DOCKER, "haproxy.cfg")

CONFIG = "/etc/vhostd/vhostd.toml"          # the documented path of the config in the image
PREFIX = "/usr/local"                       # scripts/stage.sh's install prefix
STAGE_BUILD_DIR = "build"                   # the build tree scripts/stage.sh installs from
# What scripts/stage.sh installs from build/bin, by folder under the prefix.
STAGED = {"bin": ["vhostd", "vhostctl", "vhostd-static", "vhostd-upstream"],
          "libexec/vhostd": ["hello-worker"]}
IMAGE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
# Packages the run stage may install that no binary links, with the program each provides,
# which must then be the ENTRYPOINT's.
ENTRYPOINT_PACKAGES = {"tini": "/usr/bin/tini"}
HAPROXY_IMAGE_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"   # the official image's
DOCKER_DNS = "127.0.0.11:53"
YAMLLINT_RULES = "{extends: default, rules: {document-start: disable, line-length: {max: 100}}}"
WAIT = 15.0


def run(command, timeout=60, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def output(result, limit=300, head=False):
    """A command's output on one line (a TAP line), its end kept (or its start)."""
    text = " | ".join((result.stdout + result.stderr).strip().splitlines())
    return text[:limit] if head else text[-limit:]


def tool(name, what):
    path = shutil.which(name)
    if path is None:
        raise Failure(f"{name} is not installed ({what}); scripts/install-deps.sh installs it")
    return path


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_toml(path):
    if tomllib is None:
        raise Failure("Python 3.11 or later is needed (tomllib) to read the configs")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Failure(f"{os.path.relpath(path, REPO)}: {e}") from None


def port_of(address):
    return int(address.rsplit(":", 1)[1])
