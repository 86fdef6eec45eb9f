"""schemathesis against the running local API, from its OpenAPI document: no 5xx, and no status,
content type or body that the document does not describe."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from mentoring.openapi import openapi
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import OpenStack

pytestmark = pytest.mark.e2e

# The document is the one the API serves (checked below), loaded here so that the cases can be
# generated at collection time.
schema = schemathesis.openapi.from_dict(openapi())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_api_serves_this_document(open_stack: OpenStack) -> None:
    # Generous: the first request includes the function's cold start, on a machine that may be busy.
    served = requests.get(f"{open_stack.runtime.api_url}/openapi.json", timeout=180)

    assert served.status_code == 200
    assert served.json() == openapi()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_document(case: schemathesis.Case, open_stack: OpenStack) -> None:
    # Partners' calls carry a real key, so the checks reach past the 403 into the handler.
    headers = {"x-api-key": open_stack.partner_key} if case.path.startswith("/partners") else {}
    case.call_and_validate(base_url=open_stack.runtime.api_url, headers=headers, checks=CHECKS)
