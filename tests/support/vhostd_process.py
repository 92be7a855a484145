"""One vhostd started by a test: its config, its log, its admin /status, and a stop that
kills it and every worker it started, by pid. Every wait is bounded."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess

from harness import Failure, wait_until


class VhostdProcess:
    def __init__(self, binary, config_path, admin_port):
        self.admin_port = admin_port
        self.log_path = os.path.join(os.path.dirname(config_path), "vhostd.log")
        self.pids = set()   # every site process seen in /status
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([binary, "-c", config_path], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def site_status(self, name):
        """The site's entry in /status; None while the admin endpoint does not answer yet."""
        if self.process.poll() is not None:
            raise Failure(f"vhostd exited with status {self.process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
        try:
            connection.request("GET", "/status")
            site = next(s for s in json.load(connection.getresponse())["sites"] if s["name"] == name)
        except OSError:
            return None
        finally:
            connection.close()
        self.pids.update(w["pid"] for w in site["workers"])
        if site.get("singleton") and site["singleton"].get("pid"):
            self.pids.add(site["singleton"]["pid"])
        return site

    def wait_ready(self, name, workers, singleton=False, timeout=20):
        def ready():
            site = self.site_status(name)
            return (site and site["workers_by_state"].get("ready", 0) == workers
                    and (not singleton or site["singleton"]["state"] == "ready"))
        wait_until(ready, timeout, f"{workers} ready workers in site {name}" + (" and its singleton" if singleton else ""))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in self.pids:   # each site process leads its own process group
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def get(port, host, path="/", timeout=5):
    """(status, body) of one GET through vhostd, on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()
