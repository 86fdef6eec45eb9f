"""The public form's double opt-in against moto, played as a hostile outsider plays the door: a
cohort is not filled by applications nobody confirms, nobody learns who has applied, and a link
works only for its application, only in time, and only once."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest

from tests.integration.helpers import (
    FORM,
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


def post(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = stack.call("SubmitFunction", api_event("POST", "/applications", body))
    return response


def open_link(stack: Stack, token: str) -> dict[str, Any]:
    """What the emailed link opens (a GET, as a mail scanner or the applicant's browser makes)."""
    event = api_event("GET", "/applications/confirm", None, query={"token": token})
    response: dict[str, Any] = stack.call("SubmitFunction", event)
    return response


def held_item(stack: Stack, token: str) -> dict[str, Any]:
    key = {"pk": {"S": "HELD#" + hashlib.sha256(token.encode()).hexdigest()}, "sk": {"S": "HELD"}}
    item: dict[str, Any] = stack.client("dynamodb").get_item(
        TableName=stack.physical("ApplicationsTable"), Key=key
    )["Item"]
    return item


@contextmanager
def aws_calls() -> Iterator[list[str]]:
    """Every AWS call the handlers' clients make meanwhile, as service.Operation."""
    from mentoring.adapters import client

    calls: list[str] = []

    def record(event_name: str, params: dict[str, Any], **_: Any) -> None:
        call = ".".join(event_name.split(".")[1:3])
        if call == "dynamodb.TransactWriteItems":  # and the kinds of item it writes
            items = [next(iter(i.values())) for i in params["TransactItems"]]
            call += "(" + ", ".join(i.get("Key", i.get("Item"))["pk"]["S"].split("#")[0] for i in items) + ")"
        calls.append(call)

    services = ("dynamodb", "sqs", "kms")
    for service in services:
        client(service).meta.events.register("before-parameter-build", record, unique_id="record-calls")
    try:
        yield calls
    finally:
        for service in services:
            client(service).meta.events.unregister("before-parameter-build", unique_id="record-calls")


def leader(cohort: str, email: str) -> dict[str, Any]:
    body = applicant_submission(cohort, institution="ICL", grade="Professorial", email=email)
    body["self_identification"] = {"leadership_role": "presidents_board"}
    body["profile"] = {"topics": ["race_ethnicity"]}
    return body


def test_a_cohort_cannot_be_filled_by_applications_nobody_confirms(stack: Stack) -> None:
    """Protection: a web-form application takes a place only once confirmed from its address."""
    cohort = stack.open_cohort(scheme_id="reverse-mentoring")  # 12 mentee places, then closed
    for n in range(12):  # twelve invented board members, sent in seconds
        assert post(stack, leader(cohort, f"board-{n}@imperial.example.ac.uk"))["statusCode"] == 202
    confirmation_tokens(stack)  # their links reach mailboxes nobody reads

    real = post(stack, leader(cohort, "real.leader@imperial.example.ac.uk"))
    assert real["statusCode"] == 202, real["body"]
    (token,) = confirmation_tokens(stack)
    assert confirm(stack, token)["statusCode"] == 200
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))

    (application,) = stack.applications(cohort)
    assert application["applicant"]["email"] == "real.leader@imperial.example.ac.uk"
    assert application["waiting_list"] is False
    progress = stack.call(
        "AdminFunction", api_event("GET", f"/cohorts/{cohort}", None, resource="/cohorts/{cohortId}")
    )
    assert json.loads(progress["body"])["cohort"]["admitted_mentees"] == 1


def test_a_stranger_cannot_tell_whether_someone_has_applied(stack: Stack) -> None:
    """Protection: the door does the same work and gives the same answer for an address that has
    applied and one that has not; the address's owner is told by email instead."""
    cohort = stack.open_cohort()
    apply_and_confirm(stack, applicant_submission(cohort, email="colleague@example.ac.uk"))
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    stack.purge("NotifyQueue")

    def probe(email: str) -> tuple[dict[str, Any], list[str]]:
        with aws_calls() as calls:
            response = post(stack, applicant_submission(cohort, email=email))
        return response, calls

    known, known_calls = probe("colleague@example.ac.uk")
    new, new_calls = probe("nobody.yet@example.ac.uk")

    assert known["statusCode"] == new["statusCode"] == 202
    assert known["multiValueHeaders"] == new["multiValueHeaders"]
    answers = [json.loads(r["body"]) for r in (known, new)]
    assert [sorted(a) for a in answers] == [["confirm_by", "status", "submission_id"]] * 2
    assert answers[0]["status"] == answers[1]["status"] == "awaiting_confirmation"
    assert known_calls == new_calls  # the same AWS calls, in the same order: no claim is read
    # No claim is read or written: held, and marked in its cohort for the coordinator's count.
    assert not any(c == "dynamodb.GetItem" for c in new_calls[1:])
    assert [c for c in new_calls if c.startswith("dynamodb.Transact")] == [
        "dynamodb.TransactWriteItems(HELD, COHORT)"
    ]

    notes = queued_bodies(stack, "NotifyQueue")
    stack.call("NotifyFunction", sqs_event(notes))
    emails = {str(m["To"]): m for m in (message_from_bytes(raw) for raw in stack.sent_emails()[-2:])}
    assert "already applied" in str(emails["colleague@example.ac.uk"]["Subject"])
    assert "confirm" in str(emails["nobody.yet@example.ac.uk"]["Subject"])
    assert "token=" not in emails["colleague@example.ac.uk"].as_string()


def test_the_emailed_link_opens_a_page_that_changes_nothing_and_keeps_the_token_private(stack: Stack) -> None:
    """Protection: a GET never confirms (mail scanners fetch links), and the page is never cached
    nor sent as a referrer."""
    cohort = stack.open_cohort()
    post(stack, applicant_submission(cohort))
    note = queued_bodies(stack, "NotifyQueue")
    stack.call("NotifyFunction", sqs_event(note))
    text = message_from_bytes(stack.sent_emails()[-1]).get_payload(0).get_payload(decode=True).decode()  # type: ignore[union-attr]
    link = re.search(r"(https://\S+/dev/applications/confirm\?token=([A-Za-z0-9_-]+))", text)
    assert link is not None
    token = link.group(2)

    page = open_link(stack, token)

    assert page["statusCode"] == 200
    assert '<form method="post" action="confirm">' in page["body"]
    assert f'name="token" value="{token}"' in page["body"]
    assert page["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert page["multiValueHeaders"]["Referrer-Policy"] == ["no-referrer"]
    assert queued_bodies(stack, "IntakeQueue") == []
    assert "confirmed_at" not in held_item(stack, token)


def test_a_lapsed_link_still_in_the_table_confirms_nothing(stack: Stack) -> None:
    """Protection: the time is checked, since DynamoDB's TTL deletes an expired item only within
    days. (Given: the held application as the table holds it three days on.)"""
    cohort = stack.open_cohort()
    post(stack, applicant_submission(cohort))
    (token,) = confirmation_tokens(stack)
    item = held_item(stack, token)
    data = json.loads(item["data"]["S"])
    data["confirm_by"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    item["data"] = {"S": json.dumps(data)}
    item["expires_at"] = {"N": str(int(datetime.now(UTC).timestamp()) - 60)}
    stack.client("dynamodb").put_item(TableName=stack.physical("ApplicationsTable"), Item=item)

    opened, pressed = open_link(stack, token), confirm(stack, token)

    assert opened["statusCode"] == pressed["statusCode"] == 410
    assert "Link expired" in pressed["body"]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_confirming_after_matching_started_is_refused_as_closed(stack: Stack) -> None:
    cohort = stack.open_cohort()
    post(stack, applicant_submission(cohort))
    (token,) = confirmation_tokens(stack)
    stack.deliver_deadline(cohort)
    stack.purge("NotifyQueue")

    response = confirm(stack, token)

    assert response["statusCode"] == 422
    assert "closed to applications" in response["body"]
    assert queued_bodies(stack, "IntakeQueue") == []


def test_a_link_for_a_withdrawn_application_lets_nothing_in_again(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort, email="victim@example.ac.uk")
    post(stack, body)
    (token,) = confirmation_tokens(stack)
    confirm(stack, token)
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    (fake,) = stack.applications(cohort)
    path = f"/cohorts/{cohort}/applications/{fake['application_id']}/withdraw"
    resource = "/cohorts/{cohortId}/applications/{applicationId}/withdraw"
    withdrawn = stack.call(
        "AdminFunction", api_event("POST", path, {"reason": "not_genuine"}, resource=resource)
    )
    assert withdrawn["statusCode"] == 200

    again = confirm(stack, token)

    assert again["statusCode"] == 410
    assert "withdrawn" in again["body"]
    assert queued_bodies(stack, "IntakeQueue") == []
    real = applicant_submission(cohort, email="victim@example.ac.uk")
    assert apply_and_confirm(stack, real)  # the address is free for its owner


def test_a_confirmation_posted_as_anything_but_the_form_is_refused(stack: Stack) -> None:
    event = api_event("POST", "/applications/confirm", {"token": "x" * 43})
    assert stack.call("SubmitFunction", event)["statusCode"] == 415
    nonsense = api_event("POST", "/applications/confirm", "token=%00%0D%0A", content_type=FORM)
    assert stack.call("SubmitFunction", nonsense)["statusCode"] == 404
