"""A running local stack for the tests that use it as real clients do (schemathesis, a browser)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port


@dataclass
class OpenStack:
    runtime: LocalRuntime
    api: ApiClient
    cohort_id: str
    partner_key: str


@pytest.fixture(scope="session")
def open_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenStack]:
    """The stack with one open B-MEntor Professional cohort, its deadline an hour away."""
    folder = tmp_path_factory.mktemp("open-stack")
    with LocalRuntime(
        api_port=free_port(), aws_port=free_port(), outbox=folder / "outbox", logs=folder / "logs"
    ) as runtime:
        api = ApiClient(runtime.api_url)
        deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        cohort_id = f"open-{deadline:%H%M%S}"
        request = {
            "cohort_id": cohort_id,
            "scheme_id": "b-mentor-professional",
            "name": "Browser and contract cohort",
            "recruitment_deadline": deadline.isoformat(),
            "coordinator_email": "edi@example.ac.uk",
        }
        reply = api.signed("POST", "/cohorts", request)
        assert reply.status == 201, reply.body
        yield OpenStack(runtime, api, cohort_id, runtime.partner_keys()["UCL"]["value"])
