"""Eligibility: every rule of the applicant's role, each with a reason the applicant can read.

Monitoring answers are not an input here, by construction: the function never sees them.
"""

from __future__ import annotations

from mentoring.models import Applicant, Eligibility, Role, RuleOutcome, SelfIdentification
from mentoring.scheme import AnswerIn, EligibilityRule, GradeBetween, InstitutionIn, Scheme


def _passes(rule: EligibilityRule, scheme: Scheme, applicant: Applicant, answers: SelfIdentification) -> bool:
    match rule:
        case AnswerIn(question=question, values=values):
            return getattr(answers, question) in values
        case GradeBetween(min=low, max=high):
            return low <= applicant.grade <= high
        case InstitutionIn():
            return applicant.institution in scheme.institutions
    raise AssertionError(f"unhandled rule {rule!r}")  # pragma: no cover - the union is closed


def decide(scheme: Scheme, role: Role, applicant: Applicant, answers: SelfIdentification) -> Eligibility:
    definition = scheme.roles.get(role)
    if definition is None:
        outcome = RuleOutcome(rule="role", passed=False, reason=f"{scheme.name} has no {role.value} role.")
        return Eligibility(eligible=False, outcomes=[outcome])
    outcomes = []
    for rule in definition.eligibility:
        passed = _passes(rule, scheme, applicant, answers)
        outcomes.append(
            RuleOutcome(rule=rule.kind, passed=passed, reason=rule.passed if passed else rule.failed)
        )
    return Eligibility(eligible=all(o.passed for o in outcomes), outcomes=outcomes)
