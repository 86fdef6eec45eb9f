"""Report: the anonymised equal-opportunities report of a cohort or a scheme, for coordinators.

It may only read the Monitoring table, and only stored records (never a pending answer). It
publishes counts rounded to multiples of 5 by the records' own keys (cell-key rounding, see
mentoring.monitoring_report), never a row.
"""

from __future__ import annotations

import json
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.cognito import CognitoIdentity, fetch_jwks, issuer, jwks_url
from mentoring.adapters.dynamodb import DynamoApplications, DynamoMonitoring, DynamoStaff
from mentoring.console.access import ForbiddenError, require_action, require_cohort
from mentoring.console.http import Gate, Unauthorised, page, redirect, sign_in_location, signed_out_cookies
from mentoring.console.pages import render as render_page
from mentoring.console.report import charts
from mentoring.console.session import KeySetCache, NotSignedInError, TokenVerifier, base_path, csrf_token_of
from mentoring.models import ErrorBody, FieldError
from mentoring.monitoring_report import (
    COLUMNS,
    MonitoringReport,
    ReportRow,
    build_report,
    to_csv,
    to_html,
    to_json,
)
from mentoring.observability import logger, metrics, traced
from mentoring.routing import routed
from mentoring.scheme import get_scheme, load_schemes
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
    return render(build_report(cohort.name, rows, get_scheme(cohort.scheme_id).monitoring_batch), cohort_id)


@cache
def staff_directory() -> DynamoStaff:
    return DynamoStaff(settings.applications_table)


@cache
def identity() -> CognitoIdentity:
    return CognitoIdentity(settings.user_pool_id, settings.user_pool_client_id)


# The console's session, checked by the same code as the console function's.
gate = Gate(
    verifier=TokenVerifier(
        issuer(settings.user_pool_id),
        settings.user_pool_client_id,
        KeySetCache(lambda: fetch_jwks(jwks_url(settings.user_pool_id))),
    ),
    identity=identity,
    staff=staff_directory,
    session_hours=settings.console_session_hours,
)


@app.get("/console/cohorts/<cohort_id>/report")
def console_report(cohort_id: str) -> Response[str]:
    """The report in the console: the same published figures (a coordinator of the scheme only)."""
    event = app.current_event.raw_event
    base = base_path(event)
    try:
        member, _ = gate.member(event)
    except NotSignedInError:
        return redirect(sign_in_location(base, event), signed_out_cookies())
    except Unauthorised:
        return redirect(f"{base}/console")
    try:
        cohort = require_cohort(member, cohorts().get_cohort(cohort_id))
        require_action(member, cohort)
    except ForbiddenError as problem:
        html = render_page(
            "problem.html",
            base=base,
            csrf=csrf_token_of(event),
            staff=member,
            errors={},
            notice="",
            nav="",
            title="You do not have access",
            message=str(problem),
        )
        return page(html, HTTPStatus.FORBIDDEN, gate.refreshed)
    report = build_report(
        cohort.name,
        [ReportRow.from_record(r) for r in monitoring().list_records(cohort_id=cohort_id)],
        get_scheme(cohort.scheme_id).monitoring_batch,
    )
    logger.info("monitoring report", cohort_id=cohort_id, console=True)
    metrics.add_metric(name="ReportsRead", unit="Count", value=1)
    if (app.current_event.query_string_parameters or {}).get("format") == "csv":
        headers = {
            "Content-Disposition": f'attachment; filename="{cohort_id}-monitoring.csv"',
            "Cache-Control": "no-store",
        }
        return Response(
            HTTPStatus.OK, "text/csv; charset=utf-8", to_csv(report), headers, cookies=gate.refreshed
        )
    html = render_page(
        "report.html",
        base=base,
        csrf=csrf_token_of(event),
        staff=member,
        errors={},
        notice="",
        nav="cohorts",
        title=f"Monitoring report: {cohort.name}",
        cohort=cohort,
        report=report,
        rules=report.rules,
        columns=COLUMNS,
        charts=charts(report),
        csv_link=f"{base}/console/cohorts/{cohort_id}/report?format=csv",
    )
    return page(html, HTTPStatus.OK, gate.refreshed)


@app.get("/schemes/<scheme_id>/monitoring-report")
def scheme_report(scheme_id: str) -> Response[str]:
    scheme = load_schemes().get(scheme_id)
    if scheme is None:
        return error(HTTPStatus.NOT_FOUND, "no scheme has this id", "schemeId")
    rows = [ReportRow.from_record(r) for r in monitoring().list_records(scheme_id=scheme_id)]
    logger.info("monitoring report", scheme_id=scheme_id)
    return render(build_report(f"{scheme.name}, every cohort", rows, scheme.monitoring_batch), scheme_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed(event), context)
