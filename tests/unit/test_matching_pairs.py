"""The cohort's pairs as array operations agree with the rules in plain Python, pair by pair.

For random cohorts of every scheme in ``shared/mentoring/schemes/`` (and of each scheme asking for
a stable matching, and with weights finer than whole numbers): the same allowed pairs with the
same scores, the same counts behind each unmatched mentee's reason, and the same result stored
(matches, scores, explanations, reasons). The plain-Python reference below is the matching step
as it was before the pairs were vectorised: every pair checked and scored one at a time.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentoring.matching import Cohort, Outcome, engine, match_cohort, result_of, rules
from mentoring.matching.pairs import CohortPairs, scores_unit
from mentoring.models import (
    Applicant,
    Application,
    Eligibility,
    MatchingProfile,
    MatchingResult,
    Role,
    SelfIdentification,
)
from mentoring.scheme import Question, Scheme, load_schemes

pytestmark = pytest.mark.unit

SCHEMES = sorted(load_schemes())
TAGS = ["data", "law", "policy", "equity"]
DEPARTMENTS = ["Finance", "finance", "Estates", "Registry"]
NOW = datetime(2027, 1, 10, tzinfo=UTC)


def variant(scheme_id: str, kind: str) -> Scheme:
    scheme = load_schemes()[scheme_id]
    if kind == "stable":
        return scheme.model_copy(update={"matching": "stable"})
    if kind == "fine weights":  # weights that are not whole millionths: the criterion-by-criterion path
        scoring = tuple(
            c.model_copy(update={"weight": w})
            for c, w in zip(scheme.scoring, (0.1, 1 / 3, 2.5), strict=False)
        )
        return scheme.model_copy(update={"scoring": scoring})
    return scheme


def email(n: int, shout: bool) -> str:
    local = f"person{n}"
    return f"{local.upper() if shout else local}@example.ac.uk"


def answer(rng: random.Random, question: Question, people: int) -> Any:
    match question.type:
        case "choice":
            return rng.choice(question.values)
        case "multi_choice":
            return rng.sample(question.values, rng.randint(0, min(3, len(question.values))))
        case "tags":
            return rng.sample(TAGS, rng.randint(0, 3))
        case "number":
            return rng.randint(question.min or 0, question.max or 0)
        case "email":  # someone in the cohort (a line manager, say), in any case
            return email(rng.randint(0, people), rng.random() < 0.5)
        case _:
            return rng.choice(["yes", "Yes", "no", "a b"])


def application(rng: random.Random, scheme: Scheme, role: Role, n: int, people: int) -> Application:
    answers: dict[str, dict[str, Any]] = {"eligibility": {}, "matching": {}}
    for question in scheme.questions_for(role):
        if rng.random() < 0.8:  # mostly answered
            answers[question.purpose][question.id] = answer(rng, question, people)
    return Application(
        application_id=f"{role.value}-{rng.randrange(10**6):07d}-{n}",
        cohort_id="c",
        scheme_id=scheme.id,
        role=role,
        channel="web_form",
        applicant=Applicant(
            given_name="A",
            family_name="B",
            email=email(n, rng.random() < 0.5),
            institution=rng.choice([*scheme.institutions, None]),
            department=rng.choice(DEPARTMENTS),
            job_title="Officer",
            grade="1",
        ),
        self_identification=SelfIdentification(**answers["eligibility"]),
        profile=MatchingProfile(**answers["matching"]),
        eligibility=Eligibility(eligible=True, outcomes=[]),
        common_grade=rng.choice([None, *range(1, 11)]),
        waiting_list=role is Role.MENTEE and rng.random() < 0.1,
        received_at=NOW,
    )


def cohort_of(rng: random.Random, scheme: Scheme) -> tuple[list[Application], list[Application]]:
    """A random cohort: generated from one seed that hypothesis explores (quicker than drawing
    every answer through hypothesis, and as reproducible)."""
    n, m = rng.randint(0, 9), rng.randint(0, 7)
    mentees = [application(rng, scheme, Role.MENTEE, k, n + m) for k in range(n)]
    mentors = [application(rng, scheme, Role.MENTOR, n + k, n + m) for k in range(m)]
    return mentees, mentors


# ---------------------------------------------------------------- the reference, in plain Python


def reference(
    scheme: Scheme, mentees: list[Application], mentors: list[Application]
) -> tuple[dict[tuple[int, int], int], list[tuple[int, Counter[str]]], MatchingResult]:
    """Every pair checked and scored one at a time; then the same engine and the same result."""
    cohort = Cohort.of(scheme, mentees, mentors)
    mentee_views = [rules.Person.of(a) for a in cohort.mentees]
    mentor_views = [rules.Person.of(a) for a in cohort.mentors]  # its own views, not the cohort's
    scored: dict[tuple[int, int], float] = {}
    excluded: list[Counter[str]] = [Counter() for _ in mentee_views]
    for i, mentee in enumerate(mentee_views):
        for j, mentor in enumerate(mentor_views):
            broken = rules.broken(scheme.pairing_rules, mentee, mentor)
            if broken:
                excluded[i].update(broken)
            else:
                scored[(i, j)] = rules.score(scheme, mentee, mentor)
    pairs = engine.Pairs.of([i for i, _ in scored], [j for _, j in scored], list(scored.values()))
    n = len(cohort.mentees)
    if scheme.matching == "stable":
        solution = engine.stable(n, cohort.capacity, pairs)
    else:
        solution = engine.solve(n, cohort.capacity, pairs, unit=scores_unit(scheme.scoring))
    outcome = Outcome(
        [None if j == engine.UNMATCHED else j for j in solution.mentor_of.tolist()],
        solution.certified_optimal if scheme.matching == "optimal" else None,
    )
    allowed = Counter(i for i, _ in scored)
    exclusions = [(allowed[i], excluded[i]) for i in range(n)]
    unmatched = {i: exclusions[i] for i, j in enumerate(outcome.mentor_of) if j is None}
    millionths = {key: round(value * engine.SCALE) for key, value in scored.items()}
    return millionths, exclusions, result_of(scheme, "c", cohort, outcome, unmatched)


def as_millionths(pairs: engine.Pairs) -> dict[tuple[int, int], int]:
    keys = zip(pairs.mentee.tolist(), pairs.mentor.tolist(), strict=True)
    return dict(zip(keys, np.rint(pairs.score * engine.SCALE).astype(int).tolist(), strict=True))


def vectorised_pairs(scheme: Scheme, cohort: Cohort, block_cells: int) -> CohortPairs:
    return CohortPairs(
        scheme,
        [rules.Person.of(a) for a in cohort.mentees],
        [rules.Person.of(a) for a in cohort.mentors],
        block_cells=block_cells,
    )


# ---------------------------------------------------------------- the properties


@pytest.mark.parametrize("kind", ["as defined", "stable", "fine weights"])
@pytest.mark.parametrize("scheme_id", SCHEMES)
def test_the_array_pairs_agree_with_the_rules_pair_by_pair(scheme_id: str, kind: str) -> None:
    scheme = variant(scheme_id, kind)

    @given(st.randoms(use_true_random=False), st.integers(1, 40))
    @settings(max_examples=40 if kind == "as defined" else 20, deadline=None)
    def check(rng: random.Random, block_cells: int) -> None:
        mentees, mentors = cohort_of(rng, scheme)
        cohort = Cohort.of(scheme, mentees, mentors)
        pairs = vectorised_pairs(scheme, cohort, block_cells)

        expected_pairs, expected_exclusions, expected = reference(scheme, mentees, mentors)

        assert as_millionths(pairs.pairs()) == expected_pairs
        assert pairs.exclusions(range(len(cohort.mentees))) == expected_exclusions
        assert match_cohort(scheme, "c", mentees, mentors) == expected

    check()


def test_national_sized_blocks_prune_and_still_agree() -> None:
    """Enough mentors that each mentee's best 24 are a choice, in many small blocks."""
    scheme = load_schemes()["b-mentor-professional"]
    rng = np.random.default_rng(5)

    def person(n: int, role: Role) -> Application:
        return Application(
            application_id=f"{role.value}-{n:04d}", cohort_id="c", scheme_id=scheme.id, role=role,
            channel="web_form",
            applicant=Applicant(given_name="A", family_name="B", email=email(n, False),
                                institution=str(rng.choice(scheme.institutions)), department="Finance",
                                job_title="Officer", grade="6"),
            self_identification=SelfIdentification(),
            profile=MatchingProfile(skills=list(rng.choice(TAGS, 2, replace=False)),
                                    career_goals=[str(rng.choice(list(string.ascii_lowercase[:6])))],
                                    **({"capacity": int(rng.integers(1, 3))} if role is Role.MENTOR else {})),
            eligibility=Eligibility(eligible=True, outcomes=[]), common_grade=6, received_at=NOW,
        )  # fmt: skip

    mentees = [person(k, Role.MENTEE) for k in range(150)]
    mentors = [person(150 + k, Role.MENTOR) for k in range(60)]
    cohort = Cohort.of(scheme, mentees, mentors)

    expected_pairs, _, expected = reference(scheme, mentees, mentors)
    listed = vectorised_pairs(scheme, cohort, block_cells=600).pairs()

    assert len(listed) == len(expected_pairs) > 24 * len(mentees)
    assert match_cohort(scheme, "c", mentees, mentors) == expected
    assert expected.certified_optimal is True
