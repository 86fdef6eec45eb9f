"""Accepting submissions: check their shape and their cohort, then hand them to the intake queue.

Errors name the field and the reason and never echo what was sent (it may be special-category data).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError

from mentoring.answers import check_answers
from mentoring.identity import canonical_email
from mentoring.institutions import institution_name
from mentoring.models import (
    ANSWER_BRANCHES,
    ApplicationSubmission,
    Cohort,
    CohortStatus,
    FieldError,
    IntakeMessage,
    ItemResult,
    MonitoringAnswers,
    PartnerApplication,
    PartnerApplicationStatus,
    Role,
)
from mentoring.ports import (
    AnswerSealer,
    ApplicationStore,
    Claim,
    CohortStore,
    DuplicateSubmissionError,
    IntakeQueue,
    SubmissionClaims,
)
from mentoring.programme import when
from mentoring.scheme import Scheme, get_scheme
from mentoring.text import one_line

MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


class SubmissionError(ValueError):
    """A submission the sender can fix: ``errors`` say which field and why."""

    def __init__(self, message: str, errors: Sequence[FieldError] = (), status: int = 422) -> None:
        super().__init__(message)
        self.errors = list(errors)
        self.status = status


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """One error a field and problem, named by its dotted path (an answer's branch left out)."""
    out: list[FieldError] = []
    for e in error.errors(include_input=False, include_url=False):
        loc = ".".join(str(part) for part in e["loc"] if part not in ANSWER_BRANCHES)
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "is not a field of this form"
        elif e["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        found = FieldError(field=f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body", message=message)
        if found not in out:
            out.append(found)
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


# Bounds checked before anything is parsed: Python's JSON parser and pydantic recurse once a level,
# so 100,000 "[" or a 1,500-level dotted form field would otherwise end in a RecursionError (a 5xx).
# No application is deeper than 4 levels, nor has more than a few dozen fields.
MAX_JSON_DEPTH = 16
MAX_FORM_FIELDS = 300
MAX_FORM_FIELD_DEPTH = 3
MAX_FIELD_NAME = 80
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = str.maketrans({"[": "(", "{": "(", "]": ")", "}": ")"})
_OTHER = re.compile(r"[^()]+")
_INNERMOST = re.compile(r"\(\)")


def _too_deep(body: str, limit: int) -> bool:
    """Whether the body nests deeper than ``limit`` (or leaves a bracket open), counted outside strings.

    Every step is a C-speed pass: strings out, brackets kept, then ``limit`` rounds of removing
    the innermost pairs; a bracket left means a deeper level (or one never closed).
    """
    brackets = _OTHER.sub("", _JSON_STRING.sub("", body).translate(_BRACKETS))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub("", brackets)
    return "(" in brackets


def load_json(body: str) -> Any:
    """A request body as JSON, or a SubmissionError that says where it stops being acceptable JSON."""
    if _too_deep(body, MAX_JSON_DEPTH):
        raise SubmissionError(
            "the body is nested too deeply",
            [
                FieldError(
                    field="body", message=f"is nested deeper than {MAX_JSON_DEPTH} levels (or not closed)"
                )
            ],
        )
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            "the body is not valid JSON",
            [FieldError(field="body", message=f"invalid JSON at position {error.pos}")],
        ) from None
    except (ValueError, RecursionError):  # a number too long to read, say
        raise SubmissionError(
            "the body is not valid JSON",
            [FieldError(field="body", message="holds a value too large to read")],
        ) from None


def parse_json(model: type[M], body: str) -> M:
    data = load_json(body)
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
    try:
        fields = parse_qs(body, keep_blank_values=False, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise SubmissionError(
            "the form has errors",
            [FieldError(field="body", message=f"has more than {MAX_FORM_FIELDS} fields")],
        ) from None
    for name, values in fields.items():
        if len(name) > MAX_FIELD_NAME or name.count(".") >= MAX_FORM_FIELD_DEPTH:
            shown = name[:MAX_FIELD_NAME] + ("..." if len(name) > MAX_FIELD_NAME else "")
            raise SubmissionError(
                "the form has errors", [FieldError(field=one_line(shown), message="is not a field")]
            )
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


# Submission ids are derived from what identifies the application, so that a retry after a
# failure gets the same id, and intake's idempotency makes it one application however often it
# arrives. They are keyed hashes (HMAC-SHA256 under a secret only submit reads), so no one can
# recompute an id, or an applicant's claim, from an email address or a partner's reference.


def applicant_digest(email: str, key: bytes) -> str:
    """The one place an applicant's email becomes an identifier: a keyed hash of its canonical form
    (one mailbox, one applicant: mentoring.identity).

    Without the key it cannot be recomputed from a staff list, so neither can the claims or the
    submission ids (and logs) derived from it.
    """
    return hmac.new(key, canonical_email(email).encode(), hashlib.sha256).hexdigest()


def keyed_id(key: bytes, claim_key: str) -> str:
    """A submission id from a claim: a keyed hash shaped as a (random-looking, version 4) UUID."""
    digest = hmac.new(key, f"submission-id#{claim_key}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass
class Candidate:
    """One application of a request, as read: the submission, or why it could not be read."""

    index: int
    submission: ApplicationSubmission | None
    reference: str | None = None
    errors: list[FieldError] = field(default_factory=list)


def partner_candidates(items: Sequence[Any], partner: str) -> list[Candidate]:
    """Each item of a partner's request checked on its own, so one bad row blocks nothing."""
    out = []
    for i, raw in enumerate(items):
        reference = raw.get("reference") if isinstance(raw, dict) else None
        reference = reference if isinstance(reference, str) and len(reference) <= 64 else None
        try:
            submission = PartnerApplication.model_validate(raw)
        except ValidationError as error:
            out.append(Candidate(i, None, reference, field_errors(error)))
            continue
        if submission.applicant.institution not in (None, partner):
            error_for_institution = FieldError(
                field="applicant.institution",
                message=f"your API key is for {partner}; you can submit applications for {partner} only",
            )
            out.append(Candidate(i, None, reference, [error_for_institution]))
            continue
        out.append(Candidate(i, submission, submission.reference))
    return out


def _closed(cohort: Cohort | None, now: datetime) -> str | None:
    if cohort is None:
        return "no cohort has this id"
    if cohort.status is not CohortStatus.OPEN or cohort.recruitment_deadline <= now:
        deadline = when(cohort.recruitment_deadline)
        return f"this cohort closed to applications at its recruitment deadline, {deadline}"
    return None


_FULL = "this cohort is full: all {limit} mentee places are taken"


def cohort_problem(cohort: Cohort | None, role: Role, now: datetime) -> FieldError | None:
    """Why the cohort takes no application in this role now (closed, or full for a scheme that
    closes when full); None when it does. Judged when a submission arrives, and again when a
    web-form application is confirmed (mentoring.confirmation)."""
    problem = _closed(cohort, now)
    if problem is not None or cohort is None:
        return FieldError(field="cohort_id", message=problem or "no cohort has this id")
    scheme = get_scheme(cohort.scheme_id)
    limit = cohort.places or scheme.max_mentees
    if role is Role.MENTEE and scheme.when_full == "close" and cohort.admitted_mentees >= limit:
        return FieldError(field="cohort_id", message=_FULL.format(limit=limit))
    return None


def is_closed(cohort: Cohort, now: datetime) -> bool:
    """Past its deadline, or matching has started: the form says so instead of offering itself."""
    return _closed(cohort, now) is not None


def check_submission(
    submission: ApplicationSubmission, cohort: Cohort | None, partner: str | None, now: datetime
) -> list[FieldError]:
    """The checks that need the cohort and its scheme: open, not full, answers that fit."""
    problem = cohort_problem(cohort, submission.role, now)
    if problem is not None and (cohort is None or is_closed(cohort, now)):
        return [problem]  # nothing else is worth checking
    assert cohort is not None
    scheme = get_scheme(cohort.scheme_id)
    errors = [problem] if problem is not None else []
    institution = partner or submission.applicant.institution
    door = _institution_problem(scheme, institution, partner)
    if door is not None:
        return [*errors, door]
    return errors + check_answers(scheme, submission, institution)


def _institution_problem(scheme: Scheme, institution: str | None, partner: str | None) -> FieldError | None:
    """The scheme's institutions hold for every door: a partner's key, or the form's choice."""
    if institution in scheme.institutions:
        return None
    names = " and ".join(scheme.institution_names().values())
    if partner is not None:
        message = (
            f"your API key is for {institution_name(partner)}, and {scheme.name} is for staff of {names} only"
        )
    elif institution is None:
        message = f"is required: {scheme.name} is for staff of {names}"
    else:
        message = f"{scheme.name} is for staff of {names} only"
    return FieldError(field="applicant.institution", message=message)


def claims_for(submission: ApplicationSubmission, partner: str | None, key: bytes) -> tuple[list[Claim], str]:
    """The keys that make this application unique, and the submission id derived from them."""
    email = applicant_digest(submission.applicant.email, key)
    applicant = Claim("applicant", f"APPLICANT#{submission.cohort_id}#{email}")
    if isinstance(submission, PartnerApplication) and partner is not None:
        reference = Claim("reference", f"REFERENCE#{partner}#{submission.reference}")
        return [reference, applicant], keyed_id(key, reference.key)
    # With the body too: after a coordinator withdraws an application (a fake one, say), the
    # person's own application under the same address is a new submission, not a retry of it.
    return [applicant], keyed_id(key, f"{applicant.key}#{body_hash(submission, None, key)}")


def body_hash(submission: ApplicationSubmission, partner: str | None, key: bytes) -> str:
    """Tells a retry (same body) from a different application under the same claim. Keyed: the body
    holds the monitoring answers, and a plain hash of it beside the applicant's identity could be
    matched against every combination of answers."""
    canonical = json.dumps(
        {"partner": partner, "submission": submission.model_dump(mode="json")}, sort_keys=True
    )
    return hmac.new(key, f"body#{canonical}".encode(), hashlib.sha256).hexdigest()


DUPLICATE_MESSAGES = {
    "reference": (
        "reference",
        "this reference was already used for a different application; send a new reference, "
        "or the same application unchanged to see its result",
    ),
    "withdrawn": (
        "reference",
        "the application sent under this reference was withdrawn by the scheme's coordinator; "
        "send it under a new reference to apply again",
    ),
    "applicant": (
        "applicant.email",
        "an application from this email address to this cohort has already been received; "
        "contact the scheme's coordinator to change it",
    ),
}


@dataclass(frozen=True)
class FrontDoor:
    """What accepting a submission needs: the stores, the queue, the sealer of monitoring answers,
    and the key of submission ids."""

    cohorts: CohortStore
    claims: SubmissionClaims
    queue: IntakeQueue
    sealer: AnswerSealer[MonitoringAnswers]
    id_key: bytes


def intake_message(
    submission: ApplicationSubmission,
    submission_id: str,
    received_at: datetime,
    channel: Literal["web_form", "partner"],
    partner: str | None,
    sealer: AnswerSealer[MonitoringAnswers],
    claims: Sequence[Claim],
) -> IntakeMessage:
    """The submission as intake takes it, its monitoring answers sealed (and as a held web-form
    application keeps it until it is confirmed)."""
    return IntakeMessage(
        submission_id=submission_id,
        received_at=received_at,
        channel=channel,
        partner=partner,
        reference=submission.reference if isinstance(submission, PartnerApplication) else None,
        submission=submission.details(),
        monitoring=sealer.seal(submission.monitoring, submission.cohort_id),
        claims=[c.key for c in claims],
    )


def accept(
    candidates: Sequence[Candidate],
    channel: Literal["web_form", "partner"],
    partner: str | None,
    now: datetime,
    door: FrontDoor,
) -> list[ItemResult]:
    """Checks each application, holds its claims, and queues the accepted ones together, their
    monitoring answers sealed.

    A 202 is only given once the submission is on the queue: if the queue refuses, this raises
    and the caller answers 5xx; a retry finds its claims held for the same body and queues again.
    """
    results = []
    messages = []
    cache: dict[str, Cohort | None] = {}
    for candidate in candidates:
        submission = candidate.submission
        errors = list(candidate.errors)
        if submission is not None and not errors:
            if submission.cohort_id not in cache:
                cache[submission.cohort_id] = door.cohorts.get_cohort(submission.cohort_id)
            errors = check_submission(submission, cache[submission.cohort_id], partner, now)
        if submission is None or errors:
            results.append(
                ItemResult(index=candidate.index, reference=candidate.reference, status=422, errors=errors)
            )
            continue
        keys, submission_id = claims_for(submission, partner, door.id_key)
        try:
            door.claims.claim(
                keys, body_hash(submission, partner, door.id_key), submission_id, submission.cohort_id
            )
        except DuplicateSubmissionError as duplicate:
            where, message = DUPLICATE_MESSAGES[duplicate.kind]
            results.append(
                ItemResult(
                    index=candidate.index,
                    reference=candidate.reference,
                    status=409,
                    errors=[FieldError(field=where, message=message)],
                )
            )
            continue
        messages.append(intake_message(submission, submission_id, now, channel, partner, door.sealer, keys))
        results.append(
            ItemResult(
                index=candidate.index, reference=candidate.reference, status=202, submission_id=submission_id
            )
        )
    door.queue.send_all(messages)
    return results


def batch_status(results: Sequence[ItemResult], single: bool) -> int:
    """202 when every application was accepted; one application's own status; 207 for a mix."""
    statuses = {r.status for r in results}
    if single or len(statuses) == 1:
        return results[0].status
    return 207


def partner_status(
    partner: str, reference: str, claims: SubmissionClaims, applications: ApplicationStore
) -> PartnerApplicationStatus | None:
    """What became of a partner's application; None when this partner sent no such reference."""
    found = claims.find(Claim("reference", f"REFERENCE#{partner}#{reference}"))
    if found is None:
        return None
    status = PartnerApplicationStatus(
        reference=reference, submission_id=found.submission_id, cohort_id=found.cohort_id, status="received"
    )
    application = applications.get_application(found.cohort_id, found.submission_id)
    if application is None:
        return status
    if application.withdrawn is not None:
        status.status = "withdrawn"
        return status
    eligibility = application.eligibility
    status.reasons = [o.reason for o in eligibility.outcomes if o.passed == eligibility.eligible]
    if not eligibility.eligible:
        status.status = "not_eligible"
    elif any(
        application.application_id in (m.mentee_id, m.mentor_id)
        for m in applications.list_matches(found.cohort_id)
    ):
        status.status = "matched"
    elif any(
        u.application_id == application.application_id for u in applications.list_unmatched(found.cohort_id)
    ):
        status.status = "not_matched"
    elif application.late:
        status.status = "late"
    else:
        status.status = "waiting_list" if application.waiting_list else "eligible"
    return status


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """A request header by case-insensitive name ('' when absent)."""
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return ""
