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
import os
import sys
import tempfile

# The cases live beside this file, one module per concern; docker_common (imported by each)
# puts tests/support on sys.path for harness.
from compose_cases import case_compose, case_compose_config, case_haproxy_check, case_haproxy_files, case_yamllint
from docker_suite import Suite
from dockerfile_cases import (case_build_stage, case_dockerfile_lint, case_dockerignore, case_image,
                              case_run_stage_packages)
from harness import run_cases
from image_run_cases import case_configs_check, case_haproxy_runs, case_image_runs


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
