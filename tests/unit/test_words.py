"""One voice for people: texts per role, reasons in plain words with what to do next, who writes
first, London time with its zone, a closed form that says so, and the ONS's and HESA's words for
the monitoring categories."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from mentoring.deadline import run_deadline
from mentoring.emails import compose
from mentoring.models import Application, EmailKind, Notification, Role, UnmatchedMentee
from mentoring.scheme import load_schemes
from mentoring.web import MONITORING_QUESTIONS, _label, application_form, closed_page

from tests.unit.factories import NOW, application, cohort, lease, mentor
from tests.unit.fakes import MemoryQueue, MemoryStore, MemoryWatch

pytestmark = pytest.mark.unit

# What a program would say and a person would not: rule ids, enum values, field names.
INTERNAL = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+_[A-Z_]+\b|\(\d+\)|\(\+\d")


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.create_cohort(cohort("cohort-a"))
    return memory


def _keep(store: MemoryStore, *apps: Application) -> None:
    for app in apps:
        store._record(app, None)  # as intake records it (with its person's group)


def _email(store: MemoryStore, kind: EmailKind, application_id: str | None = None) -> str:
    note = Notification(cohort_id="cohort-a", kind=kind, application_id=application_id)
    return compose(note, store.cohorts["cohort-a"], store).text


@pytest.mark.parametrize("scheme", sorted(load_schemes()))
def test_no_scheme_tells_a_mentor_about_their_mentor_or_a_mentee_about_their_mentee(scheme: str) -> None:
    texts = load_schemes()[scheme].emails

    for role, other in ((Role.MENTOR, "mentor"), (Role.MENTEE, "mentee")):
        for text in (texts.welcome_for(role), texts.matched_for(role)):
            assert f"your {other}" not in text.casefold(), (scheme, role, text)
        assert not re.search(r"\d", texts.welcome_for(role) + texts.matched_for(role)), (
            "figures belong in the calendar"
        )


def test_a_mentor_is_welcomed_as_a_mentor(store: MemoryStore) -> None:
    guide = mentor(institution="KCL")
    _keep(store, guide)

    text = _email(store, EmailKind.ACKNOWLEDGEMENT, guide.application_id)

    assert "your mentee will be from a partner university other than your own" in text
    assert "your mentor" not in text


def test_an_ineligible_applicant_is_told_why_and_what_to_do_next_in_plain_words(store: MemoryStore) -> None:
    senior = application(grade=9)
    _keep(store, senior)

    text = _email(store, EmailKind.ACKNOWLEDGEMENT, senior.application_id)

    assert "Mentees are at grade 5-7 at UCL" in text
    assert "What you can do next:" in text
    assert "you could apply to be a mentor instead" in text
    assert "coordinator@example.ac.uk" in text
    assert not INTERNAL.search(text), INTERNAL.search(text)


def test_the_deadline_is_in_london_time_with_its_zone_named(store: MemoryStore) -> None:
    summer = cohort("cohort-a", deadline=datetime(2027, 6, 4, 16, 0, tzinfo=UTC))
    store.cohorts["cohort-a"] = summer
    person = application()
    _keep(store, person)

    text = _email(store, EmailKind.ACKNOWLEDGEMENT, person.application_id)

    assert "Friday 4 June 2027 at 17:00 BST" in text
    assert "UTC" not in text
    assert "If you are matched, you must be free on these dates" in text


def _matched(store: MemoryStore) -> tuple[str, str]:
    mentee, guide = application(institution="UCL"), mentor(institution="KCL", given_name="Diana")
    _keep(store, mentee, guide)
    run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())
    return mentee.application_id, guide.application_id


def test_the_pair_is_told_who_writes_first(store: MemoryStore) -> None:
    mentee_id, mentor_id = _matched(store)

    to_mentee = _email(store, EmailKind.MATCHED_MENTEE, mentee_id)
    to_mentor = _email(store, EmailKind.MATCHED_MENTOR, mentor_id)

    assert "You make the first contact: please email Diana" in to_mentee
    assert "will email you within the next week to arrange your first meeting" in to_mentor
    for text in (to_mentee, to_mentor):
        assert not INTERNAL.search(text), INTERNAL.search(text)
        assert "hard rule" not in text


def test_a_mentor_is_told_of_each_mentee_the_deadline_queued_them_with_and_no_other(
    store: MemoryStore,
) -> None:
    """The queued email names the mentor's mentees, so notify reads those matches by their keys (a
    national cohort's every match is not read for every email); the stored matches still decide."""
    guide = mentor(institution="KCL", capacity=2)
    first, second = (
        application(institution="UCL", given_name="Ada"),
        application(institution="UAL", given_name="Bea"),
    )
    _keep(store, guide, first, second)
    queue = MemoryQueue()
    run_deadline("cohort-a", lease(), store, store, queue, MemoryWatch())
    note = next(m for m in queue.messages if getattr(m, "kind", None) is EmailKind.MATCHED_MENTOR)
    assert isinstance(note, Notification)

    assert sorted(note.mentee_ids or []) == sorted([first.application_id, second.application_id])
    assert "Ada" in compose(note, store.cohorts["cohort-a"], store).text
    # A match no longer with this mentor (changed after the email was queued) is not told.
    moved = [m for m in store.matches["cohort-a"] if m.mentee_id == second.application_id]
    store.matches["cohort-a"] = [
        *(m for m in store.matches["cohort-a"] if m.mentee_id != second.application_id),
        moved[0].model_copy(update={"mentor_id": "someone-else"}),
    ]
    text = compose(note, store.cohorts["cohort-a"], store).text
    assert "Ada" in text
    assert "Bea" not in text


@pytest.mark.parametrize(
    ("unmatched", "words"),
    [
        (
            UnmatchedMentee(application_id="x", reason="r", outcome="mentors_taken"),
            "There were more mentees than mentor places in this round",
        ),
        (
            UnmatchedMentee(
                application_id="x",
                reason="r",
                outcome="no_allowed_mentor",
                excluded_by=["Mentor and mentee work at different partner universities."],
            ),
            "The scheme asks: Mentor and mentee work at different partner universities.",
        ),
        (UnmatchedMentee(application_id="x", reason="r", outcome="no_mentor"), "No mentor applied"),
        (UnmatchedMentee(application_id="x", reason="r", outcome="waiting_list"), "waiting list"),
    ],
)
def test_an_unmatched_mentee_is_told_why_in_plain_words_and_what_next(
    store: MemoryStore, unmatched: UnmatchedMentee, words: str
) -> None:
    mentee = application(application_id="x")
    _keep(store, mentee)
    store.unmatched["cohort-a"] = [unmatched]

    text = _email(store, EmailKind.UNMATCHED, "x")

    assert words in text
    assert "What you can do next:" in text
    assert "coordinator@example.ac.uk" in text
    assert not INTERNAL.search(text), INTERNAL.search(text)


def test_the_coordinators_summary_counts_every_outcome_and_lists_one_person_once(store: MemoryStore) -> None:
    twice = {"given_name": "Amara", "family_name": "Okafor", "institution": "UCL"}
    first = application(email="amara@ucl.ac.uk", **twice)
    second = application(email="amara.okafor@gmail.com", **twice)  # the same person, another address
    other = application(institution="QMUL")
    senior = application(grade=9)  # not eligible
    guide = mentor(institution="KCL", capacity=1)
    _keep(store, first, second, other, senior, guide)
    run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())

    text = _email(store, EmailKind.COORDINATOR_SUMMARY)

    assert "5 applications" in text
    assert "mentees not eligible: 1" in text
    assert "eligible mentees: 3" in text
    assert "eligible mentors: 1" in text
    assert "pairs made: 1" in text
    assert "possible duplicates (one person applying twice): 1" in text
    assert text.count("Amara Okafor") == 1
    assert "Amara Okafor, University College London: as mentee (amara@ucl.ac.uk" in text
    assert "in the console: /cohorts/cohort-a/matches" in text  # the console's page, under its address


def test_a_closed_cohorts_page_says_so_and_offers_no_form() -> None:
    closed = cohort("cohort-a", status="matched", deadline=NOW - timedelta(days=1))
    scheme = load_schemes()[closed.scheme_id]

    page = closed_page(scheme, closed)

    assert "Applications to Test cohort are closed" in page
    assert "Saturday 9 January 2027 at 12:00 GMT" in page
    assert "<form" not in page
    assert "submit" not in page.casefold()


def test_the_form_shows_the_dates_to_keep_free_before_anyone_applies() -> None:
    opened = cohort("cohort-a")
    scheme = load_schemes()[opened.scheme_id]

    page = application_form(scheme, opened)

    assert "Dates to keep free" in page
    assert "If you are matched, you must be free on these dates" in page
    assert "Mentee training: Thursday" in page
    assert "pairs meet at least 6 times" in page


def test_monitoring_categories_read_as_the_ons_and_hesa_word_them() -> None:
    labels = {q: [_label(v, q) for v in values] for q, _, values in MONITORING_QUESTIONS}

    assert "Asian, Asian British or Asian Welsh: Bangladeshi" in labels["ethnicity"]
    assert "White: English, Welsh, Scottish, Northern Irish or British" in labels["ethnicity"]
    assert "No religion" in labels["religion"]
    assert "Any other religion or belief" in labels["religion"]
    assert "Gay man" in labels["sexual_orientation"]
    assert "Gay woman/lesbian" in labels["sexual_orientation"]
    assert "65 and over" in labels["age_band"]
    every = [label for values in labels.values() for label in values]
    assert not [label for label in every if " - " in label or "_" in label]
    assert all(label[0].isupper() or label[0].isdigit() for label in every)
