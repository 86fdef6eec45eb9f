"""Admin: the coordinators' API. Opening a cohort also schedules its recruitment deadline."""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import EventBridgeDeadlines
from mentoring.cohorts import CohortRequestError, create_cohort, progress
from mentoring.models import CohortMatches, ErrorBody, FieldError, NewCohort, utcnow
from mentoring.observability import logger, metrics, tracer
from mentoring.ports import CohortExistsError, CohortNotFoundError
from mentoring.settings import AdminSettings
from mentoring.submissions import SubmissionError, parse_json

settings = AdminSettings.from_env()
app = APIGatewayRestResolver()


@cache
def store() -> DynamoApplications:
    return DynamoApplications(settings.applications_table)


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
        request = parse_json(NewCohort, app.current_event.body or "")
        cohort = create_cohort(request, utcnow(), store(), deadlines())
    except SubmissionError as problem:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(problem), problem.errors)
    except CohortRequestError as problem:
        return error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            str(problem),
            [FieldError(field=problem.field, message=str(problem))],
        )
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
def cohort_matches(cohort_id: str) -> Response[str]:
    if store().get_cohort(cohort_id) is None:
        return error(HTTPStatus.NOT_FOUND, f"cohort {cohort_id!r} does not exist")
    body = CohortMatches(
        cohort_id=cohort_id,
        matches=store().list_matches(cohort_id),
        unmatched=store().list_unmatched(cohort_id),
    )
    return ok(HTTPStatus.OK, body.model_dump_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
