#!/usr/bin/env python3
"""Unit tests of vhostd_worker: what the conformance suite cannot see from outside (the
WSGI environ, response framing, the WebSocket helper's edge cases, protocol errors).

    python3 sdk/python/test_vhostd_worker.py

Each test runs a Worker on a socketpair in this process, plays vhostd on the other end and
hands it real loopback TCP connections. Standard library only. The tests are in tests/, one
file per module of the package (each runs alone too); tests/fake_vhostd.py is what they
share. This runs them all.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "tests")]

# One module of tests per module of vhostd_worker; a name that fails to import fails the run.
MODULES = ["test_host", "test_channel", "test_worker", "test_wsgi", "test_websocket",
           "test_http_handler", "test_bus", "test_request_head"]

if __name__ == "__main__":
    tests = unittest.defaultTestLoader.loadTestsFromNames(MODULES)
    result = unittest.TextTestRunner(verbosity=2).run(tests)
    sys.exit(0 if result.wasSuccessful() and result.testsRun else 1)
