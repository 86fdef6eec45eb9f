"""Routes and links wherever the API is served: API Gateway's own domain (the stage in the address,
not in ``path``), a custom domain's base path mapping (in ``path`` as well), or locally."""

from __future__ import annotations

from typing import Any

import pytest
from mentoring.routing import public_prefix, route_path

pytestmark = pytest.mark.unit


def event(path: str, resource: str, full: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "path": path,
        "resource": resource,
        "pathParameters": parameters,
        "requestContext": {"path": full},
    }


@pytest.mark.parametrize(
    ("request_event", "route", "prefix"),
    [
        (event("/applications", "/applications", "/dev/applications"), "/applications", "/dev"),
        (event("/apply/applications", "/applications", "/apply/applications"), "/applications", "/apply"),
        (event("/applications", "/applications", "/applications"), "/applications", ""),
        (event("/", "/", "/dev"), "/", "/dev"),
        (event("/", "/", "/dev/"), "/", "/dev"),
        (event("/apply/", "/", "/apply/"), "/", "/apply"),
        (event("/", "/", "/"), "/", ""),
        (
            event("/apply/cohorts/c-1/matches", "/cohorts/{cohortId}/matches", "/apply/cohorts/c-1/matches"),
            "/cohorts/c-1/matches",
            "/apply",
        ),
        (
            event(
                "/apply/console/cohorts/c-1",
                "/console/{proxy+}",
                "/apply/console/cohorts/c-1",
                {"proxy": "cohorts/c-1"},
            ),
            "/console/cohorts/c-1",
            "/apply",
        ),
    ],
    ids=[
        "own-domain",
        "custom-domain",
        "local",
        "root-no-slash",
        "root-slash",
        "custom-root",
        "local-root",
        "parameters",
        "greedy",
    ],
)
def test_routes_are_the_templates_and_links_keep_the_prefix_of_the_address(
    request_event: dict[str, Any], route: str, prefix: str
) -> None:
    assert route_path(request_event) == route
    assert public_prefix(request_event) == prefix
