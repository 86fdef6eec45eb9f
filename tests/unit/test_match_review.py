"""Changes to provisional matches: checked against the hard rules and, on the result, capacities."""

from __future__ import annotations

import pytest
from mentoring.models import Match, MatchChange, MatchChanges
from mentoring.review import ReviewError, change_matches

from tests.unit.factories import application, cohort, mentor
from tests.unit.fakes import MemoryStore

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.create_cohort(cohort(status="provisional"))
    return store


def add(store: MemoryStore, *apps: object) -> None:
    for app in apps:
        store.applications[(app.cohort_id, app.application_id)] = app  # type: ignore[attr-defined]


def pair(mentee_id: str, mentor_id: str) -> MatchChange:
    return MatchChange(action="pair", mentee_id=mentee_id, mentor_id=mentor_id)


def match(mentee_id: str, mentor_id: str) -> Match:
    return Match(cohort_id="cohort-a", mentee_id=mentee_id, mentor_id=mentor_id, score=1, explanation=[])


def test_a_change_that_overfills_a_mentor_is_refused_naming_the_change(store: MemoryStore) -> None:
    a, b = application(institution="KCL"), application(institution="QMUL")
    x = mentor(institution="UCL", capacity=1)
    add(store, a, b, x)
    store.put_results("cohort-a", [match(a.application_id, x.application_id)], [])

    with pytest.raises(ReviewError) as refused:
        change_matches(
            "cohort-a", MatchChanges(changes=[pair(b.application_id, x.application_id)]), store, store
        )

    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == ["changes.0"]
    assert "capacity is 1" in refused.value.errors[0].message
    assert [m.mentee_id for m in store.list_matches("cohort-a")] == [a.application_id]


def test_a_swap_is_checked_on_its_result_not_between_its_steps(store: MemoryStore) -> None:
    a, b = application(institution="KCL"), application(institution="QMUL")
    x, y = mentor(institution="UCL", capacity=1), mentor(institution="UAL", capacity=1)
    add(store, a, b, x, y)
    store.put_results(
        "cohort-a", [match(a.application_id, x.application_id), match(b.application_id, y.application_id)], []
    )

    swapped = change_matches(
        "cohort-a",
        MatchChanges(
            changes=[pair(a.application_id, y.application_id), pair(b.application_id, x.application_id)]
        ),
        store,
        store,
    )

    assert {(m.mentee_id, m.mentor_id) for m in swapped.matches} == {
        (a.application_id, y.application_id),
        (b.application_id, x.application_id),
    }
