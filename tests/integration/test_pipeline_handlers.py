"""intake, matching, notify and admin against moto, each through its real handler and adapters."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from mentoring.adapters.messaging import EventBridgeDeadlines

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    intake_message,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration

IDENTITY_FIELDS = ("given_name", "family_name", "email", "staff_number", "department", "job_title")


def test_intake_records_application_with_eligibility_and_queues_acknowledgement(stack: Stack) -> None:
    cohort = stack.open_cohort()
    message = intake_message(applicant_submission(cohort, role="mentee", grade=9))

    response = stack.call("IntakeFunction", sqs_event([message]))

    assert response == {"batchItemFailures": []}
    (application,) = stack.applications(cohort)
    assert application["eligibility"]["eligible"] is False
    reasons = [o["reason"] for o in application["eligibility"]["outcomes"] if not o["passed"]]
    assert reasons == [
        "Mentees are at grade 5-7 at UCL, or the equivalent at their institution. "
        "(Grade 9 at University College London is 9 on the scheme's common 1-10 scale.)"
    ]
    assert [n["kind"] for n in queued_bodies(stack, "NotifyQueue")] == ["acknowledgement"]


def test_held_answers_share_nothing_personal_with_the_application_and_stay_sealed(stack: Stack) -> None:
    cohort = stack.open_cohort()
    submission = applicant_submission(cohort, staff_number="S-998877")
    message = intake_message(submission)

    stack.call("IntakeFunction", sqs_event([message]))

    (application,) = stack.applications(cohort)
    (record,) = stack.monitoring_records(cohort)
    personal = {
        *(str(application["applicant"][f]) for f in IDENTITY_FIELDS),
        application["application_id"],
        message["submission_id"],
        message["received_at"],
    }
    record_values = {v for item in record.values() for v in item.values()}
    assert not personal & record_values
    assert set(record) == {"record_id", "cohort_id", "scheme_id", "role", "eligible", "sealed"}
    # Intake passed the ciphertext through: no answer is readable before its batch is stored.
    assert record["sealed"] == {"S": message["monitoring"]["ciphertext"]}
    assert not set(submission["monitoring"].values()) & {v for item in record.values() for v in item.values()}


def test_redelivered_submission_creates_one_application_and_one_monitoring_record(stack: Stack) -> None:
    cohort = stack.open_cohort()
    message = intake_message(applicant_submission(cohort))

    stack.call("IntakeFunction", sqs_event([message]))
    stack.call("IntakeFunction", sqs_event([message], message_id="another-delivery"))

    assert len(stack.applications(cohort)) == 1
    assert len(stack.monitoring_records(cohort)) == 1


def test_poison_record_fails_alone_and_the_rest_of_the_batch_is_recorded(stack: Stack) -> None:
    cohort = stack.open_cohort()
    good = [intake_message(applicant_submission(cohort)) for _ in range(2)]
    event = sqs_event([good[0], {"not": "a submission"}, good[1]])
    poison_id = event["Records"][1]["messageId"]

    response = stack.call("IntakeFunction", event)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert len(stack.applications(cohort)) == 2


def _run_intake(stack: Stack, cohort: str, specs: list[dict[str, object]]) -> None:
    messages = [intake_message(applicant_submission(cohort, **spec)) for spec in specs]  # type: ignore[arg-type]
    stack.call("IntakeFunction", sqs_event(messages))
    stack.purge("NotifyQueue")


def test_deadline_delivered_twice_runs_matching_once(stack: Stack) -> None:
    cohort = stack.open_cohort()
    _run_intake(
        stack,
        cohort,
        [
            {"role": "mentee", "institution": "UCL", "grade": 6},
            {"role": "mentee", "institution": "KCL", "grade": 5},
            {"role": "mentee", "institution": "QMUL", "grade": 9},  # ineligible
            {"role": "mentor", "institution": "UAL", "grade": 9},
        ],
    )

    first = stack.deliver_deadline(cohort)
    notes_after_first = queued_bodies(stack, "NotifyQueue")
    second = stack.deliver_deadline(cohort)

    assert first["ran"] is True
    assert second == {"cohort_id": cohort, "ran": False}
    assert queued_bodies(stack, "NotifyQueue") == []
    kinds = sorted(n["kind"] for n in notes_after_first)
    # Two eligible mentees (one matched, one unmatched: the one mentor takes 1), one mentor, the coordinator.
    assert kinds == ["coordinator_summary", "matched_mentee", "matched_mentor", "unmatched"]
    assert len(stack.matches(cohort)) == 1


def test_matches_respect_the_different_institution_rule(stack: Stack) -> None:
    cohort = stack.open_cohort()
    _run_intake(
        stack,
        cohort,
        [
            {"role": "mentee", "institution": "UCL", "grade": 6},
            {"role": "mentor", "institution": "UCL", "grade": 9, "capacity": 2},
            {"role": "mentee", "institution": "KCL", "grade": 6},
        ],
    )

    stack.deliver_deadline(cohort)

    apps = {a["application_id"]: a for a in stack.applications(cohort)}
    (match,) = stack.matches(cohort)
    assert apps[match["mentee_id"]]["applicant"]["institution"] == "KCL"
    (unmatched,) = stack.unmatched(cohort)
    assert "ruled out by: Mentor and mentee work at different partner universities" in unmatched["reason"]
    assert unmatched["outcome"] == "no_allowed_mentor"


def test_notify_sends_text_and_html_once_per_notification(stack: Stack) -> None:
    cohort = stack.open_cohort()
    message = intake_message(applicant_submission(cohort, email="ada@example.ac.uk"))
    stack.call("IntakeFunction", sqs_event([message]))
    (note,) = queued_bodies(stack, "NotifyQueue")
    before = len(stack.sent_emails())

    stack.call("NotifyFunction", sqs_event([note]))
    stack.call("NotifyFunction", sqs_event([note], message_id="redelivered"))

    sent = stack.sent_emails()[before:]
    assert len(sent) == 1
    email: Message = message_from_bytes(sent[0])
    assert email["To"] == "ada@example.ac.uk"
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in email.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}  # the dates, for the diary
    assert b"You meet the scheme's criteria" in parts["text/plain"]
    assert b"You meet the scheme&#x27;s criteria" in parts["text/html"]


def test_opening_a_cohort_schedules_its_deadline_in_london_time(stack: Stack) -> None:
    deadline = datetime(2031, 7, 1, 16, 0, tzinfo=UTC)  # 17:00 British Summer Time

    cohort = stack.open_cohort(deadline=deadline)

    schedule = stack.schedule_for(cohort)
    assert schedule["ScheduleExpression"] == "at(2031-07-01T17:00:00)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/London"
    assert schedule["Target"]["Arn"] == stack.physical("MentoringEventBus", "Arn")
    assert json.loads(schedule["Target"]["Input"]) == {"cohort_id": cohort}
    assert schedule["Target"]["EventBridgeParameters"]["DetailType"] == "RecruitmentDeadlineReached"


def test_a_cohort_with_the_longest_id_gets_a_schedule_within_schedulers_limits(stack: Stack) -> None:
    """Scheduler names are at most 64 characters of [0-9a-zA-Z-_.]; ``deadline-`` and a 63-character
    cohort id would be 72, and AWS would answer ValidationException (a 502 to the coordinator)."""
    base = f"it-long-{uuid.uuid4().hex}"
    ids = [(base + "a" * 63)[:62] + suffix for suffix in "xy"]
    requests = [{**stack.cohort_request(), "cohort_id": cohort_id} for cohort_id in ids]

    opened = [stack.call("AdminFunction", api_event("POST", "/cohorts", r))["statusCode"] for r in requests]

    names = [EventBridgeDeadlines.name_for(cohort_id) for cohort_id in ids]
    assert opened == [201, 201]
    assert all(len(name) <= 64 and re.fullmatch(r"[0-9a-zA-Z._-]+", name) for name in names)
    assert len(set(names)) == 2
    assert [json.loads(stack.schedule_for(c)["Target"]["Input"]) for c in ids] == [
        {"cohort_id": c} for c in ids
    ]


def test_a_schedule_left_by_an_earlier_attempt_is_brought_up_to_date(stack: Stack) -> None:
    """An attempt that created the schedule and then failed to store its cohort leaves it behind;
    the retry makes it announce this deadline rather than failing on the name."""
    request = stack.cohort_request(deadline=datetime(2031, 7, 1, 16, 0, tzinfo=UTC))
    stack.client("scheduler").create_schedule(
        Name=EventBridgeDeadlines.name_for(request["cohort_id"]),
        GroupName=stack.physical("DeadlineScheduleGroup"),
        ScheduleExpression="at(2030-01-01T09:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": stack.physical("MentoringEventBus", "Arn"),
            "RoleArn": stack.physical("DeadlineSchedulerRole", "Arn"),
        },
    )

    response = stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    assert response["statusCode"] == 201, response["body"]
    assert stack.schedule_for(request["cohort_id"])["ScheduleExpression"] == "at(2031-07-01T17:00:00)"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheme_id": "no-such-scheme"}, "scheme_id"),
        ({"recruitment_deadline": "2020-01-01T00:00:00+00:00"}, "recruitment_deadline"),
        ({"recruitment_deadline": "2031-03-30T01:30:00"}, "recruitment_deadline"),  # not a London time
        ({"coordinator_email": "nobody"}, "coordinator_email"),
    ],
)
def test_bad_cohort_request_gets_422_naming_the_field(
    stack: Stack, change: dict[str, str], field: str
) -> None:
    body = {**stack.cohort_request(), **change}

    response = stack.call("AdminFunction", api_event("POST", "/cohorts", body))

    assert response["statusCode"] == 422
    assert field in {e["field"] for e in json.loads(response["body"])["errors"]}


def test_opening_the_same_cohort_twice_gets_409(stack: Stack) -> None:
    request = stack.cohort_request()
    stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    response = stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    assert response["statusCode"] == 409


def test_cohort_progress_counts_applications_by_role_and_eligibility(stack: Stack) -> None:
    cohort = stack.open_cohort(deadline=datetime.now(UTC) + timedelta(days=1))
    _run_intake(
        stack,
        cohort,
        [{"role": "mentee", "grade": 6}, {"role": "mentee", "grade": 9}, {"role": "mentor", "grade": 9}],
    )

    response = stack.call(
        "AdminFunction", api_event("GET", f"/cohorts/{cohort}", None, resource="/cohorts/{cohortId}")
    )

    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert (body["applications"], body["eligible"], body["ineligible"]) == (
        3,
        {"mentee": 1, "mentor": 1},
        {"mentee": 1, "mentor": 0},
    )


def test_unknown_cohort_progress_is_404(stack: Stack) -> None:
    response = stack.call(
        "AdminFunction", api_event("GET", "/cohorts/nope-nope", None, resource="/cohorts/{cohortId}")
    )

    assert response["statusCode"] == 404


def test_applicants_personal_data_expires_a_retention_period_after_the_deadline(stack: Stack) -> None:
    deadline = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    cohort = stack.open_cohort(deadline=deadline)
    body = applicant_submission(cohort)
    apply_and_confirm(stack, body)
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))

    items = stack.client("dynamodb").query(
        TableName=stack.physical("ApplicationsTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort}"}},
    )["Items"]
    expected = str(int((deadline + timedelta(days=548)).timestamp()))  # the template's default

    application = next(i for i in items if i["sk"]["S"].startswith("APPLICATION#"))
    assert application["expires_at"] == {"N": expected}
    claims = stack.client("dynamodb").scan(TableName=stack.physical("ApplicationsTable"))["Items"]
    assert all(
        c["expires_at"] == {"N": expected}
        for c in claims
        if c["pk"]["S"].startswith("CLAIM#APPLICANT#" + cohort)
    )
    # The confirmed link's record too (an unconfirmed one lapses with its link).
    (held,) = [c for c in claims if c["pk"]["S"].startswith("HELD#") and c["cohort_id"]["S"] == cohort]
    assert held["expires_at"] == {"N": expected}
    # The anonymous monitoring answers carry no expiry: the report's counts stay.
    assert all("expires_at" not in r for r in stack.monitoring_records(cohort))
