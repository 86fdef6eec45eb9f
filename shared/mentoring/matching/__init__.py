"""Matching at the deadline: allowed pairs from the scheme's hard rules, scored, then assigned.

The assignment is the engine's (``mentoring.matching.engine``): the most mentees matched, then the
largest total score, certified optimal; or a stable matching when the scheme asks for one. Each
match is explained criterion by criterion, and each unmatched mentee is told why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mentoring.models import Application, Match, MatchingResult, UnmatchedMentee
from mentoring.scheme import PairingRule, Scheme, ScoringCriterion, answer_values


@dataclass(frozen=True)
class _Person:
    """What the hard rules and the scores read of an application, worked out once per person."""

    institution: str | None
    department: str
    grade: int
    email: str
    answers: dict[str, frozenset[str]]

    @classmethod
    def of(cls, application: Application) -> _Person:
        given = {**application.self_identification.answers, **application.profile.answers}
        return cls(
            application.applicant.institution,
            application.applicant.department.casefold(),
            application.common_grade or 0,
            application.applicant.email.casefold(),
            {question: frozenset(answer_values(value)) for question, value in given.items()},
        )

    def values(self, question: str | None) -> frozenset[str]:
        return self.answers.get(question or "", frozenset())


def _allowed(rule: PairingRule, mentee: _Person, mentor: _Person) -> bool:
    match rule.kind:
        case "different_institution":
            return mentee.institution != mentor.institution
        case "different_department":
            return mentee.department != mentor.department
        case "mentor_grade_above":
            return mentor.grade > mentee.grade
        case "mentee_grade_above":
            return mentee.grade > mentor.grade
        case "not_line_manager":
            return mentor.email not in mentee.values(rule.question) and mentee.email not in mentor.values(
                rule.question
            )
        case "shares_answer":
            return bool(mentee.values(rule.mentee_question) & mentor.values(rule.mentor_question))
    raise AssertionError(f"unhandled pairing rule {rule.kind}")  # pragma: no cover - closed Literal


def broken_rules(rules: Sequence[PairingRule], mentee: Application, mentor: Application) -> list[str]:
    """The kinds of the hard rules this pair breaks (empty when the pair is allowed)."""
    return _broken(rules, _Person.of(mentee), _Person.of(mentor))


def _broken(rules: Sequence[PairingRule], mentee: _Person, mentor: _Person) -> list[str]:
    return [rule.kind for rule in rules if not _allowed(rule, mentee, mentor)]


def _shared(criterion: ScoringCriterion, mentee: _Person, mentor: _Person) -> tuple[float, list[str]]:
    wanted, offered = mentee.values(criterion.mentee_question), mentor.values(criterion.mentor_question)
    if criterion.kind == "same":
        return (criterion.weight, sorted(wanted)) if wanted and wanted == offered else (0.0, [])
    shared = sorted(wanted & offered)
    return criterion.weight * len(shared), shared


def _score(scheme: Scheme, mentee: _Person, mentor: _Person) -> float:
    return sum(_shared(criterion, mentee, mentor)[0] for criterion in scheme.scoring)


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    score: float
    explanation: tuple[str, ...]


def score_pair(scheme: Scheme, mentee: Application, mentor: Application) -> ScoredPair:
    """The pair's score, and one line for each criterion that added to it, with its points."""
    a, b = _Person.of(mentee), _Person.of(mentor)
    score = 0.0
    explanation = []
    for criterion in scheme.scoring:
        points, shared = _shared(criterion, a, b)
        score += points
        if points:
            question = scheme.question(criterion.mentee_question)
            labels = {c.value.casefold(): c.label for c in question.choices} if question else {}
            explanation.append(
                f"{criterion.label}: {', '.join(labels.get(v, v) for v in shared)} (+{points:g})"
            )
    if not explanation:
        explanation.append(
            "no answers in common to the matching questions; paired so that every mentee has a mentor"
        )
    explanation.extend(rule.description for rule in scheme.pairing_rules)
    return ScoredPair(mentee.application_id, mentor.application_id, score, tuple(explanation))


def match_cohort(
    scheme: Scheme, cohort_id: str, mentees: Sequence[Application], mentors: Sequence[Application]
) -> MatchingResult:
    """The scheme's matching for a cohort: the optimal engine (or a stable matching, if the scheme
    asks for one) over the pairs its hard rules allow. Deterministic: the same applications always
    give the same matches."""
    # Imported here: the solver (numpy, scipy) is in the matching function's layer only, while the
    # rules and scores above are also used by the coordinators' review in the admin function.
    from mentoring.matching import engine  # noqa: PLC0415

    waiting = sorted((a for a in mentees if a.waiting_list), key=lambda a: a.application_id)
    mentees = sorted((a for a in mentees if not a.waiting_list), key=lambda a: a.application_id)
    mentors = sorted(mentors, key=lambda a: a.application_id)
    capacity = [min(m.profile.capacity, scheme.mentor_capacity_max) for m in mentors]
    mentee_views, mentor_views = [_Person.of(a) for a in mentees], [_Person.of(a) for a in mentors]
    scored: dict[tuple[int, int], float] = {}
    excluded: list[Counter[str]] = [Counter() for _ in mentees]
    for i, mentee_view in enumerate(mentee_views):
        for j, mentor_view in enumerate(mentor_views):
            broken = _broken(scheme.pairing_rules, mentee_view, mentor_view)
            if broken:
                excluded[i].update(broken)
            else:
                scored[(i, j)] = _score(scheme, mentee_view, mentor_view)
    pairs = engine.Pairs.of([i for i, _ in scored], [j for _, j in scored], list(scored.values()))
    if scheme.matching == "stable":
        solution = engine.stable(len(mentees), capacity, pairs)
    else:
        # Large cohorts: each mentee's best pairs first, then the proof adds back any that matter.
        solution = engine.solve(
            len(mentees), capacity, pairs, candidates=24 if len(pairs) > 200_000 else None
        )
    matches = []
    for mentee, j in zip(mentees, solution.mentor_of.tolist(), strict=True):
        if j != engine.UNMATCHED:
            pair = score_pair(scheme, mentee, mentors[j])
            matches.append(
                Match(
                    cohort_id=cohort_id,
                    mentee_id=mentee.application_id,
                    mentor_id=pair.mentor_id,
                    score=pair.score,
                    explanation=list(pair.explanation),
                )
            )
    unmatched = [
        UnmatchedMentee(
            application_id=a.application_id,
            reason="applied when the cohort was full, so was on its waiting list",
            outcome="waiting_list",
        )
        for a in waiting
    ]
    allowed_count = Counter(i for i, _ in scored)
    described: dict[str, str] = {rule.kind: rule.description for rule in scheme.pairing_rules}
    for i, mentee in enumerate(mentees):
        if solution.mentor_of[i] != engine.UNMATCHED:
            continue
        unmatched.append(
            _why_unmatched(mentee.application_id, len(mentors), allowed_count[i], excluded[i], described)
        )
    matched_mentors = set(solution.mentor_of[solution.mentor_of != engine.UNMATCHED].tolist())
    return MatchingResult(
        matches=matches,
        unmatched_mentees=unmatched,
        unmatched_mentor_ids=[m.application_id for j, m in enumerate(mentors) if j not in matched_mentors],
        policy=scheme.matching,
        certified_optimal=solution.certified_optimal if scheme.matching == "optimal" else None,
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
