"""The cases of docker_files_test.py on the Dockerfile: its lint, the build stage's steps,
the run stage's packages against what the staged binaries link, .dockerignore, the image."""

from __future__ import annotations

import fnmatch
import json
import os
import re

from docker_common import (CONFIG, DOCKER, DOCKERFILE, ENTRYPOINT_PACKAGES, HERE, PREFIX, REPO, STAGE_BUILD_DIR,
                           STAGED, load_toml, output, port_of, read, run, tool)
from docker_suite import Suite
from dockerfile_reader import apt_packages, shell_commands
from harness import Failure, expect


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
