"""The versions the tests run against are the versions the Lambda layer deploys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infrastructure.local import template as tpl

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
    "SES_MAX_SEND_RATE": "14",
    "NOTIFY_CONCURRENCY": "2",
    "EVENT_BUS_ARN": "arn:aws:events:eu-west-2:123456789012:event-bus/bus",
    "SCHEDULE_GROUP": "group",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
    "DEADLINE_DEAD_LETTER_QUEUE_ARN": "arn:aws:sqs:eu-west-2:123456789012:dlq",
    "USER_POOL_ID": "eu-west-2_Example",
    "USER_POOL_CLIENT_ID": "client",
    "MONITORING_KEY_ID": "arn:aws:kms:eu-west-2:123456789012:key/monitoring",
    "SUBMISSION_ID_SECRET": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:ids",
    "PROGRAMME_LINK_SECRET": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:links",
    "PUBLIC_API_URL": "https://api.example/dev",
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


CONSOLE_ONLY = ["jinja2", "markupsafe", "joserfc", "cryptography"]


def test_the_console_layer_stays_out_of_the_shared_layer() -> None:
    shared = pins(ROOT / "shared" / "requirements.txt")

    assert not set(CONSOLE_ONLY) & set(shared)


TEMPLATE = tpl.load()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
LAYERS = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::LayerVersion")


def layer_modules(layer: str) -> set[str]:
    """The modules a layer holds, by its lock file (each package imports under its own name)."""
    content = ROOT / RESOURCES[layer]["Properties"]["ContentUri"] / "requirements.txt"
    return {name.replace("-", "_") for name in pins(content)}


def test_the_layers_hold_the_solver_and_the_consoles_packages() -> None:
    modules = set().union(*(layer_modules(layer) for layer in LAYERS))

    assert {"numpy", "scipy", *CONSOLE_ONLY} <= modules


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_imports_with_only_the_layers_the_template_gives_it(function: str) -> None:
    """A package of a layer the function is not given is not there when it runs: importing the
    handler with those packages blocked is what Lambda would do at its cold start."""
    properties = RESOURCES[function]["Properties"]
    given = {
        ref["Ref"] for ref in [*TEMPLATE["Globals"]["Function"]["Layers"], *properties.get("Layers", [])]
    }
    present = set().union(*(layer_modules(layer) for layer in given))
    blocked = sorted(set().union(*(layer_modules(layer) for layer in LAYERS if layer not in given)) - present)
    module = tpl.Function(function, properties["CodeUri"], properties["Handler"], 0, {}, 0, None).module
    code = f"import sys; sys.modules.update(dict.fromkeys({blocked!r})); import {module}"
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", **FUNCTION_ENV}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]
