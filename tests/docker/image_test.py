#!/usr/bin/env python3
"""The Docker image built with podman from a clean clone and run (docs/deployment.md, "Docker").

    python3 tests/docker/image_test.py [--repo DIR] [--time-limit SECONDS]

Needs root, and podman, buildah and debootstrap (scripts/install-deps.sh installs them). No
registry is needed: when podman has no debian:12 image, the test makes one with
`debootstrap --variant=minbase bookworm` from the mirror apt uses here and tags it as
debian:12-slim too; later runs reuse it. Then it clones the committed HEAD of --repo (so
untracked and uncommitted files stay out), builds docker/Dockerfile with
`podman build --isolation=chroot`, and runs the image as the image says (its user,
ENTRYPOINT, CMD and config) in a working container, `buildah run --isolation chroot`, in a
network namespace of its own: like a container, it listens on its own loopback only. There
it checks the image's HEALTHCHECK command and an answer from each site of the image's
config, then stops vhostd with SIGTERM, as `docker stop` does, and removes the container.

Prints TAP and exits 1 if a case fails. Every wait is bounded; the whole run is cut off after
--time-limit seconds (the build takes most of it: about 6 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import base64
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Failure, expect, run_cases, tap_comments, tap_log_tail, wait_until  # noqa: E402

import image_config  # noqa: E402  (beside this file)

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
IMAGE = "localhost/vhostd-image-test:latest"
BASE_IMAGES = ("debian:12", "debian:12-slim")      # the Dockerfile's FROM lines
SUITE = "bookworm"
START_WAIT = 30.0          # vhostd and its workers up, answering
STOP_WAIT = 40.0           # SIGTERM to exit: the workers drain (hello-worker's is short)
COMMAND_WAIT = 60.0        # one podman/buildah query or probe


def run(command, timeout=COMMAND_WAIT, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def last_lines(text, count=5, limit=600):
    """The end of a command's output, on one line (a TAP line)."""
    return " | ".join(text.strip().splitlines()[-count:])[-limit:]


def checked(command, what, timeout=COMMAND_WAIT, **kwargs):
    """stdout of a command that must succeed; its stderr in the failure."""
    result = run(command, timeout, **kwargs)
    expect(result.returncode == 0, f"{what}: `{' '.join(command)}` exited {result.returncode}: "
                                   f"{last_lines(result.stderr or result.stdout)}")
    return result.stdout


def run_logged(command, log_path, timeout, what):
    """A long command with its output in a file; the file's tail in the TAP output on failure."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            status = process.wait(timeout)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            raise
    if status != 0:
        with open(log_path, "rb") as f:
            tap_log_tail(what, f.read().decode("utf-8", "replace"), 40)
        raise Failure(f"{what}: `{' '.join(command[:3])} …` exited {status} (its output's end is above)")


def read_apt_sources():
    """The text of each of apt's sources files here."""
    paths = glob.glob("/etc/apt/sources.list") + sorted(glob.glob("/etc/apt/sources.list.d/*.list")
                                                        + glob.glob("/etc/apt/sources.list.d/*.sources"))
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts


def descendant(pid, name):
    """The pid of the first process named `name` under `pid` (breadth first), or None."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append((int(entry), comm))
    todo = [pid]
    while todo:
        for child, comm in children.get(todo.pop(0), []):
            if comm == name[:15]:          # the kernel keeps 15 characters of a name
                return child
            todo.append(child)
    return None


class Suite:
    def __init__(self, repo, directory, deadline):
        self.repo, self.directory, self.deadline = repo, directory, deadline
        self.source = os.path.join(directory, "source")
        self.image_config = None       # what `podman image inspect` says the image runs
        self.container = None          # buildah's working container, removed at the end
        self.vhostd = None             # the running `buildah run` (in its network namespace)
        self.vhostd_log = os.path.join(directory, "vhostd.log")
        self.config = None             # the image's own config, as tomllib reads it

    def remaining(self, reserve=STOP_WAIT + COMMAND_WAIT):
        """Seconds left for a long step, keeping `reserve` for the checks and the cleanup."""
        left = self.deadline - time.monotonic() - reserve
        expect(left > 0, "no time left for this step within --time-limit")
        return left

    def in_container(self, argv, user=None):
        """`buildah run` of argv in the working container, in vhostd's network namespace."""
        command = ["buildah", "run", "--isolation", "chroot"]
        if user:
            command += ["--user", user]
        command += [self.container, "--", *argv]
        if self.vhostd is not None:
            command = ["nsenter", f"--net=/proc/{self.vhostd.pid}/ns/net", "--", *command]
        return command

    def read_file(self, path):
        """A file of the image, as the container has it."""
        return checked(self.in_container(["cat", path]), f"reading {path} in the container")

    def cleanup(self):
        if self.vhostd is not None and self.vhostd.poll() is None:
            os.killpg(self.vhostd.pid, signal.SIGKILL)     # its session: buildah and all under it
            self.vhostd.wait(10)
        if self.container is not None:
            result = run(["buildah", "rm", self.container])
            if result.returncode != 0:
                tap_comments([f"could not remove the container {self.container}: {result.stderr.strip()}"])
            self.container = None


# --- the cases ---------------------------------------------------------------------------

def case_tools(s: Suite):
    """root, podman, buildah, debootstrap, git, unshare and nsenter are here"""
    expect(os.geteuid() == 0, "the image test needs root (podman build --isolation=chroot, buildah run)")
    tools = {"podman": "podman", "buildah": "buildah", "debootstrap": "debootstrap", "git": "git",
             "unshare": "util-linux", "nsenter": "util-linux", "ip": "iproute2"}
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    expect(not missing, f"missing packages: {', '.join(missing)}; scripts/install-deps.sh installs them")
    return checked(["podman", "--version"], "podman").strip()


def case_base_images(s: Suite):
    """debian:12 and debian:12-slim are in podman's storage, made by debootstrap when missing"""
    present = [name for name in BASE_IMAGES if run(["podman", "image", "exists", name]).returncode == 0]
    if len(present) == len(BASE_IMAGES):
        return "present already"
    if not present:
        mirror = image_config.apt_mirror(read_apt_sources(), SUITE)
        expect(mirror, "no Debian mirror for bookworm in /etc/apt/sources.list*: debootstrap needs one")
        root = os.path.join(s.directory, "base")
        started = time.monotonic()
        run_logged(["debootstrap", "--variant=minbase", SUITE, root, mirror], os.path.join(s.directory, "debootstrap.log"),
                   min(s.remaining(), 600), f"debootstrap --variant=minbase {SUITE} from {mirror}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = run(["podman", "import", "-", BASE_IMAGES[0]], timeout=300, stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait(60)
        expect(imported.returncode == 0 and tar.returncode == 0,
               f"tar | podman import - {BASE_IMAGES[0]}: {last_lines(imported.stderr)}")
        shutil.rmtree(root, ignore_errors=True)
        present = [BASE_IMAGES[0]]
        note = f"made by debootstrap from {mirror} in {time.monotonic() - started:.0f} s"
    else:
        note = f"{present[0]} was there"
    for name in BASE_IMAGES:
        if name not in present:
            checked(["podman", "tag", present[0], name], f"tagging {present[0]} as {name}")
    return note


def case_clone(s: Suite):
    """a clean clone of the committed HEAD is the build context"""
    checked(["git", "clone", "--quiet", "--no-hardlinks", s.repo, s.source], "cloning the repository", timeout=300)
    head = checked(["git", "-C", s.source, "rev-parse", "--short", "HEAD"], "reading HEAD").strip()
    dirty = run(["git", "-C", s.repo, "status", "--porcelain", "--untracked-files=no"]).stdout.splitlines()
    return f"HEAD {head}" + (f"; {len(dirty)} uncommitted changes in {s.repo} are not in it" if dirty else "")


def case_build(s: Suite):
    """podman build --isolation=chroot builds docker/Dockerfile"""
    old = run(["podman", "image", "inspect", "--format", "{{.Id}}", IMAGE]).stdout.strip()
    started = time.monotonic()
    # The docker format keeps the HEALTHCHECK (OCI images have none); the cached layers of
    # the last build (the packages) are reused.
    command = ["podman", "build", "--isolation=chroot", "--format", "docker", "--pull=never",
               "-f", os.path.join(s.source, "docker", "Dockerfile"), "-t", IMAGE, s.source]
    run_logged(command, os.path.join(s.directory, "build.log"), s.remaining(), "podman build")
    new = checked(["podman", "image", "inspect", "--format", "{{.Id}}", IMAGE], "the built image").strip()
    if old and old != new:
        run(["podman", "rmi", old])     # the last run's image, now untagged; best effort
    return f"{time.monotonic() - started:.0f} s"


def case_image_config(s: Suite):
    """the image says what it runs: a non-root user, ENTRYPOINT and CMD, a HEALTHCHECK"""
    (inspected,) = json.loads(checked(["podman", "image", "inspect", IMAGE], "podman image inspect"))
    s.image_config = image_config.run_config(inspected)
    expect(s.image_config.user not in ("", "root", "0"), f"the image runs as {s.image_config.user or 'root'}")
    expect(s.image_config.health, "the image has no HEALTHCHECK (built without --format docker?)")
    return f"user {s.image_config.user}: {' '.join(s.image_config.command)}"


def case_vhostd_starts(s: Suite):
    """the image's command runs in a working container; its HEALTHCHECK command says healthy"""
    name = f"vhostd-image-test-{os.getpid()}"
    checked(["buildah", "from", "--pull=never", "--name", name, IMAGE], "buildah from")
    s.container = name
    s.config = image_config.load_config(s.read_file(image_config.config_path(s.image_config.command)))
    # A network namespace of its own, with only loopback up: the config's listeners (0.0.0.0:8080)
    # are the container's, never this machine's.
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
               *s.in_container(s.image_config.command, s.image_config.user)]
    with open(s.vhostd_log, "wb") as log:
        s.vhostd = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    health = s.in_container(s.image_config.health, s.image_config.user)
    last = ["never ran"]

    def healthy():
        expect(s.vhostd.poll() is None, f"vhostd exited with status {s.vhostd.returncode}")
        result = run(health)
        last[0] = f"exit {result.returncode}: {last_lines(result.stdout + result.stderr)}"
        return result.returncode == 0
    try:
        wait_until(healthy, START_WAIT, f"`{' '.join(s.image_config.health)}` to exit 0", poll=0.5)
    except Failure as e:
        raise Failure(f"{e}; it last said {last[0]}") from None
    return " ".join(s.image_config.health)


def case_sites_answer(s: Suite):
    """every site of the image's config answers on the container's loopback"""
    notes = []
    port = image_config.listen_port(s.config)
    for name, site in s.config["sites"].items():
        host = (site.get("hosts") or ["default.invalid"])[0]
        probe = ["nsenter", f"--net=/proc/{s.vhostd.pid}/ns/net", "--",
                 sys.executable, os.path.join(HERE, "http_probe.py"), str(port), host]
        result = run(probe)
        expect(result.returncode == 0, f"GET / with Host {host} on 127.0.0.1:{port} in the container: "
                                       f"{last_lines(result.stderr or result.stdout)}")
        answer = json.loads(result.stdout)
        status, body = answer["status"], base64.b64decode(answer["body"])
        expect(status == 200, f"{host}: {status} {body[:200]!r}")
        if "static" in site:
            index = s.read_file(site["static"].rstrip("/") + "/index.html").encode()
            expect(body == index, f"{host}: the body is not the image's {site['static']}/index.html: {body[:200]!r}")
        elif site.get("command", [""])[0].endswith("/hello-worker"):
            expect(body.startswith(f"hello from {name} (pid".encode()), f"{host}: {body[:200]!r}")
        notes.append(f"{host} {status}")
    return ", ".join(notes)


def case_vhostd_stops(s: Suite):
    """SIGTERM to the container's init (tini, as docker stop does) stops vhostd with status 0"""
    init = descendant(s.vhostd.pid, os.path.basename(s.image_config.command[0]))
    expect(init, f"no {s.image_config.command[0]} under the `buildah run` (pid {s.vhostd.pid})")
    os.kill(init, signal.SIGTERM)
    try:
        status = s.vhostd.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        raise Failure(f"vhostd still ran {STOP_WAIT:g} s after SIGTERM") from None
    expect(status == 0, f"vhostd exited with status {status} after SIGTERM")


CASES = [case_tools, case_base_images, case_clone, case_build, case_image_config, case_vhostd_starts,
         case_sites_answer, case_vhostd_stops]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=REPO, help="the repository whose HEAD is built (this one)")
    parser.add_argument("--time-limit", type=float, default=1500.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vhostd-image-") as directory:
        suite = Suite(os.path.abspath(args.repo), directory, time.monotonic() + args.time_limit)

        def after_case(case, error):
            if error is not None and suite.vhostd is not None:
                with open(suite.vhostd_log, "rb") as f:
                    tap_log_tail("vhostd's output", f.read().decode("utf-8", "replace"), 40)
        try:
            failed = run_cases(CASES, suite, args.time_limit, after_case=after_case, essential=CASES[:6])
        finally:
            suite.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
