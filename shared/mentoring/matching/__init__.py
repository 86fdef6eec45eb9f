"""Matching at the deadline: allowed pairs from the scheme's hard rules, scored, then assigned.

The assignment is the engine's (``mentoring.matching.engine``): the most mentees matched, then the
largest total score, certified optimal; or a stable matching when the scheme asks for one. The
pairs come from ``mentoring.matching.pairs`` (every rule and score as array operations over the
whole cohort); each match is explained criterion by criterion (``mentoring.matching.rules``), and
each unmatched mentee is told why: both only for the result.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from mentoring.matching.rules import Person, ScoredPair, broken_rules, explain, questions_read, score_pair
from mentoring.models import Application, Match, MatchingResult, UnmatchedMentee
from mentoring.scheme import Scheme

__all__ = ["Cohort", "Outcome", "ScoredPair", "broken_rules", "match_cohort", "result_of", "score_pair"]

WAITING = "applied when the cohort was full, so was on its waiting list"


@dataclass(frozen=True)
class Cohort:
    """The people matching works on, in the order it works on them (by application id, so the
    same applications in any order give the same matches)."""

    mentees: list[Application]
    mentors: list[Application]
    waiting: list[Application]
    capacity: list[int]
    questions: frozenset[str]

    @classmethod
    def of(cls, scheme: Scheme, mentees: Sequence[Application], mentors: Sequence[Application]) -> Cohort:
        ordered = sorted(mentors, key=lambda a: a.application_id)
        return cls(
            mentees=sorted((a for a in mentees if not a.waiting_list), key=lambda a: a.application_id),
            mentors=ordered,
            waiting=sorted((a for a in mentees if a.waiting_list), key=lambda a: a.application_id),
            capacity=[min(m.profile.capacity, scheme.mentor_capacity_max) for m in ordered],
            questions=questions_read(scheme),
        )

    @cached_property
    def mentee_views(self) -> list[Person]:
        return [Person.of(a, self.questions) for a in self.mentees]

    @cached_property
    def mentor_views(self) -> list[Person]:
        return [Person.of(a, self.questions) for a in self.mentors]


@dataclass(frozen=True)
class Outcome:
    """The engine's answer: each mentee's mentor's index (or None), and whether it is proved."""

    mentor_of: list[int | None]
    certified_optimal: bool | None


def match_cohort(
    scheme: Scheme, cohort_id: str, mentees: Sequence[Application], mentors: Sequence[Application]
) -> MatchingResult:
    """The scheme's matching for a cohort: the optimal engine (or a stable matching, if the scheme
    asks for one) over the pairs its hard rules allow. Deterministic: the same applications always
    give the same matches."""
    # Imported here: numpy and scipy are in the matching function's layer only, while the rules
    # and explanations are also used by the coordinators' review in the admin function.
    from mentoring.matching.pairs import solve_cohort  # noqa: PLC0415

    with _collector_paused():
        cohort = Cohort.of(scheme, mentees, mentors)
        outcome, exclusions = solve_cohort(scheme, cohort)
        return result_of(scheme, cohort_id, cohort, outcome, exclusions)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A national cohort is hundreds of thousands of Python objects (the applications): the cyclic
    garbage collector would walk them all, again and again, as matching allocates. Matching makes
    no reference cycles worth collecting, so the collector waits until it ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def result_of(
    scheme: Scheme,
    cohort_id: str,
    cohort: Cohort,
    outcome: Outcome,
    exclusions: dict[int, tuple[int, Counter[str]]],
) -> MatchingResult:
    """The stored result: each match explained, each unmatched mentee with the reason (from how many
    mentors the rules allowed them, and what excluded the others)."""
    matches = []
    for i, (mentee, j) in enumerate(zip(cohort.mentees, outcome.mentor_of, strict=True)):
        if j is not None:
            score, explanation = explain(scheme, cohort.mentee_views[i], cohort.mentor_views[j])
            matches.append(
                Match(
                    cohort_id=cohort_id,
                    mentee_id=mentee.application_id,
                    mentor_id=cohort.mentors[j].application_id,
                    score=score,
                    explanation=list(explanation),
                )
            )
    unmatched = [
        UnmatchedMentee(application_id=a.application_id, reason=WAITING, outcome="waiting_list")
        for a in cohort.waiting
    ]
    described: dict[str, str] = {rule.kind: rule.description for rule in scheme.pairing_rules}
    for i, mentee in enumerate(cohort.mentees):
        if outcome.mentor_of[i] is None:
            allowed, excluded = exclusions[i]
            unmatched.append(
                _why_unmatched(mentee.application_id, len(cohort.mentors), allowed, excluded, described)
            )
    matched_mentors = {j for j in outcome.mentor_of if j is not None}
    return MatchingResult(
        matches=matches,
        unmatched_mentees=unmatched,
        unmatched_mentor_ids=[
            m.application_id for j, m in enumerate(cohort.mentors) if j not in matched_mentors
        ],
        policy=scheme.matching,
        certified_optimal=outcome.certified_optimal,
    )


def _why_unmatched(
    application_id: str, mentors: int, allowed: int, excluded: Counter[str], described: dict[str, str]
) -> UnmatchedMentee:
    """Why a mentee has no mentor, in words: for the coordinator with the numbers, and the outcome
    and rules that the mentee's own email turns into plain sentences."""
    rules = [described[kind] for kind in sorted(excluded)]
    ruled_out = "; ".join(
        f"{_mentors(excluded[kind])} ruled out by: {described[kind]}" for kind in sorted(excluded)
    )
    if mentors == 0:
        return UnmatchedMentee(
            application_id=application_id,
            reason="no eligible mentor applied to this cohort",
            outcome="no_mentor",
        )
    if allowed == 0:
        who = "the only eligible mentor" if mentors == 1 else f"none of the {_mentors(mentors)}"
        return UnmatchedMentee(
            application_id=application_id,
            reason=f"{who} could {'not ' if mentors == 1 else ''}be paired with them under the scheme's "
            f"rules ({ruled_out})",
            outcome="no_allowed_mentor",
            excluded_by=rules,
        )
    needed = (
        "the one eligible mentor who could be paired with them was needed for another mentee"
        if allowed == 1
        else f"the {_mentors(allowed)} who could be paired with them were all needed for other mentees"
    )
    return UnmatchedMentee(
        application_id=application_id, reason=needed, outcome="mentors_taken", excluded_by=rules
    )


def _mentors(n: int) -> str:
    return f"{n} eligible mentor" + ("" if n == 1 else "s")
