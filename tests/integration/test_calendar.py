"""A cohort opened with its own calendar: its dates reach the form, the emails and the diary
invitations; a calendar that cannot work is refused with a message that says why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from icalendar import Calendar

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration


def _session(
    title: str, role: str, on: str, starts: str, ends: str, where: str = "online"
) -> dict[str, object]:
    return {"title": title, "roles": [role], "date": on, "starts": starts, "ends": ends, "where": where}


def _own_calendar_request(stack: Stack) -> dict[str, object]:
    """A summer cohort whose dates differ from the scheme's, so that only the cohort can supply them."""
    deadline = datetime.now(UTC) + timedelta(days=3)
    year = deadline.year + 1
    return {
        **stack.cohort_request(deadline),
        "calendar": {
            "training": [
                _session("Mentee induction (summer)", "mentee", f"{year}-06-03", "14:00", "15:30"),
                _session("Mentor briefing (summer)", "mentor", f"{year}-06-10", "09:30", "10:30",
                         "in_person"),
            ],
            "programme_starts": f"{year}-06-01",
            "programme_ends": f"{year}-12-18",
            "events": [
                {**_session("Closing celebration", "mentee", f"{year}-12-10", "17:00", "19:00", "in_person"),
                 "roles": ["mentee", "mentor"], "compulsory": False},
            ],
            "minimum_meetings": 8,
        },
    }  # fmt: skip


def _day(on: date) -> str:
    return f"{on:%A} {on.day} {on:%B %Y}"


def _parts(raw: bytes) -> dict[str, bytes]:
    email: Message = message_from_bytes(raw)
    return {p.get_content_type(): p.get_payload(decode=True) for p in email.walk() if not p.is_multipart()}


def test_a_cohort_with_its_own_calendar_sends_its_own_dates_and_invitations(stack: Stack) -> None:
    request = _own_calendar_request(stack)
    year = int(str(request["calendar"]["programme_starts"])[:4])  # type: ignore[index]
    opened = stack.call("AdminFunction", api_event("POST", "/cohorts", request))
    assert opened["statusCode"] == 201, opened["body"]
    cohort = str(request["cohort_id"])
    form = stack.call("SubmitFunction", api_event("GET", "/", None, query={"cohort": cohort}))["body"]
    mentee = applicant_submission(cohort, email="amara@example.ac.uk")
    mentor = applicant_submission(
        cohort, role="mentor", institution="KCL", grade=9, email="diana@example.ac.uk"
    )
    for body in (mentee, mentor):
        apply_and_confirm(stack, body)
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    stack.deliver_deadline(cohort)
    before = len(stack.sent_emails())

    stack.call("NotifyFunction", sqs_event(queued_bodies(stack, "NotifyQueue")))

    sent = {str(message_from_bytes(raw)["To"]) + str(message_from_bytes(raw)["Subject"]): raw
            for raw in stack.sent_emails()[before:]}  # fmt: skip
    induction, briefing_day, closing = date(year, 6, 3), date(year, 6, 10), date(year, 12, 10)
    # Before anyone applies, the form says what to keep free.
    assert f"Mentee induction (summer): {_day(induction)}, 14:00 to 15:30 BST, online" in form
    assert "pairs meet at least 8 times" in form
    welcome = _parts(next(raw for key, raw in sent.items() if key.startswith("amara") and "received" in key))
    matched = _parts(next(raw for key, raw in sent.items() if key.startswith("diana") and "meet your" in key))
    assert (
        f"Mentee induction (summer): {_day(induction)}, 14:00 to 15:30 BST, online".encode()
        in welcome["text/plain"]
    )
    text = matched["text/plain"].decode()
    assert f"Mentor briefing (summer): {_day(briefing_day)}, 09:30 to 10:30 BST, in person" in text
    assert f"Closing celebration: {_day(closing)}, 17:00 to 19:00 GMT, in person (optional)" in text
    assert "at least 8 times" in text
    assert "Mentee induction" not in text  # a mentor is not sent the mentees' training
    diary = Calendar.from_ical(matched["text/calendar"])
    events = {str(e["summary"]): e for e in diary.walk("VEVENT")}
    briefing = events["B-MEntor Professional: Mentor briefing (summer)"]["dtstart"].dt
    assert (briefing.year, briefing.month, briefing.day, briefing.hour, briefing.minute) == (
        year,
        6,
        10,
        9,
        30,
    )
    assert briefing.utcoffset() == timedelta(hours=1)  # British Summer Time
    assert set(events) == {
        "B-MEntor Professional: Mentor briefing (summer)",
        "B-MEntor Professional: Closing celebration",
    }


def test_a_cohort_whose_training_comes_before_its_deadline_is_refused_saying_why(stack: Stack) -> None:
    request = _own_calendar_request(stack)
    deadline = datetime.fromisoformat(str(request["recruitment_deadline"]))
    early = (deadline - timedelta(days=1)).date().isoformat()
    request["calendar"]["training"][0]["date"] = early  # type: ignore[index]

    response = stack.call("AdminFunction", api_event("POST", "/cohorts", request))

    body = json.loads(response["body"])
    assert response["statusCode"] == 422
    (error,) = body["errors"]
    assert error["field"] == "calendar.training.0.date"
    assert "is before the recruitment deadline" in error["message"]
    assert "training comes after it" in error["message"]
    assert body["message"].startswith("the calendar cannot work: Mentee induction (summer) on")
    lookup = api_event("GET", f"/cohorts/{request['cohort_id']}", None, resource="/cohorts/{cohort_id}")
    assert stack.call("AdminFunction", lookup)["statusCode"] == 404
