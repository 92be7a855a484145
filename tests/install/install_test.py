#!/usr/bin/env python3
"""What `cmake --install` puts in place, checked from a staged tree (docs/deployment.md,
"Installing").

    python3 tests/install/install_test.py --build build

Stages the build with scripts/stage.sh (the command the Docker image uses) into a temp dir,
then: every file is where the usual places say; the installed vhostd and vhostctl print
their version and build info; the systemd unit passes systemd-analyze verify; the example
config passes vhostd --check and the installed vhostd serves it; a worker built against the
installed C++ SDK with find_package(vhostd) serves behind it.

Prints TAP and exits 1 if a case fails. Every wait is bounded; the whole run is cut off after
--time-limit seconds; every process started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import expect, free_ports, run_cases, tap_log_tail, wait_until  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
PREFIX = "/usr/local"
EXPECTED = {
    "bin": ["vhostd", "vhostctl", "vhostd-static", "vhostd-upstream"],
    "libexec/vhostd": ["hello-worker"],
    "lib/systemd/system": ["vhostd.service"],
    "share/doc/vhostd": ["README.md", "configuration.md", "deployment.md", "http-grammar.md", "protocol.md", "status.md"],
    "share/doc/vhostd/examples": ["vhostd.toml", "vhostd.socket"],
    "share/vhostd/sdk/node": ["index.js", "site_process.js", "http_worker.js", "host.js", "channel.js",
                              "request_head.js", "request_stream.js", "package.json", "README.md"],
    "share/vhostd/sdk/python/vhostd_worker": sorted(name for name in os.listdir(os.path.join(REPO, "sdk", "python", "vhostd_worker"))
                                                    if name.endswith(".py")),
    "include/vhostd/sdk/cpp": ["worker.hpp", "tls.hpp", "request_reader.hpp"],
    "include/vhostd/http": ["chunked_body.hpp", "host.hpp", "request_head.hpp"],
    "include/vhostd/protocol": ["channel.hpp", "message.hpp", "file_descriptor.hpp", "message_decoder.hpp"],
    "lib": ["libvhostd_sdk.a", "libvhostd_protocol.a"],
    "lib/cmake/vhostd": ["vhostd-config.cmake", "vhostd-config-version.cmake", "vhostd-targets.cmake"],
}
EXECUTABLE = ["bin/vhostd", "bin/vhostctl", "bin/vhostd-static", "bin/vhostd-upstream", "libexec/vhostd/hello-worker"]
WAIT = 15.0

SDK_WORKER_CMAKE = """cmake_minimum_required(VERSION 3.25)
project(sdk_worker LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(vhostd 0.1 REQUIRED)
add_executable(sdk-worker main.cpp)
target_link_libraries(sdk-worker PRIVATE vhostd::vhostd_sdk)
"""

# The smallest worker: one fixed answer per connection, then close.
SDK_WORKER_MAIN = r"""#include "sdk/cpp/worker.hpp"

#include <boost/asio/write.hpp>

#include <memory>
#include <string>

int main() {
    boost::asio::io_context io;
    vhostd::sdk::Worker worker(io, [](boost::asio::ip::tcp::socket socket, vhostd::sdk::ConnectionInfo info,
                                      vhostd::sdk::Worker::Lease lease) {
        auto held = std::make_shared<boost::asio::ip::tcp::socket>(std::move(socket));
        auto answer = std::make_shared<std::string>("HTTP/1.1 200 OK\r\nContent-Length: " +
                                                    std::to_string(info.site.size() + 12) +
                                                    "\r\nConnection: close\r\n\r\nsdk worker: " + info.site);
        boost::asio::async_write(*held, boost::asio::buffer(*answer),
                                 [held, answer, lease = std::move(lease)](boost::system::error_code, std::size_t) {
                                     boost::system::error_code ignored;
                                     held->shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
                                 });
    });
    worker.ready();
    io.run();
}
"""


def run(command, timeout=120, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def output(result, limit=400):
    return " | ".join((result.stdout + result.stderr).strip().splitlines())[-limit:]


class Suite:
    def __init__(self, build, directory):
        self.build = build
        self.directory = directory
        self.root = os.path.join(directory, "root")
        self.prefix = self.root + PREFIX
        self.processes = []
        self.sdk_worker = None

    def installed(self, relative):
        return os.path.join(self.prefix, relative)

    def start(self, command, log_path):
        log = open(log_path, "wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.processes.append(process)
        return process

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes = []


def http_get(port, host, path="/"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def case_staged(suite):
    """scripts/stage.sh installs binaries, the unit file, an example config and the SDKs in the usual places"""
    result = run([os.path.join(REPO, "scripts", "stage.sh"), suite.root], env=dict(os.environ, BUILD_DIR=suite.build))
    expect(result.returncode == 0, f"scripts/stage.sh exited {result.returncode}: {output(result)}")
    missing = [f"{folder}/{name}" for folder, names in EXPECTED.items() for name in names
               if not os.path.isfile(suite.installed(f"{folder}/{name}"))]
    expect(not missing, f"not installed under {PREFIX}: {', '.join(missing)}")
    not_executable = [path for path in EXECUTABLE if not os.access(suite.installed(path), os.X_OK)]
    expect(not not_executable, f"not executable: {', '.join(not_executable)}")
    symbols = run(["nm", suite.installed("bin/vhostd")])
    expect("no symbols" in symbols.stderr, "bin/vhostd still has its symbol table: stage.sh installs stripped binaries")
    files = sum(len(names) for names in EXPECTED.values())
    return f"{files} files under {PREFIX}"


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as f:
        match = re.search(r"project\(vhostd VERSION ([0-9.]+)", f.read())
    expect(match, "no project(vhostd VERSION …) in CMakeLists.txt")
    return match.group(1)


def case_version(suite):
    """the installed vhostd and vhostctl print their version, commit, compiler and libraries"""
    version = project_version()
    for program in ["vhostd", "vhostctl"]:
        result = run([suite.installed(f"bin/{program}"), "--version"], timeout=10)
        expect(result.returncode == 0, f"{program} --version exited {result.returncode}: {output(result)}")
        lines = result.stdout.splitlines()
        expect(len(lines) == 4, f"{program} --version printed {len(lines)} lines: {result.stdout!r}")
        expect(re.fullmatch(rf"{program} {re.escape(version)} \(commit ([0-9a-f]{{7,}}(-dirty)?|unknown)\)", lines[0]),
               f"first line: {lines[0]!r}")
        expect(lines[1].startswith("built with GNU ") or lines[1].startswith("built with Clang "), f"second line: {lines[1]!r}")
        expect(re.fullmatch(r"libraries: Boost 1\.81\.0, OpenSSL 3\.\S+ \(running 3\.\S+\), toml\+\+ 3\.\S+, spdlog 1\.\S+", lines[2]),
               f"third line: {lines[2]!r}")
        expect(lines[3] == "worker protocol 1", f"fourth line: {lines[3]!r}")
    return lines[0].replace("vhostctl", "vhostd")


def case_unit_file(suite):
    """the systemd unit passes systemd-analyze verify and runs the installed vhostd as Type=notify"""
    unit = suite.installed("lib/systemd/system/vhostd.service")
    with open(unit, encoding="utf-8") as f:
        text = f.read()
    settings = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    for key, value in {"Type": "notify", "NotifyAccess": "main", "KillMode": "mixed",
                       "ExecStart": f"{PREFIX}/bin/vhostd -c /etc/vhostd/vhostd.toml",
                       "ExecReload": "/bin/kill -HUP $MAINPID"}.items():
        expect(settings.get(key) == value, f"{key}={settings.get(key)!r}, expected {value!r}")
    expect("WatchdogSec" in settings, "no WatchdogSec: vhostd sends WATCHDOG=1 when it is set")
    # The unit names /usr/local/bin/vhostd, which verify wants to find: a copy names the
    # staged binary instead. With the socket unit beside it, both are checked together.
    units = os.path.join(suite.directory, "units")
    os.makedirs(units, exist_ok=True)
    with open(os.path.join(units, "vhostd.service"), "w", encoding="utf-8") as f:
        f.write(text.replace(f"{PREFIX}/bin/", f"{suite.prefix}/bin/"))
    with open(suite.installed("share/doc/vhostd/examples/vhostd.socket"), encoding="utf-8") as source:
        with open(os.path.join(units, "vhostd.socket"), "w", encoding="utf-8") as f:
            f.write(source.read())
    result = run(["systemd-analyze", "verify", os.path.join(units, "vhostd.socket"), os.path.join(units, "vhostd.service")], timeout=30)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "vhostd." in line]
    expect(result.returncode == 0 and not complaints, f"systemd-analyze verify: {output(result)}")
    return "systemd-analyze verify: no complaint about vhostd.service or vhostd.socket"


def example_config(suite, port, admin_port, extra=""):
    """The installed example config, its paths and ports moved to the staged tree and free
    ports, and without the user switch (which needs root and a www-data user)."""
    with open(suite.installed("share/doc/vhostd/examples/vhostd.toml"), encoding="utf-8") as f:
        text = f.read()
    www = os.path.join(suite.directory, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w", encoding="utf-8") as f:
        f.write("the static site\n")
    replaced = (text.replace('address = "0.0.0.0:80"', f'address = "127.0.0.1:{port}"')
                .replace('listen = "127.0.0.1:9180"', f'listen = "127.0.0.1:{admin_port}"')
                .replace('static = "/var/www/html"', f'static = "{www}"')
                .replace(f'"{PREFIX}/libexec/', f'"{suite.prefix}/libexec/')
                .replace('user = "www-data"', ""))
    expect(replaced.count(str(port)) == 1 and replaced.count(www) == 1 and suite.prefix in replaced and "www-data" not in replaced,
           "the example config no longer has the lines this test moves")
    path = os.path.join(suite.directory, "vhostd.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(replaced + extra)
    return path


def case_sdk_worker(suite):
    """a worker built against the installed C++ SDK with find_package(vhostd) compiles and links"""
    source = os.path.join(suite.directory, "sdk-worker")
    os.makedirs(source, exist_ok=True)
    for name, text in [("CMakeLists.txt", SDK_WORKER_CMAKE), ("main.cpp", SDK_WORKER_MAIN)]:
        with open(os.path.join(source, name), "w", encoding="utf-8") as f:
            f.write(text)
    build = os.path.join(source, "build")
    configure = run(["cmake", "-S", source, "-B", build, f"-DCMAKE_PREFIX_PATH={suite.prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    expect(configure.returncode == 0, f"cmake configure: {output(configure)}")
    built = run(["cmake", "--build", build], timeout=300)
    expect(built.returncode == 0, f"cmake --build: {output(built)}")
    suite.sdk_worker = os.path.join(build, "sdk-worker")


def case_serves(suite):
    """the example config passes vhostd --check, and the installed vhostd serves it and the SDK worker"""
    port, admin_port = free_ports(2)
    extra = ""
    if suite.sdk_worker:
        extra = f'\n[sites.sdk]\nhosts = ["sdk.example.org"]\ncommand = ["{suite.sdk_worker}"]\n'
    config = example_config(suite, port, admin_port, extra)
    vhostd = suite.installed("bin/vhostd")
    check = run([vhostd, "--check", "-c", config], timeout=10)
    expect(check.returncode == 0, f"vhostd --check: {output(check)}")
    log_path = os.path.join(suite.directory, "vhostd.log")
    process = suite.start([vhostd, "-c", config], log_path)
    try:
        def serving():
            try:
                return http_get(port, "hello.example.org")[0] == 200
            except OSError:
                return False
        wait_until(serving, WAIT, "the installed vhostd serving hello.example.org")
        status, body = http_get(port, "example.org")
        expect(status == 200 and body == "the static site\n", f"the static site (vhostd-static beside vhostd) answered {status} {body!r}")
        if suite.sdk_worker:
            status, body = http_get(port, "sdk.example.org")
            expect(status == 200 and body == "sdk worker: sdk", f"the SDK worker answered {status} {body!r}")
        health = run([suite.installed("bin/vhostctl"), "--admin", f"127.0.0.1:{admin_port}", "health"], timeout=10)
        expect(health.returncode == 0, f"vhostctl health: {output(health)}")
        process.send_signal(signal.SIGTERM)
        expect(process.wait(15) == 0, "vhostd did not exit 0 on SIGTERM")
    except Exception:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            tap_log_tail("vhostd", f.read())
        raise
    return "static, hello-worker" + (" and the SDK worker" if suite.sdk_worker else "")


CASES = [case_staged, case_version, case_unit_file, case_sdk_worker, case_serves]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the CMake build directory to install from")
    parser.add_argument("--time-limit", type=float, default=290.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vhostd-install-") as directory:
        suite = Suite(os.path.abspath(args.build), directory)
        try:
            failed = run_cases(CASES, suite, args.time_limit, after_case=lambda case, error: suite.stop_all(),
                               essential=(case_staged,))   # nothing to check without the staged tree
        finally:
            suite.stop_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
