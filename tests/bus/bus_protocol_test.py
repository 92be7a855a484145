#!/usr/bin/env python3
"""The message bus of an SDK (docs/protocol.md, section 12) against vhostd's side of the
channel, played by this script: no vhostd needed.

    python3 tests/bus/bus_protocol_test.py [--runtime node] -- BUS_WORKER_COMMAND...

BUS_WORKER_COMMAND is a small program on the SDK under test that reports what the SDK hands
it as JSON lines on stdout and acts on the messages it receives (node_bus_worker.js describes
the contract; python_bus_worker.py is the Python one). It is started twice the way vhostd
starts a process (tests/conformance/vhostd_side.py's way: channel at fd 3, its own process
group, the VHOSTD_* environment, with VHOSTD_ROLE=worker and then VHOSTD_ROLE=singleton),
and the cases check the lines it writes on the channel and the events it prints.

Prints TAP and exits 1 if any case fails. Every wait is bounded; the whole run is cut off
after --time-limit seconds; every process started is killed by process group at the end.
This file is the runner; the cases are in worker_cases.py and singleton_cases.py, the
process and the state they share in bus_suite.py.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "conformance")]
from vhostd_side import run_checked  # noqa: E402
from harness import run_worker_suite, tap_comments  # noqa: E402
from bus_suite import Suite  # noqa: E402
from worker_cases import (case_call_error, case_call_result, case_call_timeout, case_calls_in_flight,  # noqa: E402
                          case_channel_closes, case_message, case_send, case_send_refused, case_task,
                          case_undeliverable, case_worker_ready)
from singleton_cases import (case_singleton_answers, case_singleton_bus, case_singleton_concurrent,  # noqa: E402
                             case_singleton_drain, case_singleton_errors, case_singleton_ready)


CASES = [case_worker_ready, case_message, case_send, case_send_refused, case_undeliverable, case_call_result,
         case_calls_in_flight, case_call_error, case_call_timeout, case_task, case_channel_closes,
         case_singleton_ready, case_singleton_answers, case_singleton_errors, case_singleton_concurrent,
         case_singleton_bus, case_singleton_drain]
ENDS_PROCESS = {case_channel_closes, case_singleton_drain}


def run_case(case, suite: Suite):
    """The case, checked for protocol errors and for a process that exited unasked."""
    return run_checked(case, suite, lambda s: s.current, ENDS_PROCESS, "process")


def process_output(suite: Suite):
    """After a failure: the process's last words."""
    if suite.current is not None:
        suite.current.exit_status(0.2)
        tap_comments(suite.current.output())


def main():
    return run_worker_suite(__doc__, "BUS_WORKER_COMMAND", "bus worker", Suite, CASES, lambda suite: dict(
        run_case=run_case, after_case=lambda case, error: error and process_output(suite)))


if __name__ == "__main__":
    sys.exit(main())
