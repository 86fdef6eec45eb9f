"""Every resource type of template.yaml is provisioned locally, played by the runtime, or named as
cloud-only: nothing is dropped in silence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infrastructure.local.provision import CLOUD_ONLY, CREATORS, PLAYED_BY_RUNTIME
from infrastructure.local.template import pattern_matches, read

pytestmark = pytest.mark.template


def test_every_resource_type_is_accounted_for_locally() -> None:
    types = {resource["Type"] for resource in read().resources.values()}

    unaccounted = types - set(CREATORS) - set(CLOUD_ONLY)

    assert unaccounted == set()


def test_a_type_is_either_created_or_cloud_only_never_both() -> None:
    assert set(CREATORS).isdisjoint(CLOUD_ONLY)
    assert set(PLAYED_BY_RUNTIME) <= set(CREATORS)


def test_the_runtime_reads_every_route_queue_and_rule_from_the_template() -> None:
    stack = read()

    routes = {(r.method, r.path): r for r in stack.routes}

    assert set(routes) == {
        ("GET", "/"),
        ("POST", "/applications"),
        ("GET", "/applications/confirm"),
        ("POST", "/applications/confirm"),
        ("POST", "/partners/applications"),
        ("GET", "/partners/applications/{reference}"),
        ("GET", "/openapi.json"),
        ("GET", "/programme/{cohortId}"),
        ("POST", "/programme/{cohortId}"),
        ("POST", "/cohorts"),
        ("GET", "/cohorts/{cohortId}"),
        ("GET", "/cohorts/{cohortId}/matches"),
        ("POST", "/cohorts/{cohortId}/matches/changes"),
        ("POST", "/cohorts/{cohortId}/publish"),
        ("POST", "/cohorts/{cohortId}/applications/{applicationId}/withdraw"),
        ("POST", "/cohorts/{cohortId}/matching-runs"),
        ("GET", "/cohorts/{cohortId}/monitoring-report"),
        ("GET", "/schemes/{schemeId}/monitoring-report"),
        ("GET", "/console"),
        ("GET", "/console/{proxy+}"),
        ("POST", "/console/{proxy+}"),
        ("GET", "/console/cohorts/{cohortId}/report"),
        ("GET", "/cohorts/{cohortId}/evaluation-report"),
        ("GET", "/schemes/{schemeId}/evaluation-report"),
        ("GET", "/console/cohorts/{cohortId}/evaluation"),
        ("GET", "/console/schemes/{schemeId}/evaluation"),
    }
    assert routes[("POST", "/partners/applications")].api_key_required
    assert all(routes[(m, p)].iam_auth for m, p in routes if p.startswith("/cohorts"))
    assert {(s.queue, s.function, s.batch_size) for s in stack.queue_sources} == {
        ("IntakeQueue", "IntakeFunction", 10),
        ("NotifyQueue", "NotifyFunction", 10),
    }
    # The deadline (matching and monitoring), a matching run's lease running out (matching), the
    # dates of a cohort's programme (programme) and its end (monitoring: its evaluation answers).
    assert sorted(r.function for r in stack.rules) == [
        "MatchingFunction",
        "MatchingFunction",
        "MonitoringFunction",
        "MonitoringFunction",
        "ProgrammeFunction",
    ]
    assert [(s.function, s.interval) for s in stack.schedules] == [("MonitoringFunction", timedelta(hours=1))]


def test_a_specific_route_wins_over_a_greedy_one_as_in_api_gateway() -> None:
    stack = read()

    served = [
        (r.function, r.matches("GET", "/console/cohorts/c-1/report"))
        for r in stack.routes
        if r.matches("GET", "/console/cohorts/c-1/report") is not None
    ]

    assert served[0] == ("ReportFunction", {"cohortId": "c-1"})
    assert served[1] == ("ConsoleFunction", {"proxy": "cohorts/c-1/report"})
    greedy = next(r for r in stack.routes if r.path == "/console/{proxy+}" and r.method == "GET")
    assert greedy.matches("GET", "/console") is None
    assert greedy.matches("GET", "/consoles/x") is None


def test_the_end_of_a_programme_reaches_the_monitoring_function_and_no_other_date_does() -> None:
    """The schedules' ProgrammeDateReached for the "end" moment starts a cohort's evaluation
    settling; the other dates (reminders, the check-in) are not the monitoring function's."""
    rules = [r for r in read().rules if r.function == "MonitoringFunction"]

    def reaches(detail: dict[str, str]) -> bool:
        event = {"source": "mentoring.programme", "detail-type": "ProgrammeDateReached", "detail": detail}
        return any(pattern_matches(r.pattern, event) for r in rules)

    assert reaches({"cohort_id": "c-1", "moment_id": "end"})
    assert not reaches({"cohort_id": "c-1", "moment_id": "midpoint"})
