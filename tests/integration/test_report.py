"""The equal-opportunities report through the coordinators' API: counts of stored answers only, every
one rounded by cell key, as JSON, CSV and HTML; and on the demo cohort, within the documented error
of the truth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrastructure.local import demo_data
from infrastructure.local.usefulness import Applicant, figures, outside_error
from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    confirm,
    confirmation_tokens,
    intake_message,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration


def report(stack: Stack, cohort: str, kind: str) -> dict[str, Any]:
    event = api_event(
        "GET",
        f"/cohorts/{cohort}/monitoring-report",
        None,
        resource="/cohorts/{cohortId}/monitoring-report",
        query={"format": kind},
    )
    response: dict[str, Any] = stack.call("ReportFunction", event)
    return response


def test_a_cohorts_report_counts_stored_answers_only_every_figure_rounded(stack: Stack) -> None:
    cohort = stack.open_cohort()
    submissions = [applicant_submission(cohort) for _ in range(24)]
    submissions[0]["monitoring"]["religion"] = "sikh"
    for start in range(0, 24, 10):
        stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions[start : start + 10]]))

    before = json.loads(report(stack, cohort, "json")["body"])
    stack.store_monitoring(cohort)  # at the deadline
    as_json = report(stack, cohort, "json")
    as_csv = report(stack, cohort, "csv")
    as_html = report(stack, cohort, "html")

    assert before["has_figures"] is False  # pending answers are never counted
    assert {c for *_, c in figures(before)} == {0}
    assert as_json["statusCode"] == 200
    body = json.loads(as_json["body"])
    assert body["has_figures"] is True
    assert all(c % 5 == 0 for *_, c in figures(body))
    religion = next(q for q in body["questions"] if q["question"] == "religion")
    assert religion["total"]["cells"]["all_applied"]["count"] in {20, 25}  # 24, at most 4 away
    sikh = next(r for r in religion["rows"] if r["value"] == "sikh")
    assert sikh["cells"]["all_applied"]["count"] in {0, 5}  # one person: never shown as 1
    assert body["title"] == "Integration cohort"
    assert as_csv["statusCode"] == 200
    assert as_html["statusCode"] == 200
    assert "<table" in as_html["body"]
    assert report(stack, cohort, "pdf")["statusCode"] == 422


def submit_demo_cohort(stack: Stack, cohort: str) -> dict[str, dict[str, Any]]:
    """The demo's synthetic intake through submit (web form and partner batches) and intake;
    returns what each accepted application answered, by submission id."""
    intake = demo_data.intake(cohort)
    answered: dict[str, dict[str, Any]] = {}
    for person in intake.web_form:
        response = stack.call("SubmitFunction", api_event("POST", "/applications", person))
        assert response["statusCode"] == 202, response["body"]
        answered[json.loads(response["body"])["submission_id"]] = person["monitoring"]
    tokens = confirmation_tokens(stack)
    assert len(tokens) == len(intake.web_form)
    for token in tokens:  # each applicant confirms from the link emailed to them
        assert confirm(stack, token)["statusCode"] == 200
    for institution, batch in intake.partner_batches.items():
        event = api_event(
            "POST", "/partners/applications", {"applications": batch}, api_key_id=stack.key_id(institution)
        )
        results = json.loads(stack.call("SubmitFunction", event)["body"])["results"]
        for person, result in zip(batch, results, strict=True):
            assert result["status"] == 202, result
            answered[result["submission_id"]] = person["monitoring"]
    messages = queued_bodies(stack, "IntakeQueue")
    for start in range(0, len(messages), 10):
        stack.call("IntakeFunction", sqs_event(messages[start : start + 10]))
    return answered


def test_the_demo_cohorts_figures_are_within_the_documented_error_and_say_how_they_are_protected(
    stack: Stack,
) -> None:
    """Usefulness: every figure of a column that leaves nobody out is at most 4 from the truth; a
    column that leaves n people out (role or outcome not recorded, to keep groups of k) is short
    by at most n more, and says so."""
    cohort = stack.open_cohort()
    answered = submit_demo_cohort(stack, cohort)
    people = [
        Applicant(a["role"], a["eligibility"]["eligible"], answered[a["application_id"]])
        for a in stack.applications(cohort)
    ]
    stack.store_monitoring(cohort)
    body = json.loads(report(stack, cohort, "json")["body"])
    html = report(stack, cohort, "html")["body"]

    assert len(people) == 44
    assert body["has_figures"]
    assert next(c for c in body["columns"] if c["key"] == "all_applied")["not_recorded"] == 0
    assert len(list(figures(body))) == sum(len(q["rows"]) + 1 for q in body["questions"]) * 6
    assert outside_error(body, people) == []
    assert html.count('<p class="protection">') == 1
    assert "at most 4 away from the true number" in html
