"""Eligibility: every rule of the applicant's role, each with a reason the applicant can read.

Monitoring answers are not an input here, by construction: the function never sees them. The
answers it does see are the scheme's own questions, which the form asks for this purpose.
"""

from __future__ import annotations

from collections.abc import Mapping

from mentoring.institutions import common_grade, institution_name
from mentoring.models import Answer, Applicant, Eligibility, Role, RuleOutcome
from mentoring.scheme import (
    AnswerIn,
    AnswersInclude,
    AnyOf,
    EligibilityRule,
    GradeBetween,
    InstitutionIn,
    Scheme,
    answers_of,
)


def _passes(
    rule: EligibilityRule, scheme: Scheme, applicant: Applicant, answers: Mapping[str, Answer]
) -> bool:
    match rule:
        case AnswerIn(question=question, values=values):
            given = answers.get(question)
            return isinstance(given, str | int) and str(given).casefold() in {v.casefold() for v in values}
        case AnswersInclude(question=question, values=values):
            return bool(answers_of(answers, question) & {v.casefold() for v in values})
        case GradeBetween(min=low, max=high):
            level = common_grade(applicant.institution, applicant.grade)
            return level is not None and low <= level <= high
        case InstitutionIn(institutions=codes):
            return applicant.institution in (codes or scheme.institutions)
        case AnyOf(rules=rules):
            return any(_passes(inner, scheme, applicant, answers) for inner in rules)
    raise AssertionError(f"unhandled rule {rule!r}")  # pragma: no cover - the union is closed


def _grade_note(applicant: Applicant) -> str:
    level = common_grade(applicant.institution, applicant.grade)
    where = institution_name(applicant.institution)
    if level is None:
        return f" (We could not place grade {applicant.grade} at {where} on the scheme's common scale.)"
    return f" (Grade {applicant.grade} at {where} is {level} on the scheme's common 1-10 scale.)"


def decide(scheme: Scheme, role: Role, applicant: Applicant, answers: Mapping[str, Answer]) -> Eligibility:
    definition = scheme.roles.get(role)
    if definition is None:
        outcome = RuleOutcome(rule="role", passed=False, reason=f"{scheme.name} has no {role.value} role.")
        return Eligibility(eligible=False, outcomes=[outcome])
    outcomes = []
    for rule in definition.eligibility:
        passed = _passes(rule, scheme, applicant, answers)
        reason = rule.passed if passed else rule.failed
        if isinstance(rule, GradeBetween):
            reason += _grade_note(applicant)
        outcomes.append(RuleOutcome(rule=rule.kind, passed=passed, reason=reason))
    return Eligibility(eligible=all(o.passed for o in outcomes), outcomes=outcomes)
