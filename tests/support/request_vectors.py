"""tests/vectors/requests.json for the Python suites (the SDK's, the conformance suite):
the cases, and the bytes a case sends. The Node and C++ suites read the file by the same
rule: "<repeat>" in the head becomes repeat.text repeated repeat.count times, and the text
is sent as UTF-8."""

from __future__ import annotations

import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors", "requests.json")


def load() -> dict:
    with open(PATH, encoding="utf-8") as f:
        return json.load(f)


def request_bytes(case: dict):
    """(head, body) of a case in "heads", as bytes."""
    head = case["head"]
    if "repeat" in case:
        head = head.replace("<repeat>", case["repeat"]["text"] * case["repeat"]["count"])
    return head.encode("utf-8"), case.get("body", "").encode("utf-8")
