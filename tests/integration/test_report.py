"""The equal-opportunities report through the coordinators' API: counts only, rounded and
suppressed, as JSON, CSV and HTML, read by the one function allowed to read the Monitoring table."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import Stack, api_event, applicant_submission, intake_message, sqs_event

pytestmark = pytest.mark.integration


def report(stack: Stack, cohort: str, kind: str) -> dict[str, object]:
    event = api_event(
        "GET",
        f"/cohorts/{cohort}/monitoring-report",
        None,
        resource="/cohorts/{cohortId}/monitoring-report",
        query={"format": kind},
    )
    response: dict[str, object] = stack.call("ReportFunction", event)
    return response


def test_a_cohorts_report_counts_its_applicants_rounded_and_suppressed(stack: Stack) -> None:
    cohort = stack.open_cohort()
    submissions = [applicant_submission(cohort) for _ in range(24)]
    submissions[0]["monitoring"]["religion"] = "sikh"  # one person: never shown as such
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions[:10]]))
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions[10:20]]))
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions[20:]]))
    stack.store_monitoring(cohort)  # at the deadline: pending answers are never counted

    as_json = report(stack, cohort, "json")
    as_csv = report(stack, cohort, "csv")
    as_html = report(stack, cohort, "html")

    assert as_json["statusCode"] == 200
    body = json.loads(str(as_json["body"]))
    religion = next(q for q in body["questions"] if q["question"] == "religion")
    assert religion["total"]["cells"]["all_applied"]["count"] == 25  # 24 applicants, rounded to 5
    sikh = next(r for r in religion["rows"] if r["value"] == "sikh")
    assert sikh["cells"]["all_applied"]["count"] is None  # one person: suppressed, never 1
    counts = [
        c["count"] for q in body["questions"] for r in [*q["rows"], q["total"]] for c in r["cells"].values()
    ]
    assert all(c is None or c % 5 == 0 for c in counts)
    assert body["title"] == "Integration cohort"
    assert as_csv["statusCode"] == 200
    assert as_html["statusCode"] == 200
    assert "<table" in str(as_html["body"])
    assert report(stack, cohort, "pdf")["statusCode"] == 422
