#!/usr/bin/env python3
"""docker/ checked without a Docker engine (docs/deployment.md, "Docker").

    python3 tests/docker/docker_files_test.py --bin build/bin

First the linters scripts/install-deps.sh installs: dockerfile-utils (npm) for the
Dockerfile, yamllint and docker-compose for the compose files, haproxy -c for haproxy.cfg. A
missing one fails its case. Then the project's own checks: the build stage installs only what
the build needs (install-deps.sh build) and builds, without the tests, exactly the targets
the install() rules stage; the run stage installs exactly the Debian packages of
the libraries the staged binaries in --bin link; the Dockerfile, the compose files, the
configs and haproxy.cfg agree. Last, the image's own commands run here, with the image's
paths mapped to --bin and docker/: its ENTRYPOINT and CMD serve both example sites and its
HEALTHCHECK command says healthy; two replicas behind HAProxy with haproxy.cfg get PROXY v2
round robin.

Prints TAP and exits 1 if a case fails. Every wait is bounded; the whole run is cut off after
--time-limit seconds; every process started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import fnmatch
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Failure, expect, free_ports, run_cases, tap_log_tail, wait_until  # noqa: E402

try:
    import tomllib
except ImportError:       # Python < 3.11; Debian 12 has 3.11
    tomllib = None

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
DOCKER = os.path.join(REPO, "docker")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
COMPOSE = os.path.join(DOCKER, "compose.yaml")
COMPOSE_HAPROXY = os.path.join(DOCKER, "compose.haproxy.yaml")
HAPROXY_CFG = os.path.join(DOCKER, "haproxy.cfg")

CONFIG = "/etc/vhostd/vhostd.toml"          # the documented path of the config in the image
PREFIX = "/usr/local"                       # scripts/stage.sh's install prefix
STAGE_BUILD_DIR = "build"                   # the build tree scripts/stage.sh installs from
# What scripts/stage.sh installs from build/bin, by folder under the prefix.
STAGED = {"bin": ["vhostd", "vhostctl", "vhostd-static", "vhostd-upstream"],
          "libexec/vhostd": ["hello-worker"]}
IMAGE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
# Packages the run stage may install that no binary links, with the program each provides,
# which must then be the ENTRYPOINT's.
ENTRYPOINT_PACKAGES = {"tini": "/usr/bin/tini"}
HAPROXY_IMAGE_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"   # the official image's
DOCKER_DNS = "127.0.0.11:53"
YAMLLINT_RULES = "{extends: default, rules: {document-start: disable, line-length: {max: 100}}}"
WAIT = 15.0


def run(command, timeout=60, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def output(result, limit=300, head=False):
    """A command's output on one line (a TAP line), its end kept (or its start)."""
    text = " | ".join((result.stdout + result.stderr).strip().splitlines())
    return text[:limit] if head else text[-limit:]


def tool(name, what):
    path = shutil.which(name)
    if path is None:
        raise Failure(f"{name} is not installed ({what}); scripts/install-deps.sh installs it")
    return path


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_toml(path):
    if tomllib is None:
        raise Failure("Python 3.11 or later is needed (tomllib) to read the configs")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Failure(f"{os.path.relpath(path, REPO)}: {e}") from None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


# --- the Dockerfile ----------------------------------------------------------------------

class Instruction:
    def __init__(self, keyword, text, line):
        self.keyword, self.text, self.line = keyword, text, line
        self.flags = {}           # --name=value before the arguments
        rest = text
        while True:
            match = re.match(r"--([a-z-]+)=(\S+)\s+", rest)
            if not match:
                break
            self.flags[match.group(1)] = match.group(2)
            rest = rest[match.end():]
        self.args = rest

    def json_form(self, text=None):
        """The exec form (a JSON array of strings) of the arguments."""
        try:
            value = json.loads(self.args if text is None else text)
        except ValueError:
            value = None
        expect(isinstance(value, list) and value and all(isinstance(v, str) for v in value),
               f"Dockerfile:{self.line}: {self.keyword} is not in exec form (a JSON array)")
        return value


class Stage:
    def __init__(self, instruction):
        words = instruction.args.split()
        self.image = words[0]
        self.name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword):
        found = self.all(keyword)
        expect(len(found) == 1, f"the stage FROM {self.image} has {len(found)} {keyword} lines, expected 1")
        return found[0]


def read_dockerfile():
    """The Dockerfile's stages with their instructions (continuations joined, comments out)."""
    stages, pending, start = [], "", 0
    for number, line in enumerate(read(DOCKERFILE).splitlines(), 1):
        if line.lstrip().startswith("#") or (not pending and not line.strip()):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = (pending + line).strip(), ""
        keyword, _, args = text.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), start)
        if instruction.keyword == "FROM":
            stages.append(Stage(instruction))
        else:
            expect(stages, f"Dockerfile:{start}: {keyword} before FROM")
            stages[-1].instructions.append(instruction)
    expect(not pending, "Dockerfile: ends in a continuation")
    return stages


def shell_commands(instruction):
    """The commands of a RUN in shell form, split at `&&`, as word lists."""
    commands = [[]]
    for word in shlex.split(instruction.args):
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def apt_packages(stage):
    packages = []
    for run_ in stage.all("RUN"):
        for words in shell_commands(run_):
            if words[:2] == ["apt-get", "install"]:
                packages += [w for w in words[2:] if not w.startswith("-")]
    return packages


# --- docker-compose's view of a compose file ----------------------------------------------
# `docker-compose config` prints the file resolved (anchors, paths made absolute) in the
# block style of PyYAML's safe_dump; this reads that style, and only that.

def yaml_scalar(text):
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text)
    if text in ("null", "~"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return int(text) if re.fullmatch(r"-?\d+", text) else text


# "key: value" or "key:", the key plain or quoted; "a:b" (a volume) and "x: y" inside quotes are not.
KEY = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\"|[^'\"\s-][^:]*?|-[^\s:][^:]*?):(?: (.*)|$)")


def read_yaml(text):
    lines = [[len(line) - len(line.lstrip(" ")), line.strip()] for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]

    def item(i, indent):
        return i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- "))

    def scalar(text, i, indent):
        while i < len(lines) and lines[i][0] > indent and not KEY.fullmatch(lines[i][1]):
            text, i = text + " " + lines[i][1], i + 1           # a folded long scalar
        return yaml_scalar(text), i

    def node(i, indent):
        return sequence(i, indent) if item(i, indent) else mapping(i, indent)

    def mapping(i, indent):
        result = {}
        while i < len(lines) and lines[i][0] == indent and not item(i, indent):
            match = KEY.fullmatch(lines[i][1])
            if not match:
                raise Failure(f"docker-compose config printed a line this test cannot read: {lines[i][1]!r}")
            key, rest = yaml_scalar(match.group(1)), match.group(2)
            i += 1
            if rest:
                result[key], i = scalar(rest, i, indent)
            elif i < len(lines) and (lines[i][0] > indent or item(i, indent)):
                result[key], i = node(i, lines[i][0])
            else:
                result[key] = None
        return result, i

    def sequence(i, indent):
        result = []
        while item(i, indent):
            rest = lines[i][1][2:]
            if KEY.fullmatch(rest):
                lines[i] = [indent + 2, rest]                   # "- key: value" opens a mapping
                value, i = mapping(i, indent + 2)
            else:
                value, i = scalar(rest, i + 1, indent)
            result.append(value)
        return result, i

    return node(0, lines[0][0])[0] if lines else {}


def volumes(service):
    """A service's bind mounts as (source, target, read_only)."""
    found = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            found.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
        else:
            parts = v.split(":")
            found.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return found


def published_ports(service):
    """(published, target) of a service's ports."""
    found = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            found.append((int(p.get("published", 0)), int(p["target"])))
        else:
            parts = str(p).split(":")
            found.append((int(parts[-2]), int(parts[-1].split("/")[0])))
    return found


# --- haproxy.cfg -------------------------------------------------------------------------

def haproxy_sections(text):
    """{("backend", "vhostd"): [[word, ...], ...], ...}, comments out."""
    sections, current = {}, None
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if not line[0].isspace():
            current = (words[0], words[1] if len(words) > 1 else "")
            sections[current] = []
        elif current is not None:
            sections[current].append(words)
    return sections


def haproxy_servers(backend):
    """{name: (address, options)} with default-server's options first."""
    defaults = [w for words in backend if words[0] == "default-server" for w in words[1:]]
    return {words[1]: (words[2], defaults + words[3:]) for words in backend if words[0] == "server"}


# --- processes ---------------------------------------------------------------------------

class Process:
    def __init__(self, command, log_path):
        self.command, self.log_path = command, log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, what):
        """SIGTERM; the exit status."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise Failure(f"{what} still ran {WAIT:g} s after SIGTERM") from None

    def kill(self):
        if self.alive():
            self.popen.kill()
            self.popen.wait(10)
        self.log.close()

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def http_get(port, host, path="/"):
    """(status, body, the client's local port) of a GET on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.connect()
        local_port = connection.sock.getsockname()[1]
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read(), local_port
    finally:
        connection.close()


# --- the suite ---------------------------------------------------------------------------

class Suite:
    def __init__(self, bin_dir, directory):
        self.bin = bin_dir
        self.directory = directory
        self.processes = []           # (name, Process), stopped at the end
        self._stages = None
        self._compose = {}

    # What the files say, read once.

    def stages(self):
        if self._stages is None:
            self._stages = read_dockerfile()
        expect(len(self._stages) == 2, f"the Dockerfile has {len(self._stages)} stages, expected 2 (build, run)")
        return self._stages

    def build_stage(self):
        return self.stages()[0]

    def run_stage(self):
        return self.stages()[-1]

    def compose(self, path):
        """docker-compose's resolved view of a compose file, with no engine to reach."""
        if path not in self._compose:
            command = [tool("docker-compose", "it validates the compose files"), "-f", path, "config"]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
            # An engine's socket that does not exist: any call to one would fail.
            env.update(DOCKER_HOST=f"unix://{self.directory}/no-engine.sock", DOCKER_CONFIG=self.directory,
                       METRICS_SOCKET_FILE=f"http+unix://{self.directory}/no-metrics.sock")
            result = run(command, env=env)
            expect(result.returncode == 0,
                   f"docker-compose -f {os.path.relpath(path, REPO)} config failed: {output(result, 800)}")
            self._compose[path] = read_yaml(result.stdout)
        return self._compose[path]

    def staging_dir(self):
        """The DIR of `./scripts/stage.sh DIR` in the build stage."""
        for run_ in self.build_stage().all("RUN"):
            for words in shell_commands(run_):
                if words[0] == "./scripts/stage.sh":
                    expect(len(words) == 2, f"Dockerfile:{run_.line}: stage.sh takes one DIR: {words}")
                    return words[1].rstrip("/")
        raise Failure("the build stage never runs ./scripts/stage.sh DIR")

    def image_files(self):
        """[(path in the image, path here)] from the run stage's COPY lines. The staged tree's
        programs map to --bin: build/bin holds them all, in one folder."""
        files = []
        for copy_ in self.run_stage().all("COPY"):
            words = copy_.args.split()
            expect(len(words) == 2, f"Dockerfile:{copy_.line}: COPY with one source and one destination")
            source, target = (w.rstrip("/") or "/" for w in words)
            if copy_.flags.get("from") == self.build_stage().name:
                expect(source == self.staging_dir() + PREFIX and target == PREFIX,
                       f"Dockerfile:{copy_.line}: expected COPY --from=build {self.staging_dir()}{PREFIX}/ {PREFIX}/")
                files += [(f"{PREFIX}/{folder}/{name}", os.path.join(self.bin, name))
                          for folder, names in STAGED.items() for name in names]
            else:
                expect("from" not in copy_.flags, f"Dockerfile:{copy_.line}: COPY from an unknown stage")
                files.append((target, os.path.join(REPO, source)))
        return files

    def to_host(self, image_path):
        """Where the file the image has at `image_path` comes from here."""
        for target, source in sorted(self.image_files(), key=lambda f: -len(f[0])):
            if image_path == target or image_path.startswith(target + "/"):
                here = source + image_path[len(target):]
                expect(os.path.exists(here), f"{image_path} in the image comes from {here}, which does not exist")
                return here
        raise Failure(f"{image_path} is not in the image: no COPY puts it there")

    def image_command(self, argv, config_here):
        """A command of the Dockerfile as it runs here: the config at CONFIG is `config_here`,
        the image's paths map to their sources, a bare name is looked up in the image's PATH."""
        mapped = []
        for i, arg in enumerate(argv):
            if arg == CONFIG:
                mapped.append(config_here)
            elif arg.startswith("/"):
                mapped.append(self.to_host(arg))
            elif i == 0:
                mapped.append(self.in_path(arg))
            else:
                mapped.append(arg)
        return mapped

    def in_path(self, name):
        for folder in IMAGE_PATH:
            try:
                return self.to_host(f"{folder}/{name}")
            except Failure:
                pass
        raise Failure(f"{name} is in no folder of the image's PATH")

    def server_command(self):
        """ENTRYPOINT + CMD without the init in front (tini is not here)."""
        stage = self.run_stage()
        entry = stage.one("ENTRYPOINT").json_form() + stage.one("CMD").json_form()
        if entry[0] in ENTRYPOINT_PACKAGES.values():
            expect(entry[1] == "--", f"ENTRYPOINT: {entry[0]} without -- before the program")
            entry = entry[2:]
        return entry

    def health_command(self):
        healthcheck = self.run_stage().one("HEALTHCHECK")
        expect(healthcheck.args.startswith("CMD "), "HEALTHCHECK without CMD")
        return healthcheck, healthcheck.json_form(healthcheck.args[4:])

    def local_config(self, config, name, **changes):
        """`config` (as tomllib read it) made to run here, written to a file: listeners and
        the admin endpoint on free loopback ports, the image's paths mapped to their sources.
        Returns (path, listener ports, admin port)."""
        config = map_paths(config, self.to_host)
        ports = free_ports(len(config["listen"]) + 1)
        for listen, port in zip(config["listen"], ports):
            listen["address"] = f"127.0.0.1:{port}"
            if "proxy_from" in changes:
                listen["proxy_from"] = changes["proxy_from"]
        config["admin"]["listen"] = f"127.0.0.1:{ports[-1]}"
        if "access_log" in changes:
            config.setdefault("server", {}).update(access_log=changes["access_log"], access_log_format="json")
        path = os.path.join(self.directory, name)
        with open(path, "w") as f:
            f.write(toml_text(config))
        return path, ports[:-1], ports[-1]

    def start(self, name, command):
        process = Process(command, os.path.join(self.directory, name + ".log"))
        self.processes.append((name, process))
        return process

    def wait_healthy(self, name, process, health):
        """Until the HEALTHCHECK's command exits 0 for this vhostd."""
        last = [None, "never ran"]

        def healthy():
            expect(process.alive(), f"{name} exited with status {process.popen.returncode}")
            result = run(health, timeout=10)
            last[:] = [result.returncode, output(result, 200, head=True)]
            return result.returncode == 0
        try:
            wait_until(healthy, WAIT, f"`{' '.join(health)}` to exit 0", poll=0.2)
        except Failure as e:
            raise Failure(f"{e}; it last exited {last[0]}: {last[1]}") from None

    def stop_all(self, failed):
        for name, process in self.processes:
            if failed:
                tap_log_tail(f"{name} log", process.log_text(), 30)
            process.kill()
        self.processes = []


def map_paths(value, to_host):
    """`value` with every absolute path string mapped by `to_host`."""
    if isinstance(value, dict):
        return {k: map_paths(v, to_host) for k, v in value.items()}
    if isinstance(value, list):
        return [map_paths(v, to_host) for v in value]
    return to_host(value) if isinstance(value, str) and value.startswith("/") else value


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def toml_text(config):
    """TOML for a vhostd config as tomllib read it: arrays of tables ([[listen]]), tables of
    tables ([sites.NAME]) and tables ([server]); anything deeper is inline."""
    out = []

    def table(header, values):
        out.append(header)
        out.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in values.items())
        out.append("")
    for key, value in config.items():
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for v in value:
                table(f"[[{key}]]", v)
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for name, v in value.items():
                table(f"[{key}.{json.dumps(name)}]", v)
        elif isinstance(value, dict):
            table(f"[{key}]", value)
        else:
            out.insert(0, f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(out)


def scripts_run_outside_docker():
    """The scripts CI runs (scripts/test.sh and those it runs, recursively), and those a test
    runs (named in a file under tests/; this folder aside, whose docstrings name them)."""
    named = re.compile(r"scripts/([\w.-]+\.sh)\b")
    found, todo = set(), ["test.sh"]
    while todo:
        name = todo.pop()
        path = os.path.join(REPO, "scripts", name)
        if name in found or not os.path.isfile(path):
            continue
        found.add(name)
        todo += named.findall(read(path))
    by_tests = set()
    for root, dirs, files in os.walk(os.path.join(REPO, "tests")):
        dirs[:] = [d for d in dirs if os.path.join(root, d) != HERE and d != "__pycache__"]
        for file in files:
            try:
                by_tests |= set(named.findall(read(os.path.join(root, file))))
            except (UnicodeDecodeError, OSError):
                pass
    return found, by_tests


def linked_packages(binaries):
    """{Debian package: [library path, ...]} for the shared libraries `binaries` link."""
    libraries = set()
    for binary in binaries:
        result = run(["ldd", binary])
        expect(result.returncode == 0, f"ldd {binary}: {result.stderr.strip()}")
        expect("not found" not in result.stdout, f"ldd {binary}: {result.stdout.strip()}")
        libraries |= set(re.findall(r"=> (/\S+)", result.stdout))
    packages = {}
    for library in sorted(libraries):
        # dpkg knows a file by the path its package ships it at: /lib or /usr/lib (merged /usr).
        candidates = [library, os.path.realpath(library)]
        candidates += ["/usr" + c for c in candidates if c.startswith("/lib")]
        candidates += [c[4:] for c in candidates if c.startswith("/usr/lib")]
        for candidate in candidates:
            result = run(["dpkg-query", "-S", candidate])
            if result.returncode == 0:
                line = next(ln for ln in result.stdout.splitlines() if not ln.startswith("diversion"))
                for package in line.split(": ", 1)[0].split(", "):
                    packages.setdefault(package.split(":")[0], []).append(library)
                break
        else:
            raise Failure(f"{library} (linked by the binaries) comes from no Debian package")
    return packages


def install_targets():
    """The targets that install(TARGETS ...) rules in the source tree's CMakeLists.txt install."""
    targets = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "node_modules"
                   and not os.path.isfile(os.path.join(root, d, "CMakeCache.txt"))]
        if "CMakeLists.txt" not in files:
            continue
        text = re.sub(r"#.*", "", read(os.path.join(root, "CMakeLists.txt")))
        for rule in re.finditer(r"install\(\s*TARGETS\s+([^)]*)\)", text):
            for word in rule.group(1).split():
                if word.isupper():            # EXPORT, RUNTIME, ARCHIVE, ...: the targets end
                    break
                targets.add(word)
    return targets


def apt_dependencies():
    """The packages apt depends on: in every Debian image, debian:12-slim included."""
    result = run(["dpkg-query", "-W", "-f=${Pre-Depends}, ${Depends}", "apt"])
    expect(result.returncode == 0, f"dpkg-query apt: {result.stderr.strip()}")
    return {re.split(r"[\s:(]", alternative.strip())[0]
            for alternative in re.split(r"[,|]", result.stdout) if alternative.strip()}


# --- the cases ---------------------------------------------------------------------------

def case_dockerfile_lint(s: Suite):
    """the Dockerfile passes dockerfile-utils lint"""
    linter = tool("dockerfile-utils", "the Dockerfile linter, from npm")
    result = run([linter, "lint", "--json", DOCKERFILE])
    try:
        problems = json.loads(result.stdout)
    except ValueError:
        raise Failure(f"dockerfile-utils lint printed no JSON ({result.returncode}): "
                      f"{output(result)}") from None
    expect(isinstance(problems, list), f"dockerfile-utils lint printed {result.stdout[:200]}")
    expect(not problems, "; ".join(f"Dockerfile:{p['range']['start']['line'] + 1}: {p['severity']}: {p['message']}"
                                   for p in problems))


def case_yamllint(s: Suite):
    """the compose files pass yamllint --strict"""
    linter = tool("yamllint", "the YAML linter, from Debian")
    files = sorted(os.path.join(DOCKER, f) for f in os.listdir(DOCKER) if f.endswith((".yaml", ".yml")))
    expect(COMPOSE in files and COMPOSE_HAPROXY in files, f"docker/ lacks a compose file: {files}")
    result = run([linter, "--strict", "-f", "parsable", "-d", YAMLLINT_RULES, *files])
    expect(result.returncode == 0, output(result, 1000).replace(REPO + "/", ""))
    return f"{len(files)} files"


def case_compose_config(s: Suite):
    """docker-compose config accepts both compose files, with no engine to reach"""
    for path in (COMPOSE, COMPOSE_HAPROXY):
        expect(s.compose(path).get("services"), f"{os.path.relpath(path, REPO)} has no services")
    return run(["docker-compose", "version", "--short"]).stdout.strip()


def case_haproxy_check(s: Suite):
    """haproxy.cfg passes haproxy -c (names that only Docker's DNS resolves aside)"""
    haproxy = tool("haproxy", "it checks haproxy.cfg")
    result = run([haproxy, "-c", "-f", HAPROXY_CFG])
    expect(result.returncode == 0, f"haproxy -c: {output(result, 800)}")
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "WARNING" in line and "could not resolve address" not in line]
    expect(not warnings, "haproxy -c warned: " + " | ".join(warnings))


def case_build_stage(s: Suite):
    """the build stage installs only the build's packages and builds only what is staged"""
    build = s.build_stage()
    expect(build.image == "debian:12" and build.name == "build",
           f"the first stage is FROM {build.image} AS {build.name}, expected FROM debian:12 AS build")
    by_ci, by_tests = scripts_run_outside_docker()
    steps = []
    for run_ in build.all("RUN"):
        expect(not run_.args.startswith("["), f"Dockerfile:{run_.line}: RUN in exec form")
        expect(not re.search(r"[;|&<>`$(){}]", run_.args.replace("&&", " ")),
               f"Dockerfile:{run_.line}: shell syntax other than && in `{run_.args}`")
        for words in shell_commands(run_):
            steps.append(build_step(words, f"Dockerfile:{run_.line}", by_ci | by_tests))
    expected = ["install-deps.sh build", "cmake configure", "cmake --build", "stage.sh"]
    expect([name for name, _ in steps] == expected,
           f"the build stage runs {[name for name, _ in steps]}, expected {expected}")
    (_, configured), (_, built) = steps[1], steps[2]
    expect(configured == built == STAGE_BUILD_DIR,
           f"the build stage configures {configured} and builds {built}; scripts/stage.sh installs from "
           f"{STAGE_BUILD_DIR}")
    return ", then ".join(name for name, _ in steps)


def build_step(words, where, scripts_run_here):
    """(name, build dir or None) of one command of the build stage, checked: a script the tests
    run outside Docker (install-deps.sh in its build mode), or CMake configuring without the
    tests or building exactly the targets the install() rules install."""
    if words[0] == "cmake":
        options = dict(zip(words[1::2], words[2::2]))
        if "-S" in options:
            expect("-DBUILD_TESTING=OFF" in words, f"{where}: cmake configures with the tests ({words})")
            return "cmake configure", options.get("-B")
        expect(words[1] == "--build" and "--target" in words,
               f"{where}: `{' '.join(words)}` neither configures (-S) nor builds some targets (--build DIR --target)")
        targets = set(words[words.index("--target") + 1:])
        installed = install_targets()
        expect(targets == installed,
               f"{where}: cmake --build builds {sorted(targets)}; the install() rules install {sorted(installed)}"
               f" (lacking: {sorted(installed - targets) or 'none'}, extra: {sorted(targets - installed) or 'none'});"
               " the Dockerfile's --target list must name exactly what scripts/stage.sh installs")
        return "cmake --build", words[2]
    match = re.fullmatch(r"\./scripts/([\w.-]+\.sh)", words[0])
    expect(match, f"{where}: `{' '.join(words)}` is neither cmake nor one of ./scripts/*.sh")
    script = match.group(1)
    expect(script in scripts_run_here,
           f"{where}: scripts/{script} is run neither by scripts/test.sh (or a script it runs) nor by a test")
    if script == "install-deps.sh":
        expect(words[1:] == ["build"], f"{where}: `{' '.join(words)}`: the build stage needs `install-deps.sh build`, "
                                       "without the test tools")
        return "install-deps.sh build", None
    return script, None


def case_run_stage_packages(s: Suite):
    """the run stage installs exactly the runtime packages the staged binaries link"""
    release = dict(line.split("=", 1) for line in read("/etc/os-release").splitlines() if "=" in line)
    version = release.get("VERSION_ID", "").strip('"')
    expect(s.run_stage().image.startswith(f"debian:{version}"),
           f"this machine runs Debian {version or '?'}, the run stage is {s.run_stage().image}: "
           "package names would not match")
    binaries = [os.path.join(s.bin, name) for names in STAGED.values() for name in names]
    missing = [b for b in binaries if not os.path.isfile(b)]
    expect(not missing, f"not built: {', '.join(missing)}")
    listed = apt_packages(s.run_stage())
    expect(listed, "the run stage installs no package")
    dev = [p for p in listed if p.endswith("-dev")]
    expect(not dev, f"the run stage installs -dev packages: {', '.join(dev)}")
    base = apt_dependencies()
    linked = linked_packages(binaries)
    needed = {p: libs for p, libs in linked.items() if p not in base}
    lacking = sorted(set(needed) - set(listed))
    expect(not lacking, "the run stage lacks " + ", ".join(f"{p} ({', '.join(needed[p])})" for p in lacking))
    unneeded = sorted(set(listed) - set(needed) - set(ENTRYPOINT_PACKAGES))
    expect(not unneeded, f"the run stage installs {', '.join(unneeded)}, which no staged binary links")
    entry = s.run_stage().one("ENTRYPOINT").json_form()
    for package in set(listed) & set(ENTRYPOINT_PACKAGES):
        expect(entry[0] == ENTRYPOINT_PACKAGES[package],
               f"the run stage installs {package} but the ENTRYPOINT does not run {ENTRYPOINT_PACKAGES[package]}")
    return f"{', '.join(sorted(listed))}; from the base image: {', '.join(sorted(set(linked) & base))}"


def case_dockerignore(s: Suite):
    """.dockerignore keeps .git, the host's build trees and all .gitignore lists out"""
    def patterns(path):
        found = set()
        for line in read(path).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                while line.startswith(("/", "**/")):
                    line = line[1:] if line.startswith("/") else line[3:]
                found.add(line.rstrip("/"))
        return found
    ignored = patterns(os.path.join(REPO, ".dockerignore"))
    gitignored = patterns(os.path.join(REPO, ".gitignore"))
    expect(".git" in ignored, ".dockerignore lets .git in")
    expect(gitignored <= ignored, f".dockerignore lacks what .gitignore has: {sorted(gitignored - ignored)}")
    trees = [d for d in os.listdir(REPO) if os.path.isfile(os.path.join(REPO, d, "CMakeCache.txt"))]
    sent = [d for d in trees + ["build"] if not any(fnmatch.fnmatchcase(d, p) for p in ignored)]
    expect(not sent, f".dockerignore lets these build trees in: {sent}")
    return f"build trees here: {', '.join(sorted(trees))}"


def case_image(s: Suite):
    """the image: Debian 12 slim, a non-root user, the config at /etc/vhostd/vhostd.toml, a HEALTHCHECK"""
    stage = s.run_stage()
    expect(stage.image == "debian:12-slim", f"the run stage is FROM {stage.image}, expected debian:12-slim")
    user = stage.one("USER").args.split(":")[0]
    expect(user not in ("root", "0"), f"the image runs as {user}")
    created = [words[-1] for r in stage.all("RUN") for words in shell_commands(r) if words[0] == "useradd"]
    expect(user in created, f"USER {user} is not created by useradd in the run stage")
    command = s.server_command()
    expect(command == [f"{PREFIX}/bin/vhostd", "-c", CONFIG], f"ENTRYPOINT + CMD run {command}")
    expect(s.to_host(CONFIG) == os.path.join(DOCKER, "vhostd.toml"), f"{CONFIG} is not docker/vhostd.toml")
    healthcheck, health = s.health_command()
    expect(health == ["vhostctl", "-c", CONFIG, "health"], f"HEALTHCHECK CMD {health}")
    for flag in ("interval", "timeout", "start-period"):
        expect(flag in healthcheck.flags, f"HEALTHCHECK without --{flag}")
    config = load_toml(os.path.join(DOCKER, "vhostd.toml"))
    exposed = {int(p.split("/")[0]) for e in stage.all("EXPOSE") for p in e.args.split()}
    listening = {port_of(listen["address"]) for listen in config["listen"]}
    expect(exposed == listening, f"EXPOSE {sorted(exposed)}, but vhostd.toml listens on {sorted(listening)}")
    for name in ("vhostd.toml", "vhostd-replica.toml"):
        admin = load_toml(os.path.join(DOCKER, name)).get("admin", {}).get("listen", "")
        expect(admin.startswith(("127.", "[::1]")),
               f"{name}: [admin] listen = {admin!r}; the HEALTHCHECK needs it, on loopback")
    docs = read(os.path.join(REPO, "docs", "deployment.md"))
    expect(CONFIG in docs and "## Docker" in docs, "docs/deployment.md does not document the config's path")
    return f"user {user}, HEALTHCHECK {' '.join(f'--{k}={v}' for k, v in healthcheck.flags.items())}"


def case_compose(s: Suite):
    """compose.yaml: the image, the config read-only at its path, the site's folder, the port"""
    services = s.compose(COMPOSE)["services"]
    expect(list(services) == ["vhostd"], f"compose.yaml has services {list(services)}, expected vhostd")
    service = services["vhostd"]
    build = service.get("build") or {}
    expect(build.get("context") == REPO and build.get("dockerfile") == "docker/Dockerfile",
           f"compose.yaml builds {build}, expected the repository with docker/Dockerfile")
    expect("healthcheck" not in service, "compose.yaml overrides the image's HEALTHCHECK")
    mounts = volumes(service)
    config_mounts = [m for m in mounts if m[1] == CONFIG]
    expect(len(config_mounts) == 1 and config_mounts[0][2], f"compose.yaml mounts {CONFIG}: {config_mounts}")
    config = load_toml(config_mounts[0][0])
    named = set()
    map_paths(config, lambda p: named.add(p) or p)
    for source, target, read_only in mounts:
        expect(os.path.exists(source), f"compose.yaml mounts {source}, which does not exist")
        expect(target == CONFIG or target in named, f"compose.yaml mounts {target}, which the config never names")
        expect(read_only, f"compose.yaml mounts {target} read-write")
    listening = {port_of(listen["address"]) for listen in config["listen"]}
    targets = {target for _, target in published_ports(service)}
    expect(targets == listening, f"compose.yaml publishes {sorted(targets)}, vhostd listens on {sorted(listening)}")
    return f"mounts {', '.join(t for _, t, _ in mounts)}"


def case_configs_check(s: Suite):
    """vhostd --check accepts vhostd.toml and vhostd-replica.toml, the image's paths mapped here"""
    vhostd = os.path.join(s.bin, "vhostd")
    for name in ("vhostd.toml", "vhostd-replica.toml"):
        config = load_toml(os.path.join(DOCKER, name))
        path = os.path.join(s.directory, "check-" + name)
        with open(path, "w") as f:
            f.write(toml_text(map_paths(config, s.to_host)))
        result = run([vhostd, "--check", "-c", path])
        expect(result.returncode == 0, f"vhostd --check {name}: {output(result, 800)}")
    replica, single = (load_toml(os.path.join(DOCKER, n)) for n in ("vhostd-replica.toml", "vhostd.toml"))
    expect(replica["sites"] == single["sites"], "vhostd-replica.toml's sites differ from vhostd.toml's")


def case_image_runs(s: Suite):
    """the image's ENTRYPOINT and CMD serve both sites here; its HEALTHCHECK says 1, then 0"""
    config = load_toml(s.to_host(CONFIG))
    path, (port, *_), _ = s.local_config(config, "image.toml")
    health = s.image_command(s.health_command()[1], path)
    result = run(health, timeout=10)
    expect(result.returncode == 1, f"with no vhostd running, `{' '.join(health)}` exited {result.returncode} "
                                   f"(Docker reads 1 as unhealthy; 2 is reserved): {output(result, 120, head=True)}")
    vhostd = s.start("vhostd", s.image_command(s.server_command(), path))
    s.wait_healthy("vhostd", vhostd, health)
    default = None
    for name, site in config["sites"].items():
        host = (site.get("hosts") or ["default.invalid"])[0]
        status, body, _ = wait_until(lambda: http_get(port, host), WAIT, f"an answer for {host}")
        expect(status == 200, f"{host}: {status} {body[:200]!r}")
        if "static" in site:
            index = os.path.join(s.to_host(site["static"]), "index.html")
            expect(body == open(index, "rb").read(), f"{host}: the body is not {index}")
        elif site.get("command", [""])[0].endswith("/hello-worker"):
            expect(body.startswith(f"hello from {name} (pid".encode()), f"{host}: {body[:200]!r}")
        if site.get("default"):
            default = body
    if default is not None:
        status, body, _ = http_get(port, "unknown.invalid")
        expect(status == 200 and body == default, f"a host of no site got {status} {body[:100]!r}, not the default site")
    status = vhostd.stop("vhostd")
    expect(status == 0, f"vhostd exited with status {status} after SIGTERM")


def case_haproxy_files(s: Suite):
    """compose.haproxy.yaml, haproxy.cfg and vhostd-replica.toml agree: names, ports, subnet"""
    compose = s.compose(COMPOSE_HAPROXY)
    services = compose["services"]
    replicas = sorted(n for n, v in services.items() if (v.get("build") or {}).get("dockerfile") == "docker/Dockerfile")
    expect(len(replicas) >= 2, f"compose.haproxy.yaml has {len(replicas)} vhostd replicas, expected 2 or more")
    balancers = [n for n, v in services.items() if str(v.get("image", "")).startswith("haproxy:")]
    expect(len(balancers) == 1, f"compose.haproxy.yaml has HAProxy services {balancers}, expected one")
    haproxy = services[balancers[0]]
    version = re.search(r"version (\d+\.\d+)", run(["haproxy", "-v"]).stdout)
    expect(version and haproxy["image"] == f"haproxy:{version.group(1)}",
           f"compose.haproxy.yaml runs {haproxy['image']}; haproxy -c checks with {version and version.group(1)}")
    expect((HAPROXY_CFG, HAPROXY_IMAGE_CONFIG, True) in volumes(haproxy),
           f"HAProxy does not mount docker/haproxy.cfg read-only at {HAPROXY_IMAGE_CONFIG}")
    replica_toml = os.path.join(DOCKER, "vhostd-replica.toml")
    for name in replicas:
        expect((replica_toml, CONFIG, True) in volumes(services[name]),
               f"{name} does not mount docker/vhostd-replica.toml read-only at {CONFIG}")
        expect(not services[name].get("ports"), f"{name} publishes ports: only HAProxy should reach it")
    config = load_toml(replica_toml)
    (listen,) = config["listen"]
    expect(listen.get("proxy_protocol") is True, "vhostd-replica.toml's listener has no proxy_protocol = true")
    subnets = {c["subnet"] for network in (compose.get("networks") or {}).values() if network
               for c in (network.get("ipam") or {}).get("config", [])}
    expect(subnets and set(listen.get("proxy_from", [])) == subnets,
           f"proxy_from = {listen.get('proxy_from')}, the compose network's subnet is {sorted(subnets)}")
    for name in replicas + balancers:
        expect(set(services[name].get("networks") or {}) == set(compose["networks"]),
               f"{name} is not on the network {list(compose['networks'])}")

    sections = haproxy_sections(read(HAPROXY_CFG))
    mode = [w for key, lines in sections.items() if key[0] in ("defaults", "frontend", "backend")
            for w in lines if w[0] == "mode"]
    expect(mode and all(w == ["mode", "tcp"] for w in mode), f"haproxy.cfg modes: {mode}; expected mode tcp")
    (backend,) = [lines for key, lines in sections.items() if key[0] == "backend"]
    expect(["balance", "roundrobin"] in backend, "haproxy.cfg's backend is not balance roundrobin")
    servers = haproxy_servers(backend)
    expect(sorted(servers) == replicas, f"haproxy.cfg's servers {sorted(servers)}, the replicas {replicas}")
    for name, (address, options) in servers.items():
        expect(address == f"{name}:{port_of(listen['address'])}", f"server {name} at {address}")
        expect("send-proxy-v2" in options, f"server {name} without send-proxy-v2")
        if "resolvers" in options:
            resolvers = sections.get(("resolvers", options[options.index("resolvers") + 1]), [])
            expect(any(w[0] == "nameserver" and w[-1] == DOCKER_DNS for w in resolvers),
                   f"server {name}'s resolvers do not ask Docker's DNS at {DOCKER_DNS}")
        expect("init-addr" in options and "none" in options[options.index("init-addr") + 1].split(","),
               f"server {name} without init-addr ...,none: HAProxy would not start before it resolves")
    binds = {port_of(w[1]) for key, lines in sections.items() if key[0] == "frontend" for w in lines if w[0] == "bind"}
    targets = {target for _, target in published_ports(haproxy)}
    expect(binds and binds == targets, f"HAProxy binds {sorted(binds)} and publishes {sorted(targets)}")
    return f"replicas {', '.join(replicas)}, proxy_from {', '.join(sorted(subnets))}"


def case_haproxy_runs(s: Suite):
    """HAProxy with haproxy.cfg sends PROXY v2 round robin to two vhostd replicas here"""
    services = s.compose(COMPOSE_HAPROXY)["services"]
    replicas = sorted(n for n, v in services.items() if (v.get("build") or {}).get("dockerfile") == "docker/Dockerfile")
    config = load_toml(next(src for src, target, _ in volumes(services[replicas[0]]) if target == CONFIG))
    ports, logs = {}, {}
    for name in replicas:
        logs[name] = os.path.join(s.directory, f"{name}-access.log")
        path, (port,), _ = s.local_config(config, f"{name}.toml", proxy_from=["127.0.0.1"], access_log=logs[name])
        ports[name] = port
        process = s.start(name, s.image_command(s.server_command(), path))
        s.wait_healthy(name, process, s.image_command(s.health_command()[1], path))

    (front,) = free_ports(1)
    text, servers = [], set()
    for line in read(HAPROXY_CFG).splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            line = line.replace(words[1], f"127.0.0.1:{front}")
        elif words[:1] == ["server"]:
            expect(words[1] in ports, f"haproxy.cfg's server {words[1]} is no replica in compose.haproxy.yaml")
            line = line.replace(words[2], f"127.0.0.1:{ports[words[1]]}")
            servers.add(words[1])
        text.append(line)
    expect(servers == set(replicas), f"haproxy.cfg's servers {sorted(servers)}, the replicas {replicas}")
    cfg = os.path.join(s.directory, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join(text) + "\n")
    balancer = s.start("haproxy", ["haproxy", "-db", "-f", cfg])

    hello = next(n for n, site in config["sites"].items() if site.get("command", [""])[0].endswith("/hello-worker"))
    host = config["sites"][hello]["hosts"][0]
    sent = []
    for i in range(2 * len(replicas)):
        errors = []

        def answered():
            expect(balancer.alive(), f"haproxy exited with status {balancer.popen.returncode}")
            try:
                return http_get(front, host)
            except (OSError, http.client.HTTPException) as e:
                errors[:] = [f"{type(e).__name__}: {e}"]
                return None
        try:
            status, body, client_port = wait_until(answered, WAIT, "an answer through HAProxy", poll=0.1)
        except Failure as e:
            raise Failure(f"{e} (the last try: {errors[0] if errors else '-'})") from None
        expect(status == 200 and body.startswith(f"hello from {hello} (pid".encode()),
               f"request {i + 1} through HAProxy got {status} {body[:200]!r}")
        sent.append(client_port)

    def clients(name):
        """The client ports in a replica's access log (the address PROXY v2 gave it)."""
        found = set()
        with open(logs[name], errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                address, _, port = entry.get("client", "").rpartition(":")
                if address == "127.0.0.1" and entry.get("site") == hello:
                    found.add(int(port))
        return found
    def all_logged():
        found = {name: clients(name) for name in replicas}
        return found if set(sent) <= set().union(*found.values()) else None
    seen = wait_until(all_logged, WAIT, "every request in a replica's access log", poll=0.1)
    for name in replicas:
        expect(seen[name] & set(sent), f"{name} got none of the {len(sent)} requests: not round robin")
    expect(sum(len(seen[n] & set(sent)) for n in replicas) == len(sent), "a request was logged by two replicas")

    # Straight to a replica, without a PROXY header: closed unanswered.
    with socket.create_connection(("127.0.0.1", ports[replicas[0]]), timeout=WAIT) as direct:
        direct.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        try:
            answer = direct.recv(100)
        except ConnectionResetError:
            answer = b""
    expect(answer == b"", f"a replica answered a connection without PROXY header: {answer!r}")

    balancer.stop("haproxy")
    for name, process in s.processes:
        if name in replicas:
            status = process.stop(name)
            expect(status == 0, f"{name} exited with status {status} after SIGTERM")
    return " / ".join(f"{n}: {len(seen[n] & set(sent))}" for n in replicas) + " connections"


CASES = [case_dockerfile_lint, case_yamllint, case_compose_config, case_haproxy_check,
         case_build_stage, case_run_stage_packages, case_dockerignore, case_image, case_compose,
         case_configs_check, case_image_runs, case_haproxy_files, case_haproxy_runs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the built binaries (build/bin)")
    parser.add_argument("--time-limit", type=float, default=55.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vhostd-docker-") as directory:
        suite = Suite(os.path.abspath(args.bin), directory)
        try:
            failed = run_cases(CASES, suite, args.time_limit, after_case=lambda case, error: suite.stop_all(error is not None))
        finally:
            suite.stop_all(False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
