"""Participant: the page a programme email's personal link opens, and what it records.

No account: the link's token is the key. Opening the page changes nothing (mail scanners open
links); each form posts the token back with what happened. A token that is wrong, expired or for
another cohort gets a page that says so, and nothing is recorded.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoEvaluation, DynamoProgramme
from mentoring.adapters.kms import KmsEvaluationAnswers
from mentoring.evaluation import (
    NEXT_YEAR_FIELD,
    EvaluationAnswersError,
    EvaluationNotOpenError,
    evaluation_closes,
    evaluation_open,
    parse_answers,
    parse_next_year,
    questions,
    receive_evaluation,
    record_next_year,
)
from mentoring.models import FieldError, MeetingRecord, utcnow
from mentoring.observability import logger, metrics, traced
from mentoring.participant_pages import ACTIONS, evaluation_section, link_problem_page, programme_page
from mentoring.participation import (
    TOKEN_PATTERN,
    LinkProblem,
    Participant,
    ParticipationError,
    ask_for_help,
    confirm_training,
    end_partnership,
    open_link,
    record_meeting,
)
from mentoring.ports import AlreadyAnsweredError
from mentoring.routing import public_prefix, routed
from mentoring.scheme import get_scheme
from mentoring.settings import ParticipantSettings
from mentoring.submissions import field_errors, header
from mentoring.web import message_page
from pydantic import ValidationError

settings = ParticipantSettings.from_env()
app = APIGatewayRestResolver()
HTML = "text/html; charset=utf-8"
# The page carries a secret: never cached, never named to another site as a referrer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_TOKEN = re.compile(TOKEN_PATTERN)
MAX_FORM_BYTES = 16 * 1024
_STATUS = {
    LinkProblem.NOT_RECOGNISED: HTTPStatus.NOT_FOUND,
    LinkProblem.EXPIRED: HTTPStatus.GONE,
    LinkProblem.OTHER_COHORT: HTTPStatus.FORBIDDEN,
    LinkProblem.NOT_A_PARTICIPANT: HTTPStatus.GONE,
}
_DONE = {
    "meeting": "Thank you: your meeting is recorded.",
    "training": "Thank you: your attendance is recorded.",
    "help": "Thank you: your message has gone to the coordinator, who will contact you.",
    "end": "Your partnership has ended. The coordinator has been told and will be in touch.",
    "evaluation": "Thank you: your answers are in.",
}


@cache
def programme() -> DynamoProgramme:
    return DynamoProgramme(settings.applications_table, retention_days=settings.applicant_data_retention_days)


@cache
def evaluations() -> DynamoEvaluation:
    return DynamoEvaluation(
        settings.monitoring_table,
        applications_table=settings.applications_table,
        retention_days=settings.applicant_data_retention_days,
    )


@cache
def sealer() -> KmsEvaluationAnswers:
    return KmsEvaluationAnswers(settings.monitoring_key_id)


def _evaluation_state(participant: Participant) -> str:
    cohort, now = participant.cohort, utcnow()
    if evaluation_open(cohort, now):
        answered = evaluations().answered(cohort.cohort_id, participant.application.application_id)
        return "answered" if answered else "open"
    return "closed" if now >= evaluation_closes(cohort) else "not_yet"


def _action(cohort_id: str) -> str:
    return f"{public_prefix(app.current_event.raw_event)}/programme/{cohort_id}"


def _opened(token: str, cohort_id: str) -> Participant | LinkProblem:
    if not _TOKEN.match(token):
        return LinkProblem.NOT_RECOGNISED
    store = programme()
    return open_link(token, cohort_id, utcnow(), store, store, store)


def _page(
    participant: Participant,
    token: str,
    status: HTTPStatus = HTTPStatus.OK,
    done: str = "",
    problems: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> Response[str]:
    attended = {
        a.session_id
        for a in programme().attendance(participant.cohort.cohort_id)
        if a.application_id == participant.application.application_id
    }
    action = _action(participant.cohort.cohort_id)
    errors = {p.field: p.message for p in problems or []}
    survey = evaluation_section(
        get_scheme(participant.cohort.scheme_id),
        participant.role,
        token,
        action,
        _evaluation_state(participant),
        errors,
        values or {},
    )
    body = programme_page(
        participant, token, action, utcnow(), attended, done, problems or [], values, survey
    )
    return Response(status, HTML, body, PRIVATE)


def _problem(problem: LinkProblem) -> Response[str]:
    metrics.add_metric(name="ParticipantLinksRefused", unit="Count", value=1)
    logger.info("participant link refused", problem=problem.value)
    return Response(_STATUS[problem], HTML, link_problem_page(problem), PRIVATE)


@app.get("/programme/<cohort_id>")
def open_page(cohort_id: str) -> Response[str]:
    token = (app.current_event.query_string_parameters or {}).get("token", "")
    opened = _opened(token, cohort_id)
    if isinstance(opened, LinkProblem):
        return _problem(opened)
    return _page(opened, token)


def _form() -> dict[str, str] | None:
    body = app.current_event.decoded_body or ""
    if len(body.encode()) > MAX_FORM_BYTES:
        return None
    try:
        fields = parse_qs(body, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        return None
    return {name: values[-1] for name, values in fields.items()}


@app.post("/programme/<cohort_id>")
def record(cohort_id: str) -> Response[str]:
    content_type = header(app.current_event.headers, "content-type").split(";")[0].strip().lower()
    form = _form() if content_type == "application/x-www-form-urlencoded" else None
    if form is None:
        page = message_page(
            "Please use the forms on the page",
            "This is not what the programme page sends: please open the link in your email again.",
            [
                FieldError(
                    field="body", message="send one of the page's forms (application/x-www-form-urlencoded)"
                )
            ],
        )
        return Response(HTTPStatus.UNPROCESSABLE_ENTITY, HTML, page, PRIVATE)
    token = form.get("token", "")
    opened = _opened(token, cohort_id)
    if isinstance(opened, LinkProblem):
        return _problem(opened)
    action = form.get("action", "")
    if action not in ACTIONS:
        problem = FieldError(field="action", message=f"is not one of the page's forms ({', '.join(ACTIONS)})")
        return _page(opened, token, HTTPStatus.UNPROCESSABLE_ENTITY, problems=[problem])
    now = utcnow()
    store = programme()
    try:
        if action == "meeting":
            try:
                meeting = MeetingRecord.model_validate(
                    {k: form[k] for k in ("on", "minutes", "mode", "partner_id") if form.get(k)}
                )
            except ValidationError as error:
                raise ParticipationError(field_errors(error)) from None
            record_meeting(opened, meeting, now, store)
        elif action == "training":
            confirm_training(opened, form.get("session", ""), now, store)
        elif action == "help":
            ask_for_help(opened, form.get("message", ""), now, store)
        elif action == "end":
            if form.get("confirm") != "yes":
                raise ParticipationError(
                    [
                        FieldError(
                            field="confirm", message="tick the box to say you want to end the partnership"
                        )
                    ]
                )
            end_partnership(opened, form.get("partner_id"), form.get("reason", ""), now, store)
            reopened = _opened(token, cohort_id)  # the page shows the pair as ended
            opened = opened if isinstance(reopened, LinkProblem) else reopened
        else:
            _evaluate(opened, form, now)
    except ParticipationError as error:
        metrics.add_metric(name="ParticipantRecordsRefused", unit="Count", value=1)
        return _page(opened, token, HTTPStatus.UNPROCESSABLE_ENTITY, problems=error.errors, values=form)
    metrics.add_metric(name=f"Participant{action.title()}Recorded", unit="Count", value=1)
    logger.info("participant recorded", action=action, cohort_id=opened.cohort.cohort_id)
    return _page(opened, token, done=_DONE[action])


def _evaluate(participant: Participant, form: dict[str, str], now: datetime) -> None:
    """The survey's answers sealed and held apart from identity; next year's answer kept with it."""
    cohort, role, me = participant.cohort, participant.role, participant.application.application_id
    scheme = get_scheme(cohort.scheme_id)
    try:
        answers = parse_answers(scheme, role, {q.id: form.get(q.id, "") for q in questions(scheme, role)})
        would_mentor = parse_next_year(form.get(NEXT_YEAR_FIELD))
    except EvaluationAnswersError as problem:
        raise ParticipationError(problem.errors) from None
    if not evaluation_open(cohort, now):
        when = "has closed" if now >= evaluation_closes(cohort) else "opens on the programme's last day"
        raise ParticipationError([FieldError(field="action", message=f"the evaluation {when}")])
    if would_mentor is not None:  # with identity; asked again, the later answer stands
        record_next_year(cohort.cohort_id, me, would_mentor, programme(), programme(), now)
    try:
        receive_evaluation(cohort, role, answers, sealer(), evaluations(), now, application_id=me)
    except EvaluationNotOpenError as problem:
        raise ParticipationError([FieldError(field="action", message=str(problem))]) from None
    except AlreadyAnsweredError:
        raise ParticipationError(
            [FieldError(field="action", message="you have answered the evaluation already: thank you")]
        ) from None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed(event), context)
