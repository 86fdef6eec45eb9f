"""Answers to a scheme's questions, checked against its definition.

The submission model checks the shape every scheme shares; this checks what only the cohort's
scheme knows: which questions a role answers, which are required, and what a valid answer is.
Every problem names its field; no message repeats the answer (it may be sensitive).
"""

from __future__ import annotations

from collections.abc import Iterator

from email_validator import EmailNotValidError, validate_email

from mentoring.institutions import load_institutions
from mentoring.models import Answer, ApplicationSubmission, FieldError, Role
from mentoring.scheme import Question, Scheme

SECTIONS = {"eligibility": "self_identification", "matching": "profile"}


def field_name(question: Question) -> str:
    """The question's dotted name in a submission (and on the form)."""
    return f"{SECTIONS[question.purpose]}.{question.id}"


def form_field_kinds(scheme: Scheme) -> dict[str, str]:
    """How a form post's text becomes an answer: ``list`` (comma separated or repeated) or ``number``."""
    kinds = {}
    for question in scheme.questions:
        if question.is_list:
            kinds[field_name(question)] = "list"
        elif question.type == "number":
            kinds[field_name(question)] = "number"
    return kinds


def _role_name(role: Role, scheme: Scheme) -> str:
    definition = scheme.roles.get(role)
    return definition.label.lower() if definition else role.value


def _check(question: Question, value: Answer) -> str | None:
    """What is wrong with one answer, or None."""
    match question.type:
        case "choice":
            if not isinstance(value, str) or value not in question.values:
                return "must be one of: " + ", ".join(question.values)
        case "multi_choice":
            if not isinstance(value, list):
                return "must be a list of choices"
            unknown = [v for v in value if v not in question.values]
            if unknown:
                return "every item must be one of: " + ", ".join(question.values)
        case "tags":
            if not isinstance(value, list):
                return "must be a list of short words or phrases"
        case "text":
            if not isinstance(value, str):
                return "must be text"
        case "email":
            if not isinstance(value, str):
                return "must be an email address"
            try:
                validate_email(value, check_deliverability=False)
            except EmailNotValidError:
                return "must be a valid email address"
        case "number":
            if not isinstance(value, int) or isinstance(value, bool):
                return "must be a whole number"
            if (
                question.min is not None
                and question.max is not None
                and not (question.min <= value <= question.max)
            ):
                return f"must be from {question.min} to {question.max}"
    if isinstance(value, list) and question.max is not None and len(value) > question.max:
        return f"give at most {question.max}"
    return None


def check_answers(
    scheme: Scheme, submission: ApplicationSubmission, institution: str | None, prefix: str = ""
) -> list[FieldError]:
    return [
        FieldError(field=f"{prefix}{field}", message=message)
        for field, message in _problems(scheme, submission, institution)
    ]


def _problems(
    scheme: Scheme, submission: ApplicationSubmission, institution: str | None
) -> Iterator[tuple[str, str]]:
    role = submission.role
    if role not in scheme.roles:
        yield (
            "role",
            f"{scheme.name} has no {role.value} role; its roles are "
            + ", ".join(r.value for r in scheme.roles),
        )
        return
    given = {
        "self_identification": submission.self_identification.answers,
        "profile": submission.profile.answers,
    }
    for section, answers in given.items():
        for question_id, value in answers.items():
            field = f"{section}.{question_id}"
            question = scheme.question(question_id)
            if question is None or SECTIONS[question.purpose] != section:
                yield field, f"is not a question of {scheme.name}"
            elif role not in question.roles:
                asked = " and ".join(_role_name(r, scheme) + "s" for r in question.roles)
                yield field, f"is asked of {asked} only"
            elif value not in ("", []) and (problem := _check(question, value)) is not None:
                yield field, problem
    for question in scheme.questions_for(role):
        section = SECTIONS[question.purpose]
        if question.required and given[section].get(question.id) in (None, "", []):
            yield field_name(question), "is required"
    yield from _grade_problems(submission, institution)


def _grade_problems(submission: ApplicationSubmission, institution: str | None) -> Iterator[tuple[str, str]]:
    known = load_institutions().get(institution or "")
    if known is not None and known.common_grade(submission.applicant.grade) is None:
        grades = ", ".join(known.grades)
        yield "applicant.grade", f"is not a grade at {institution}; its grades are {grades}"
