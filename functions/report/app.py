"""Report: the anonymised equal-opportunities report of a cohort or a scheme, for coordinators.

The only function besides intake that may touch the Monitoring table (and only to read it). It
publishes counts rounded and suppressed as UK higher education publishes equality data, never a
row.
"""

from __future__ import annotations

import json
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications, DynamoMonitoring
from mentoring.models import ErrorBody, FieldError
from mentoring.monitoring_report import MonitoringReport, ReportRow, build_report, to_csv, to_html, to_json
from mentoring.observability import logger, metrics, tracer
from mentoring.scheme import load_schemes
from mentoring.settings import ReportSettings

settings = ReportSettings.from_env()
app = APIGatewayRestResolver()
FORMATS = {"json", "csv", "html"}


@cache
def cohorts() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def monitoring() -> DynamoMonitoring:
    return DynamoMonitoring(settings.monitoring_table)


def error(status: HTTPStatus, message: str, field: str) -> Response[str]:
    body = ErrorBody(message=message, errors=[FieldError(field=field, message=message)])
    return Response(status, content_types.APPLICATION_JSON, body.model_dump_json())


def render(report: MonitoringReport, name: str) -> Response[str]:
    kind = (app.current_event.query_string_parameters or {}).get("format", "json")
    if kind not in FORMATS:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, "format must be one of: csv, html, json", "format")
    metrics.add_metric(name="ReportsRead", unit="Count", value=1)
    if kind == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{name}-monitoring.csv"'}
        return Response(HTTPStatus.OK, "text/csv; charset=utf-8", to_csv(report), headers)
    if kind == "html":
        return Response(HTTPStatus.OK, "text/html; charset=utf-8", to_html(report))
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, json.dumps(to_json(report)))


@app.get("/cohorts/<cohort_id>/monitoring-report")
def cohort_report(cohort_id: str) -> Response[str]:
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        return error(HTTPStatus.NOT_FOUND, "no cohort has this id", "cohortId")
    rows = [ReportRow.from_record(r) for r in monitoring().list_records(cohort_id=cohort_id)]
    logger.info("monitoring report", cohort_id=cohort_id)
    return render(build_report(cohort.name, rows), cohort_id)


@app.get("/schemes/<scheme_id>/monitoring-report")
def scheme_report(scheme_id: str) -> Response[str]:
    scheme = load_schemes().get(scheme_id)
    if scheme is None:
        return error(HTTPStatus.NOT_FOUND, "no scheme has this id", "schemeId")
    rows = [ReportRow.from_record(r) for r in monitoring().list_records(scheme_id=scheme_id)]
    logger.info("monitoring report", scheme_id=scheme_id)
    return render(build_report(f"{scheme.name}, every cohort", rows), scheme_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
