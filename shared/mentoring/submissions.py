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

from mentoring.models import (
    Accepted,
    ApplicationSubmission,
    CohortStatus,
    FieldError,
    IntakeMessage,
    PartnerBatch,
)
from mentoring.ports import CohortStore, IntakeQueue

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)
LIST_FIELDS = {"profile.skills", "profile.career_goals"}


class SubmissionError(ValueError):
    """A submission the sender can fix: ``errors`` say which field and why."""

    def __init__(self, message: str, errors: Sequence[FieldError] = (), status: int = 422) -> None:
        super().__init__(message)
        self.errors = list(errors)
        self.status = status


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    out = []
    for e in error.errors(include_input=False, include_url=False):
        loc = ".".join(str(part) for part in e["loc"])
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "is not a field of this form"
        elif e["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        out.append(
            FieldError(field=f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body", message=message)
        )
    return out


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


def form_to_dict(body: str) -> dict[str, Any]:
    """An HTML form post (``applicant.email=...``) as the nested JSON the API takes."""
    data: dict[str, Any] = {}
    for name, values in parse_qs(body, keep_blank_values=False).items():
        value: Any = values[-1].strip()
        if name in LIST_FIELDS:
            value = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
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


def parse_form(body: str) -> ApplicationSubmission:
    try:
        return ApplicationSubmission.model_validate(form_to_dict(body))
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
    """Checks each cohort is open, then queues every submission; all or nothing."""
    errors = []
    cache: dict[str, Any] = {}
    for i, submission in enumerate(submissions):
        cohort_id = submission.cohort_id
        if cohort_id not in cache:
            cache[cohort_id] = cohorts.get_cohort(cohort_id)
        cohort = cache[cohort_id]
        where = f"{field_prefix.format(i=i)}cohort_id"
        if cohort is None:
            errors.append(FieldError(field=where, message="no cohort has this id"))
        elif cohort.status is not CohortStatus.OPEN or cohort.recruitment_deadline <= now:
            errors.append(
                FieldError(
                    field=where,
                    message=f"this cohort closed to applications at its recruitment deadline, "
                    f"{cohort.recruitment_deadline:%d %B %Y %H:%M} UTC",
                )
            )
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
