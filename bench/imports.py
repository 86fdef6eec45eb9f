"""Cold starts: each function's import time, beside a bare ``import boto3``, in fresh processes.

A Lambda cold start imports the handler module once (the init phase); every function here needs
boto3, so a bare ``import boto3`` is the floor. Each function of the template is imported in a new
Python process with the environment a deployed function has (tracing on, as ``Tracing: Active``
gives it), timed around the import statement only; runs alternate between the functions and the
baseline, and the median of several is kept. The heavy modules each one loaded are listed, to show
that only the matching function carries numpy and scipy. Results go to bench/RESULTS.md.

    python -m bench.imports [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results import load_average, measured, write_section
from infrastructure.local import template as tpl
from tests.template.test_dependencies import FUNCTION_ENV

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["numpy", "scipy", "aws_xray_sdk", "jinja2", "email_validator", "yaml", "cryptography"]
PROBE = """
import json, sys, time
started = time.perf_counter()
import {module}
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def environment(function: str) -> dict[str, str]:
    """As Lambda sets it for the function: its name (so Powertools traces, as in AWS), a region,
    and the variables its settings read."""
    return {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        **FUNCTION_ENV,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_REGION": FUNCTION_ENV["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": function,
    }


def probe(module: str, env: dict[str, str]) -> dict[str, Any]:
    code = PROBE.format(module=module, heavy=HEAVY)
    done = subprocess.run(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    functions = {name: f.module for name, f in tpl.read(tpl.TEMPLATE).functions.items()}
    times: dict[str, list[float]] = {name: [] for name in ["boto3", *functions]}
    loaded: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    loads = []
    for _ in range(args.runs):
        loads.append(load_average())
        for name, taken in times.items():
            module = "boto3" if name == "boto3" else functions[name]
            result = probe(module, environment(name))
            if "error" in result:
                errors[name] = result["error"]
                continue
            taken.append(result["seconds"])
            loaded[name] = result["loaded"]
    baseline = statistics.median(times["boto3"])
    rows = []
    for name in functions:
        if not times[name]:
            rows.append(f"| {name} | failed: {errors.get(name, '')} | | | |")
            continue
        median = statistics.median(times[name])
        heavy = ", ".join(loaded.get(name, [])) or "none"
        rows.append(
            f"| {name} | {median * 1000:.0f} | {min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f} "
            f"| {median / baseline:.2f} | {heavy} |"
        )
        print(rows[-1], flush=True)
    lines = [
        measured("make bench", f"python -m bench.imports --runs {args.runs}"),
        "",
        f"Each function's handler module imported in a fresh process, {args.runs} times, alternating with",
        "a bare `import boto3` (every function needs it: the floor of a cold start). Timed around the",
        "import statement only, with the environment Lambda gives the function (its name set, so",
        "Powertools traces as with `Tracing: Active`). *Ratio*: the median against the median of",
        f"`import boto3`, {baseline * 1000:.0f} ms ({min(times['boto3']) * 1000:.0f}-"
        f"{max(times['boto3']) * 1000:.0f}). *Heavy modules*: which of {', '.join(HEAVY)} the import loaded.",
        f"Load average during the runs: {min(loads)}-{max(loads)} (2 cores shared with other work).",
        "",
        "| function | import (ms, median) | range (ms) | ratio to `import boto3` | heavy modules loaded |",
        "|---|---:|---:|---:|---|",
        *rows,
    ]
    write_section("Cold starts: import time of each function", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
