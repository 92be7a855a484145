"""What image_test.py reads, without podman: apt's sources (for debootstrap's mirror), what an
image runs (from `podman image inspect`), and the vhostd config it runs with. Pure functions
of text and JSON; standard library only."""

from __future__ import annotations

import re
import tomllib
from typing import NamedTuple


def apt_mirror(source_texts, suite="bookworm"):
    """The URI of the first `deb` entry for `suite` in apt's sources (one-line .list files or
    deb822 .sources files), or None."""
    for text in source_texts:
        for types, uris, suites in _entries(text):
            if "deb" in types and suite in suites and uris:
                return uris[0]
    return None


def _entries(text):
    """(types, URIs, suites) of each entry of a sources file, in either format."""
    # A comment line is dropped, not blanked: in deb822 a blank line ends the stanza.
    lines = [line.split("#", 1)[0].rstrip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    if any(re.match(r"(?i)types\s*:", line) for line in lines):           # deb822 stanzas
        for stanza in re.split(r"\n\s*\n", "\n".join(lines)):
            fields = {}
            for line in stanza.splitlines():
                key, colon, value = line.partition(":")
                if colon and not line[:1].isspace():
                    fields[key.strip().lower()] = value.split()
            if fields.get("enabled", ["yes"])[0].lower() != "no":
                yield fields.get("types", []), fields.get("uris", []), fields.get("suites", [])
        return
    for line in lines:
        words = re.sub(r"\[[^\]]*\]", "", line).split()      # "[arch=amd64 signed-by=...]" out
        if len(words) >= 3:
            yield [words[0]], [words[1]], [words[2]]


class RunConfig(NamedTuple):
    user: str
    command: list         # ENTRYPOINT + CMD
    health: list          # the HEALTHCHECK's command (CMD form), or []


def run_config(inspected):
    """What an image runs, from one element of `podman image inspect`'s JSON."""
    config = inspected.get("Config") or {}
    healthcheck = inspected.get("HealthCheck") or inspected.get("Healthcheck") or config.get("Healthcheck") or {}
    test = healthcheck.get("Test") or []
    health = test[1:] if test[:1] == ["CMD"] else []
    return RunConfig(config.get("User", ""), (config.get("Entrypoint") or []) + (config.get("Cmd") or []), health)


def config_path(command):
    """The FILE of `-c FILE` in vhostd's command line."""
    for flag, value in zip(command, command[1:]):
        if flag in ("-c", "--config"):
            return value
    raise ValueError(f"no -c FILE in {command}")


def load_config(text):
    return tomllib.loads(text)


def listen_port(config):
    """The port of the config's first plain (not TLS) listener."""
    for listen in config.get("listen", []):
        if not listen.get("tls"):
            return int(listen["address"].rsplit(":", 1)[1])
    raise ValueError("the config has no plain HTTP listener")
