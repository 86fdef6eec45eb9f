"""Fixtures shared by the suites: a moto server on loopback with the template's resources, and the
record of every AWS call the functions make (checked against their policies at the end)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.suite import CALL_LOG, OWN_CALL_LOG, WHOLE_SUITE

# Credentials and region for every boto3 client in the tests and the handlers: never a real account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-2",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="Mentoring",
)

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``suite_end`` check what the others recorded: they run last."""
    items.sort(key=lambda item: item.get_closest_marker("suite_end") is not None)
    option = config.option
    narrowed = bool(
        option.markexpr or option.keyword or getattr(option, "deselect", None) or getattr(option, "lf", False)
    )
    config.stash[WHOLE_SUITE] = not narrowed and all(Path(a).resolve() == TESTS for a in config.args)


def pytest_unconfigure(config: pytest.Config) -> None:
    if OWN_CALL_LOG:
        shutil.rmtree(CALL_LOG, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from infrastructure.local.moto_server import adjust

    # The local runtime's moto: DynamoDB requests one at a time, so a conditional write is atomic
    # as in DynamoDB (moto's threads could otherwise let two deadline runs both claim a cohort).
    adjust()  # which also keeps the state dump (where sent emails are read) small
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
