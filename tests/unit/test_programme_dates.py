"""The programme's dates: a cohort's calendar becomes its moments, in London time whatever the
clocks do, scheduled when the cohort opens and moved with its deadline; each moment queues its
emails for the right people, and a moment delivered twice keys the same emails."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from mentoring.adapters.messaging import EventBridgeDeadlines
from mentoring.cohorts import close_recruitment, create_cohort, move_deadline
from mentoring.models import (
    CalendarSession,
    Cohort,
    CohortStatus,
    EmailKind,
    Match,
    MomentKind,
    NewCohort,
    ProgrammeCalendar,
    Role,
)
from mentoring.programme import LONDON, when
from mentoring.programme_dates import moment_of, moments, reach_moment, schedule_changes, to_schedule

from tests.unit.fakes import MemoryQueue, MemoryRecords, MemoryScheduler, MemoryStore

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]


def _bmentor_2021(store: MemoryStore | None = None, scheduler: MemoryScheduler | None = None) -> Cohort:
    """B-MEntor Professional's 2020-21 cohort, opened on 2 November 2020 from the example request."""
    body = json.loads((ROOT / "tests/examples/cohorts/b-mentor-professional-2020-21.json").read_text())
    return create_cohort(
        NewCohort.model_validate(body),
        datetime(2020, 11, 2, tzinfo=UTC),
        store or MemoryStore(),
        scheduler or MemoryScheduler(),
    )


def test_the_2020_21_cohort_has_a_reminder_before_each_training_day_and_its_other_dates() -> None:
    cohort = _bmentor_2021()

    found = [(m.moment_id, m.kind, when(m.at)) for m in moments(cohort)]

    # Training: Thursday 14 January (mentees) and 28 January (mentors), 10:00; the celebration on
    # Thursday 9 December (optional); the programme from 14 January to 17 December 2021. Every email
    # at 09:00 in London: the check-in, on 1 July, is in summer time.
    assert found == [
        ("training-20210114-7d", MomentKind.TRAINING_REMINDER, "Thursday 7 January 2021 at 09:00 GMT"),
        ("training-20210114-1d", MomentKind.TRAINING_REMINDER, "Wednesday 13 January 2021 at 09:00 GMT"),
        ("training-20210128-7d", MomentKind.TRAINING_REMINDER, "Thursday 21 January 2021 at 09:00 GMT"),
        ("training-20210128-1d", MomentKind.TRAINING_REMINDER, "Wednesday 27 January 2021 at 09:00 GMT"),
        ("nudge", MomentKind.MEETING_NUDGE, "Friday 29 January 2021 at 09:00 GMT"),  # 6 weeks after matching
        ("check-in", MomentKind.CHECK_IN, "Thursday 1 July 2021 at 09:00 BST"),
        ("event-20211209", MomentKind.EVENT_INVITATION, "Thursday 11 November 2021 at 09:00 GMT"),
        ("end", MomentKind.PROGRAMME_END, "Friday 17 December 2021 at 09:00 GMT"),
    ]


def test_opening_the_cohort_schedules_every_date_still_to_come() -> None:
    scheduler = MemoryScheduler()

    cohort = _bmentor_2021(scheduler=scheduler)

    assert scheduler.programme[cohort.cohort_id] == {m.moment_id: m.at for m in moments(cohort)}


def _with_sessions(*sessions: CalendarSession, deadline: datetime, starts: date, ends: date) -> Cohort:
    return Cohort(
        cohort_id="cohort-a",
        scheme_id="b-mentor-professional",
        name="Spring cohort",
        recruitment_deadline=deadline,
        coordinator_email="coordinator@example.ac.uk",
        calendar=ProgrammeCalendar(
            training=list(sessions), programme_starts=starts, programme_ends=ends, minimum_meetings=6
        ),
        created_at=deadline - timedelta(days=30),
    )


def _training(on: date, at: time = time(10), role: Role = Role.MENTEE) -> CalendarSession:
    return CalendarSession(
        title="Mentee training", roles=[role], date=on, starts=at, ends=time(at.hour + 1), where="online"
    )


def test_reminders_keep_to_9am_in_london_when_the_clocks_go_forward_between_them() -> None:
    # The clocks go forward on Sunday 28 March 2027: the week-before reminder is in GMT, the
    # day-before one in BST, both at 09:00 on London's clocks (an hour apart in UTC).
    cohort = _with_sessions(
        _training(date(2027, 4, 1)), deadline=datetime(2027, 3, 5, 17, tzinfo=UTC),
        starts=date(2027, 3, 8), ends=date(2027, 9, 30),
    )  # fmt: skip

    week, day = (m for m in moments(cohort) if m.kind is MomentKind.TRAINING_REMINDER)

    assert (when(week.at), when(day.at)) == (
        "Thursday 25 March 2027 at 09:00 GMT",
        "Wednesday 31 March 2027 at 09:00 BST",
    )
    assert (week.at.astimezone(UTC).hour, day.at.astimezone(UTC).hour) == (9, 8)


def test_a_day_the_clocks_go_back_is_still_9am_once() -> None:
    # Sunday 31 October 2027: 01:00-02:00 happens twice, 09:00 once.
    cohort = _with_sessions(
        _training(date(2027, 11, 1)), deadline=datetime(2027, 9, 3, 16, tzinfo=UTC),
        starts=date(2027, 9, 6), ends=date(2028, 3, 31),
    )  # fmt: skip

    reminder = moment_of(cohort, "training-20271101-1d")

    assert reminder is not None
    assert reminder.at == datetime(2027, 10, 31, 9, 0, tzinfo=LONDON)
    assert when(reminder.at) == "Sunday 31 October 2027 at 09:00 GMT"


def test_several_sessions_on_one_day_share_one_reminder_and_each_role_hears_of_its_own() -> None:
    on = date(2027, 6, 10)
    cohort = _with_sessions(
        _training(on, time(10), Role.MENTEE), _training(on, time(14), Role.MENTOR),
        deadline=datetime(2027, 5, 7, 16, tzinfo=UTC), starts=date(2027, 5, 10), ends=date(2027, 12, 10),
    )  # fmt: skip

    ids = [m.moment_id for m in moments(cohort) if m.kind is MomentKind.TRAINING_REMINDER]

    assert ids == ["training-20270610-7d", "training-20270610-1d"]


def test_dates_already_past_or_before_matching_are_not_scheduled() -> None:
    cohort = _bmentor_2021()

    later = to_schedule(cohort, now=datetime(2021, 1, 20, 12, tzinfo=UTC))

    assert [m.moment_id for m in later] == [
        "training-20210128-7d",
        "training-20210128-1d",
        "nudge",
        "check-in",
        "event-20211209",
        "end",
    ]
    # A reminder that would fall before the recruitment deadline (nobody is matched yet) is not
    # scheduled either: training a week after the deadline has only its day-before reminder.
    soon = _with_sessions(
        _training(date(2027, 5, 13)), deadline=datetime(2027, 5, 7, 16, tzinfo=UTC),
        starts=date(2027, 5, 10), ends=date(2027, 12, 10),
    )  # fmt: skip
    assert "training-20270513-7d" not in {m.moment_id for m in to_schedule(soon, soon.created_at)}
    assert "training-20270513-1d" in {m.moment_id for m in to_schedule(soon, soon.created_at)}


def test_moving_the_deadline_moves_the_nudge_and_drops_dates_it_now_comes_after() -> None:
    store, scheduler = MemoryStore(), MemoryScheduler()
    cohort = _bmentor_2021(store, scheduler)
    now = datetime(2020, 11, 20, tzinfo=UTC)
    # Three weeks later: Friday 8 January 2021, after the week-before reminder of 14 January's training.
    later = datetime(2021, 1, 8, 17, tzinfo=UTC)

    moved = move_deadline(cohort.cohort_id, later, now, store, scheduler)

    schedules = scheduler.programme[cohort.cohort_id]
    assert schedules == {m.moment_id: m.at for m in to_schedule(moved, now)}
    assert "training-20210114-7d" not in schedules
    assert when(schedules["nudge"]) == "Friday 19 February 2021 at 09:00 GMT"
    assert schedules["end"] == moment_of(cohort, "end").at  # type: ignore[union-attr]


def test_a_calendar_that_moves_with_the_deadline_moves_its_reminders_to_the_new_days() -> None:
    # A cohort stored without a calendar of its own has its scheme's, moved to its deadline in
    # whole weeks: two weeks later, every training day is two weeks later.
    store, scheduler = MemoryStore(), MemoryScheduler()
    opened = _bmentor_2021(store, scheduler)
    store.cohorts[opened.cohort_id] = opened.model_copy(update={"calendar": None})
    now = datetime(2020, 11, 20, tzinfo=UTC)

    moved = move_deadline(opened.cohort_id, datetime(2021, 1, 1, 17, tzinfo=UTC), now, store, scheduler)

    schedules = scheduler.programme[opened.cohort_id]
    assert schedules == {m.moment_id: m.at for m in to_schedule(moved, now)}
    assert sorted(i for i in schedules if i.startswith("training-")) == [
        "training-20210128-1d",
        "training-20210128-7d",
        "training-20210211-1d",
        "training-20210211-7d",
    ]
    assert when(schedules["end"]) == "Friday 31 December 2021 at 09:00 GMT"


def test_closing_early_schedules_the_dates_that_now_come_after_matching() -> None:
    store, scheduler = MemoryStore(), MemoryScheduler()
    cohort = _bmentor_2021(store, scheduler)
    now = datetime(2020, 11, 20, tzinfo=UTC)
    move_deadline(cohort.cohort_id, datetime(2021, 1, 8, 17, tzinfo=UTC), now, store, scheduler)

    closed = close_recruitment(cohort.cohort_id, now, store, scheduler)

    schedules = scheduler.programme[cohort.cohort_id]
    assert schedules == {m.moment_id: m.at for m in to_schedule(closed, now)}
    assert "training-20210114-7d" in schedules


def test_the_changes_are_worked_out_from_the_two_cohorts_alone_so_a_retry_makes_the_same() -> None:
    cohort = _bmentor_2021()
    now = datetime(2020, 11, 20, tzinfo=UTC)
    moved = cohort.model_copy(update={"recruitment_deadline": datetime(2021, 1, 8, 17, tzinfo=UTC)})

    first, second = schedule_changes(cohort, moved, now), schedule_changes(cohort, moved, now)

    assert first == second
    assert [m.moment_id for m in first[0]] == ["nudge"]  # nothing else moved
    assert first[1] == ["training-20210114-7d"]
    assert schedule_changes(moved, moved, now) == ([], [])


def test_schedule_names_fit_schedulers_64_characters_and_stay_apart() -> None:
    long_ids = [("x" * 62) + suffix for suffix in "ab"]
    names = {
        EventBridgeDeadlines.programme_name(cohort_id, moment_id)
        for cohort_id in [*long_ids, "cohort-a"]
        for moment_id in ["training-20210114-7d", "event-20211209", "nudge", "check-in", "end", "x" * 24]
    }

    assert len(names) == 18
    assert all(len(n) <= 64 and re.fullmatch(r"programme-[0-9a-zA-Z._-]+", n) for n in names)
    assert EventBridgeDeadlines.programme_name("cohort-a", "nudge") == "programme-cohort-a-nudge"


# ---------------------------------------------------------------- what each date sends


@pytest.fixture
def matched() -> tuple[MemoryStore, Cohort]:
    """The 2020-21 cohort, matched: mentees e1 and e2 with mentor r1 (two mentees), e3 with r2."""
    store = MemoryStore()
    cohort = _bmentor_2021(store)
    store.cohorts[cohort.cohort_id] = cohort.model_copy(update={"status": CohortStatus.MATCHED})
    store.put_results(
        cohort.cohort_id,
        [_match("e1", "r1"), _match("e2", "r1"), _match("e3", "r2")],
        [],
    )
    return store, store.cohorts[cohort.cohort_id]


def _match(mentee: str, mentor: str) -> Match:
    return Match(
        cohort_id="bmentor-professional-2021", mentee_id=mentee, mentor_id=mentor, score=1, explanation=[]
    )


def _reach(
    store: MemoryStore, records: MemoryRecords, moment_id: str
) -> list[tuple[str, str, list[str] | None]]:
    queue = MemoryQueue()
    cohort = store.cohorts["bmentor-professional-2021"]
    moment = moment_of(cohort, moment_id)
    assert moment is not None
    reach_moment(cohort.cohort_id, moment_id, moment.at, store, store, records, queue)
    assert all(n.moment == moment_id and n.key.endswith(f"#{moment_id}") for n in queue.messages)  # type: ignore[union-attr]
    return [(n.kind.value, n.application_id, n.mentee_ids) for n in queue.messages]  # type: ignore[union-attr]


def test_a_training_reminder_goes_to_the_role_whose_training_it_is(
    matched: tuple[MemoryStore, Cohort],
) -> None:
    store, _ = matched

    assert _reach(store, MemoryRecords(), "training-20210114-7d") == [
        ("training_reminder", "e1", None),
        ("training_reminder", "e2", None),
        ("training_reminder", "e3", None),
    ]
    assert [a for _, a, _ in _reach(store, MemoryRecords(), "training-20210128-1d")] == ["r1", "r2"]


def test_the_nudge_goes_only_to_pairs_with_no_meeting_and_a_mentor_hears_once(
    matched: tuple[MemoryStore, Cohort],
) -> None:
    store, _ = matched
    records = MemoryRecords()
    records.met.append(_match("e2", "r1"))

    assert _reach(store, records, "nudge") == [
        ("meeting_nudge", "e1", None),
        ("meeting_nudge", "e3", None),
        ("meeting_nudge", "r1", ["e1"]),
        ("meeting_nudge", "r2", ["e3"]),
    ]


def test_the_check_in_goes_to_pairs_still_together_and_the_end_to_everyone_who_took_part(
    matched: tuple[MemoryStore, Cohort],
) -> None:
    store, _ = matched
    records = MemoryRecords()
    records.ended_pairs.append(_match("e3", "r2"))

    assert _reach(store, records, "check-in") == [
        ("check_in", "e1", None),
        ("check_in", "e2", None),
        ("check_in", "r1", ["e1", "e2"]),
    ]
    assert [a for _, a, _ in _reach(store, records, "end")] == ["e1", "e2", "e3", "r1", "r2"]
    assert {a for _, a, _ in _reach(store, records, "event-20211209")} == {"e1", "e2", "r1"}


def test_a_date_delivered_twice_queues_the_same_emails_under_the_same_keys(
    matched: tuple[MemoryStore, Cohort],
) -> None:
    store, cohort = matched
    queue = MemoryQueue()
    moment = moment_of(cohort, "check-in")
    assert moment is not None

    for _ in range(2):
        reach_moment(cohort.cohort_id, "check-in", moment.at, store, store, MemoryRecords(), queue)

    keys = [n.key for n in queue.messages]  # type: ignore[union-attr]
    assert (len(keys), len(set(keys))) == (10, 5)  # notify's outbox sends each key once
    other = {n.key for n in _notes(store, "end")}
    assert not other & set(keys)  # and another date's emails to the same people are their own


def _notes(store: MemoryStore, moment_id: str) -> list[object]:
    queue = MemoryQueue()
    cohort = store.cohorts["bmentor-professional-2021"]
    moment = moment_of(cohort, moment_id)
    assert moment is not None
    reach_moment(cohort.cohort_id, moment_id, moment.at, store, store, MemoryRecords(), queue)
    return list(queue.messages)


def test_a_schedule_firing_early_for_a_date_since_moved_later_or_gone_sends_nothing(
    matched: tuple[MemoryStore, Cohort],
) -> None:
    store, cohort = matched
    nudge = moment_of(cohort, "nudge")
    assert nudge is not None
    queue = MemoryQueue()

    early = reach_moment(
        cohort.cohort_id, "nudge", nudge.at - timedelta(days=7), store, store, MemoryRecords(), queue
    )
    gone = reach_moment(
        cohort.cohort_id, "training-20210204-1d", nudge.at, store, store, MemoryRecords(), queue
    )

    assert queue.messages == []
    assert early.nothing_because == "it has moved later; its schedule fires then"
    assert gone.nothing_because == "the cohort's calendar no longer has it"


def test_nothing_is_sent_for_a_cohort_whose_matches_are_not_published() -> None:
    store = MemoryStore()
    cohort = _bmentor_2021(store)
    store.cohorts[cohort.cohort_id] = cohort.model_copy(update={"status": CohortStatus.PROVISIONAL})
    queue = MemoryQueue()
    moment = moment_of(cohort, "training-20210114-7d")
    assert moment is not None

    run = reach_moment(cohort.cohort_id, moment.moment_id, moment.at, store, store, MemoryRecords(), queue)

    assert (run.queued, queue.messages) == (0, [])
    assert run.nothing_because == "the cohort is provisional"


def test_the_programme_kinds_of_email_have_keys_of_their_own_and_the_old_keys_are_unchanged() -> None:
    from mentoring.models import Notification

    old = Notification(cohort_id="c1", kind=EmailKind.MATCHED_MENTEE, application_id="a1")
    new = Notification(cohort_id="c1", kind=EmailKind.TRAINING_REMINDER, application_id="a1", moment="nudge")

    assert old.key == "c1#a1#matched_mentee"
    assert new.key == "c1#a1#training_reminder#nudge"


# ---------------------------------------------------------------- the emails, as people read them

# What a program would say and a person would not (as tests/unit/test_words.py): rule ids, enum
# values, field names, counts in brackets, UTC.
INTERNAL = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+_[A-Z_]+\b|\(\d+\)|\(\+\d|\bUTC\b")


@pytest.fixture
def people() -> tuple[MemoryStore, Cohort]:
    """The 2020-21 cohort matched: Amara (mentee) with Diana (mentor)."""
    from tests.unit.factories import application, mentor

    store = MemoryStore()
    cohort = _bmentor_2021(store)
    store.cohorts[cohort.cohort_id] = cohort = cohort.model_copy(update={"status": CohortStatus.MATCHED})
    amara = application(
        application_id="e1", cohort_id=cohort.cohort_id, given_name="Amara", family_name="Okafor"
    )
    diana = mentor(application_id="r1", cohort_id=cohort.cohort_id, given_name="Diana", family_name="Reid")
    for app in (amara, diana):
        store._record(app, None)
    store.put_results(cohort.cohort_id, [_match("e1", "r1")], [])
    return store, cohort


def _link(cohort: Cohort, app: object) -> str:
    return f"https://api.example/programme/{cohort.cohort_id}?token=token-of-{app.application_id}"  # type: ignore[attr-defined]


def _compose(
    store: MemoryStore,
    cohort: Cohort,
    kind: EmailKind,
    who: str,
    moment: str,
    mentees: list[str] | None = None,
):  # type: ignore[no-untyped-def]
    from mentoring.emails import compose
    from mentoring.models import Notification

    note = Notification(
        cohort_id=cohort.cohort_id, kind=kind, application_id=who, moment=moment, mentee_ids=mentees
    )
    return compose(note, cohort, store, "https://console.example", _link)


@pytest.mark.parametrize(
    ("kind", "who", "moment", "mentees", "words"),
    [
        (EmailKind.TRAINING_REMINDER, "e1", "training-20210114-7d", None,
         ["in 7 days", "Mentee training: Thursday 14 January 2021, 10:00 to 11:30 GMT, online",
          "confirm that you attended"]),
        (EmailKind.TRAINING_REMINDER, "r1", "training-20210128-1d", None, ["is tomorrow", "Mentor training"]),
        (EmailKind.MEETING_NUDGE, "e1", "nudge", None, ["6 weeks", "Diana Reid", "at least 6 times"]),
        (EmailKind.MEETING_NUDGE, "r1", "nudge", ["e1"], ["6 weeks", "Amara Okafor"]),
        (EmailKind.CHECK_IN, "r1", "check-in", ["e1"],
         ["halfway", "Friday 17 December 2021", "Amara Okafor"]),
        (EmailKind.PROGRAMME_END, "e1", "end", None, ["ends today", "evaluation", "apart from your name"]),
        (EmailKind.EVENT_INVITATION, "r1", "event-20211209", None,
         ["invited", "End of year celebration: Thursday 9 December 2021, 17:00 to 19:00 GMT, in person",
          "optional"]),
    ],
)  # fmt: skip
def test_each_programme_email_says_what_it_is_about_in_plain_words_with_the_persons_link(
    people: tuple[MemoryStore, Cohort],
    kind: EmailKind,
    who: str,
    moment: str,
    mentees: list[str] | None,
    words: list[str],
) -> None:
    store, cohort = people

    email = _compose(store, cohort, kind, who, moment, mentees)

    for said in words:
        assert said in email.text, (said, email.text)
    assert not INTERNAL.findall(
        email.subject + email.text.replace(_link(cohort, store.get_application(cohort.cohort_id, who)), "")
    )
    if kind is not EmailKind.EVENT_INVITATION:
        assert _link(cohort, store.get_application(cohort.cohort_id, who)) in email.text
    diary = [a for a in email.attachments if a.content_type == "text/calendar"]
    assert bool(diary) == (kind in {EmailKind.TRAINING_REMINDER, EmailKind.EVENT_INVITATION})


def test_a_reminder_carries_the_invitation_of_that_days_sessions_only(
    people: tuple[MemoryStore, Cohort],
) -> None:
    from icalendar import Calendar

    store, cohort = people

    email = _compose(store, cohort, EmailKind.TRAINING_REMINDER, "e1", "training-20210114-1d")

    (attachment,) = email.attachments
    events = Calendar.from_ical(attachment.data).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["B-MEntor Professional: Mentee training"]


def test_the_result_emails_carry_the_persons_link(people: tuple[MemoryStore, Cohort]) -> None:
    from mentoring.emails import compose
    from mentoring.models import Notification

    store, cohort = people
    for kind, who, mentees in (
        (EmailKind.MATCHED_MENTEE, "e1", None),
        (EmailKind.MATCHED_MENTOR, "r1", ["e1"]),
    ):
        note = Notification(cohort_id=cohort.cohort_id, kind=kind, application_id=who, mentee_ids=mentees)
        email = compose(note, cohort, store, "", _link)
        assert _link(cohort, store.get_application(cohort.cohort_id, who)) in email.text
        assert "personal page" in email.text
