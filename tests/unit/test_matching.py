"""Matching: hard rules always hold, capacity is respected, and no mentee is left out needlessly."""

from __future__ import annotations

import itertools
import random

import pytest
from mentoring.matching import match_cohort
from mentoring.models import Application
from mentoring.scheme import get_scheme

from tests.unit.factories import SCHEME_ID, application, mentor

pytestmark = pytest.mark.unit

SCHEME = get_scheme(SCHEME_ID)


def institutions(apps: list[Application]) -> dict[str, str | None]:
    return {a.application_id: a.applicant.institution for a in apps}


def test_never_pairs_people_from_the_same_institution() -> None:
    mentees = [application(institution="UCL"), application(institution="KCL")]
    mentors = [mentor(institution="UCL", capacity=2)]

    result = match_cohort(SCHEME, "c", mentees, mentors)

    where = institutions(mentees + mentors)
    assert [(where[m.mentee_id], where[m.mentor_id]) for m in result.matches] == [("KCL", "UCL")]


def test_mentor_capacity_is_the_smaller_of_theirs_and_the_schemes() -> None:
    mentees = [application(institution="KCL") for _ in range(5)]
    big = mentor(institution="UCL", capacity=3)  # the scheme allows 2

    result = match_cohort(SCHEME, "c", mentees, [big])

    assert len(result.matches) == 2
    assert len(result.unmatched_mentees) == 3
    assert {u.reason for u in result.unmatched_mentees} == {
        "the one eligible mentor who could be paired with them was needed for another mentee"
    }


def test_finds_the_arrangement_that_matches_everyone_where_greedy_would_not() -> None:
    # Greedy by score gives the KCL mentor to the UCL mentee (shared skill) and leaves the QMUL mentee,
    # whose only allowed mentor is the KCL one, without anyone. Both can be matched.
    flexible = application(application_id="a-flexible", institution="UCL", skills=("data",))
    constrained = application(application_id="b-constrained", institution="QMUL", skills=())
    kcl = mentor(application_id="m-kcl", institution="KCL", skills=("data",))
    qmul = mentor(application_id="m-qmul", institution="QMUL", skills=())

    result = match_cohort(SCHEME, "c", [flexible, constrained], [kcl, qmul])

    assert {(m.mentee_id, m.mentor_id) for m in result.matches} == {
        ("a-flexible", "m-qmul"),
        ("b-constrained", "m-kcl"),
    }


def test_same_input_in_any_order_gives_the_same_matches() -> None:
    rng = random.Random(7)
    mentees = [
        application(institution=rng.choice(["UCL", "KCL", "QMUL"]), skills=("data",)) for _ in range(8)
    ]
    mentors = [mentor(institution=rng.choice(["UCL", "KCL"]), skills=("data",)) for _ in range(4)]

    first = match_cohort(SCHEME, "c", mentees, mentors)
    shuffled = match_cohort(SCHEME, "c", rng.sample(mentees, len(mentees)), rng.sample(mentors, len(mentors)))

    assert first == shuffled


def test_unmatched_reasons_name_what_stood_in_the_way() -> None:
    lonely = application(institution="UCL")

    no_mentors = match_cohort(SCHEME, "c", [lonely], [])
    excluded = match_cohort(SCHEME, "c", [lonely], [mentor(institution="UCL")])

    assert no_mentors.unmatched_mentees[0].reason == "no eligible mentor applied to this cohort"
    assert excluded.unmatched_mentees[0].reason == (
        "the only eligible mentor could not be paired with them under the scheme's rules (1 eligible "
        "mentor ruled out by: Mentor and mentee work at different partner universities.)"
    )
    assert excluded.unmatched_mentees[0].outcome == "no_allowed_mentor"


def test_explanation_names_the_shared_skills_and_goals() -> None:
    mentee = application(institution="UCL", skills=("budgeting", "data"), goals=("promotion",))
    guide = mentor(institution="KCL", skills=("data", "strategy"), goals=("promotion",))

    (match,) = match_cohort(SCHEME, "c", [mentee], [guide]).matches

    assert match.score == 3
    assert "skills wanted and offered: data (+2)" in match.explanation
    assert "career goals: promotion (+1)" in match.explanation


def _brute_force_most_matches(mentees: list[Application], mentors: list[Application]) -> int:
    slots = [m for m in mentors for _ in range(min(m.profile.capacity, SCHEME.mentor_capacity_max))]
    best = 0
    for size in range(min(len(mentees), len(slots)), 0, -1):
        for chosen in itertools.combinations(mentees, size):
            for assignment in itertools.permutations(range(len(slots)), size):
                if all(
                    a.applicant.institution != slots[s].applicant.institution
                    for a, s in zip(chosen, assignment, strict=True)
                ):
                    return size
    return best


@pytest.mark.parametrize("seed", range(30))
def test_matches_as_many_mentees_as_any_arrangement_could(seed: int) -> None:
    rng = random.Random(seed)
    places = ["UCL", "KCL", "QMUL"]
    mentees = [application(institution=rng.choice(places)) for _ in range(rng.randint(1, 5))]
    mentors = [
        mentor(institution=rng.choice(places), capacity=rng.randint(1, 2)) for _ in range(rng.randint(1, 4))
    ]

    result = match_cohort(SCHEME, "c", mentees, mentors)

    assert len(result.matches) == _brute_force_most_matches(mentees, mentors)
    load: dict[str, int] = {}
    for m in result.matches:
        load[m.mentor_id] = load.get(m.mentor_id, 0) + 1
    capacity = {m.application_id: min(m.profile.capacity, 2) for m in mentors}
    assert all(load[k] <= capacity[k] for k in load)
    assert len({m.mentee_id for m in result.matches}) == len(result.matches)
    assert len(result.matches) + len(result.unmatched_mentees) == len(mentees)
