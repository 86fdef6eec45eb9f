"""Matching at the deadline: allowed pairs from the scheme's hard rules, scored, then assigned.

The assignment is a maximum-cardinality matching with mentor capacities (augmenting paths),
trying each mentee's better-scored mentors first, so that no mentee is left unmatched while an
allowed arrangement would have matched them. It does not yet maximise the total score; that is
the optimal engine's job (see the README's roadmap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mentoring.models import Application, Match, MatchingResult, UnmatchedMentee
from mentoring.scheme import PairingRule, Scheme, ScoringCriterion, answer_values


def _allowed(rule: PairingRule, mentee: Application, mentor: Application) -> bool:
    match rule.kind:
        case "different_institution":
            return mentee.applicant.institution != mentor.applicant.institution
        case "different_department":
            return mentee.applicant.department.casefold() != mentor.applicant.department.casefold()
        case "mentor_grade_above":
            return _grade(mentor) > _grade(mentee)
        case "mentee_grade_above":
            return _grade(mentee) > _grade(mentor)
        case "not_line_manager":
            question = rule.question or ""
            return mentor.applicant.email.casefold() not in _answers(mentee, question) and (
                mentee.applicant.email.casefold() not in _answers(mentor, question)
            )
        case "shares_answer":
            return bool(
                _answers(mentee, rule.mentee_question or "") & _answers(mentor, rule.mentor_question or "")
            )
    raise AssertionError(f"unhandled pairing rule {rule.kind}")  # pragma: no cover - closed Literal


def _grade(application: Application) -> int:
    return application.common_grade or 0


def _answers(application: Application, question: str) -> set[str]:
    given = application.profile.answer(question)
    if given is None:
        given = application.self_identification.answer(question)
    return answer_values(given)


def broken_rules(rules: Sequence[PairingRule], mentee: Application, mentor: Application) -> list[str]:
    """The kinds of the hard rules this pair breaks (empty when the pair is allowed)."""
    return [rule.kind for rule in rules if not _allowed(rule, mentee, mentor)]


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    score: float
    explanation: tuple[str, ...]


def _points(
    scheme: Scheme, criterion: ScoringCriterion, mentee: Application, mentor: Application
) -> tuple[float, str]:
    wanted = _answers(mentee, criterion.mentee_question)
    offered = _answers(mentor, criterion.mentor_question)
    question = scheme.question(criterion.mentee_question)
    labels = {c.value.casefold(): c.label for c in question.choices} if question else {}
    if criterion.kind == "same":
        shared = sorted(wanted) if wanted and wanted == offered else []
        points = criterion.weight if shared else 0.0
    else:
        shared = sorted(wanted & offered)
        points = criterion.weight * len(shared)
    return points, ", ".join(labels.get(value, value) for value in shared)


def score_pair(scheme: Scheme, mentee: Application, mentor: Application) -> ScoredPair:
    """The pair's score, and one line for each criterion that added to it, with its points."""
    score = 0.0
    explanation = []
    for criterion in scheme.scoring:
        points, shared = _points(scheme, criterion, mentee, mentor)
        score += points
        if points:
            explanation.append(f"{criterion.label}: {shared} (+{points:g})")
    if not explanation:
        explanation.append(
            "no shared answers to the matching questions; paired so that the mentee has a mentor"
        )
    explanation.extend(f"hard rule met: {rule.description}" for rule in scheme.pairing_rules)
    return ScoredPair(mentee.application_id, mentor.application_id, score, tuple(explanation))


def match_cohort(
    scheme: Scheme, cohort_id: str, mentees: Sequence[Application], mentors: Sequence[Application]
) -> MatchingResult:
    """Deterministic: the same applications always give the same matches."""
    waiting = sorted((a for a in mentees if a.waiting_list), key=lambda a: a.application_id)
    mentees = sorted((a for a in mentees if not a.waiting_list), key=lambda a: a.application_id)
    mentors = sorted(mentors, key=lambda a: a.application_id)
    capacity = {m.application_id: min(m.profile.capacity, scheme.mentor_capacity_max) for m in mentors}
    options: dict[str, list[ScoredPair]] = {}
    exclusions: dict[str, set[str]] = {}
    for mentee in mentees:
        allowed = []
        for mentor in mentors:
            broken = broken_rules(scheme.pairing_rules, mentee, mentor)
            if broken:
                exclusions.setdefault(mentee.application_id, set()).update(broken)
            else:
                allowed.append(score_pair(scheme, mentee, mentor))
        allowed.sort(key=lambda p: (-p.score, p.mentor_id))
        options[mentee.application_id] = allowed

    assigned: dict[str, ScoredPair] = {}  # mentee id -> pair
    load: dict[str, list[str]] = {mentor_id: [] for mentor_id in capacity}

    def augment(mentee_id: str, visited: set[str]) -> bool:
        for pair in options[mentee_id]:
            if pair.mentor_id in visited:
                continue
            visited.add(pair.mentor_id)
            holders = load[pair.mentor_id]
            if len(holders) < capacity[pair.mentor_id]:
                holders.append(mentee_id)
                assigned[mentee_id] = pair
                return True
            for holder in list(holders):
                if augment(holder, visited):
                    holders.remove(holder)
                    holders.append(mentee_id)
                    assigned[mentee_id] = pair
                    return True
        return False

    # Mentees with the fewest options go first so that the greedy start needs fewer repairs.
    for mentee in sorted(mentees, key=lambda a: (len(options[a.application_id]), a.application_id)):
        augment(mentee.application_id, set())

    matches = [
        Match(
            cohort_id=cohort_id,
            mentee_id=pair.mentee_id,
            mentor_id=pair.mentor_id,
            score=pair.score,
            explanation=list(pair.explanation),
        )
        for pair in sorted(assigned.values(), key=lambda p: p.mentee_id)
    ]
    unmatched = [
        UnmatchedMentee(
            application_id=a.application_id,
            reason="the cohort was full when you applied, so your application is on its waiting list",
        )
        for a in waiting
    ]
    for mentee in mentees:
        if mentee.application_id in assigned:
            continue
        if not mentors:
            reason = "no eligible mentor applied to this cohort"
        elif not options[mentee.application_id]:
            rules = ", ".join(sorted(exclusions[mentee.application_id]))
            reason = f"no allowed mentor: every eligible mentor was excluded by the hard rules ({rules})"
        else:
            reason = "every allowed mentor was already at capacity"
        unmatched.append(UnmatchedMentee(application_id=mentee.application_id, reason=reason))
    unmatched_mentors = [m for m in capacity if not load[m]]
    return MatchingResult(
        matches=matches, unmatched_mentees=unmatched, unmatched_mentor_ids=unmatched_mentors
    )
