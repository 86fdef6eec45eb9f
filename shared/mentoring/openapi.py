"""The API's OpenAPI document, built from the models the handlers validate with and answer in.

Served at ``/openapi.json``. A test checks that it names every route of template.yaml, and
schemathesis checks the running API against it, so the document and the code cannot drift.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mentoring.institutions import load_institutions
from mentoring.models import (
    Accepted,
    ApplicationSubmission,
    Cohort,
    CohortMatches,
    CohortProgress,
    ErrorBody,
    MatchChanges,
    MatchingRerun,
    MonitoringAnswers,
    NewCohort,
    PartnerApplication,
    PartnerApplicationStatus,
    PartnerBatch,
    PartnerBatchResult,
    Role,
    Withdrawn,
    WithdrawRequest,
)
from mentoring.scheme import Question, Scheme, get_scheme

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
    (MatchingRerun, "serialization"),
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


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


# A confirmation link's token, as the links carry it.
TOKEN = {"type": "string", "pattern": "^[A-Za-z0-9_-]{32,100}$"}
PERSONAL_TOKEN = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}

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
                    "202": _html_or_json(
                        Accepted,
                        "Held until the applicant confirms it from the link emailed to the address given "
                        "(the same answer whether or not that address has applied before).",
                    ),
                    "413": TOO_LARGE,
                    "415": UNSUPPORTED,
                    "422": _html_or_json(ErrorBody, "The application has errors; each names its field."),
                    "503": UNAVAILABLE,
                },
            }
        },
        "/applications/confirm": {
            "get": {
                "summary": "The page an emailed confirmation link opens (it changes nothing)",
                "parameters": [{"name": "token", "in": "query", "required": True, "schema": TOKEN}],
                "responses": {
                    "200": _page("A button that confirms the application (or: it is confirmed already)."),
                    "404": _page("No held application has this link."),
                    "410": _page("The link lapsed unused, or its application was withdrawn."),
                },
            },
            "post": {
                "summary": "Confirm a held application: it is received now, and goes to intake",
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {"token": TOKEN},
                                "required": ["token"],
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _page("Confirmed (or confirmed before)."),
                    "404": _page("No held application has this link."),
                    "409": _page("This address already has an application in the cohort."),
                    "410": _page("The link lapsed unused, or its application was withdrawn."),
                    "413": TOO_LARGE,
                    "415": UNSUPPORTED,
                    "422": _page(
                        "Too late: the cohort closed (or filled) before the confirmation; or a form "
                        "with fields other than the token."
                    ),
                    "503": _page("Not recorded just now: press the button again in a minute."),
                },
            },
        },
        "/programme/{cohortId}": {
            "get": {
                "summary": "A participant's page after the match, from their personal link (changes nothing)",
                "parameters": [
                    *cohort_id,
                    {"name": "token", "in": "query", "required": True, "schema": PERSONAL_TOKEN},
                ],
                "responses": {
                    "200": _page(
                        "The participant's pairs and meetings, and the forms to record what happened."
                    ),
                    "403": _page("The link is for another cohort than the address."),
                    "404": _page("No participant has this link."),
                    "410": _page("The link has expired, or its application was withdrawn."),
                },
            },
            "post": {
                "summary": "Record a meeting, training, a request for help, an early end, the evaluation",
                "parameters": cohort_id,
                "requestBody": {
                    "required": True,
                    "content": {
                        FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "token": PERSONAL_TOKEN,
                                    "action": {
                                        "type": "string",
                                        "enum": ["meeting", "training", "help", "end", "evaluation"],
                                    },
                                    "on": {"type": "string", "format": "date"},
                                    "minutes": {"type": "integer", "minimum": 5, "maximum": 600},
                                    "mode": {"type": "string", "enum": ["in_person", "online"]},
                                    "partner_id": {"type": "string"},
                                    "session": {"type": "string"},
                                    "message": {"type": "string", "maxLength": 2000},
                                    "reason": {"type": "string", "maxLength": 1000},
                                    "confirm": {"type": "string", "enum": ["yes"]},
                                },
                                "required": ["token", "action"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": _page("Recorded; the page again, saying so."),
                    "403": _page("The link is for another cohort than the address."),
                    "404": _page("No participant has this link."),
                    "410": _page("The link has expired, or its application was withdrawn."),
                    "422": _page(
                        "Not recorded: each wrong field named with its reason; or not a form of the page."
                    ),
                },
            },
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
                "summary": "This document; for one cohort (and a partner's institution), the applications "
                "it takes exactly",
                "parameters": [
                    {"name": "cohort", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "institution",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": sorted(load_institutions())},
                    },
                ],
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}},
                    "404": _error("No cohort has this id."),
                    "422": _error("No such institution, or the cohort's scheme takes no applicants from it."),
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
        "/cohorts/{cohortId}/evaluation-report": _report(
            "A cohort's programme evaluation report", "cohortId"
        ),
        "/schemes/{schemeId}/evaluation-report": _report(
            "A scheme's programme evaluation report, every cohort", "schemeId"
        ),
        "/cohorts/{cohortId}/matching-runs": {
            "post": {
                "summary": "Run matching again for a cohort whose run failed or died",
                "description": "The cohort's deadline is announced again and matching runs as at the "
                "deadline, its results emailed once. Refused while the deadline is ahead, while a run "
                "holds the cohort (until its lease runs out) and once matching has finished.",
                "security": SIGV4,
                "parameters": cohort_id,
                "responses": {
                    "202": _json(MatchingRerun, "Matching will run again shortly."),
                    "403": FORBIDDEN,
                    "404": _error("No cohort has this id."),
                    "409": _error("Not now: the deadline is ahead, a run holds it, or it is matched."),
                },
            }
        },
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


# ---------------------------------------------------------------- one cohort's document
#
# The document above describes every scheme at once, so it cannot say which answers a cohort
# takes: its applications allow any question, and any institution and grade. For one cohort (and,
# for a partner, its institution) the document below says exactly what the door accepts, so that
# every request it allows is accepted (schemathesis holds the API to it, every check included).

# Characters no single-line field may hold (mentoring.text.unsafe): control characters, line and
# paragraph separators, and the bidirectional controls. (Lone surrogates are refused too, but a
# range of them is no pattern ECMA-262 validators compile, so the document leaves them unsaid: no
# text a client can encode in UTF-8 holds one.)
_UNSAFE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# A multi-line field keeps line breaks (\n, \r, \v, \f, \x85, \u2028, \u2029) and refuses the rest.
_UNSAFE_BUT_BREAKS = r"\x00-\x09\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069"
_ONE_LINE = f"[^{_UNSAFE}]"
_NOT_BLANK = f"[^\\s{_UNSAFE}]"
# Letters, digits and the usual separators: addresses every mail system (and email-validator) takes.
# Bounded so that no part of an address, nor a label of its domain, can be longer than mail
# systems allow (64 and 63 characters).
_WORD = "[a-z0-9]{1,20}"
_PART = f"{_WORD}([._+-]{_WORD}){{0,2}}"
_LABEL = f"{_WORD}(-{_WORD}){{0,2}}"
EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": f"^{_PART}@{_LABEL}(\\.{_LABEL}){{0,3}}\\.(uk|com|org|net)$",
}


def _line(max_length: int, required: bool = True) -> dict[str, Any]:
    """One line of text; with something in it, when required (spaces alone are stripped away)."""
    pattern = f"^{_ONE_LINE}*{_NOT_BLANK}{_ONE_LINE}*$" if required else f"^{_ONE_LINE}*$"
    return {"type": "string", "minLength": 1 if required else 0, "maxLength": max_length, "pattern": pattern}


def _answer(question: Question) -> dict[str, Any]:
    match question.type:
        case "choice":
            return {"enum": list(question.values)}
        case "multi_choice":
            items: dict[str, Any] = {"enum": list(question.values)}
        case "tags":
            items = _line(60)
        case "number":
            number: dict[str, Any] = {"type": "integer"}
            if question.min is not None:
                number["minimum"] = question.min
            if question.max is not None:
                number["maximum"] = question.max
            return number
        case "email":
            return EMAIL
        case _:
            return _line(2000, question.required)
    listed: dict[str, Any] = {"type": "array", "items": items, "maxItems": min(question.max or 20, 20)}
    if question.required:
        listed["minItems"] = 1
    return listed


def _answers(scheme: Scheme, role: Role, purpose: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    questions = [q for q in scheme.questions_for(role) if q.purpose == purpose]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {**(extra or {}), **{q.id: _answer(q) for q in questions}},
        "required": [q.id for q in questions if q.required],
    }


def _applicant(code: str, required_institution: bool) -> dict[str, Any]:
    grades = load_institutions()[code].grades
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "given_name": _line(120),
            "family_name": _line(120),
            "email": EMAIL,
            "staff_number": {"anyOf": [_line(120), {"type": "null"}]},
            # The form names the institution; a partner's comes from its key (or is left out).
            "institution": {"const": code} if required_institution else {"enum": [code, None]},
            "department": _line(120),
            "job_title": _line(120),
            "grade": {"enum": list(grades)},
        },
        "required": [
            "given_name",
            "family_name",
            "email",
            "department",
            "job_title",
            "grade",
            *(["institution"] if required_institution else []),
        ],
    }


def _application(cohort_id: str, scheme: Scheme, codes: list[str], partner: bool) -> dict[str, Any]:
    """One application to this cohort: a branch for each role, each with the role's questions."""
    about = {"about": {"type": "string", "maxLength": 2000, "pattern": f"^[^{_UNSAFE_BUT_BREAKS}]*$"}}
    branches = []
    for role in scheme.roles:
        eligibility = _answers(scheme, role, "eligibility")
        matching = _answers(scheme, role, "matching", about)
        properties: dict[str, Any] = {
            "cohort_id": {"const": cohort_id},
            "role": {"const": role.value},
            "applicant": {"anyOf": [_applicant(code, not partner) for code in codes]},
            "self_identification": eligibility,
            "profile": matching,
            "monitoring": _ref(MonitoringAnswers),
            "consent": {"const": True},
        }
        required = ["cohort_id", "role", "applicant", "consent"]
        required += [
            name
            for name, part in (("self_identification", eligibility), ("profile", matching))
            if part["required"]
        ]
        if partner:
            properties["reference"] = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"}
            required.append("reference")
        branches.append(
            {"type": "object", "additionalProperties": False, "properties": properties, "required": required}
        )
    return {"oneOf": branches}


def cohort_openapi(cohort_id: str, scheme_id: str, institution: str | None = None) -> dict[str, Any]:
    """The document for one cohort (and one institution, as a partner's key would give): its
    applications carry exactly the answers, institutions and grades its scheme takes."""
    scheme = get_scheme(scheme_id)
    codes = [c for c in scheme.institutions if institution in (None, c)]
    document = copy.deepcopy(openapi())
    schemas = document["components"]["schemas"]
    schemas["CohortApplication"] = _application(cohort_id, scheme, codes, partner=False)
    schemas["CohortPartnerApplication"] = _application(cohort_id, scheme, codes, partner=True)
    schemas["CohortPartnerBatch"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "applications": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/CohortPartnerApplication"},
                "minItems": 1,
                "maxItems": 100,
            }
        },
        "required": ["applications"],
    }
    paths = document["paths"]
    paths["/applications"]["post"]["requestBody"]["content"] = {
        JSON: {"schema": {"$ref": "#/components/schemas/CohortApplication"}}
    }
    paths["/partners/applications"]["post"]["requestBody"]["content"][JSON]["schema"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/CohortPartnerBatch"},
            {"$ref": "#/components/schemas/CohortPartnerApplication"},
        ]
    }
    parameters = paths["/openapi.json"]["get"]["parameters"]
    parameters[0]["schema"] = {"const": cohort_id}
    parameters[1]["schema"] = {"enum": list(scheme.institutions)}
    document["info"]["title"] += f": cohort {cohort_id}"
    return document
