"""docker-compose's view of a compose file, and what the checks read from a service.

`docker-compose config` prints the file resolved (anchors, paths made absolute) in the block
style of PyYAML's safe_dump; read_yaml reads that style, and only that."""

from __future__ import annotations

import json
import re

import docker_common  # noqa: F401  (first: it puts harness's folder on sys.path)
from harness import Failure


def yaml_scalar(text):
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text)
    if text in ("null", "~"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return int(text) if re.fullmatch(r"-?\d+", text) else text


# "key: value" or "key:", the key plain or quoted; "a:b" (a volume) and "x: y" inside quotes are not.
KEY = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\"|[^'\"\s-][^:]*?|-[^\s:][^:]*?):(?: (.*)|$)")


def read_yaml(text):
    lines = [[len(line) - len(line.lstrip(" ")), line.strip()] for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]

    def item(i, indent):
        return i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- "))

    def scalar(text, i, indent):
        while i < len(lines) and lines[i][0] > indent and not KEY.fullmatch(lines[i][1]):
            text, i = text + " " + lines[i][1], i + 1           # a folded long scalar
        return yaml_scalar(text), i

    def node(i, indent):
        return sequence(i, indent) if item(i, indent) else mapping(i, indent)

    def mapping(i, indent):
        result = {}
        while i < len(lines) and lines[i][0] == indent and not item(i, indent):
            match = KEY.fullmatch(lines[i][1])
            if not match:
                raise Failure(f"docker-compose config printed a line this test cannot read: {lines[i][1]!r}")
            key, rest = yaml_scalar(match.group(1)), match.group(2)
            i += 1
            if rest:
                result[key], i = scalar(rest, i, indent)
            elif i < len(lines) and (lines[i][0] > indent or item(i, indent)):
                result[key], i = node(i, lines[i][0])
            else:
                result[key] = None
        return result, i

    def sequence(i, indent):
        result = []
        while item(i, indent):
            rest = lines[i][1][2:]
            if KEY.fullmatch(rest):
                lines[i] = [indent + 2, rest]                   # "- key: value" opens a mapping
                value, i = mapping(i, indent + 2)
            else:
                value, i = scalar(rest, i + 1, indent)
            result.append(value)
        return result, i

    return node(0, lines[0][0])[0] if lines else {}


def volumes(service):
    """A service's bind mounts as (source, target, read_only)."""
    found = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            found.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
        else:
            parts = v.split(":")
            found.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return found


def published_ports(service):
    """(published, target) of a service's ports."""
    found = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            found.append((int(p.get("published", 0)), int(p["target"])))
        else:
            parts = str(p).split(":")
            found.append((int(parts[-2]), int(parts[-1].split("/")[0])))
    return found
