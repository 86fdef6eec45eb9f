"""The programme calendar: B-MEntor Professional's 2020-21 cohort from its source, moved to new
deadlines, checked in London time (summer time included), and written as diary invitations."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from mentoring.cohorts import CohortRequestError, create_cohort
from mentoring.models import CalendarSession, NewCohort, Role
from mentoring.programme import (
    LONDON,
    calendar_problems,
    default_calendar,
    invitation,
    session_line,
    sessions_for,
    when,
)
from mentoring.scheme import get_scheme

from tests.unit.fakes import MemoryScheduler, MemoryStore

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
SCHEME = get_scheme("b-mentor-professional")
# "Please register your expression of interest by Friday 18th December 2020."
DEADLINE_2020 = datetime(2020, 12, 18, 17, 0, tzinfo=LONDON)


def test_b_mentor_professionals_2020_21_cohort_is_the_one_its_source_describes() -> None:
    calendar = default_calendar(SCHEME, DEADLINE_2020)

    # "Mentee: Training Thursday 14th January 10-11.30am"; "Mentor: Training Thursday 28th January
    # 10-11.30am"; "Mentees and Mentors must be available for the training (hosted virtually)".
    assert [session_line(s) for s in calendar.training] == [
        "Mentee training: Thursday 14 January 2021, 10:00 to 11:30 GMT, online",
        "Mentor training: Thursday 28 January 2021, 10:00 to 11:30 GMT, online",
    ]
    assert [s.roles for s in calendar.training] == [[Role.MENTEE], [Role.MENTOR]]
    assert all(s.compulsory for s in calendar.training)
    # "At least 6 one-to-one mentoring sessions"; "End of year celebration social event"
    assert calendar.minimum_meetings == 6
    (celebration,) = calendar.events
    assert "celebration" in celebration.title.casefold()
    assert set(celebration.roles) == {Role.MENTEE, Role.MENTOR}
    assert calendar.programme_starts <= date(2021, 1, 14) <= calendar.programme_ends
    assert calendar.programme_starts <= celebration.date <= calendar.programme_ends
    assert when(SCHEME.calendar.deadline_at()) == "Friday 18 December 2020 at 17:00 GMT"
    assert calendar_problems(calendar, DEADLINE_2020, SCHEME) == []


def test_the_example_request_opens_the_2020_21_cohort_with_its_own_dates() -> None:
    body = json.loads((ROOT / "tests/examples/cohorts/b-mentor-professional-2020-21.json").read_text())
    store, scheduler = MemoryStore(), MemoryScheduler()

    cohort = create_cohort(
        NewCohort.model_validate(body), datetime(2020, 11, 2, tzinfo=UTC), store, scheduler
    )

    assert cohort.recruitment_deadline == DEADLINE_2020
    assert cohort.calendar is not None
    assert [s.date for s in cohort.calendar.training] == [date(2021, 1, 14), date(2021, 1, 28)]
    assert cohort.calendar == default_calendar(SCHEME, DEADLINE_2020)


def test_a_later_cohort_keeps_the_weekdays_and_london_times_and_nothing_comes_closer_to_its_deadline() -> (
    None
):
    deadline = datetime(2027, 6, 4, 17, 0, tzinfo=LONDON)  # a Friday in summer

    calendar = default_calendar(SCHEME, deadline)

    mentee, mentor = calendar.training
    assert (mentee.date.strftime("%A"), mentee.starts, mentee.ends) == ("Thursday", time(10), time(11, 30))
    assert mentor.date - mentee.date == timedelta(days=14)
    assert mentee.date - deadline.date() >= date(2021, 1, 14) - date(2020, 12, 18)
    assert "BST" in session_line(mentee)  # summer: British Summer Time, named
    assert calendar_problems(calendar, deadline, SCHEME) == []


def _session(**overrides: Any) -> CalendarSession:
    fields: dict[str, Any] = {
        "title": "Mentee training",
        "roles": ["mentee"],
        "date": date(2027, 2, 11),
        "starts": time(10),
        "ends": time(11, 30),
        "where": "online",
    }
    return CalendarSession.model_validate(fields | overrides)


@pytest.mark.parametrize(
    ("session", "field", "words"),
    [
        (_session(date=date(2027, 1, 28)), "calendar.training.0.date", "is before the recruitment deadline"),
        (_session(ends=time(9)), "calendar.training.0.ends", "not after the start (10:00)"),
        (
            _session(date=date(2027, 3, 28), starts=time(1, 30), ends=time(3)),
            "calendar.training.0.starts",
            "does not exist in London: the clocks go forward",
        ),
        (
            _session(date=date(2027, 10, 31), starts=time(1, 30), ends=time(3)),
            "calendar.training.0.starts",
            "happens twice in London: the clocks go back",
        ),
        (_session(date=date(2028, 3, 2)), "calendar.training.0.date", "is after the end of the programme"),
    ],
    ids=["before-deadline", "ends-first", "spring-gap", "autumn-twice", "after-programme"],
)
def test_a_calendar_that_cannot_work_is_refused_saying_why(
    session: CalendarSession, field: str, words: str
) -> None:
    deadline = datetime(2027, 2, 5, 17, 0, tzinfo=LONDON)
    calendar = default_calendar(SCHEME, deadline).model_copy(update={"training": [session]})

    problems = calendar_problems(calendar, deadline, SCHEME)

    assert any(p.field.startswith(field) and words in p.message for p in problems), problems


def test_training_before_the_deadline_is_refused_when_the_cohort_is_opened() -> None:
    store, scheduler = MemoryStore(), MemoryScheduler()
    request = NewCohort.model_validate(
        {
            "cohort_id": "bmentor-2027",
            "scheme_id": "b-mentor-professional",
            "name": "B-MEntor Professional 2027",
            "recruitment_deadline": "2027-02-26T17:00:00",  # London time: no offset needed
            "coordinator_email": "edi@example.ac.uk",
            "calendar": {
                "training": [
                    {"title": "Mentee training", "roles": ["mentee"], "date": "2027-02-10",
                     "starts": "10:00", "ends": "11:30", "where": "online"},
                ]
            },
        }
    )  # fmt: skip

    with pytest.raises(CohortRequestError) as refused:
        create_cohort(request, datetime(2027, 1, 4, tzinfo=UTC), store, scheduler)

    (problem,) = refused.value.errors
    assert problem.field == "calendar.training.0.date"
    assert problem.message.startswith(
        "Mentee training on Wednesday 10 February 2027, 10:00 to 11:30 GMT is before the recruitment "
        "deadline, Friday 26 February 2027 at 17:00 GMT."
    )
    assert scheduler.schedules == {}
    assert store.cohorts == {}


def test_a_deadline_without_an_offset_is_london_time_and_one_that_does_not_exist_is_refused() -> None:
    fields = {
        "cohort_id": "c-1",
        "scheme_id": "b-mentor-professional",
        "name": "n",
        "coordinator_email": "a@b.uk",
    }

    summer = NewCohort.model_validate(fields | {"recruitment_deadline": "2027-06-04T17:00:00"})
    with pytest.raises(ValueError, match="does not exist in London"):
        NewCohort.model_validate(fields | {"recruitment_deadline": "2027-03-28T01:30:00"})

    assert summer.recruitment_deadline == datetime(2027, 6, 4, 16, 0, tzinfo=UTC)


def test_an_invitation_puts_each_session_in_the_diary_at_its_london_time() -> None:
    from tests.unit.factories import cohort

    opened = cohort(deadline=datetime(2027, 6, 4, 16, 0, tzinfo=UTC))
    assert opened.calendar is not None
    sessions = sessions_for(opened.calendar, Role.MENTOR)

    parsed = Calendar.from_ical(invitation(opened, SCHEME.name, sessions))

    events = list(parsed.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [f"{SCHEME.name}: {s.title}" for s in sessions]
    assert "Mentor training" in str(events[0]["summary"])
    first = events[0]["dtstart"].dt
    assert first == datetime.combine(sessions[0].date, sessions[0].starts, LONDON)
    assert str(first.tzinfo) == "Europe/London"
    assert parsed["method"] == "PUBLISH"
    assert list(parsed.walk("VTIMEZONE")), "the London zone travels with the invitation"
    assert len({str(e["uid"]) for e in events}) == len(events)
