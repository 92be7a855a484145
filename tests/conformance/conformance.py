#!/usr/bin/env python3
"""The worker protocol conformance suite: one set of checks every worker SDK passes.

    python3 tests/conformance/conformance.py [--runtime node] -- WORKER_COMMAND...

It plays vhostd's side of the channel (docs/protocol.md) for real: the worker is started
with a Unix socketpair end at fd 3, in a process group of its own, with the environment
vhostd gives (plus NODE_CHANNEL_FD=3 and NODE_CHANNEL_SERIALIZATION_MODE=json with
--runtime node), and is handed real TCP connections accepted on 127.0.0.1 from real client
sockets. The worker must answer like examples/hello-worker: 200 "hello from conformance
(pid N)\\n", plus "received N bytes\\n" for a request with a body, and echo WebSocket
messages.

Prints TAP (`ok N - name`, `not ok N - name: reason`, the worker's output as `#` lines on a
failure) and exits 1 if any case fails. Every wait is bounded; the whole run is cut off
after --time-limit seconds; every worker started is killed by process group at the end.
Standard library only. This file is the runner: the cases are in cases_*.py by topic, the
client in http_client.py (behind_vhostd.py reuses it), vhostd's side of the channel and the
process it starts in vhostd_side.py (tests/bus/bus_protocol_test.py reuses it), the state
the cases share in suite.py.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import run_worker_suite, tap_comments  # noqa: E402
from suite import NoWorker, Suite  # noqa: E402
from vhostd_side import run_checked  # noqa: E402
from cases_channel import case_heartbeats, case_ready, case_unknown_message  # noqa: E402
from cases_handoff import case_acks, case_split_handle, case_unix_socket  # noqa: E402
from cases_http import case_counters, case_keep_alive, case_pipelining, case_post_body  # noqa: E402
from cases_websocket import case_websocket  # noqa: E402
from cases_hosts import case_misdirected, case_misdirected_kelvin  # noqa: E402
from cases_grammar import (case_grammar_bodies, case_grammar_connection_host,  # noqa: E402
                           case_grammar_corpus, case_grammar_first, case_grammar_later)
from cases_lifecycle import case_channel_eof, case_drain  # noqa: E402

CASES = [case_ready, case_heartbeats, case_acks, case_keep_alive, case_pipelining,
         case_post_body, case_counters, case_websocket, case_misdirected, case_misdirected_kelvin,
         case_grammar_first, case_grammar_later, case_grammar_bodies, case_grammar_connection_host,
         case_grammar_corpus,
         case_unknown_message,
         case_drain, case_channel_eof, case_split_handle, case_unix_socket]

# Cases after which the worker is expected to be gone.
ENDS_WORKER = {case_drain, case_channel_eof}


def run_case(case, suite: Suite):
    """The case, checked for protocol errors and for a worker that exited unasked."""
    return run_checked(case, suite, lambda s: s.worker, ENDS_WORKER, "worker")


def worker_output(suite: Suite, case=None, error=None):
    """After a failure: the worker's last words (stopped first when the case was to end it)."""
    if suite.worker is None or isinstance(error, NoWorker):
        return
    if suite.worker.alive() and case in ENDS_WORKER:
        suite.worker.kill()
    suite.worker.exit_status(0.2)
    tap_comments(suite.worker.output())


def main():
    return run_worker_suite(__doc__, "WORKER_COMMAND", "worker", Suite, CASES, lambda suite: dict(
        run_case=run_case,
        after_case=lambda case, error: error and worker_output(suite, case, error),
        on_timeout=lambda: worker_output(suite)))


if __name__ == "__main__":
    sys.exit(main())
