"""vhostd's side of a worker's channel, played for real (docs/protocol.md): the channel's
reader and writer, the environment vhostd gives, and a process started the way vhostd
starts one. tests/bus/bus_protocol_test.py uses it too. Standard library only."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Failure  # noqa: E402
from http_client import WAIT  # noqa: E402

HEARTBEAT_INTERVAL_MS = 100

class Channel:
    """vhostd's end of a worker's channel. Sends lines (NODE_HANDLE with its fd, as vhostd
    does: one sendmsg, one fd); a thread reads what the worker sends, checks its form and
    keeps it, with the time it arrived, for the waits below."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.changed = threading.Condition()
        self.messages = []     # (monotonic time, dict), in arrival order
        self.errors = []       # what the worker did wrong on the channel
        self.handed = 0        # NODE_HANDLE sent
        self.acks = 0          # NODE_HANDLE_ACK received
        self.eof = False
        threading.Thread(target=self._read, name="channel-reader", daemon=True).start()

    def _error(self, text):
        with self.changed:
            self.errors.append(text)
            self.changed.notify_all()

    def _read(self):
        buffer = b""
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            except OSError:
                break
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for fd in struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) // 4 * 4]):
                        os.close(fd)
                    self._error("the worker attached file descriptors to a message (protocol.md 4)")
            if not data:
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self._take(line)
            if len(buffer) > 64 * 1024:
                self._error("a line longer than 64 KiB from the worker")
                buffer = b""
        with self.changed:
            self.eof = True
            self.changed.notify_all()

    def _take(self, line: bytes):
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("cmd"), str):
            self._error(f"a line that is not a JSON object with a string cmd: {line[:200]!r}")
            return
        command = message["cmd"]
        if command == "vhostd:heartbeat":
            for member in ("active", "requests", "websockets"):
                value = message.get(member)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    self._error(f"a heartbeat whose {member} is not a non-negative integer: {message}")
        elif command == "NODE_HANDLE":
            self._error("the worker sent NODE_HANDLE")
        with self.changed:
            if command == "NODE_HANDLE_ACK":
                self.acks += 1
                if self.acks > self.handed:
                    self.errors.append(f"NODE_HANDLE_ACK number {self.acks} with only {self.handed} handles sent")
            self.messages.append((time.monotonic(), message))
            self.changed.notify_all()

    def send(self, message: dict, fd=None):
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        if message.get("cmd") == "NODE_HANDLE":
            with self.changed:
                self.handed += 1
        if fd is None:
            self.sock.sendall(line)
        else:
            socket.send_fds(self.sock, [line], [fd])

    def wait(self, condition, timeout, what):
        """Waits until `condition()` (called with the lock held) returns something true."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                result = condition()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(f"timed out after {timeout:g} s waiting for {what}")
                self.changed.wait(remaining)

    def commands(self, command, since=0.0):
        return [(t, m) for t, m in self.messages if m["cmd"] == command and t >= since]

    def heartbeat_after(self, since, condition=lambda hb: True, timeout=WAIT, what="a heartbeat"):
        """The first heartbeat that arrived after `since` and satisfies `condition`."""
        def found():
            for t, m in self.messages:
                if t > since and m["cmd"] == "vhostd:heartbeat" and condition(m):
                    return m
            return None
        return self.wait(found, timeout, what)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def vhostd_env(site, runtime):
    """The environment vhostd gives a process of `site` (with `runtime` node, Node's IPC too),
    on top of ours without its VHOSTD_* and NODE_CHANNEL*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VHOSTD_") and not k.startswith("NODE_CHANNEL")}
    env.update(VHOSTD_CHANNEL_FD="3", VHOSTD_PROTOCOL="1", VHOSTD_SITE=site,
               VHOSTD_WORKER_SLOT="0", VHOSTD_GENERATION="1",
               VHOSTD_HEARTBEAT_INTERVAL_MS=str(HEARTBEAT_INTERVAL_MS))
    if runtime == "node":
        env.update(NODE_CHANNEL_FD="3", NODE_CHANNEL_SERIALIZATION_MODE="json")
    return env


class ChildProcess:
    """A process started the way vhostd starts one: fd 0 /dev/null, 1 and 2 the fds `stdout`
    and `stderr`, 3 the channel, its own process group (setsid: pgid = pid)."""

    def __init__(self, command, env, stdout, stderr):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        # Sources above 10, so no dup2 below overwrites a source it still needs.
        sources = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (devnull, stdout, stderr, child.fileno())]
        try:
            actions = [(os.POSIX_SPAWN_DUP2, source, target) for target, source in enumerate(sources)]
            self.pid = os.posix_spawnp(command[0], command, env, file_actions=actions, setsid=True)
        except OSError:
            parent.close()
            raise
        finally:
            for fd in sources + [devnull]:
                os.close(fd)
            child.close()
        self.started = time.monotonic()
        self.pidfd = os.pidfd_open(self.pid)
        self.status = None
        self.channel = Channel(parent)

    def exit_status(self, timeout=0.0):
        """The exit code (negative: killed by that signal), or None if it still runs after `timeout`."""
        if self.status is None and self.pidfd >= 0:
            readable, _, _ = select.select([self.pidfd], [], [], timeout)
            if readable:
                _, status = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def alive(self):
        return self.exit_status() is None

    def kill(self):
        if self.pidfd < 0:
            return                                # killed already
        try:                                      # it, and anything it left in its group
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_status(timeout=5)
        self.channel.close()
        os.close(self.pidfd)
        self.pidfd = -1


def run_checked(case, suite, process_of, ends_process, name):
    """case(suite) and its note, then what every case must leave behind: no protocol error
    on the channel of the process `process_of(suite)` gives, and that process (the `name`)
    alive unless the case is one of `ends_process`."""
    before = process_of(suite)
    errors_before = len(before.channel.errors) if before else 0
    note = case(suite)
    after = process_of(suite)
    errors = after.channel.errors[errors_before if after is before else 0:]
    if errors:
        raise Failure("on the channel: " + "; ".join(errors[:3]))
    if case not in ends_process and not after.alive():
        raise Failure(f"the {name} exited (status {after.status})")
    return note


class WorkerProcess(ChildProcess):
    """A worker, its stdout and stderr to files (shown on failure)."""

    def __init__(self, command, env):
        self.stdout = tempfile.TemporaryFile()
        self.stderr = tempfile.TemporaryFile()
        super().__init__(command, env, self.stdout.fileno(), self.stderr.fileno())

    def output(self, lines=40):
        text = []
        for name, f in (("stdout", self.stdout), ("stderr", self.stderr)):
            f.seek(0)
            content = f.read().decode("utf-8", "replace").splitlines()
            text.append(f"worker {self.pid} {name} ({len(content)} lines, last {lines}):")
            text.extend("  " + line for line in content[-lines:])
        return text
