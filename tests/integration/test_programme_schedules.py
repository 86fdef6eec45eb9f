"""The programme's dates on moto: opening a cohort creates one schedule per date, moving its
deadline moves them (and deletes those it passes), and each date's event queues emails that
notify sends once, with the person's link, however often the event comes."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import EventBridgeDeadlines
from mentoring.models import Cohort, StaffRole
from mentoring.programme_dates import moment_of, to_schedule

from tests.integration.console import Browser, new_staff, signed_in
from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    failing,
    load_event,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")


def _cohort(stack: Stack, cohort_id: str) -> Cohort:
    found = DynamoApplications(
        stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb")
    ).get_cohort(cohort_id)
    assert found is not None
    return found


def programme_schedules(stack: Stack, cohort_id: str) -> dict[str, dict[str, Any]]:
    """The cohort's programme schedules in the group, by their moment's id."""
    scheduler, group = stack.client("scheduler"), stack.physical("DeadlineScheduleGroup")
    prefix = EventBridgeDeadlines.programme_prefix(cohort_id)
    found = {}
    for summary in scheduler.list_schedules(GroupName=group)["Schedules"]:
        if summary["Name"].startswith(prefix):
            found[summary["Name"][len(prefix) :]] = scheduler.get_schedule(
                Name=summary["Name"], GroupName=group
            )
    return found


def _at(schedule: dict[str, Any]) -> datetime:
    local = datetime.fromisoformat(re.fullmatch(r"at\((.*)\)", schedule["ScheduleExpression"]).group(1))  # type: ignore[union-attr]
    return local.replace(tzinfo=ZoneInfo(schedule["ScheduleExpressionTimezone"])).astimezone(UTC)


def test_opening_a_cohort_schedules_each_of_its_programme_dates_at_9am_london_time(stack: Stack) -> None:
    deadline = (datetime.now(LONDON) + timedelta(days=10)).replace(hour=17, minute=0, second=0, microsecond=0)

    cohort_id = stack.open_cohort(deadline=deadline)

    cohort = _cohort(stack, cohort_id)
    schedules = programme_schedules(stack, cohort_id)
    expected = to_schedule(cohort, datetime.now(UTC))
    assert {i: _at(s) for i, s in schedules.items()} == {m.moment_id: m.at for m in expected}
    assert {"nudge", "check-in", "end"} <= set(schedules)
    for moment_id, schedule in schedules.items():
        assert schedule["ScheduleExpression"].endswith("T09:00:00)")
        assert schedule["ScheduleExpressionTimezone"] == "Europe/London"
        assert schedule["ActionAfterCompletion"] == "DELETE"
        target = schedule["Target"]
        assert target["Arn"] == stack.physical("MentoringEventBus", "Arn")
        assert target["RoleArn"] == stack.physical("DeadlineSchedulerRole", "Arn")
        assert target["DeadLetterConfig"]["Arn"] == stack.physical("DeadlineDeadLetterQueue", "Arn")
        assert target["EventBridgeParameters"] == {
            "DetailType": "ProgrammeDateReached",
            "Source": "mentoring.programme",
        }
        assert json.loads(target["Input"]) == {"cohort_id": cohort_id, "moment_id": moment_id}


def test_a_programme_schedule_left_by_an_earlier_attempt_is_brought_up_to_date(stack: Stack) -> None:
    """An attempt that created the schedules and then failed to store its cohort leaves them behind;
    the retry makes each say its date rather than failing on its name."""
    request = stack.cohort_request(deadline=datetime.now(UTC) + timedelta(days=10))
    stack.client("scheduler").create_schedule(
        Name=EventBridgeDeadlines.programme_name(request["cohort_id"], "end"),
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
    end = moment_of(_cohort(stack, request["cohort_id"]), "end")
    assert end is not None
    assert _at(programme_schedules(stack, request["cohort_id"])["end"]) == end.at


@pytest.fixture
def coordinator(stack: Stack) -> Browser:
    return signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional",)))


def test_moving_the_deadline_in_the_console_moves_the_nudge_and_deletes_the_dates_it_passes(
    stack: Stack, coordinator: Browser
) -> None:
    # The scheme's calendar moved to a Friday deadline: its mentee training is on the Thursday
    # four weeks later (B-MEntor Professional: 18 December 2020, then 14 January 2021).
    deadline = (datetime.now(LONDON) + timedelta(days=14)).replace(hour=17, minute=0, second=0, microsecond=0)
    cohort_id = stack.open_cohort(deadline=deadline)
    before = programme_schedules(stack, cohort_id)
    training = min(i for i in before if i.startswith("training-") and i.endswith("-7d"))
    reminder = _at(before[training])
    # Moved to the evening after that week-before reminder: it would now come before matching.
    later = (reminder.astimezone(LONDON) + timedelta(days=1)).replace(hour=17)

    moved = coordinator.post(
        f"/console/cohorts/{cohort_id}/deadline", {"recruitment_deadline": later.strftime("%Y-%m-%dT%H:%M")}
    )

    assert moved.status == 303, moved.body
    after = programme_schedules(stack, cohort_id)
    expected = to_schedule(_cohort(stack, cohort_id), datetime.now(UTC))
    assert {i: _at(s) for i, s in after.items()} == {m.moment_id: m.at for m in expected}
    assert training not in after
    assert _at(after["nudge"]) - _at(before["nudge"]) == later - deadline
    assert after["end"]["ScheduleExpression"] == before["end"]["ScheduleExpression"]


# ---------------------------------------------------------------- a date comes


def _matched_cohort(stack: Stack) -> tuple[str, str, str]:
    """A cohort matched at its deadline: a mentee and a mentor, each emailed their result (with
    their personal link). Returns the cohort's id and their addresses."""
    cohort_id = stack.open_cohort(deadline=datetime.now(UTC) + timedelta(days=2))
    suffix = uuid.uuid4().hex[:8]
    mentee, mentor = f"amara.{suffix}@example.ac.uk", f"diana.{suffix}@example.ac.uk"
    apply_and_confirm(stack, applicant_submission(cohort_id, email=mentee))
    apply_and_confirm(
        stack, applicant_submission(cohort_id, role="mentor", institution="KCL", grade=9, email=mentor)
    )
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    assert stack.deliver_deadline(cohort_id)["ran"] is True
    stack.call("NotifyFunction", sqs_event(queued_bodies(stack, "NotifyQueue")))
    return cohort_id, mentee, mentor


def _date_reached(stack: Stack, cohort_id: str, moment_id: str, at: datetime) -> dict[str, Any]:
    event = load_event("deadline_event.json")
    event.update(
        {
            "id": str(uuid.uuid4()),
            "detail-type": "ProgrammeDateReached",
            "source": "mentoring.programme",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": {"cohort_id": cohort_id, "moment_id": moment_id},
        }
    )
    result: dict[str, Any] = stack.call("ProgrammeFunction", event)
    return result


def _to(stack: Stack, since: int) -> list[tuple[str, str, str]]:
    found = []
    for raw in stack.sent_emails()[since:]:
        message = message_from_bytes(raw, policy=policy.default)  # headers unfolded
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        found.append(
            (str(message["To"]), str(message["Subject"]), str(text.get_payload(decode=True).decode()))
        )  # type: ignore[union-attr]
    return found


def test_a_training_reminder_reaches_its_role_once_with_the_invitation_and_the_link(stack: Stack) -> None:
    cohort_id, mentee, mentor = _matched_cohort(stack)
    reminder = next(
        m for m in to_schedule(_cohort(stack, cohort_id), datetime.now(UTC)) if m.days_before == 1
    )
    before = len(stack.sent_emails())

    for _ in range(2):  # delivered twice: EventBridge's retry, or a schedule firing once more
        assert _date_reached(stack, cohort_id, reminder.moment_id, reminder.at)["queued"] == 1
        stack.call("NotifyFunction", sqs_event(queued_bodies(stack, "NotifyQueue")))

    ((to, subject, text),) = _to(stack, before)
    assert to == mentee  # the mentees' training: the mentor is not reminded of it
    assert subject == "B-MEntor Professional: reminder of your Mentee training tomorrow"
    assert re.search(rf"https?://\S+/programme/{cohort_id}\?token=[A-Za-z0-9_-]{{43}}", text)
    raw = stack.sent_emails()[-1]
    assert b"text/calendar" in raw
    assert mentor not in {t for t, _, _ in _to(stack, before)}


def test_the_nudge_reaches_both_of_a_pair_with_no_meeting_and_the_end_everyone(stack: Stack) -> None:
    cohort_id, mentee, mentor = _matched_cohort(stack)
    cohort = _cohort(stack, cohort_id)
    before = len(stack.sent_emails())

    for moment_id in ("nudge", "end"):
        moment = moment_of(cohort, moment_id)
        assert moment is not None
        assert _date_reached(stack, cohort_id, moment_id, moment.at)["queued"] == 2
    stack.call("NotifyFunction", sqs_event(queued_bodies(stack, "NotifyQueue")))

    sent = sorted((to, subject) for to, subject, _ in _to(stack, before))
    assert sent == sorted(
        [
            (mentee, "B-MEntor Professional: have you met yet?"),
            (mentor, "B-MEntor Professional: have you met yet?"),
            (mentee, "B-MEntor Professional: the programme ends, tell us how it went"),
            (mentor, "B-MEntor Professional: the programme ends, tell us how it went"),
        ]
    )


def test_a_date_moved_later_sends_nothing_when_its_old_schedule_fires(stack: Stack) -> None:
    cohort_id, _, _ = _matched_cohort(stack)
    end = moment_of(_cohort(stack, cohort_id), "end")
    assert end is not None

    result = _date_reached(stack, cohort_id, "end", end.at - timedelta(days=3))

    assert result["queued"] == 0
    assert queued_bodies(stack, "NotifyQueue") == []


def test_a_cohort_whose_dates_cannot_all_be_scheduled_is_not_opened_and_opening_it_again_works(
    stack: Stack,
) -> None:
    request = stack.cohort_request(deadline=datetime.now(UTC) + timedelta(days=10))
    lookup = api_event("GET", f"/cohorts/{request['cohort_id']}", None, resource="/cohorts/{cohortId}")

    # Scheduler refuses one of the dates (after the deadline's and another date's schedule exist).
    with (
        failing("scheduler", "CreateSchedule", code="ServiceQuotaExceededException", after=2) as failed,
        pytest.raises(ClientError),
    ):
        stack.call("AdminFunction", api_event("POST", "/cohorts", request))
    assert failed == [1]
    # Not opened (the schedules made before the refusal are brought up to date when it is).
    assert stack.call("AdminFunction", lookup)["statusCode"] == 404

    again = stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    assert again["statusCode"] == 201, again["body"]
    cohort = _cohort(stack, request["cohort_id"])
    schedules = programme_schedules(stack, request["cohort_id"])
    assert {i: _at(s) for i, s in schedules.items()} == {
        m.moment_id: m.at for m in to_schedule(cohort, datetime.now(UTC))
    }
