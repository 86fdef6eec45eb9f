"""Submit: the front door. Checks a submission's shape and cohort, then queues a partner's for
intake, or holds an applicant's until they confirm it from the link emailed to them.

Nothing slow here: the intake queue is the durable hand-off, and a partner's 202 is answered only
once its submission is on it; an applicant's 202 once the held application and its email are.
"""

from __future__ import annotations

import json
import re
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from mentoring.adapters import client_config
from mentoring.adapters.dynamodb import DynamoApplications, DynamoHeldSubmissions, DynamoSubmissionClaims
from mentoring.adapters.kms import KmsAnswers
from mentoring.adapters.messaging import QueueSendError, SqsQueue
from mentoring.answers import form_field_kinds
from mentoring.confirmation import (
    CONFIRMATION_WINDOW,
    Confirmation,
    Outcome,
    confirm_application,
    hold_application,
    look_up,
)
from mentoring.institutions import load_institutions
from mentoring.models import (
    Accepted,
    ApplicationSubmission,
    ErrorBody,
    FieldError,
    PartnerBatchResult,
    PartnerEnvelope,
    utcnow,
)
from mentoring.observability import logger, metrics, traced
from mentoring.openapi import cohort_openapi, openapi
from mentoring.routing import public_prefix, routed
from mentoring.scheme import get_scheme
from mentoring.settings import SubmitSettings
from mentoring.submissions import (
    MAX_BODY_BYTES,
    FrontDoor,
    SubmissionError,
    accept,
    batch_status,
    field_errors,
    form_to_dict,
    header,
    is_closed,
    load_json,
    parse_form,
    parse_json,
    partner_candidates,
    partner_status,
)
from mentoring.web import (
    application_form,
    closed_page,
    cohort_question_page,
    confirm_page,
    confirmation_outcome_page,
    held_page,
    message_page,
)
from pydantic import ValidationError

settings = SubmitSettings.from_env()
app = APIGatewayRestResolver()
HTML = "text/html; charset=utf-8"


@cache
def cohorts() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def claims() -> DynamoSubmissionClaims:
    return DynamoSubmissionClaims(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def intake_queue() -> SqsQueue:
    return SqsQueue(settings.intake_queue_url)


@cache
def sealer() -> KmsAnswers:
    return KmsAnswers(settings.monitoring_key_id)


# Read once and kept for a while (Powertools' cache): every submission needs it.
ID_KEY_MAX_AGE = 900


@cache
def secrets() -> parameters.SecretsProvider:
    """Powertools' provider with the project's client settings (its own would wait 60 s)."""
    return parameters.SecretsProvider(boto_config=client_config("secretsmanager"))


def front_door() -> FrontDoor:
    key = secrets().get(settings.submission_id_secret, max_age=ID_KEY_MAX_AGE)
    return FrontDoor(cohorts(), claims(), intake_queue(), sealer(), str(key).encode())


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@cache
def held() -> DynamoHeldSubmissions:
    return DynamoHeldSubmissions(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


def problem(error: SubmissionError) -> Response[str]:
    body = ErrorBody(message=error.args[0], errors=error.errors)
    return Response(error.status, content_types.APPLICATION_JSON, body.model_dump_json())


def body_of(max_bytes: int = MAX_BODY_BYTES) -> str:
    body = app.current_event.decoded_body or ""  # base64 when API Gateway or a client encodes it
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
            return Response(
                HTTPStatus.OK,
                HTML,
                cohort_question_page(open_cohorts, base=public_prefix(app.current_event.raw_event)),
            )
        cohort_id = open_cohorts[0].cohort_id
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        return Response(
            HTTPStatus.NOT_FOUND, HTML, message_page("Cohort not found", "No cohort has this reference.")
        )
    scheme = get_scheme(cohort.scheme_id)
    if is_closed(cohort, utcnow()):
        return Response(
            HTTPStatus.OK, HTML, closed_page(scheme, cohort, base=public_prefix(app.current_event.raw_event))
        )
    return Response(
        HTTPStatus.OK, HTML, application_form(scheme, cohort, base=public_prefix(app.current_event.raw_event))
    )


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
        accepted = accept_web_form(submission)
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        return problem(error)
    return Response(HTTPStatus.ACCEPTED, content_types.APPLICATION_JSON, accepted.model_dump_json())


def accept_web_form(submission: ApplicationSubmission) -> Accepted:
    """One applicant's application, held until confirmed from the emailed link; or a 422.

    Never a 409: whether this address has applied before is told to the address, not to whoever
    sent the form (mentoring.confirmation).
    """
    now = utcnow()
    result = hold_application(
        submission, now, front_door(), held(), notify_queue(), public_url("/applications/confirm")
    )
    if result.status != 202 or result.submission_id is None:
        raise SubmissionError("the submission has errors", result.errors, status=result.status)
    metrics.add_metric(name="SubmissionsHeld", unit="Count", value=1)
    logger.info("submission held for confirmation", submission_id=result.submission_id, channel="web_form")
    return Accepted(submission_id=result.submission_id, confirm_by=now + CONFIRMATION_WINDOW)


_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def public_url(path: str) -> str:
    """An absolute address of this API as the request reached it: API Gateway's domain (never the
    Host header a client sends) and the stage or custom domain's base path before the route."""
    event = app.current_event
    context = event.request_context
    domain = context.domain_name or ""
    if not _HOST.match(domain):
        raise RuntimeError("API Gateway gave no domain name for this request")
    proto = header(event.headers, "x-forwarded-proto").lower()
    full = context.path or event.path
    prefix = full.removesuffix(event.resource) if full.endswith(event.resource) else ""
    return f"{proto if proto in ('http', 'https') else 'https'}://{domain}{prefix}{path}"


def submit_form() -> Response[str]:
    body = body_of()
    cohort_id = str(_safe_form(body).get("cohort_id", ""))
    cohort = cohorts().get_cohort(cohort_id) if cohort_id else None
    kinds = form_field_kinds(get_scheme(cohort.scheme_id)) if cohort else {}
    values = {k: str(v) for k, v in _flatten(_safe_form(body, kinds)).items()}
    try:
        submission = parse_form(body, kinds)
        accepted = accept_web_form(submission)
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        if cohort is None:
            return Response(error.status, HTML, message_page("There is a problem", str(error), error.errors))
        page = application_form(
            get_scheme(cohort.scheme_id),
            cohort,
            values,
            error.errors,
            base=public_prefix(app.current_event.raw_event),
        )
        return Response(error.status, HTML, page)
    assert cohort is not None
    return Response(HTTPStatus.ACCEPTED, HTML, held_page(cohort, accepted.submission_id, accepted.confirm_by))


# ---------------------------------------------------------------- confirming from the emailed link

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,100}$")
# The link carries a secret: the page is never cached, nor named to another site as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_STATUS = {
    Outcome.AWAITING: HTTPStatus.OK,
    Outcome.CONFIRMED: HTTPStatus.OK,
    Outcome.ALREADY_CONFIRMED: HTTPStatus.OK,
    Outcome.NOT_FOUND: HTTPStatus.NOT_FOUND,
    Outcome.EXPIRED: HTTPStatus.GONE,
    Outcome.WITHDRAWN: HTTPStatus.GONE,
    Outcome.ALREADY_APPLIED: HTTPStatus.CONFLICT,
    Outcome.CLOSED: HTTPStatus.UNPROCESSABLE_ENTITY,
}


def confirmation_response(result: Confirmation, token: str) -> Response[str]:
    if result.outcome is Outcome.AWAITING and result.cohort is not None:
        page = confirm_page(result.cohort, token)
    else:
        page = confirmation_outcome_page(result.outcome, result.cohort, result.errors)
    return Response(_STATUS[result.outcome], HTML, page, PRIVATE)


@app.get("/applications/confirm")
def confirmation_link() -> Response[str]:
    """The page the emailed link opens: it changes nothing (mail scanners open links too)."""
    token = (app.current_event.query_string_parameters or {}).get("token", "")
    if not _TOKEN.match(token):
        return confirmation_response(Confirmation(Outcome.NOT_FOUND), token)
    return confirmation_response(look_up(token, utcnow(), held(), cohorts(), cohorts()), token)


@app.post("/applications/confirm")
def confirm() -> Response[str]:
    """The applicant's confirmation: the held application goes to intake, received now."""
    if content_type() != "application/x-www-form-urlencoded":
        return unsupported(content_type(), "confirm with the form on the page the emailed link opens")
    try:
        fields = parse_qs(body_of(max_bytes=16 * 1024), keep_blank_values=True, max_num_fields=10)
    except SubmissionError as error:
        return problem(error)
    except ValueError:  # more fields than any form of ours has
        fields = {"": []}
    if set(fields) - {"token"}:
        page = message_page(
            "Please use the button on the page",
            "This is not what the confirmation page sends: please open the link in your email again.",
            [FieldError(field="body", message="the confirmation form has one field, its token")],
        )
        return Response(HTTPStatus.UNPROCESSABLE_ENTITY, HTML, page, PRIVATE)
    token = (fields.get("token") or [""])[-1]
    if not _TOKEN.match(token):
        return confirmation_response(Confirmation(Outcome.NOT_FOUND), token)
    try:
        result = confirm_application(token, utcnow(), held(), cohorts(), claims(), cohorts(), intake_queue())
    except (QueueSendError, ClientError):
        # Nothing is lost: the address's claim (if taken) is this application's, and pressing
        # again finishes the confirmation at the time it was first made.
        logger.exception("confirmation not queued")
        metrics.add_metric(name="ConfirmationsNotQueued", unit="Count", value=1)
        page = message_page(
            "Please try again",
            "Your confirmation could not be recorded just now: press the button again in a minute.",
        )
        return Response(HTTPStatus.SERVICE_UNAVAILABLE, HTML, page, {**PRIVATE, "Retry-After": "30"})
    metrics.add_metric(name=f"Confirmations{result.outcome.title().replace('_', '')}", unit="Count", value=1)
    if result.held is not None:
        logger.info("confirmation", outcome=result.outcome.value, submission_id=result.held.submission_id)
    return confirmation_response(result, token)


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


def partner() -> str | None:
    """The institution of the API key that API Gateway checked; never taken from the body."""
    key_id = app.current_event.request_context.identity.api_key_id or ""
    return settings.partner_api_keys.get(key_id)


@app.exception_handler(QueueSendError)
@app.exception_handler(ClientError)
@app.exception_handler(parameters.exceptions.GetParameterError)
def cannot_queue(error: Exception) -> Response[str]:
    """The queue, the claims table, KMS or Secrets Manager refused: nothing was accepted, and the
    client may retry the same submission, which gets the same id."""
    logger.exception("submission not queued")
    metrics.add_metric(name="SubmissionsNotQueued", unit="Count", value=1)
    body = ErrorBody(message="the application could not be queued just now; send it again in a minute")
    headers = {"Retry-After": "30"}
    return Response(
        HTTPStatus.SERVICE_UNAVAILABLE, content_types.APPLICATION_JSON, body.model_dump_json(), headers
    )


FORBIDDEN = Response(HTTPStatus.FORBIDDEN, content_types.APPLICATION_JSON, '{"message": "Forbidden"}')


@app.post("/partners/applications")
def submit_partner_applications() -> Response[str]:
    """One application or a batch of up to 100, each with its own result."""
    institution = partner()
    if institution is None:
        return FORBIDDEN
    if content_type() != "application/json":
        return unsupported(content_type(), "send the applications as application/json")
    try:
        items, single = partner_items(body_of())
    except SubmissionError as error:
        metrics.add_metric(name="SubmissionsRefused", unit="Count", value=1)
        return problem(error)
    results = accept(partner_candidates(items, institution), "partner", institution, utcnow(), front_door())
    accepted = sum(1 for r in results if r.status == 202)
    metrics.add_metric(name="SubmissionsAccepted", unit="Count", value=accepted)
    metrics.add_metric(name="SubmissionsRefused", unit="Count", value=len(results) - accepted)
    logger.info(
        "partner applications", partner=institution, accepted=accepted, refused=len(results) - accepted
    )
    body = PartnerBatchResult(results=results, accepted=accepted, refused=len(results) - accepted)
    return Response(batch_status(results, single), content_types.APPLICATION_JSON, body.model_dump_json())


def partner_items(body: str) -> tuple[list[Any], bool]:
    """The applications of a partner's request: a batch ``{"applications": [...]}`` or one application."""
    data = load_json(body)
    if isinstance(data, dict) and "applications" in data:
        try:
            return PartnerEnvelope.model_validate(data).applications, False
        except ValidationError as error:
            raise SubmissionError("the batch has errors", field_errors(error)) from None
    if isinstance(data, dict):
        return [data], True
    raise SubmissionError(
        'send one application, or a batch as {"applications": [...]}',
        [FieldError(field="body", message="must be a JSON object")],
    )


@app.get("/partners/applications/<reference>")
def partner_application_status(reference: str) -> Response[str]:
    """What became of an application this partner sent; another partner's reference is not found."""
    institution = partner()
    if institution is None:
        return FORBIDDEN
    status = partner_status(institution, unquote(reference), claims(), cohorts())
    if status is None:
        body = ErrorBody(
            message="no application with this reference",
            errors=[
                FieldError(
                    field="reference", message=f"{institution} has sent no application with this reference"
                )
            ],
        )
        return Response(HTTPStatus.NOT_FOUND, content_types.APPLICATION_JSON, body.model_dump_json())
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, status.model_dump_json())


@app.get("/openapi.json")
def openapi_document() -> Response[str]:
    """The API's document; with ``?cohort=`` (and ``&institution=``), narrowed to what that cohort takes."""
    query = app.current_event.query_string_parameters or {}
    cohort_id, institution = query.get("cohort"), query.get("institution")
    if institution is not None and institution not in load_institutions():
        problem = FieldError(field="institution", message="is not an institution's code")
        body = ErrorBody(message="no such institution", errors=[problem])
        return Response(
            HTTPStatus.UNPROCESSABLE_ENTITY, content_types.APPLICATION_JSON, body.model_dump_json()
        )
    if cohort_id is None:  # (an empty ?cohort= names no cohort: 404 below)
        return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, json.dumps(openapi()))
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        body = ErrorBody(
            message="no cohort has this id", errors=[FieldError(field="cohort", message="is not a cohort")]
        )
        return Response(HTTPStatus.NOT_FOUND, content_types.APPLICATION_JSON, body.model_dump_json())
    if institution is not None and institution not in get_scheme(cohort.scheme_id).institutions:
        problem = FieldError(field="institution", message="this cohort's scheme takes no applicants from it")
        body = ErrorBody(message="no applications from this institution", errors=[problem])
        return Response(
            HTTPStatus.UNPROCESSABLE_ENTITY, content_types.APPLICATION_JSON, body.model_dump_json()
        )
    document = cohort_openapi(cohort.cohort_id, cohort.scheme_id, institution)
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, json.dumps(document))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed(event), context)
