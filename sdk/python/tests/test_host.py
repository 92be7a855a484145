#!/usr/bin/env python3
"""vhostd_worker.host: the host vectors."""

from __future__ import annotations

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vhostd_worker import normalize_host, same_host  # noqa: E402
from fake_vhostd import vectors  # noqa: E402


class HostVectorsTest(unittest.TestCase):
    """tests/vectors/hosts.json, which the C++ and Node suites run too."""

    def test_normalize(self):
        for case in vectors("hosts.json")["normalize"]:
            with self.subTest(raw=case["raw"]):
                self.assertEqual(normalize_host(case["raw"]), case["host"])
                if case["host"] is not None:       # a normalised host reads back as itself
                    self.assertEqual(normalize_host(case["host"]), case["host"])

    def test_same_host(self):
        for case in vectors("hosts.json")["same_host"]:
            with self.subTest(a=case["a"], b=case["b"]):
                self.assertEqual(same_host(case["a"], case["b"]), case["same"])
                self.assertEqual(same_host(case["b"], case["a"]), case["same"])

    def test_not_a_string(self):
        self.assertFalse(same_host(None, "blog.example"))
        self.assertIsNone(normalize_host(None))


if __name__ == "__main__":
    unittest.main(verbosity=2)
