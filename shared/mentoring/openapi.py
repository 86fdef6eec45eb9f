"""The API's OpenAPI document, built from the models the handlers validate with and answer in.

Served at ``/openapi.json``. A test checks that it names every route of template.yaml, and
schemathesis checks the running API against it, so the document and the code cannot drift.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mentoring.models import (
    Accepted,
    ApplicationSubmission,
    Cohort,
    CohortMatches,
    CohortProgress,
    ErrorBody,
    MatchChanges,
    NewCohort,
    PartnerApplication,
    PartnerApplicationStatus,
    PartnerBatch,
    PartnerBatchResult,
    Withdrawn,
    WithdrawRequest,
)

_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (ApplicationSubmission, "validation"),
    (PartnerApplication, "validation"),
    (PartnerBatch, "validation"),
    (NewCohort, "validation"),
    (MatchChanges, "validation"),
    (WithdrawRequest, "validation"),
    (Withdrawn, "serialization"),
    (Accepted, "serialization"),
    (ErrorBody, "serialization"),
    (PartnerBatchResult, "serialization"),
    (PartnerApplicationStatus, "serialization"),
    (Cohort, "serialization"),
    (CohortProgress, "serialization"),
    (CohortMatches, "serialization"),
]

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
PARTNER_KEY: list[dict[str, list[str]]] = [{"partnerApiKey": []}]
SIGV4: list[dict[str, list[str]]] = [{"sigv4": []}]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(model)}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ErrorBody, description)


def _html_or_json(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The applicant routes answer a form post in HTML and a JSON post in JSON."""
    return {
        "description": description,
        "content": {JSON: {"schema": _ref(model)}, HTML: {"schema": {"type": "string"}}},
    }


FORBIDDEN = {
    "description": "No valid API key (partners) or no signed request (coordinators).",
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
            }
        }
    },
}
TOO_LARGE = _html_or_json(ErrorBody, "The body is larger than 256 KiB.")
UNSUPPORTED = _error("The content type is not one this route takes.")
UNAVAILABLE = _error("Nothing was accepted: the queue is unavailable. Send the same request again later.")


def _report(summary: str, parameter: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": SIGV4,
            "parameters": [
                {"name": parameter, "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["json", "csv", "html"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "Counts rounded to multiples of 5 by cell key (at most 4 from the "
                    "truth, the same at every reading), from answers stored in batches of at least k.",
                    "content": {
                        JSON: {"schema": {"type": "object"}},
                        "text/csv": {"schema": {"type": "string"}},
                        HTML: {"schema": {"type": "string"}},
                    },
                },
                "403": FORBIDDEN,
                "404": _error("No such cohort or scheme."),
                "422": _error("format is not one of json, csv, html."),
            },
        }
    }


def _paths() -> dict[str, Any]:
    cohort_id = [{"name": "cohortId", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/": {
            "get": {
                "summary": "The applicant form of an open cohort (or the list of open cohorts)",
                "parameters": [
                    {"name": "cohort", "in": "query", "required": False, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "An HTML page.",
                        "content": {HTML: {"schema": {"type": "string"}}},
                    },
                    "404": {
                        "description": "No cohort has this id.",
                        "content": {HTML: {"schema": {"type": "string"}}},
                    },
                },
            }
        },
        "/applications": {
            "post": {
                "summary": "Apply to a cohort (JSON from API clients, or the applicant form's post)",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref(ApplicationSubmission)},
                        FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
                    },
                },
                "responses": {
                    "202": _html_or_json(Accepted, "Queued for intake; the submission id is the reference."),
                    "409": _html_or_json(ErrorBody, "This applicant has already applied to this cohort."),
                    "413": TOO_LARGE,
                    "415": UNSUPPORTED,
                    "422": _html_or_json(ErrorBody, "The application has errors; each names its field."),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/partners/applications": {
            "post": {
                "summary": "A partner university's application, or batch of up to 100",
                "security": PARTNER_KEY,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"oneOf": [_ref(PartnerBatch), _ref(PartnerApplication)]}}},
                },
                "responses": {
                    "202": _json(PartnerBatchResult, "Every application was accepted (or had been)."),
                    "207": _json(PartnerBatchResult, "Some accepted, some refused: see each result."),
                    "403": FORBIDDEN,
                    "409": _json(PartnerBatchResult, "The application conflicts with one already received."),
                    "413": _error("The body is larger than 256 KiB."),
                    "415": UNSUPPORTED,
                    "503": UNAVAILABLE,
                    "422": {
                        "description": "Refused: the body is not a batch (ErrorBody), or every "
                        "application has errors (PartnerBatchResult).",
                        "content": {JSON: {"schema": {"oneOf": [_ref(PartnerBatchResult), _ref(ErrorBody)]}}},
                    },
                },
            }
        },
        "/partners/applications/{reference}": {
            "get": {
                "summary": "What became of an application this partner sent",
                "security": PARTNER_KEY,
                "parameters": [
                    {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json(
                        PartnerApplicationStatus, "The application's progress; no monitoring answer."
                    ),
                    "403": FORBIDDEN,
                    "404": _error("This partner has sent no application with this reference."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}
                },
            }
        },
        "/cohorts": {
            "post": {
                "summary": "Open a cohort of a scheme, and schedule its recruitment deadline",
                "security": SIGV4,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref(NewCohort)}}},
                "responses": {
                    "201": _json(Cohort, "The cohort is open."),
                    "403": FORBIDDEN,
                    "409": _error("A cohort with this id exists."),
                    "422": _error("The request has errors; each names its field."),
                },
            }
        },
        "/cohorts/{cohortId}": {
            "get": {
                "summary": "A cohort's progress",
                "security": SIGV4,
                "parameters": cohort_id,
                "responses": {
                    "200": _json(CohortProgress, "Counts of applications, eligibility and matches."),
                    "403": FORBIDDEN,
                    "404": _error("No cohort has this id."),
                },
            }
        },
        "/cohorts/{cohortId}/matches": {
            "get": {
                "summary": "A cohort's matches, each with its explanation, and the unmatched mentees",
                "security": SIGV4,
                "parameters": [
                    *cohort_id,
                    {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]}},
                ],
                "responses": {
                    "200": {
                        "description": "The result (provisional or published); ?format=csv for CSV.",
                        "content": {
                            JSON: {"schema": _ref(CohortMatches)},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "403": FORBIDDEN,
                    "404": _error("No cohort has this id."),
                },
            }
        },
        "/cohorts/{cohortId}/matches/changes": {
            "post": {
                "summary": "Change provisional matches (pair or remove), each checked against the rules",
                "security": SIGV4,
                "parameters": cohort_id,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref(MatchChanges)}}},
                "responses": {
                    "200": _json(CohortMatches, "The changed provisional matches."),
                    "403": FORBIDDEN,
                    "404": _error("No cohort has this id."),
                    "409": _error("The matches are not provisional (not matched yet, or already published)."),
                    "422": _error("A change breaks a hard rule or a capacity; nothing was changed."),
                },
            }
        },
        "/cohorts/{cohortId}/applications/{applicationId}/withdraw": {
            "post": {
                "summary": "Withdraw an application: it is never matched, and its place goes to the first "
                "mentee waiting",
                "security": SIGV4,
                "parameters": [
                    *cohort_id,
                    {"name": "applicationId", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref(WithdrawRequest)}}},
                "responses": {
                    "200": _json(Withdrawn, "Withdrawn (or had been); where its place went."),
                    "403": FORBIDDEN,
                    "404": _error("No such cohort, or no such application in it."),
                    "409": _error("Matching has started for this cohort: change its provisional matches."),
                    "422": _error("The request has errors; each names its field."),
                },
            }
        },
        "/cohorts/{cohortId}/monitoring-report": _report("A cohort's equal-opportunities report", "cohortId"),
        "/schemes/{schemeId}/monitoring-report": _report(
            "A scheme's equal-opportunities report, every cohort", "schemeId"
        ),
        "/cohorts/{cohortId}/publish": {
            "post": {
                "summary": "Publish provisional matches: the one step that emails the results",
                "security": SIGV4,
                "parameters": cohort_id,
                "responses": {
                    "200": _json(CohortMatches, "Published; the result emails are queued."),
                    "403": FORBIDDEN,
                    "404": _error("No cohort has this id."),
                    "409": _error("The matches are not provisional (not matched yet, or already published)."),
                },
            }
        },
    }


@cache
def openapi() -> dict[str, Any]:
    _, schemas = models_json_schema(_MODELS, ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EDI mentoring schemes",
            "version": "1",
            "description": "Applications in (applicants and partner universities), cohorts and their "
            "results out (coordinators). Every error names its field and never repeats the value sent.",
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "partnerApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 (IAM): the coordinators' routes.",
                },
            },
        },
    }
