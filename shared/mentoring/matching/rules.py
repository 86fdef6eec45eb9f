"""The scheme's hard rules and scores for one pair, in plain Python: what they mean.

Used where pairs come one at a time: each match's explanation, a coordinator's change at review,
and, in the tests, as the reference that the cohort-wide array version (``mentoring.matching.pairs``)
must agree with on every pair.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mentoring.models import Application
from mentoring.scheme import PairingRule, Scheme, ScoringCriterion, answer_values


@dataclass(frozen=True)
class Person:
    """What the hard rules and the scores read of an application, worked out once per person."""

    institution: str | None
    department: str
    grade: int
    email: str
    answers: dict[str, frozenset[str]]

    @classmethod
    def of(cls, application: Application, questions: Collection[str] | None = None) -> Person:
        """``questions``: only the answers to these (the ones the scheme's rules and scores read)."""
        given = {**application.self_identification.answers, **application.profile.answers}
        return cls(
            application.applicant.institution,
            application.applicant.department.casefold(),
            application.common_grade or 0,
            application.applicant.email.casefold(),
            {
                question: frozenset(answer_values(value))
                for question, value in given.items()
                if questions is None or question in questions
            },
        )

    def values(self, question: str | None) -> frozenset[str]:
        return self.answers.get(question or "", frozenset())


def questions_read(scheme: Scheme) -> frozenset[str]:
    """The questions whose answers the scheme's hard rules and scores read."""
    read = {q for r in scheme.pairing_rules for q in (r.question, r.mentee_question, r.mentor_question)}
    read |= {q for c in scheme.scoring for q in (c.mentee_question, c.mentor_question)}
    return frozenset(q for q in read if q is not None)


def allowed(rule: PairingRule, mentee: Person, mentor: Person) -> bool:
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


def broken(rules: Sequence[PairingRule], mentee: Person, mentor: Person) -> list[str]:
    """The kinds of the hard rules this pair breaks (empty when the pair is allowed)."""
    return [rule.kind for rule in rules if not allowed(rule, mentee, mentor)]


def broken_rules(rules: Sequence[PairingRule], mentee: Application, mentor: Application) -> list[str]:
    return broken(rules, Person.of(mentee), Person.of(mentor))


def shared(criterion: ScoringCriterion, mentee: Person, mentor: Person) -> tuple[float, list[str]]:
    """The criterion's points for the pair, and the answers that earned them."""
    wanted, offered = mentee.values(criterion.mentee_question), mentor.values(criterion.mentor_question)
    if criterion.kind == "same":
        return (criterion.weight, sorted(wanted)) if wanted and wanted == offered else (0.0, [])
    common = sorted(wanted & offered)
    return criterion.weight * len(common), common


def score(scheme: Scheme, mentee: Person, mentor: Person) -> float:
    return sum(shared(criterion, mentee, mentor)[0] for criterion in scheme.scoring)


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    score: float
    explanation: tuple[str, ...]


def score_pair(scheme: Scheme, mentee: Application, mentor: Application) -> ScoredPair:
    """The pair's score, and one line for each criterion that added to it, with its points."""
    total, explanation = explain(scheme, Person.of(mentee), Person.of(mentor))
    return ScoredPair(mentee.application_id, mentor.application_id, total, explanation)


def explain(scheme: Scheme, mentee: Person, mentor: Person) -> tuple[float, tuple[str, ...]]:
    total = 0.0
    explanation = []
    for criterion in scheme.scoring:
        points, common = shared(criterion, mentee, mentor)
        total += points
        if points:
            question = scheme.question(criterion.mentee_question)
            labels = {c.value.casefold(): c.label for c in question.choices} if question else {}
            explanation.append(
                f"{criterion.label}: {', '.join(labels.get(v, v) for v in common)} (+{points:g})"
            )
    if not explanation:
        explanation.append(
            "no answers in common to the matching questions; paired so that every mentee has a mentor"
        )
    explanation.extend(rule.description for rule in scheme.pairing_rules)
    return total, tuple(explanation)
