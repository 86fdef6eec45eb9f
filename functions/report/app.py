"""Report: the anonymised equal-opportunities report, and the programme's evaluation report, of a
cohort or a scheme, for coordinators.

It may only read the Monitoring table, and only stored records (never a pending answer). It
publishes counts rounded to multiples of 5 by the records' own keys (cell-key rounding, see
mentoring.monitoring_report and mentoring.evaluation_report), never a row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring import evaluation_report as evaluation
from mentoring.adapters.cognito import CognitoIdentity, fetch_jwks, issuer, jwks_url
from mentoring.adapters.dynamodb import DynamoApplications, DynamoEvaluation, DynamoMonitoring, DynamoStaff
from mentoring.console.access import ForbiddenError, can_act_on, require_action, require_cohort
from mentoring.console.http import Gate, Unauthorised, page, redirect, sign_in_location, signed_out_cookies
from mentoring.console.pages import render as render_page
from mentoring.console.report import charts
from mentoring.console.session import KeySetCache, NotSignedInError, TokenVerifier, base_path, csrf_token_of
from mentoring.evaluation_report import EvaluationReport, EvaluationRow
from mentoring.models import Cohort, ErrorBody, FieldError, StaffMember
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


T = TypeVar("T")


def console_page(check: Callable[[StaffMember], T]) -> tuple[StaffMember, str, T] | Response[str]:
    """The signed-in person and what ``check`` allows them (it raises ForbiddenError otherwise),
    or the response that sends them to sign in or says they have no access."""
    event = app.current_event.raw_event
    base = base_path(event)
    try:
        member, _ = gate.member(event)
    except NotSignedInError:
        return redirect(sign_in_location(base, event), signed_out_cookies())
    except Unauthorised:
        return redirect(f"{base}/console")
    try:
        return member, base, check(member)
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


def coordinated_cohort(cohort_id: str) -> Callable[[StaffMember], Cohort]:
    """A check for console_page: the cohort, for a coordinator of its scheme."""

    def check(member: StaffMember) -> Cohort:
        cohort = require_cohort(member, cohorts().get_cohort(cohort_id))
        require_action(member, cohort)
        return cohort

    return check


def coordinated_scheme(scheme_id: str) -> Callable[[StaffMember], str]:
    """A check for console_page: the scheme, for its coordinators."""

    def check(member: StaffMember) -> str:
        if scheme_id not in load_schemes() or not can_act_on(member, scheme_id):
            raise ForbiddenError("Your role does not allow you to read this scheme's evaluation.")
        return scheme_id

    return check


def console_csv(text: str, name: str) -> Response[str]:
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"}
    return Response(HTTPStatus.OK, "text/csv; charset=utf-8", text, headers, cookies=gate.refreshed)


def wants_csv() -> bool:
    return (app.current_event.query_string_parameters or {}).get("format") == "csv"


@app.get("/console/cohorts/<cohort_id>/report")
def console_report(cohort_id: str) -> Response[str]:
    """The report in the console: the same published figures (a coordinator of the scheme only)."""
    allowed = console_page(coordinated_cohort(cohort_id))
    if isinstance(allowed, Response):
        return allowed
    member, base, cohort = allowed
    report = build_report(
        cohort.name,
        [ReportRow.from_record(r) for r in monitoring().list_records(cohort_id=cohort_id)],
        get_scheme(cohort.scheme_id).monitoring_batch,
    )
    logger.info("monitoring report", cohort_id=cohort_id, console=True)
    metrics.add_metric(name="ReportsRead", unit="Count", value=1)
    if wants_csv():
        return console_csv(to_csv(report), f"{cohort_id}-monitoring")
    return report_screen(
        member,
        base,
        report,
        f"Monitoring report: {cohort.name}",
        cohort,
        columns=COLUMNS,
        charts=charts(report.tables),
        csv_link=f"{base}/console/cohorts/{cohort_id}/report?format=csv",
        see_also=[
            {"href": f"{base}/console/cohorts/{cohort_id}/evaluation", "text": "The programme's evaluation"},
        ],
    )


def report_screen(
    member: StaffMember,
    base: str,
    report: MonitoringReport | EvaluationReport,
    title: str,
    cohort: Cohort | None,
    **context: Any,
) -> Response[str]:
    """A report's console page (report.html): the published figures only."""
    html = render_page(
        "report.html",
        base=base,
        csrf=csrf_token_of(app.current_event.raw_event),
        staff=member,
        errors={},
        notice="",
        nav="cohorts",
        title=title,
        cohort=cohort,
        report=report,
        rules=report.rules,
        **context,
    )
    return page(html, HTTPStatus.OK, gate.refreshed)


def evaluation_page(
    member: StaffMember, base: str, report: EvaluationReport, name: str, cohort: Cohort | None, path: str
) -> Response[str]:
    """The evaluation report in the console: the published figures, as the monitoring report's page."""
    metrics.add_metric(name="ReportsRead", unit="Count", value=1)
    if wants_csv():
        return console_csv(evaluation.to_csv(report), f"{name}-evaluation")
    return report_screen(
        member,
        base,
        report,
        f"Evaluation: {report.title}",
        cohort,
        columns=[{"label": label} for label in report.labels],
        charts=charts(report.tables, "answered"),
        csv_link=f"{base}{path}?format=csv",
        kind="Programme evaluation",
        crumb="Evaluation",
        intro="What the participants said at the end of the programme, in the anonymous evaluation survey.",
        after="the programme's last day",
        chart_of="answered",
        legend=report.labels[:2],
        see_also=[]
        if cohort is None
        else [
            {
                "href": f"{base}/console/schemes/{cohort.scheme_id}/evaluation",
                "text": "Every cohort of the scheme",
            },
            {"href": f"{base}/console/cohorts/{cohort.cohort_id}/next-year", "text": "Next year's mentors"},
        ],
    )


@app.get("/console/cohorts/<cohort_id>/evaluation")
def console_evaluation(cohort_id: str) -> Response[str]:
    allowed = console_page(coordinated_cohort(cohort_id))
    if isinstance(allowed, Response):
        return allowed
    member, base, cohort = allowed
    logger.info("evaluation report", cohort_id=cohort_id, console=True)
    report = cohort_evaluation(cohort)
    return evaluation_page(
        member, base, report, cohort_id, cohort, f"/console/cohorts/{cohort_id}/evaluation"
    )


@app.get("/console/schemes/<scheme_id>/evaluation")
def console_scheme_evaluation(scheme_id: str) -> Response[str]:
    allowed = console_page(coordinated_scheme(scheme_id))
    if isinstance(allowed, Response):
        return allowed
    member, base, _ = allowed
    logger.info("evaluation report", scheme_id=scheme_id, console=True)
    report = scheme_evaluation(scheme_id)
    return evaluation_page(member, base, report, scheme_id, None, f"/console/schemes/{scheme_id}/evaluation")


# ---------------------------------------------------------------- the evaluation report


@cache
def evaluations() -> DynamoEvaluation:
    return DynamoEvaluation(settings.monitoring_table)


def cohort_evaluation(cohort: Cohort) -> EvaluationReport:
    scheme = get_scheme(cohort.scheme_id)
    rows = [EvaluationRow.from_record(r) for r in evaluations().list_records(cohort_id=cohort.cohort_id)]
    return evaluation.build_report(cohort.name, scheme, rows, scheme.monitoring_batch)


def scheme_evaluation(scheme_id: str) -> EvaluationReport:
    scheme = get_scheme(scheme_id)
    rows = [EvaluationRow.from_record(r) for r in evaluations().list_records(scheme_id=scheme_id)]
    return evaluation.build_report(f"{scheme.name}, every cohort", scheme, rows, scheme.monitoring_batch)


def render_evaluation(report: EvaluationReport, name: str) -> Response[str]:
    kind = (app.current_event.query_string_parameters or {}).get("format", "json")
    if kind not in FORMATS:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, "format must be one of: csv, html, json", "format")
    metrics.add_metric(name="ReportsRead", unit="Count", value=1)
    if kind == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{name}-evaluation.csv"'}
        return Response(HTTPStatus.OK, "text/csv; charset=utf-8", evaluation.to_csv(report), headers)
    if kind == "html":
        return Response(HTTPStatus.OK, "text/html; charset=utf-8", evaluation.to_html(report))
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, json.dumps(evaluation.to_json(report)))


@app.get("/cohorts/<cohort_id>/evaluation-report")
def cohort_evaluation_report(cohort_id: str) -> Response[str]:
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        return error(HTTPStatus.NOT_FOUND, "no cohort has this id", "cohortId")
    logger.info("evaluation report", cohort_id=cohort_id)
    return render_evaluation(cohort_evaluation(cohort), cohort_id)


@app.get("/schemes/<scheme_id>/evaluation-report")
def scheme_evaluation_report(scheme_id: str) -> Response[str]:
    if scheme_id not in load_schemes():
        return error(HTTPStatus.NOT_FOUND, "no scheme has this id", "schemeId")
    logger.info("evaluation report", scheme_id=scheme_id)
    return render_evaluation(scheme_evaluation(scheme_id), scheme_id)


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
