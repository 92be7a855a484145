"""The state the cases of docker_files_test.py share (the Suite): the Dockerfile and compose
files read once, the image's paths mapped to their sources here, the processes started; and
what runs the image's commands here: a process, a GET, a vhostd config written as TOML."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess

from compose_reader import read_yaml
from docker_common import CONFIG, ENTRYPOINT_PACKAGES, IMAGE_PATH, PREFIX, REPO, STAGED, WAIT, output, run, tool
from dockerfile_reader import read_dockerfile, shell_commands
from harness import Failure, expect, free_ports, tap_log_tail, wait_until


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
