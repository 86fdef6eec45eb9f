"""Fixtures shared by the suites: a moto server on loopback with the template's resources, and the
record of every AWS call the functions make (checked against their policies at the end)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.__main__ import BEFORE_THE_END
from tests.suite import CALL_LOG, OWN_CALL_LOG, WHOLE_SUITE, WHOLE_SUITE_RECORDED

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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``suite_end`` check what the others recorded: they run last. Under
    pytest-xdist, each end-to-end module's stack is started by one worker only (a group each, and
    one for the modules sharing ``open_stack``)."""
    items.sort(key=lambda item: item.get_closest_marker("suite_end") is not None)
    parallel = "PYTEST_XDIST_WORKER" in os.environ
    for item in items:
        if parallel and item.get_closest_marker("suite_end"):
            # No worker knows when the others have finished: python -m tests runs these after.
            item.add_marker(pytest.mark.skip(reason="runs after the parallel session (python -m tests)"))
        elif item.get_closest_marker("e2e"):
            shared = "open_stack" in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.xdist_group("open_stack" if shared else item.path.stem))
    option = config.option
    marks = option.markexpr or ""
    narrowed = bool(
        marks not in {"", BEFORE_THE_END}
        or option.keyword
        or getattr(option, "deselect", None)
        or getattr(option, "lf", False)
    )
    whole = not narrowed and all(Path(a).resolve() == TESTS for a in config.args)
    if whole and marks == BEFORE_THE_END:  # python -m tests: the checks follow in a session of their own
        WHOLE_SUITE_RECORDED.parent.mkdir(parents=True, exist_ok=True)
        WHOLE_SUITE_RECORDED.touch()
    config.stash[WHOLE_SUITE] = (whole and marks == "") or (
        marks == "suite_end" and WHOLE_SUITE_RECORDED.exists()
    )


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
