"""What the Python test scripts share: failures, the run's time limit, TAP lines, waits,
free ports, a suite's command line and its run. Standard library only; a script imports it
after putting this folder on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
"""

from __future__ import annotations

import argparse
import signal
import socket
import time


class Failure(Exception):
    """A check failed; the message says what was expected and what happened."""


class SuiteTimeout(BaseException):
    """The whole run took longer than --time-limit, or a signal stopped it: not caught as a
    case's failure."""


def expect(condition, text):
    if not condition:
        raise Failure(text)


def wait_until(condition, timeout, what, poll=0.01):
    """Polls `condition` (for things nothing can notify us about, like a process's state)
    until it returns something true, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def start_time_limit(seconds):
    """Raises SuiteTimeout after `seconds`, or at SIGTERM, SIGINT or SIGHUP."""
    def stop(signum, _frame):
        raise SuiteTimeout(f"signal {signum}" if signum != signal.SIGALRM
                           else f"the run took longer than {seconds:g} s")
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def stop_time_limit():
    signal.setitimer(signal.ITIMER_REAL, 0)


# --- TAP ---------------------------------------------------------------------------------

def tap_ok(number, name, note=None):
    print(f"ok {number} - {name}" + (f"  # {note}" if note else ""), flush=True)


def tap_not_ok(number, name, error):
    """`not ok` with the failure's message, or the type of an unexpected exception."""
    reason = str(error) if isinstance(error, (Failure, SuiteTimeout)) else f"{type(error).__name__}: {error}"
    print(f"not ok {number} - {name}: {reason}", flush=True)


def tap_comments(lines, indent=""):
    for line in lines:
        print(f"#{indent} {line}", flush=True)


def tap_log_tail(name, text, count=60):
    """The last `count` lines of a log, as TAP comments."""
    lines = text.splitlines()
    print(f"# {name} ({len(lines)} lines, last {count}):", flush=True)
    tap_comments(lines[-count:], indent="  ")


def free_ports(count):
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_cases(cases, suite, time_limit, *, run_case=None, after_case=None, essential=(), on_timeout=None):
    """Runs each case in order as TAP: `ok` with the note it returns, or `not ok` with why.
    The whole run is cut off after `time_limit` seconds. Prints the plan and the summary
    line; returns the number of failures.

    run_case(case, suite) runs one case and returns its note (default: case(suite)); a suite
    checks there what every case must leave behind. after_case(case, error) runs after each,
    with what it failed with or None. A failed case in `essential` ends the run: nothing
    after it could pass. on_timeout() runs when the time limit cut the run off."""
    start_time_limit(time_limit)
    print(f"1..{len(cases)}", flush=True)
    failed = 0
    try:
        for number, case in enumerate(cases, 1):
            error = None
            try:
                tap_ok(number, case.__doc__, run_case(case, suite) if run_case else case(suite))
            except Exception as e:
                failed += 1
                error = e
                tap_not_ok(number, case.__doc__, e)
            finally:
                if after_case:
                    after_case(case, error)
            if error is not None and case in essential:
                break
    except SuiteTimeout as e:
        failed += 1
        print(f"not ok - stopped: {e}", flush=True)
        if on_timeout:
            on_timeout()
    finally:
        stop_time_limit()
    print("# PASS" if not failed else f"# FAIL: {failed} of {len(cases)} cases failed", flush=True)
    return failed


def run_worker_suite(doc, command_name, what, make_suite, cases, options_for):
    """The main of a suite that plays vhostd's side for the process it starts, from the
    command line [--runtime node] [--time-limit S] -- COMMAND... (`doc` describes it):
    make_suite(command, runtime), run_cases with the options options_for(suite) gives,
    then suite.cleanup() whatever happened. The exit status: 1 if any case failed, else 0."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     usage=f"%(prog)s [--runtime node] -- {command_name}...")
    parser.add_argument("--runtime", choices=["native", "node"], default="native",
                        help="node: also set NODE_CHANNEL_FD=3 and NODE_CHANNEL_SERIALIZATION_MODE=json")
    parser.add_argument("--time-limit", type=float, default=55.0,
                        help="stop the whole run after this many seconds (default 55)")
    parser.add_argument("command", nargs="+", help=f"the {what}'s command line")
    args = parser.parse_args()

    print(f"# {what}: {' '.join(args.command)} (runtime {args.runtime})", flush=True)
    suite = make_suite(args.command, args.runtime)
    try:
        failed = run_cases(cases, suite, args.time_limit, **options_for(suite))
    finally:
        suite.cleanup()
    return 1 if failed else 0
