"""The OpenAPI document and the template describe the same API: every route of one is in the other,
with the same authentication, and every error answer is documented with the body handlers send."""

from __future__ import annotations

import pytest
from mentoring.openapi import openapi

from infrastructure.local.template import Route, read

pytestmark = pytest.mark.template


def documented() -> dict[tuple[str, str], dict[str, object]]:
    return {
        (method.upper(), path): operation
        for path, operations in openapi()["paths"].items()
        for method, operation in operations.items()
    }


def api_routes() -> list[Route]:
    """The JSON API's routes: the console's HTML pages (under /console) are not part of it."""
    return [r for r in read().routes if not r.path.startswith("/console")]


def test_every_route_of_the_template_is_documented_and_nothing_else() -> None:
    routes = {(r.method, r.path) for r in api_routes()}

    assert set(documented()) == routes


def test_the_documents_security_is_the_templates() -> None:
    operations = documented()

    for route in api_routes():
        security = operations[(route.method, route.path)].get("security")
        if route.api_key_required:
            assert security == [{"partnerApiKey": []}], route.path
        elif route.iam_auth:
            assert security == [{"sigv4": []}], route.path
        else:
            assert security is None, route.path


def test_every_json_error_is_documented_as_an_error_body() -> None:
    for (method, path), operation in documented().items():
        responses = operation["responses"]
        assert isinstance(responses, dict)
        for status, response in responses.items():
            content = response.get("content", {})
            if status.startswith("4") and status != "403" and "application/json" in content:
                schema = str(content["application/json"]["schema"])
                assert "ErrorBody" in schema or "PartnerBatchResult" in schema, (method, path, status)


def test_the_components_are_the_models_json_schemas() -> None:
    schemas = openapi()["components"]["schemas"]

    # Partners' applications need a reference; applicants' do not.
    assert "reference" in schemas["PartnerApplication"]["required"]
    assert "reference" not in schemas["ApplicationSubmission"]["properties"]
    assert schemas["PartnerBatch"]["properties"]["applications"]["maxItems"] == 100
