"""Accepting submissions: check their shape and their cohort, then hand them to the intake queue.

Errors name the field and the reason and never echo what was sent (it may be special-category data).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError

from mentoring.answers import check_answers
from mentoring.models import (
    Accepted,
    ApplicationSubmission,
    Cohort,
    CohortStatus,
    FieldError,
    IntakeMessage,
    PartnerBatch,
    Role,
)
from mentoring.ports import CohortStore, IntakeQueue
from mentoring.scheme import get_scheme

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


class SubmissionError(ValueError):
    """A submission the sender can fix: ``errors`` say which field and why."""

    def __init__(self, message: str, errors: Sequence[FieldError] = (), status: int = 422) -> None:
        super().__init__(message)
        self.errors = list(errors)
        self.status = status


_UNION_BRANCHES = {"constrained-str", "list[constrained-str]", "int", "str", "list[str]"}
_TYPE_MISMATCH = {"string_type", "list_type", "int_type", "int_parsing", "int_from_float"}


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """One error a field, named by its dotted path; an answer that may be text, a list or a number
    is reported once, by what is wrong with it rather than by every type it is not."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for e in error.errors(include_input=False, include_url=False):
        parts = [str(part) for part in e["loc"]]
        branch = any(part in _UNION_BRANCHES for part in parts)
        loc = ".".join(part for part in parts if part not in _UNION_BRANCHES)
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "is not a field of this form"
        elif e["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        mismatch = branch and e["type"] in _TYPE_MISMATCH
        field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body"
        found.setdefault(field, []).append((message, mismatch))
    out: list[FieldError] = []
    for field, messages in found.items():
        real = [m for m, mismatch in messages if not mismatch]
        if real:
            out.extend(FieldError(field=field, message=m) for m in dict.fromkeys(real))
        else:
            out.append(FieldError(field=field, message="must be text, a list of text, or a whole number"))
    # A list answer with a bad item also fails as text and as a number: keep only the item's error.
    fields = {e.field for e in out}
    return [
        e
        for e in out
        if e.message != "must be text, a list of text, or a whole number"
        or not any(f.startswith(e.field + ".") for f in fields)
    ]


class InvalidRecordError(ValueError):
    """A queued record that is not what its consumer expects. The message names the fields, never
    their values, because it ends up in logs and on the dead-letter queue's alarms."""


def parse_record(model: type[M], body: str) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(f"{e.field}: {e.message}" for e in field_errors(error))
        raise InvalidRecordError(f"not a valid {model.__name__}: {problems}") from None


def parse_json(model: type[M], body: str) -> M:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            "the body is not valid JSON",
            [FieldError(field="body", message=f"invalid JSON at position {error.pos}")],
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SubmissionError("the submission has errors", field_errors(error)) from None


def form_to_dict(body: str, kinds: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An HTML form post (``applicant.email=...``) as the nested JSON the API takes.

    ``kinds`` (from the scheme) says which fields are lists (comma separated, or repeated
    checkboxes) and which are numbers.
    """
    kinds = kinds or {}
    data: dict[str, Any] = {}
    for name, values in parse_qs(body, keep_blank_values=False).items():
        value: Any = values[-1].strip()
        if kinds.get(name) == "list":
            value = [part.strip() for v in values for part in v.replace("\n", ",").split(",") if part.strip()]
        elif kinds.get(name) == "number" and value.isdigit():
            value = int(value)
        elif name == "consent":
            value = value in {"yes", "on", "true"}
        node = data
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                raise SubmissionError(
                    "the form has errors", [FieldError(field=name, message="is not a field")]
                )
        node[leaf] = value
    data.setdefault("consent", False)
    return data


def parse_form(body: str, kinds: Mapping[str, str] | None = None) -> ApplicationSubmission:
    try:
        return ApplicationSubmission.model_validate(form_to_dict(body, kinds))
    except ValidationError as error:
        raise SubmissionError("the form has errors", field_errors(error)) from None


def check_partner(batch: PartnerBatch, partner: str) -> None:
    """A partner submits for its own institution only."""
    errors = [
        FieldError(
            field=f"applications.{i}.applicant.institution",
            message=f"your API key is for {partner}; you can submit applications for {partner} only",
        )
        for i, s in enumerate(batch.applications)
        if s.applicant.institution not in (None, partner)
    ]
    if errors:
        raise SubmissionError("some applications are for another institution", errors)


def accept(
    submissions: Sequence[ApplicationSubmission],
    channel: Literal["web_form", "partner"],
    partner: str | None,
    now: datetime,
    cohorts: CohortStore,
    queue: IntakeQueue,
    field_prefix: str = "",
) -> list[Accepted]:
    """Checks each cohort is open and each answer fits its scheme, then queues every submission;
    all or nothing."""
    errors = []
    cache: dict[str, Cohort | None] = {}
    for i, submission in enumerate(submissions):
        cohort_id = submission.cohort_id
        if cohort_id not in cache:
            cache[cohort_id] = cohorts.get_cohort(cohort_id)
        cohort = cache[cohort_id]
        prefix = field_prefix.format(i=i)
        where = f"{prefix}cohort_id"
        if cohort is None:
            errors.append(FieldError(field=where, message="no cohort has this id"))
            continue
        if cohort.status is not CohortStatus.OPEN or cohort.recruitment_deadline <= now:
            errors.append(
                FieldError(
                    field=where,
                    message=f"this cohort closed to applications at its recruitment deadline, "
                    f"{cohort.recruitment_deadline:%d %B %Y %H:%M} UTC",
                )
            )
            continue
        scheme = get_scheme(cohort.scheme_id)
        if (
            submission.role is Role.MENTEE
            and scheme.when_full == "close"
            and cohort.admitted_mentees >= scheme.max_mentees
        ):
            errors.append(
                FieldError(
                    field=where,
                    message=f"this cohort is full: all {scheme.max_mentees} mentee places are taken",
                )
            )
        institution = partner or submission.applicant.institution
        errors.extend(check_answers(scheme, submission, institution, prefix))
    if errors:
        raise SubmissionError("the submission has errors", errors)
    messages = [
        IntakeMessage(
            submission_id=str(uuid.uuid4()), received_at=now, channel=channel, partner=partner, submission=s
        )
        for s in submissions
    ]
    queue.send_all(messages)
    return [Accepted(submission_id=m.submission_id) for m in messages]


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """A request header by case-insensitive name ('' when absent)."""
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return ""
