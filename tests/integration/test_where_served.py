"""The API as API Gateway may deliver it: under a custom domain's base path mapping (the mapping in
``path``), with the stage in the address (forms and links must stay inside it), and with a body
that API Gateway or a client base64-encoded."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.integration.helpers import Stack, api_event, applicant_submission

pytestmark = pytest.mark.integration


def under_base_path(event: dict[str, Any], base: str) -> dict[str, Any]:
    """The event a custom domain's base path mapping (``/apply``) delivers: the mapping is in the
    path and in the address, the stage in neither."""
    event["path"] = base + event["path"]
    event["requestContext"]["path"] = event["path"]
    return event


def base64_body(event: dict[str, Any]) -> dict[str, Any]:
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    return event


def test_routes_are_found_under_a_custom_domains_base_path(stack: Stack) -> None:
    cohort = stack.open_cohort()
    submission = api_event("POST", "/applications", applicant_submission(cohort))
    progress = api_event("GET", f"/cohorts/{cohort}", None, resource="/cohorts/{cohortId}")

    applied = stack.call("SubmitFunction", under_base_path(submission, "/apply"))
    read = stack.call("AdminFunction", under_base_path(progress, "/apply"))

    assert applied["statusCode"] == 202, applied["body"]
    assert read["statusCode"] == 200, read["body"]


@pytest.mark.parametrize("address", ["/dev", "/dev/"])
def test_the_form_posts_inside_the_stage_whether_or_not_the_address_ends_with_a_slash(
    stack: Stack, address: str
) -> None:
    cohort = stack.open_cohort()
    event = api_event("GET", "/", None, query={"cohort": cohort})
    event["requestContext"]["path"] = address

    page = stack.call("SubmitFunction", event)["body"]

    assert re.findall(r'<form method="post" action="([^"]*)"', page) == ["/dev/applications"]


def test_the_form_posts_inside_a_custom_domains_base_path(stack: Stack) -> None:
    cohort = stack.open_cohort()
    event = under_base_path(api_event("GET", "/", None, query={"cohort": cohort}), "/apply")

    page = stack.call("SubmitFunction", event)["body"]

    assert re.findall(r'<form method="post" action="([^"]*)"', page) == ["/apply/applications"]


def test_a_base64_encoded_body_is_read_decoded(stack: Stack) -> None:
    request = stack.cohort_request()
    opened = stack.call("AdminFunction", base64_body(api_event("POST", "/cohorts", request)))
    applied = stack.call(
        "SubmitFunction",
        base64_body(api_event("POST", "/applications", applicant_submission(request["cohort_id"]))),
    )

    assert opened["statusCode"] == 201, opened["body"]
    assert applied["statusCode"] == 202, applied["body"]
