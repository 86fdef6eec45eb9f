"""The integration stack: template.yaml provisioned in a moto server, handlers called in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infrastructure.local.calls import write_physical
from infrastructure.local.provision import partner_api_keys, provision, resolved_environment, sent_emails
from infrastructure.local.template import read
from tests.integration.helpers import Stack
from tests.integration.programme import Programme, matched_programme
from tests.suite import IN_PROCESS


@pytest.fixture(scope="session")
def stack(moto_endpoint: str) -> Iterator[Stack]:
    template = read()
    physical = provision(template, moto_endpoint)
    write_physical(IN_PROCESS, physical)  # the handlers' calls are checked against these resources
    saved = dict(os.environ)
    # The functions' variables have distinct names, so one process can hold them all.
    for function in template.functions:
        os.environ.update(resolved_environment(template, physical, function))
    os.environ.update(AWS_ENDPOINT_URL=moto_endpoint, POWERTOOLS_SERVICE_NAME="integration")
    yield Stack(
        endpoint=moto_endpoint,
        physical_ids=physical,
        handler_modules={name: f.module for name, f in template.functions.items()},
        api_key_ids={code: key["id"] for code, key in partner_api_keys(template, physical).items()},
        # moto dumps its whole state to give the emails: slow on a busy machine late in the suite.
        sent=lambda: [raw for _, raw in sent_emails(moto_endpoint, timeout=120)],
    )
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def empty_queues(stack: Stack) -> None:
    """Each test starts with nothing queued, whatever the tests before it left."""
    for queue in ("IntakeQueue", "NotifyQueue"):
        stack.purge(queue)


@pytest.fixture
def matched(stack: Stack) -> Programme:
    """A cohort matched at its deadline, each participant's personal link kept (programme.py)."""
    return matched_programme(stack)
