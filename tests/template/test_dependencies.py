"""The versions the tests run against are the versions the Lambda layer deploys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.template

ROOT = Path(__file__).parents[2]
# Enough of the template's environment for each handler module to build its settings at import.
FUNCTION_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-2",
    "APPLICATIONS_TABLE": "applications",
    "MONITORING_TABLE": "monitoring",
    "IDEMPOTENCY_TABLE": "idempotency",
    "INTAKE_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/intake",
    "NOTIFY_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/notify",
    "PARTNER_API_KEYS": "{}",
    "SENDER_EMAIL": "edi@example.ac.uk",
    "EVENT_BUS_ARN": "arn:aws:events:eu-west-2:123456789012:event-bus/bus",
    "SCHEDULE_GROUP": "group",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
    "DEADLINE_DEAD_LETTER_QUEUE_ARN": "arn:aws:sqs:eu-west-2:123456789012:dlq",
    "USER_POOL_ID": "eu-west-2_Example",
    "USER_POOL_CLIENT_ID": "client",
    "MONITORING_KEY_ID": "arn:aws:kms:eu-west-2:123456789012:key/monitoring",
    "SUBMISSION_ID_SECRET": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:ids",
    "LATE_ANSWERS_GRACE_DAYS": "14",
}


def pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", lock.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize(
    "lock", ["shared/requirements.txt", "layers/solver/requirements.txt", "layers/console/requirements.txt"]
)
def test_every_layer_package_is_pinned_to_the_same_version_for_development(lock: str) -> None:
    layer = pins(ROOT / lock)
    development = pins(ROOT / "requirements" / "dev.txt")

    assert layer, "the layer lock pins nothing"
    assert {
        name: (version, development.get(name))
        for name, version in layer.items()
        if development.get(name) != version
    } == {}


def test_the_solver_stays_out_of_the_shared_layer() -> None:
    shared = pins(ROOT / "shared" / "requirements.txt")

    assert not {"numpy", "scipy"} & set(shared)


@pytest.mark.parametrize("function", ["submit", "intake", "notify", "admin", "console", "report"])
def test_only_the_matching_function_needs_the_solver(function: str) -> None:
    """The other functions import without numpy or scipy, as they run without the solver layer."""
    code = (
        "import sys; sys.modules['numpy'] = None; sys.modules['scipy'] = None; "
        f"import functions.{function}.app"
    )
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", **FUNCTION_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]


CONSOLE_ONLY = ["jinja2", "markupsafe", "joserfc", "cryptography"]


def test_the_console_layer_stays_out_of_the_shared_layer() -> None:
    shared = pins(ROOT / "shared" / "requirements.txt")

    assert not set(CONSOLE_ONLY) & set(shared)


@pytest.mark.parametrize("function", ["submit", "intake", "notify", "admin", "matching", "monitoring"])
def test_only_the_console_and_report_functions_need_the_console_layer(function: str) -> None:
    """The others import without Jinja2, joserfc or cryptography, as they run without that layer."""
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in CONSOLE_ONLY)
    code = f"import sys; {blocked}; import functions.{function}.app"
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", **FUNCTION_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]
