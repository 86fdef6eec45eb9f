"""schemathesis against the running local API, from the open cohort's OpenAPI document (every
route, with the cohort's applications as its scheme takes them): every check schemathesis has, but
the two whose answer API Gateway gives as a 403 (a missing key or signature, and a method no route
has), so no 5xx, no status, content type, header or body the document does not describe, and no
request the document allows refused, nor one it forbids accepted."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from mentoring.openapi import cohort_openapi, openapi
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from infrastructure.local.client import TIMEOUT
from tests.e2e.conftest import CONTRACT_COHORT, CONTRACT_SCHEME, OpenStack

pytestmark = pytest.mark.e2e

# A partner's calls carry UCL's key: the document for UCL's applicants to this cohort.
DOCUMENT = cohort_openapi(CONTRACT_COHORT, CONTRACT_SCHEME, "UCL")
# A partner's batch holds up to 100 of the very applications POST /applications takes, whose
# boundaries the coverage phase walks already: walked again inside a batch they are 1,300 more
# calls (two minutes) that find nothing new, so the batch gets the fuzzing phase alone.
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {"include-name": "POST /partners/applications", "phases": {"coverage": {"enabled": False}}}
        ]
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
load_all_checks()
# API Gateway answers a call without its key or signature, and a method no route has, with 403
# before any function runs (where these checks expect 401 and 405): the two left out. (The only
# required headers the document declares are the key and the signature.)
GATEWAYS_403 = {"ignored_auth", "missing_required_header", "unsupported_method"}
CHECKS_BUT_GATEWAYS = [c for c in CHECKS.get_all() if c.__name__ not in GATEWAYS_403]


@pytest.mark.parametrize(
    ("query", "document"),
    [("", openapi()), (f"?cohort={CONTRACT_COHORT}&institution=UCL", DOCUMENT)],
    ids=["every cohort", "the open cohort, for UCL"],
)
def test_the_api_serves_this_document(open_stack: OpenStack, query: str, document: object) -> None:
    # The functions are warm before the first request (the runtime starts them first).
    served = requests.get(f"{open_stack.runtime.api_url}/openapi.json{query}", timeout=TIMEOUT)

    assert served.status_code == 200
    assert served.json() == document


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_document(case: schemathesis.Case, open_stack: OpenStack) -> None:
    # Partners' calls carry a real key, so the checks reach past the 403 into the handler.
    headers = {"x-api-key": open_stack.partner_key} if case.path.startswith("/partners") else {}
    # A Content-Length that is not the body's is malformed HTTP, refused before any route (below):
    # the transport sets the true one.
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-length"}
    case.call_and_validate(base_url=open_stack.runtime.api_url, headers=headers, checks=CHECKS_BUT_GATEWAYS)


@pytest.mark.parametrize(
    ("length", "reason"),
    [(":", "Content-Length is not a number of bytes"), ("1", "The body is shorter than its Content-Length")],
)
def test_a_length_that_is_not_the_bodys_is_refused(open_stack: OpenStack, length: str, reason: str) -> None:
    api = urlsplit(open_stack.runtime.api_url)
    # The server waits 3 s for a body; the minute is only so that a server that never answers fails.
    with socket.create_connection((api.hostname, api.port), timeout=60) as conn:
        conn.sendall(
            f"POST /cohorts/0/publish HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        answer = conn.makefile("rb").read().decode()

    assert answer.startswith("HTTP/1.0 400")
    assert reason in answer
    # and the server goes on answering
    assert requests.get(f"{open_stack.runtime.api_url}/openapi.json", timeout=TIMEOUT).status_code == 200
