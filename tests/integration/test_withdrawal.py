"""A coordinator's withdrawal through the admin API against moto, and duplicates across the doors."""

from __future__ import annotations

import json
from typing import Any

import pytest

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


def _apply(stack: Stack, body: dict[str, Any]) -> str:
    return apply_and_confirm(stack, body)


def _intake(stack: Stack) -> list[dict[str, Any]]:
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    return queued_bodies(stack, "NotifyQueue")


def _withdraw(stack: Stack, cohort: str, application_id: str, reason: str) -> Any:
    path = f"/cohorts/{cohort}/applications/{application_id}/withdraw"
    resource = "/cohorts/{cohortId}/applications/{applicationId}/withdraw"
    return stack.call("AdminFunction", api_event("POST", path, {"reason": reason}, resource=resource))


def test_a_withdrawn_mentee_frees_a_place_for_the_first_waiting(stack: Stack) -> None:
    cohort = stack.open_cohort(scheme_id="reverse-mentoring")  # 12 places, then closed

    def leader() -> dict[str, Any]:
        body = applicant_submission(cohort, institution="ICL", grade="Professorial")
        body["self_identification"] = {"leadership_role": "presidents_board"}
        body["profile"] = {"topics": ["race_ethnicity"]}
        return body

    first = leader()
    ids = []
    for _ in range(12):
        ids.append(_apply(stack, leader()))
        _intake(stack)
    full = stack.call("SubmitFunction", api_event("POST", "/applications", first))
    assert full["statusCode"] == 422  # when_full: close

    response = _withdraw(stack, cohort, ids[3], "not_genuine")

    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["place_given_to"] is None
    assert _apply(stack, first)  # the freed place takes a new applicant again
    progress = json.loads(
        stack.call(
            "AdminFunction", api_event("GET", f"/cohorts/{cohort}", None, resource="/cohorts/{cohortId}")
        )["body"]
    )
    assert progress["withdrawn"] == 1
    assert progress["cohort"]["admitted_mentees"] == 11


def test_withdrawal_moves_the_waiting_list_in_the_table(stack: Stack) -> None:
    cohort = stack.open_cohort()  # B-MEntor Professional: 40 places, then a waiting list
    ids = [_apply(stack, applicant_submission(cohort)) for _ in range(41)]
    _intake(stack)
    waiting = [a["application_id"] for a in stack.applications(cohort) if a["waiting_list"]]
    assert len(waiting) == 1
    holder = next(i for i in ids if i not in waiting)

    response = _withdraw(stack, cohort, holder, "applicant_request")
    again = _withdraw(stack, cohort, holder, "applicant_request")

    assert json.loads(response["body"])["place_given_to"] == waiting[0]
    assert again["statusCode"] == 200
    assert json.loads(again["body"])["place_given_to"] is None
    stored = {a["application_id"]: a for a in stack.applications(cohort)}
    assert stored[waiting[0]]["waiting_list"] is False
    assert stored[holder]["withdrawn"]["reason"] == "applicant_request"
    kinds = sorted(n["kind"] for n in queued_bodies(stack, "NotifyQueue"))
    assert kinds == ["place_offered", "withdrawn"]


def test_a_fake_application_withdrawn_lets_the_real_person_apply(stack: Stack) -> None:
    cohort = stack.open_cohort()
    fake = applicant_submission(cohort, email="victim@example.ac.uk")
    fake_id = _apply(stack, fake)
    _intake(stack)
    real = applicant_submission(cohort, email="Victim@example.ac.uk")
    assert stack.call("SubmitFunction", api_event("POST", "/applications", real))["statusCode"] == 202
    (link,) = confirmation_tokens(stack)
    blocked = confirm(stack, link)
    assert blocked["statusCode"] == 409  # the address is taken: its owner is told so

    assert _withdraw(stack, cohort, fake_id, "not_genuine")["statusCode"] == 200

    after = confirm(stack, link)  # the real person presses again, from the same email
    assert after["statusCode"] == 200, after["body"]
    _intake(stack)
    stored = [a for a in stack.applications(cohort) if a["withdrawn"] is None]
    assert [a["applicant"]["email"] for a in stored] == ["Victim@example.ac.uk"]


def test_a_partner_retry_of_a_withdrawn_reference_is_refused(stack: Stack) -> None:
    cohort = stack.open_cohort()
    item = applicant_submission(cohort) | {"reference": "UCL-W-1"}
    del item["applicant"]["institution"]
    event = api_event("POST", "/partners/applications", item, api_key_id=stack.key_id("UCL"))
    submission_id = json.loads(stack.call("SubmitFunction", event)["body"])["results"][0]["submission_id"]
    _intake(stack)

    assert _withdraw(stack, cohort, submission_id, "not_genuine")["statusCode"] == 200
    retry = stack.call("SubmitFunction", event)

    assert retry["statusCode"] == 409
    (result,) = json.loads(retry["body"])["results"]
    assert "withdrawn" in result["errors"][0]["message"]
    status = stack.call(
        "SubmitFunction",
        api_event(
            "GET",
            "/partners/applications/UCL-W-1",
            None,
            resource="/partners/applications/{reference}",
            api_key_id=stack.key_id("UCL"),
        ),
    )
    assert json.loads(status["body"])["status"] == "withdrawn"


def test_no_withdrawal_for_an_unknown_application(stack: Stack) -> None:
    cohort = stack.open_cohort()

    assert _withdraw(stack, cohort, "no-such-application", "not_genuine")["statusCode"] == 404
    bad = _withdraw(stack, cohort, "x", "because")
    assert bad["statusCode"] == 422


def test_one_person_through_both_doors_is_flagged_to_the_coordinator(stack: Stack) -> None:
    cohort = stack.open_cohort()
    web = applicant_submission(cohort, email="amara.okafor@example.ac.uk")
    web["applicant"] |= {"given_name": "Amara", "family_name": "Okafor"}
    _apply(stack, web)
    partner = applicant_submission(cohort, email="a.okafor@example.ac.uk") | {"reference": "UCL-D-1"}
    partner["applicant"] |= {"given_name": "amara", "family_name": "OKAFOR"}
    del partner["applicant"]["institution"]
    event = api_event("POST", "/partners/applications", partner, api_key_id=stack.key_id("UCL"))
    assert stack.call("SubmitFunction", event)["statusCode"] == 202

    notes = _intake(stack)

    assert sorted(n["kind"] for n in notes) == ["acknowledgement", "acknowledgement", "possible_duplicate"]
    progress = json.loads(
        stack.call(
            "AdminFunction", api_event("GET", f"/cohorts/{cohort}", None, resource="/cohorts/{cohortId}")
        )["body"]
    )
    (group,) = progress["possible_duplicates"]
    assert len(group) == 2
