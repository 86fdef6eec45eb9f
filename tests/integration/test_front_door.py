"""The public routes played as a hostile outsider plays them: every malformed body a 4xx naming the
problem, and no injected text stored, emailed or shown back as a control character or a new line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.helpers import Stack, api_event, applicant_submission, queued_bodies

pytestmark = pytest.mark.integration

FORM = "application/x-www-form-urlencoded"

DEEP_JSON = {
    "100,000 [": "[" * 100_000,
    "5,000 nested objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "nested answers": '{"cohort_id": "x", "profile": {"skills": ' + "[" * 3_000 + "]" * 3_000 + "}}",
    "a 5,000-digit number": '{"cohort_id": ' + "9" * 5_000 + "}",
}


def _partner(stack: Stack, body: str) -> Any:
    event = api_event("POST", "/partners/applications", body, api_key_id=stack.key_id("UCL"))
    return stack.call("SubmitFunction", event)


@pytest.mark.parametrize("body", DEEP_JSON.values(), ids=DEEP_JSON.keys())
def test_every_deeply_nested_body_is_a_4xx_from_the_applicant_route(stack: Stack, body: str) -> None:
    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"][0]["field"] == "body"


@pytest.mark.parametrize("body", DEEP_JSON.values(), ids=DEEP_JSON.keys())
def test_every_deeply_nested_body_is_a_4xx_from_the_partner_route(stack: Stack, body: str) -> None:
    response = _partner(stack, body)

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"][0]["field"] == "body"


def test_a_partner_batch_with_a_deeply_nested_item_is_a_4xx(stack: Stack) -> None:
    cohort = stack.open_cohort()
    item = applicant_submission(cohort)
    body = json.dumps({"applications": [item]}).replace('"skills": [', '"skills": [' + "[" * 2_000, 1)
    body = body.replace("]", "]" * 2_001, 1)

    assert _partner(stack, body)["statusCode"] == 422
    assert queued_bodies(stack, "IntakeQueue") == []


def test_a_1500_level_dotted_form_field_is_a_4xx_naming_it(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = f"cohort_id={cohort}&consent=yes&" + "a" + ".a" * 1_500 + "=1"

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body, content_type=FORM))

    assert response["statusCode"] == 422
    assert "is not a field" in response["body"]
    assert len(response["body"]) < 20_000  # the field's name is not echoed whole


def test_a_form_post_of_too_many_fields_is_a_4xx(stack: Stack) -> None:
    body = "&".join(f"f{n}=1" for n in range(5_000))

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body, content_type=FORM))

    assert response["statusCode"] == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "Eve\r\nBcc: spy@evil.example"),
        ("family_name", "Nul\x00Byte"),
        ("job_title", "Officer\u202egnp.exe"),
        ("department", "Finance\nTo: all@example.ac.uk"),
    ],
)
def test_injected_text_is_refused_naming_the_field_and_nothing_is_queued(
    stack: Stack, field: str, value: str
) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort)
    body["applicant"][field] = value

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"] == [
        {
            "field": f"applicant.{field}",
            "message": "must be one line of text, without line breaks, tabs, control characters or "
            "direction overrides",
        }
    ]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_injected_text_in_a_form_post_is_not_shown_back_as_a_control_character(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = (
        f"cohort_id={cohort}&role=mentee&applicant.given_name=Eve%0D%0ABcc%3A+spy%40evil.example"
        "&applicant.family_name=Nul%00Byte%E2%80%AE&consent=yes"
    )

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body, content_type=FORM))

    assert response["statusCode"] == 422
    page = response["body"]
    assert 'id="applicant.given_name-error"' in page
    assert not any(c in page for c in ("\x00", "\u202e", "\r"))
    assert 'value="Eve Bcc: spy@evil.example"' in page


def test_a_cohort_name_with_a_line_break_is_refused(stack: Stack) -> None:
    request = stack.cohort_request() | {"name": "Cohort\r\nBcc: spy@evil.example"}

    response = stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"][0]["field"] == "name"
