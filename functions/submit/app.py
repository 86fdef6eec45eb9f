"""Submit: the front door. Checks a submission's shape and cohort, then queues it for intake.

Nothing slow and nothing stored here: the intake queue is the durable hand-off, and a 202 is
answered only once the submission is on it.
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import SqsQueue
from mentoring.answers import form_field_kinds
from mentoring.models import (
    ApplicationSubmission,
    ErrorBody,
    FieldError,
    PartnerBatch,
    PartnerBatchResult,
    utcnow,
)
from mentoring.observability import logger, metrics, tracer
from mentoring.scheme import get_scheme
from mentoring.settings import SubmitSettings
from mentoring.submissions import (
    MAX_BODY_BYTES,
    SubmissionError,
    accept,
    check_partner,
    form_to_dict,
    header,
    parse_form,
    parse_json,
)
from mentoring.web import accepted_page, application_form, cohort_question_page, message_page

settings = SubmitSettings.from_env()
app = APIGatewayRestResolver()
HTML = "text/html; charset=utf-8"


@cache
def cohorts() -> DynamoApplications:
    return DynamoApplications(settings.applications_table)


@cache
def intake_queue() -> SqsQueue:
    return SqsQueue(settings.intake_queue_url)


def problem(error: SubmissionError) -> Response[str]:
    body = ErrorBody(message=error.args[0], errors=error.errors)
    return Response(error.status, content_types.APPLICATION_JSON, body.model_dump_json())


def body_of(max_bytes: int = MAX_BODY_BYTES) -> str:
    body = app.current_event.body or ""
    if len(body.encode()) > max_bytes:
        raise SubmissionError(
            f"the body is larger than {max_bytes // 1024} KiB",
            [FieldError(field="body", message="too large")],
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    return body


def unsupported(kind: str, advice: str) -> Response[str]:
    error = SubmissionError(
        advice,
        [FieldError(field="content-type", message=f"{kind or 'none'} is not accepted")],
        status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    )
    return problem(error)


def content_type() -> str:
    return header(app.current_event.headers, "content-type").split(";")[0].strip().lower()


@app.get("/")
def application_form_page() -> Response[str]:
    cohort_id = (app.current_event.query_string_parameters or {}).get("cohort", "")
    if not cohort_id:
        open_cohorts = cohorts().list_open_cohorts(utcnow())
        if len(open_cohorts) != 1:
            return Response(HTTPStatus.OK, HTML, cohort_question_page(open_cohorts))
        cohort_id = open_cohorts[0].cohort_id
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        return Response(
            HTTPStatus.NOT_FOUND, HTML, message_page("Cohort not found", "No cohort has this reference.")
        )
    return Response(HTTPStatus.OK, HTML, application_form(get_scheme(cohort.scheme_id), cohort))


@app.post("/applications")
def submit_application() -> Response[str]:
    """JSON from API clients, or a plain HTML form post from the applicant form (answered in HTML)."""
    kind = content_type()
    if kind == "application/x-www-form-urlencoded":
        return submit_form()
    if kind != "application/json":
        return unsupported(kind, "send the application as application/json (or as a form post)")
    try:
        submission = parse_json(ApplicationSubmission, body_of())
        (accepted,) = accept([submission], "web_form", None, utcnow(), cohorts(), intake_queue())
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        return problem(error)
    metrics.add_metric(name="SubmissionsAccepted", unit="Count", value=1)
    logger.info("submission queued", submission_id=accepted.submission_id, channel="web_form")
    return Response(HTTPStatus.ACCEPTED, content_types.APPLICATION_JSON, accepted.model_dump_json())


def submit_form() -> Response[str]:
    body = body_of()
    cohort_id = str(_safe_form(body).get("cohort_id", ""))
    cohort = cohorts().get_cohort(cohort_id) if cohort_id else None
    kinds = form_field_kinds(get_scheme(cohort.scheme_id)) if cohort else {}
    values = {k: str(v) for k, v in _flatten(_safe_form(body, kinds)).items()}
    try:
        submission = parse_form(body, kinds)
        (accepted,) = accept([submission], "web_form", None, utcnow(), cohorts(), intake_queue())
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        if cohort is None:
            return Response(error.status, HTML, message_page("There is a problem", str(error)))
        page = application_form(get_scheme(cohort.scheme_id), cohort, values, error.errors)
        return Response(error.status, HTML, page)
    metrics.add_metric(name="SubmissionsAccepted", unit="Count", value=1)
    logger.info("submission queued", submission_id=accepted.submission_id, channel="web_form")
    assert cohort is not None
    return Response(HTTPStatus.ACCEPTED, HTML, accepted_page(cohort, accepted.submission_id))


def _safe_form(body: str, kinds: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        return form_to_dict(body, kinds)
    except SubmissionError:
        return {}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = ", ".join(str(v) for v in value)
        else:
            out[f"{prefix}{key}"] = value
    return out


@app.post("/partners/applications")
def submit_partner_batch() -> Response[str]:
    """A partner university's batch. Its institution comes from the API key that API Gateway checked."""
    key_id = app.current_event.request_context.identity.api_key_id or ""
    partner = settings.partner_api_keys.get(key_id)
    if partner is None:
        return Response(HTTPStatus.FORBIDDEN, content_types.APPLICATION_JSON, '{"message": "Forbidden"}')
    if content_type() != "application/json":
        return unsupported(content_type(), "send the batch as application/json")
    try:
        batch = parse_json(PartnerBatch, body_of())
        check_partner(batch, partner)
        accepted = accept(
            batch.applications, "partner", partner, utcnow(), cohorts(), intake_queue(), "applications.{i}."
        )
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        return problem(error)
    metrics.add_metric(name="SubmissionsAccepted", unit="Count", value=len(accepted))
    logger.info("partner batch queued", partner=partner, count=len(accepted))
    result = PartnerBatchResult(accepted=accepted)
    return Response(HTTPStatus.ACCEPTED, content_types.APPLICATION_JSON, result.model_dump_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
