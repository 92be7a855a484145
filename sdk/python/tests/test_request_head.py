#!/usr/bin/env python3
"""vhostd_worker.request_head: the request vectors, as a first request and cut anywhere."""

from __future__ import annotations

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vhostd_worker.request_head import HeadLimits, HeadRefused, chunk_size, parse_request_head  # noqa: E402
from fake_vhostd import request_vector_bytes, vectors  # noqa: E402


def verdict(data: bytes):
    """The parser's reading in the vectors' terms."""
    try:
        head = parse_request_head(data, HeadLimits())
    except HeadRefused as refused:
        return {"status": refused.status}
    if head is None:
        return None
    reading = {"status": 0, "host": head.host, "framing": head.framing, "length": head.length}
    if head.framing == "length":
        reading["content_length"] = head.content_length
    if head.expect_continue:
        reading["expect_continue"] = True
    return reading


class RequestVectorsTest(unittest.TestCase):
    """tests/vectors/requests.json, which the C++ and Node suites and the conformance suite run too."""

    def test_heads(self):
        cases = vectors("requests.json")["heads"]
        self.assertGreater(len(cases), 100)
        for case in cases:
            head, body = request_vector_bytes(case)
            with self.subTest(case["name"]):
                expected = {"status": case["status"]}
                if case["status"] == 0:
                    expected.update(host=case["host"], framing=case["framing"], length=len(head))
                    if "content_length" in case:
                        expected["content_length"] = case["content_length"]
                    if case.get("expect_continue"):
                        expected["expect_continue"] = True
                self.assertEqual(verdict(head + body), expected)

    def test_a_refusal_never_waits_and_never_changes(self):
        # Every prefix of a refused head is refused alike or needs more; a prefix of an
        # accepted one only ever needs more.
        for case in vectors("requests.json")["heads"]:
            head, _ = request_vector_bytes(case)
            if len(head) > 1024:
                continue
            with self.subTest(case["name"]):
                for cut in range(len(head)):
                    reading = verdict(head[:cut])
                    self.assertIn(reading, (None, {"status": case["status"]} if case["status"] else None))

    def test_chunk_sizes(self):
        self.assertEqual(chunk_size(b"5"), 5)
        self.assertEqual(chunk_size(b"00aF"), 0xAF)
        self.assertEqual(chunk_size(b"3;name=value"), 3)
        self.assertEqual(chunk_size(b"3 ;name"), 3)
        for bad in (b"", b"0x5", b"+5", b"-5", b" 5", b"5 ", b"5;", b"g", b"1_0", b"5 x", b"1" + b"0" * 16):
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    chunk_size(bad)

    def test_limits_from_the_environment(self):
        limits = HeadLimits.from_environment({"VHOSTD_MAX_HEAD_SIZE": "4096",
                                              "VHOSTD_MAX_HEADER_FIELDS": "20"})
        self.assertEqual((limits.max_head_size, limits.max_fields, limits.max_request_line),
                         (4096, 20, 4096))
        defaults = HeadLimits.from_environment({"VHOSTD_MAX_HEAD_SIZE": "x", "VHOSTD_MAX_HEADER_FIELDS": "0"})
        self.assertEqual(defaults, HeadLimits())


if __name__ == "__main__":
    unittest.main(verbosity=2)
