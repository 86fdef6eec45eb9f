"""submit against moto: what the front door accepts, queues and refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.models import Cohort

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    confirm,
    confirmation_tokens,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration


def test_valid_application_is_held_until_confirmed_from_the_emailed_link(stack: Stack) -> None:
    cohort = stack.open_cohort()

    response = stack.call("SubmitFunction", api_event("POST", "/applications", applicant_submission(cohort)))

    assert response["statusCode"] == 202
    answer = json.loads(response["body"])
    assert answer["status"] == "awaiting_confirmation"
    assert queued_bodies(stack, "IntakeQueue") == []
    (note,) = queued_bodies(stack, "NotifyQueue")
    assert note["kind"] == "confirmation"
    # The link is the API's own address (domain and stage from API Gateway), never the Host header.
    assert note["confirmation"]["page"] == (
        "https://abc123.execute-api.eu-west-2.amazonaws.com/dev/applications/confirm"
    )

    confirmed = confirm(stack, note["confirmation"]["token"])

    assert confirmed["statusCode"] == 200
    assert "Application confirmed" in confirmed["body"]
    queued = queued_bodies(stack, "IntakeQueue")
    assert [m["submission_id"] for m in queued] == [answer["submission_id"]]
    assert queued[0]["channel"] == "web_form"


def test_malformed_application_gets_422_naming_each_field_and_nothing_is_queued(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort)
    body["applicant"]["email"] = "not-an-email"
    body["role"] = "sponsor"
    body["favourite_colour"] = "teal"

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    fields = {e["field"] for e in json.loads(response["body"])["errors"]}
    assert fields == {"applicant.email", "role", "favourite_colour"}
    assert queued_bodies(stack, "IntakeQueue") == []


def test_answers_are_checked_against_the_cohorts_scheme(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort, institution="QMUL")
    body["applicant"]["grade"] = 9  # QMUL's grades are 1-8, then the professorial bands
    body["profile"]["capacity"] = 2  # asked of mentors only
    body["self_identification"]["staff_group"] = "astronaut"

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    errors = {e["field"]: e["message"] for e in json.loads(response["body"])["errors"]}
    assert errors.keys() == {"applicant.grade", "profile.capacity", "self_identification.staff_group"}
    assert errors["applicant.grade"].startswith("is not a grade at QMUL; its grades are 1, 2")
    assert queued_bodies(stack, "IntakeQueue") == []


def test_error_messages_never_echo_what_was_sent(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort)
    body["monitoring"]["religion"] = "Zoroastrian-and-proud"

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    assert "Zoroastrian" not in response["body"]
    assert json.loads(response["body"])["errors"][0]["field"] == "monitoring.religion"


@pytest.mark.parametrize(
    ("body", "field"),
    [("{not json", "body"), ("[1, 2]", "body")],
)
def test_body_that_is_not_an_application_gets_422(stack: Stack, body: str, field: str) -> None:
    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"][0]["field"] == field


def test_unknown_cohort_is_refused_naming_cohort_id(stack: Stack) -> None:
    body = applicant_submission("no-such-cohort")

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"] == [
        {"field": "cohort_id", "message": "no cohort has this id"}
    ]


def test_closed_cohort_refuses_applications(stack: Stack) -> None:
    cohort = stack.open_cohort()
    stack.deliver_deadline(cohort)

    response = stack.call("SubmitFunction", api_event("POST", "/applications", applicant_submission(cohort)))

    assert response["statusCode"] == 422
    assert "closed" in json.loads(response["body"])["errors"][0]["message"]


def test_wrong_content_type_gets_415(stack: Stack) -> None:
    cohort = stack.open_cohort()
    event = api_event("POST", "/applications", applicant_submission(cohort), content_type="text/plain")

    response = stack.call("SubmitFunction", event)

    assert response["statusCode"] == 415


def test_body_over_the_limit_gets_413(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort)
    body["profile"]["about"] = "x" * 300_000

    response = stack.call("SubmitFunction", api_event("POST", "/applications", body))

    assert response["statusCode"] == 413


def test_form_post_is_accepted_and_answered_in_html(stack: Stack) -> None:
    cohort = stack.open_cohort()
    form = (
        f"cohort_id={cohort}&role=mentee&applicant.given_name=Amara&applicant.family_name=Okafor"
        "&applicant.email=amara%40example.ac.uk&applicant.institution=UCL&applicant.department=Finance"
        "&applicant.job_title=Officer&applicant.grade=6&self_identification.minority_ethnic_background=yes"
        "&self_identification.staff_group=professional_services&profile.skills=budgeting%2C+leadership&monitoring.ethnicity=black_african&consent=yes"
    )
    submission_id = apply_and_confirm(stack, form, content_type="application/x-www-form-urlencoded")

    (queued,) = queued_bodies(stack, "IntakeQueue")
    assert queued["submission"]["profile"]["skills"] == ["budgeting", "leadership"]
    assert queued["submission_id"] == submission_id


def test_form_post_with_errors_shows_them_beside_the_fields(stack: Stack) -> None:
    cohort = stack.open_cohort()
    form = f"cohort_id={cohort}&role=mentee&applicant.given_name=Amara&applicant.email=nope&consent=yes"
    event = api_event("POST", "/applications", form, content_type="application/x-www-form-urlencoded")

    response = stack.call("SubmitFunction", event)

    assert response["statusCode"] == 422
    assert 'id="applicant.email-error"' in response["body"]
    assert 'href="#applicant.family_name"' in response["body"]
    assert "Last name: is required" in response["body"]
    assert 'value="Amara"' in response["body"]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_form_page_shows_the_cohort_and_the_monitoring_section(stack: Stack) -> None:
    cohort = stack.open_cohort()

    response = stack.call("SubmitFunction", api_event("GET", "/", None, query={"cohort": cohort}))

    assert response["statusCode"] == 200
    page = response["body"]
    assert "B-MEntor Professional" in page
    assert "Equal-opportunities monitoring" in page
    assert page.count("Prefer not to say") >= 7


def test_landing_page_lists_open_cohorts_and_not_closed_ones(stack: Stack) -> None:
    cohort = stack.open_cohort()
    past = Cohort(
        cohort_id="long-closed",
        scheme_id="b-mentor-professional",
        name="Old",
        coordinator_email="c@example.ac.uk",
        recruitment_deadline=datetime.now(UTC) - timedelta(days=1),
        created_at=datetime.now(UTC),
    )
    DynamoApplications(stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb")).create_cohort(
        past
    )

    response = stack.call("SubmitFunction", api_event("GET", "/", None))

    assert response["statusCode"] == 200
    assert f'href="/dev/?cohort={cohort}"' in response["body"]  # inside the stage
    assert "long-closed" not in response["body"]


def partner_call(stack: Stack, partner: str, body: Any, method: str = "POST", reference: str = "") -> Any:
    path = f"/partners/applications/{reference}" if reference else "/partners/applications"
    resource = "/partners/applications/{reference}" if reference else None
    event = api_event(method, path, body, resource=resource, api_key_id=stack.key_id(partner))
    return stack.call("SubmitFunction", event)


def partner_application(cohort: str, reference: str, **fields: Any) -> dict[str, Any]:
    submission = applicant_submission(cohort, **fields)
    del submission["applicant"]["institution"]
    return submission | {"reference": reference}


def test_partner_institution_comes_from_the_api_key(stack: Stack) -> None:
    cohort = stack.open_cohort()

    response = partner_call(stack, "KCL", {"applications": [partner_application(cohort, "KCL-1")]})

    assert response["statusCode"] == 202
    (queued,) = queued_bodies(stack, "IntakeQueue")
    assert queued["partner"] == "KCL"
    assert queued["channel"] == "partner"


def test_partner_cannot_submit_for_another_institution(stack: Stack) -> None:
    cohort = stack.open_cohort()
    submission = applicant_submission(cohort, institution="UCL") | {"reference": "KCL-2"}

    response = partner_call(stack, "KCL", {"applications": [submission]})

    assert response["statusCode"] == 422
    (result,) = json.loads(response["body"])["results"]
    assert result["errors"] == [
        {
            "field": "applicant.institution",
            "message": "your API key is for KCL; you can submit applications for KCL only",
        }
    ]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_a_partner_key_cannot_put_applicants_into_another_institutions_scheme(stack: Stack) -> None:
    """Issue 16: the women's pilot is UCL's alone; Queen Mary's key is refused, and nothing is queued."""
    cohort = stack.open_cohort(scheme_id="womens-mentoring-pilot")
    submission = partner_application(cohort, "QMUL-PILOT-1", role="mentor", grade=8)
    submission["self_identification"] = {"staff_group": "academic"}
    submission["profile"] = {"discipline": "neuroscience"}

    response = partner_call(stack, "QMUL", submission)

    assert response["statusCode"] == 422
    (result,) = json.loads(response["body"])["results"]
    assert result["errors"] == [
        {
            "field": "applicant.institution",
            "message": "your API key is for Queen Mary University of London, and Women's mentoring pilot "
            "(Biomedical Sciences, PALS and Medicine) is for staff of University College London only",
        }
    ]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_one_bad_row_does_not_block_the_rest_of_a_batch(stack: Stack) -> None:
    cohort = stack.open_cohort()
    bad = partner_application(cohort, "QM-2")
    bad["applicant"]["email"] = "not-an-email"
    batch = [partner_application(cohort, "QM-1"), bad, partner_application(cohort, "QM-3")]

    response = partner_call(stack, "QMUL", {"applications": batch})

    assert response["statusCode"] == 207
    body = json.loads(response["body"])
    assert [(r["reference"], r["status"]) for r in body["results"]] == [
        ("QM-1", 202),
        ("QM-2", 422),
        ("QM-3", 202),
    ]
    assert body["results"][1]["errors"][0]["field"] == "applicant.email"
    assert (body["accepted"], body["refused"]) == (2, 1)
    queued = {q["submission_id"] for q in queued_bodies(stack, "IntakeQueue")}
    assert queued == {body["results"][0]["submission_id"], body["results"][2]["submission_id"]}


def test_a_retried_reference_gives_the_same_result_and_a_changed_one_409(stack: Stack) -> None:
    cohort = stack.open_cohort()
    application = partner_application(cohort, "UAL-7")

    first = json.loads(partner_call(stack, "UAL", application)["body"])
    again = partner_call(stack, "UAL", application)
    changed = partner_call(stack, "UAL", application | {"profile": {"skills": ["a different answer"]}})

    assert again["statusCode"] == 202
    assert json.loads(again["body"])["results"][0]["submission_id"] == first["results"][0]["submission_id"]
    assert changed["statusCode"] == 409
    assert json.loads(changed["body"])["results"][0]["errors"][0]["field"] == "reference"
    queued = queued_bodies(stack, "IntakeQueue")
    assert {q["submission_id"] for q in queued} == {first["results"][0]["submission_id"]}


def test_an_applicant_applying_twice_differently_keeps_the_first_application(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort, email="twice@example.ac.uk")
    apply_and_confirm(stack, body)
    (first,) = queued_bodies(stack, "IntakeQueue")

    body["profile"]["skills"] = ["something else"]
    second = stack.call("SubmitFunction", api_event("POST", "/applications", body))
    (token,) = confirmation_tokens(stack)
    refused = confirm(stack, token)

    assert second["statusCode"] == 202  # the door says nothing of who has applied
    assert refused["statusCode"] == 409  # the mailbox's owner is told, on the confirmation page
    assert "already has an application" in refused["body"]
    assert queued_bodies(stack, "IntakeQueue") == []
    assert first["submission"]["profile"]["skills"] == ["budgeting", "data"]


def test_a_partner_reads_its_own_applications_progress_and_nothing_of_others(stack: Stack) -> None:
    cohort = stack.open_cohort()
    partner_call(stack, "SGUL", partner_application(cohort, "SG/2027/1", grade="Band 6"))
    received = json.loads(partner_call(stack, "SGUL", None, "GET", "SG%2F2027%2F1")["body"])
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))

    mine = partner_call(stack, "SGUL", None, "GET", "SG%2F2027%2F1")
    theirs = partner_call(stack, "KCL", None, "GET", "SG%2F2027%2F1")

    assert received["status"] == "received"
    assert mine["statusCode"] == 200
    status = json.loads(mine["body"])
    assert status["status"] == "eligible"
    assert set(status) == {"reference", "submission_id", "cohort_id", "status", "reasons"}
    assert "asian_indian" not in mine["body"]  # the monitoring answer given
    assert theirs["statusCode"] == 404


def test_the_openapi_document_is_served(stack: Stack) -> None:
    response = stack.call("SubmitFunction", api_event("GET", "/openapi.json", None))

    assert response["statusCode"] == 200
    document = json.loads(response["body"])
    assert document["openapi"].startswith("3.1")
    assert "PartnerApplication" in document["components"]["schemas"]


def test_an_empty_cohort_for_the_document_is_no_cohort_not_every_cohort(stack: Stack) -> None:
    # schemathesis sent ?institution=SGUL&cohort= and was given the whole API's document.
    event = api_event("GET", "/openapi.json", None, query={"cohort": "", "institution": "SGUL"})

    response = stack.call("SubmitFunction", event)

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["errors"][0]["field"] == "cohort"


def test_partner_call_with_an_unknown_key_is_forbidden(stack: Stack) -> None:
    cohort = stack.open_cohort()
    event = api_event(
        "POST", "/partners/applications", {"applications": [applicant_submission(cohort)]}, api_key_id="nope"
    )

    response = stack.call("SubmitFunction", event)

    assert response["statusCode"] == 403
    assert queued_bodies(stack, "IntakeQueue") == []
