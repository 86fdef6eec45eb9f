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
from mentoring.scheme import PairingRule, Scheme


def broken_rules(rules: Sequence[PairingRule], mentee: Application, mentor: Application) -> list[str]:
    """The kinds of the hard rules this pair breaks (empty when the pair is allowed)."""
    broken: list[str] = []
    for rule in rules:
        match rule.kind:
            case "different_institution":
                ok = mentee.applicant.institution != mentor.applicant.institution
            case "different_department":
                ok = mentee.applicant.department.casefold() != mentor.applicant.department.casefold()
            case "mentor_grade_above":
                ok = mentor.applicant.grade > mentee.applicant.grade
        if not ok:
            broken.append(rule.kind)
    return broken


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    score: float
    explanation: tuple[str, ...]


def score_pair(scheme: Scheme, mentee: Application, mentor: Application) -> ScoredPair:
    score = 0.0
    explanation = []
    for criterion in scheme.scoring:
        wanted = set(getattr(mentee.profile, criterion.mentee_field))
        offered = set(getattr(mentor.profile, criterion.mentor_field))
        shared = sorted(wanted & offered)
        points = criterion.weight * len(shared)
        score += points
        if shared:
            explanation.append(f"{criterion.label}: {', '.join(shared)} (+{points:g})")
    explanation.extend(f"hard rule met: {rule.description}" for rule in scheme.pairing_rules)
    if not any(line for line in explanation if not line.startswith("hard rule")):
        explanation.insert(0, "no shared skills or goals; paired so that the mentee has a mentor")
    return ScoredPair(mentee.application_id, mentor.application_id, score, tuple(explanation))


def match_cohort(
    scheme: Scheme, cohort_id: str, mentees: Sequence[Application], mentors: Sequence[Application]
) -> MatchingResult:
    """Deterministic: the same applications always give the same matches."""
    mentees = sorted(mentees, key=lambda a: a.application_id)
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
    unmatched = []
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
