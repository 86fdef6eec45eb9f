"""Admin: the coordinators' API. Opening a cohort also schedules its recruitment deadline."""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import EventBridgeAnnouncer, EventBridgeDeadlines, SqsQueue
from mentoring.cohorts import CohortRequestError, create_cohort, progress
from mentoring.deadline import RerunRefusedError, request_rerun
from mentoring.models import (
    ErrorBody,
    FieldError,
    MatchChanges,
    MatchingRerun,
    NewCohort,
    Withdrawn,
    WithdrawRequest,
    utcnow,
)
from mentoring.observability import logger, metrics, traced
from mentoring.ports import CohortExistsError, CohortNotFoundError
from mentoring.review import ReviewError, change_matches, cohort_matches, matches_csv, publish
from mentoring.routing import routed
from mentoring.settings import AdminSettings
from mentoring.submissions import SubmissionError, parse_json
from mentoring.withdrawal import WithdrawalError, withdraw_application

settings = AdminSettings.from_env()
app = APIGatewayRestResolver()


@cache
def store() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@cache
def announcer() -> EventBridgeAnnouncer:
    return EventBridgeAnnouncer(settings.event_bus_arn)


@cache
def deadlines() -> EventBridgeDeadlines:
    return EventBridgeDeadlines(
        group=settings.schedule_group,
        bus_arn=settings.event_bus_arn,
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.deadline_dead_letter_queue_arn,
    )


def error(status: HTTPStatus, message: str, errors: list[FieldError] | None = None) -> Response[str]:
    body = ErrorBody(message=message, errors=errors or [])
    return Response(status, content_types.APPLICATION_JSON, body.model_dump_json())


def ok(status: HTTPStatus, body: str) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, body)


@app.post("/cohorts")
def open_cohort() -> Response[str]:
    try:
        request = parse_json(NewCohort, app.current_event.decoded_body or "")
        cohort = create_cohort(request, utcnow(), store(), deadlines())
    except SubmissionError as problem:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(problem), problem.errors)
    except CohortRequestError as problem:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(problem), problem.errors)
    except CohortExistsError as problem:
        return error(
            HTTPStatus.CONFLICT, str(problem), [FieldError(field="cohort_id", message="already exists")]
        )
    logger.info("cohort opened", cohort_id=cohort.cohort_id, scheme_id=cohort.scheme_id)
    metrics.add_metric(name="CohortsOpened", unit="Count", value=1)
    return ok(HTTPStatus.CREATED, cohort.model_dump_json())


@app.get("/cohorts/<cohort_id>")
def cohort_progress(cohort_id: str) -> Response[str]:
    try:
        return ok(HTTPStatus.OK, progress(cohort_id, store(), store()).model_dump_json())
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))


@app.get("/cohorts/<cohort_id>/matches")
def read_matches(cohort_id: str) -> Response[str]:
    """The matches with their explanations; ``?format=csv`` for a spreadsheet."""
    try:
        result = cohort_matches(cohort_id, store(), store())
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))
    if (app.current_event.query_string_parameters or {}).get("format") == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{cohort_id}-matches.csv"'}
        return Response(HTTPStatus.OK, "text/csv; charset=utf-8", matches_csv(result, store()), headers)
    return ok(HTTPStatus.OK, result.model_dump_json())


@app.post("/cohorts/<cohort_id>/matches/changes")
def change_provisional_matches(cohort_id: str) -> Response[str]:
    try:
        request = parse_json(MatchChanges, app.current_event.decoded_body or "")
        result = change_matches(cohort_id, request, store(), store())
    except SubmissionError as problem:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(problem), problem.errors)
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))
    except ReviewError as problem:
        return error(HTTPStatus(problem.status), str(problem), problem.errors)
    logger.info("provisional matches changed", cohort_id=cohort_id, changes=len(request.changes))
    return ok(HTTPStatus.OK, result.model_dump_json())


@app.post("/cohorts/<cohort_id>/matching-runs")
def rerun_matching(cohort_id: str) -> Response[str]:
    """A coordinator's re-run of matching for a cohort whose run failed or died (the console calls
    the same domain function)."""
    try:
        request_rerun(cohort_id, utcnow(), store(), announcer())
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))
    except RerunRefusedError as problem:
        return error(HTTPStatus.CONFLICT, str(problem), [FieldError(field="cohortId", message=str(problem))])
    logger.info("matching run requested again", cohort_id=cohort_id)
    metrics.add_metric(name="MatchingRerunsRequested", unit="Count", value=1)
    return ok(HTTPStatus.ACCEPTED, MatchingRerun(cohort_id=cohort_id).model_dump_json())


@app.post("/cohorts/<cohort_id>/publish")
def publish_matches(cohort_id: str) -> Response[str]:
    try:
        result = publish(cohort_id, utcnow(), store(), store(), notify_queue())
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))
    except ReviewError as problem:
        return error(HTTPStatus(problem.status), str(problem), problem.errors)
    logger.info("matches published", cohort_id=cohort_id, matches=len(result.matches))
    metrics.add_metric(name="MatchesPublished", unit="Count", value=len(result.matches))
    return ok(HTTPStatus.OK, result.model_dump_json())


@app.post("/cohorts/<cohort_id>/applications/<application_id>/withdraw")
def withdraw(cohort_id: str, application_id: str) -> Response[str]:
    """Withdraws an application (at the applicant's request, or as not genuine): its place moves on."""
    try:
        request = parse_json(WithdrawRequest, app.current_event.body or "")
        result = withdraw_application(
            cohort_id, application_id, request, utcnow(), store(), store(), notify_queue()
        )
    except SubmissionError as problem:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(problem), problem.errors)
    except CohortNotFoundError as problem:
        return error(HTTPStatus.NOT_FOUND, str(problem))
    except WithdrawalError as problem:
        return error(HTTPStatus(problem.status), str(problem))
    logger.info(
        "application withdrawn",
        cohort_id=cohort_id,
        application_id=application_id,
        reason=request.reason,
        place_given_to=result.place_given_to,
    )
    metrics.add_metric(name="ApplicationsWithdrawn", unit="Count", value=1)
    body = Withdrawn(
        application_id=application_id, reason=request.reason, place_given_to=result.place_given_to
    )
    return ok(HTTPStatus.OK, body.model_dump_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed(event), context)
