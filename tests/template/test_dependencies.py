"""The versions the tests run against are the versions the Lambda layer deploys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.template

ROOT = Path(__file__).parents[2]


def pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", lock.read_text(), flags=re.MULTILINE))


def test_every_layer_package_is_pinned_to_the_same_version_for_development() -> None:
    layer = pins(ROOT / "shared" / "requirements.txt")
    development = pins(ROOT / "requirements" / "dev.txt")

    assert layer, "the layer lock pins nothing"
    assert {
        name: (version, development.get(name))
        for name, version in layer.items()
        if development.get(name) != version
    } == {}
