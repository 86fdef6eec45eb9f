"""A cohort matched at its deadline with each participant's personal link kept, and the requests
a participant's browser sends from the page the link opens: shared by the programme's tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from mentoring.adapters.dynamodb import DynamoProgramme
from mentoring.models import Cohort
from mentoring.participation import link_for, link_token
from mentoring.programme import LONDON

from tests.integration.helpers import FORM, Stack, api_event, applicant_submission, intake_message, sqs_event

KEY = b"a test key for the programme links"
RESOURCE = "/programme/{cohortId}"


@dataclass(frozen=True)
class Programme:
    cohort_id: str
    ids: dict[str, str]  # first name -> application id
    tokens: dict[str, str]  # first name -> token
    starts: date
    training: date


def store(stack: Stack) -> DynamoProgramme:
    return DynamoProgramme(stack.physical("ApplicationsTable"), stack.client("dynamodb"))


def _session(title: str, role: str, on: date, compulsory: bool = True) -> dict[str, Any]:
    return {
        "title": title,
        "roles": [role],
        "date": on.isoformat(),
        "starts": "10:00",
        "ends": "11:30",
        "where": "online",
        "compulsory": compulsory,
    }


def matched_programme(stack: Stack) -> Programme:
    """A cohort matched at its deadline: Ada and Bo (mentees), Cy, Di and Ed (mentors, one left
    free); each participant's link kept as notify keeps it before emailing it."""
    deadline = datetime.now(UTC) + timedelta(hours=1)
    starts = deadline.astimezone(LONDON).date() + timedelta(days=1)
    training = starts + timedelta(days=7)
    request = {
        **stack.cohort_request(deadline),
        "calendar": {
            "training": [
                _session("Mentee induction", "mentee", training),
                _session("Mentor briefing", "mentor", training + timedelta(days=1)),
            ],
            "programme_starts": starts.isoformat(),
            "programme_ends": (starts + timedelta(days=180)).isoformat(),
            "events": [
                {
                    **_session("Celebration", "mentee", starts + timedelta(days=170), False),
                    "roles": ["mentee", "mentor"],
                }
            ],
            "minimum_meetings": 6,
        },
    }
    opened = stack.call("AdminFunction", api_event("POST", "/cohorts", request))
    assert opened["statusCode"] == 201, opened["body"]
    cohort_id = request["cohort_id"]
    people = [
        ("Ada", "mentee", "UCL", 6),
        ("Bo", "mentee", "QMUL", 6),
        ("Cy", "mentor", "KCL", 9),
        ("Di", "mentor", "KCL", 9),
        ("Ed", "mentor", "KCL", 9),
    ]
    submissions = []
    for name, role, institution, grade in people:
        submission = applicant_submission(
            cohort_id, role=role, institution=institution, grade=grade, capacity=1
        )
        submission["applicant"]["given_name"] = name
        submissions.append(submission)
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions]))
    assert stack.deliver_deadline(cohort_id)["ran"] is True
    stack.store_monitoring(cohort_id)  # the deadline's other half: the answers stored in a batch
    stack.purge("NotifyQueue")
    kept = store(stack)
    cohort = kept.get_cohort(cohort_id)
    assert isinstance(cohort, Cohort)
    ids, tokens = {}, {}
    for application in kept.list_applications(cohort_id):
        name = application.applicant.given_name
        ids[name] = application.application_id
        kept.register_link(link_for(KEY, cohort, application))
        tokens[name] = link_token(KEY, cohort_id, application.application_id)
    return Programme(cohort_id, ids, tokens, starts, training)


def open_page(stack: Stack, cohort_id: str, token: str) -> dict[str, Any]:
    event = api_event("GET", f"/programme/{cohort_id}", None, resource=RESOURCE, query={"token": token})
    response: dict[str, Any] = stack.call("ParticipantFunction", event)
    return response


def post(stack: Stack, cohort_id: str, fields: dict[str, str]) -> dict[str, Any]:
    event = api_event(
        "POST", f"/programme/{cohort_id}", urlencode(fields), resource=RESOURCE, content_type=FORM
    )
    response: dict[str, Any] = stack.call("ParticipantFunction", event)
    return response


def records(stack: Stack, cohort_id: str) -> list[tuple[str, str]]:
    """Every programme record of the cohort, as stored (what an attacker's request must not change)."""
    items = stack.client("dynamodb").query(
        TableName=stack.physical("ApplicationsTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}},
    )["Items"]
    return sorted((i["sk"]["S"], json.dumps(i, sort_keys=True)) for i in items)


def partner(stack: Stack, p: Programme, mentee: str) -> str:
    match = store(stack).get_match(p.cohort_id, p.ids[mentee])
    assert match is not None
    return next(name for name, i in p.ids.items() if i == match.mentor_id)
