"""The bus protocol test's state: the bus worker started as vhostd starts a process, once as
a worker and once as the singleton, with its channel and the JSON events it prints."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "conformance")]
from vhostd_side import ChildProcess, vhostd_env  # noqa: E402
from harness import Failure  # noqa: E402

WAIT = 5.0
SITE = "bus"
SINGLETON = {"role": "singleton", "slot": 0, "pid": 4242}   # a `from` vhostd would send
WORKER = {"role": "worker", "slot": 1, "pid": 4243}


class BusProcess(ChildProcess):
    """A process started as vhostd starts one, with its stdout read as JSON events."""

    def __init__(self, command, env):
        out_read, out_write = os.pipe()
        self.stderr = tempfile.TemporaryFile()
        try:
            super().__init__(command, env, out_write, self.stderr.fileno())
        except OSError:
            os.close(out_read)
            raise
        finally:
            os.close(out_write)
        self.changed = threading.Condition()
        self.events = []          # (monotonic time, dict) from stdout
        self.lines = []           # stdout lines that are not JSON
        threading.Thread(target=self._read_stdout, args=(out_read,), daemon=True).start()

    def _read_stdout(self, fd):
        with os.fdopen(fd, "rb") as stdout:
            for line in stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                with self.changed:
                    if isinstance(event, dict):
                        self.events.append((time.monotonic(), event))
                    else:
                        self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                    self.changed.notify_all()

    def event(self, condition, what, timeout=WAIT, since=0.0):
        """The first event after `since` for which condition(event) is true, with its time."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for t, e in self.events:
                    if t >= since and condition(e):
                        return t, e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(f"timed out after {timeout:g} s waiting for {what}")
                self.changed.wait(remaining)

    def line(self, condition, what, timeout=WAIT, since=0.0):
        """The first channel message after `since` for which condition(message) is true."""
        channel = self.channel

        def found():
            return next(((t, m) for t, m in channel.messages if t >= since and condition(m)), None)
        return channel.wait(found, timeout, what)

    def tell(self, data, sender=SINGLETON):
        """A vhostd:message to the process; returns the time it was sent."""
        now = time.monotonic()
        self.channel.send({"cmd": "vhostd:message", "from": sender, "data": data})
        return now

    def output(self):
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace").splitlines()
        return ([f"process {self.pid} stdout (not JSON): {line}" for line in self.lines[-20:]]
                + [f"process {self.pid} stderr: {line}" for line in text[-40:]])


class Suite:
    def __init__(self, command, runtime):
        self.command = command
        self.env = vhostd_env(SITE, runtime)
        self.processes = {}       # role -> BusProcess
        self.current = None       # the process the running case is about

    def process(self, role) -> BusProcess:
        """The process of `role`, started (and ready) on first use."""
        p = self.processes.get(role)
        if p is None:
            p = self.processes[role] = BusProcess(self.command, dict(self.env, VHOSTD_ROLE=role))
        self.current = p
        p.channel.wait(lambda: p.channel.commands("vhostd:ready") or p.channel.eof, 10.0, "vhostd:ready")
        if not p.channel.commands("vhostd:ready"):
            raise Failure(f"the {role} closed the channel without saying vhostd:ready")
        return p

    def cleanup(self):
        for p in self.processes.values():
            p.kill()


def sent(p: BusProcess, since, what):
    """The id the process reported for its send(), after checking that it did not fail."""
    _, event = p.event(lambda e: e.get("event") == "sent", what, since=since)
    if "error" in event:
        raise Failure(f"send() failed: {event}")
    return event["id"]
