"""The whole suite on every core (``make test``): the tests in parallel with pytest-xdist, then, in
a session of their own, the checks of what they recorded (``suite_end``: the AWS calls each function
made, against its policies), which must see every worker's record.

    python -m tests [pytest arguments...]

Arguments go to both sessions' pytest. Narrowed to a part of the suite (a path, ``-k``), the
least-privilege check that needs every call is skipped, as in a narrowed ``pytest`` run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from infrastructure.local.calls import RECORD_CALLS

# Measured on 2 cores: about as fast as one process (the suite is CPU-bound there); more cores gain.
WORKERS = os.environ.get("TEST_WORKERS", "3")
# Every test but the checks, which need every worker's record.
BEFORE_THE_END = "not suite_end"


def main(argv: list[str]) -> int:
    run = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryDirectory(prefix="aws-calls-") as record:
        env = {**os.environ, RECORD_CALLS: record}
        parallel = [*run, "-n", WORKERS, "--dist", "loadgroup", "-m", BEFORE_THE_END, *argv]
        tests = subprocess.run(parallel, env=env, check=False)
        if tests.returncode:
            return tests.returncode
        checks = subprocess.run([*run, "-m", "suite_end", *argv], env=env, check=False)
        return 0 if checks.returncode == pytest.ExitCode.NO_TESTS_COLLECTED else checks.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
