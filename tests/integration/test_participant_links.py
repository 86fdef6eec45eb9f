"""The participant's personal link: a page that records meetings, training attendance, requests for
help and early ends; and, played as someone who means harm, a link that is wrong, expired, for
another cohort or used for another person's pair, which changes nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from mentoring.adapters.dynamodb import DynamoProgramme
from mentoring.models import Cohort
from mentoring.participation import link_for, link_token
from mentoring.programme import LONDON

from tests.integration.helpers import FORM, Stack, api_event, applicant_submission, intake_message, sqs_event

pytestmark = pytest.mark.integration

KEY = b"a test key for the programme links"
RESOURCE = "/programme/{cohortId}"


@dataclass(frozen=True)
class Programme:
    cohort_id: str
    ids: dict[str, str]  # first name -> application id
    tokens: dict[str, str]  # first name -> token
    starts: date
    training: date


def _store(stack: Stack) -> DynamoProgramme:
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


@pytest.fixture
def matched(stack: Stack) -> Programme:
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
    stack.purge("NotifyQueue")
    store = _store(stack)
    cohort = store.get_cohort(cohort_id)
    assert isinstance(cohort, Cohort)
    ids, tokens = {}, {}
    for application in store.list_applications(cohort_id):
        name = application.applicant.given_name
        ids[name] = application.application_id
        store.register_link(link_for(KEY, cohort, application))
        tokens[name] = link_token(KEY, cohort_id, application.application_id)
    return Programme(cohort_id, ids, tokens, starts, training)


def _open(stack: Stack, cohort_id: str, token: str) -> dict[str, Any]:
    event = api_event("GET", f"/programme/{cohort_id}", None, resource=RESOURCE, query={"token": token})
    response: dict[str, Any] = stack.call("ParticipantFunction", event)
    return response


def _post(stack: Stack, cohort_id: str, fields: dict[str, str]) -> dict[str, Any]:
    event = api_event(
        "POST", f"/programme/{cohort_id}", urlencode(fields), resource=RESOURCE, content_type=FORM
    )
    response: dict[str, Any] = stack.call("ParticipantFunction", event)
    return response


def _records(stack: Stack, cohort_id: str) -> list[tuple[str, str]]:
    """Every programme record of the cohort, as stored (what an attacker's request must not change)."""
    items = stack.client("dynamodb").query(
        TableName=stack.physical("ApplicationsTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}},
    )["Items"]
    return sorted((i["sk"]["S"], json.dumps(i, sort_keys=True)) for i in items)


def _partner(stack: Stack, p: Programme, mentee: str) -> str:
    match = _store(stack).get_match(p.cohort_id, p.ids[mentee])
    assert match is not None
    return next(name for name, i in p.ids.items() if i == match.mentor_id)


def test_the_link_opens_the_participants_page_and_changes_nothing(stack: Stack, matched: Programme) -> None:
    before = _records(stack, matched.cohort_id)

    page = _open(stack, matched.cohort_id, matched.tokens["Ada"])

    assert page["statusCode"] == 200
    assert page["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert page["multiValueHeaders"]["Referrer-Policy"] == ["no-referrer"]
    mentor = _partner(stack, matched, "Ada")
    assert f"{mentor} Family" in page["body"]
    assert "0 meetings recorded, of the 6" in page["body"]
    assert "you take part as a mentee" in page["body"]
    # The token is in the page's forms, never in the address they post to.
    assert f'action="/dev/programme/{matched.cohort_id}"' in page["body"]
    assert _records(stack, matched.cohort_id) == before


def test_a_meeting_recorded_by_both_is_counted_once(stack: Stack, matched: Programme) -> None:
    mentor = _partner(stack, matched, "Ada")
    met = matched.starts + timedelta(days=3)
    with time_machine.travel(
        datetime.combine(met, datetime.min.time(), LONDON) + timedelta(hours=18), tick=True
    ):
        first = _post(
            stack,
            matched.cohort_id,
            {
                "token": matched.tokens["Ada"],
                "action": "meeting",
                "on": met.isoformat(),
                "minutes": "45",
                "mode": "online",
            },
        )
        second = _post(
            stack,
            matched.cohort_id,
            {
                "token": matched.tokens[mentor],
                "action": "meeting",
                "on": met.isoformat(),
                "minutes": "60",
                "mode": "in_person",
            },
        )
        page = _open(stack, matched.cohort_id, matched.tokens["Ada"])

    assert first["statusCode"] == second["statusCode"] == 200, first["body"]
    assert "your meeting is recorded" in second["body"]
    meetings = _store(stack).meetings(matched.cohort_id)
    assert [(m.on, m.minutes, m.mode, m.recorded_by.value) for m in meetings] == [
        (met, 60, "in_person", "mentor")
    ]
    assert "1 meeting recorded, of the 6" in page["body"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"on": "2099-01-01", "minutes": "45", "mode": "online"}, "on", "is in the future"),
        ({"on": "", "minutes": "45", "mode": "online"}, "on", "is required"),
        ({"on": "{today}", "minutes": "2", "mode": "online"}, "minutes", "greater than or equal to 5"),
        ({"on": "{today}", "minutes": "45", "mode": "by carrier pigeon"}, "mode", "in_person"),
        (
            {"on": "{today}", "minutes": "45", "mode": "online", "partner_id": "someone-else"},
            "partner_id",
            "is not one of your current mentoring partners",
        ),
    ],
)
def test_a_wrong_meeting_is_refused_naming_the_field_and_nothing_is_stored(
    stack: Stack, matched: Programme, fields: dict[str, str], field: str, message: str
) -> None:
    today = datetime.now(LONDON).date()
    sent = {k: v.replace("{today}", max(today, matched.starts).isoformat()) for k, v in fields.items()}
    before = _records(stack, matched.cohort_id)
    with time_machine.travel(
        datetime.combine(matched.starts, datetime.min.time(), LONDON) + timedelta(hours=20)
    ):
        response = _post(
            stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "meeting", **sent}
        )

    assert response["statusCode"] == 422
    assert "Nothing was recorded" in response["body"]
    summary = re.search(r'class="error-summary".*?</div>', response["body"], re.S)
    assert summary is not None
    assert f'href="#{field}"' in summary.group(0)
    assert message in summary.group(0)
    assert _records(stack, matched.cohort_id) == before


def test_training_is_confirmed_once_it_has_happened_and_only_ones_own(
    stack: Stack, matched: Programme
) -> None:
    induction = f"training.{matched.training:%Y%m%d}.mentee-induction"
    briefing = f"training.{matched.training + timedelta(days=1):%Y%m%d}.mentor-briefing"
    before_it = datetime.combine(matched.training, datetime.min.time(), LONDON)
    with time_machine.travel(before_it, tick=False):
        early = _post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": induction},
        )
    with time_machine.travel(before_it + timedelta(days=1), tick=False):
        not_hers = _post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": briefing},
        )
        done = _post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": induction},
        )
        again = _post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": induction},
        )

    assert early["statusCode"] == 422
    assert "has not happened yet" in early["body"]
    assert not_hers["statusCode"] == 422
    assert "is not a training session of yours" in not_hers["body"]
    assert done["statusCode"] == again["statusCode"] == 200
    assert "attendance confirmed" in again["body"]
    attended = _store(stack).attendance(matched.cohort_id)
    assert [(a.application_id, a.session_id) for a in attended] == [(matched.ids["Ada"], induction)]


def test_help_reaches_the_coordinators_list(stack: Stack, matched: Programme) -> None:
    empty = _post(
        stack, matched.cohort_id, {"token": matched.tokens["Bo"], "action": "help", "message": "  "}
    )
    asked = _post(
        stack,
        matched.cohort_id,
        {"token": matched.tokens["Bo"], "action": "help", "message": "We cannot find a time to meet."},
    )

    assert empty["statusCode"] == 422
    assert "say what you would like help with" in empty["body"]
    assert asked["statusCode"] == 200
    requests = _store(stack).help_requests(matched.cohort_id)
    assert [(r.application_id, r.message) for r in requests] == [
        (matched.ids["Bo"], "We cannot find a time to meet.")
    ]


def test_a_partnership_ends_once_and_only_by_one_of_the_pair(stack: Stack, matched: Programme) -> None:
    mentor = _partner(stack, matched, "Ada")
    unticked = _post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "end"})
    ended = _post(
        stack,
        matched.cohort_id,
        {"token": matched.tokens["Ada"], "action": "end", "confirm": "yes", "reason": "We do not get on."},
    )
    again = _post(
        stack, matched.cohort_id, {"token": matched.tokens[mentor], "action": "end", "confirm": "yes"}
    )

    assert unticked["statusCode"] == 422
    assert "tick the box" in unticked["body"]
    assert ended["statusCode"] == 200
    assert "ended on" in ended["body"]
    assert again["statusCode"] == 422
    assert "no current mentoring partner" in again["body"]
    (end,) = _store(stack).ended(matched.cohort_id)
    assert (end.mentee_id, end.ended_by, end.reason) == (matched.ids["Ada"], "mentee", "We do not get on.")


def test_a_mentor_cannot_end_or_record_for_a_pair_that_is_not_theirs(
    stack: Stack, matched: Programme
) -> None:
    """The attacker holds a real link and names someone else's pair in the form."""
    bos_mentor, adas_mentor = _partner(stack, matched, "Bo"), _partner(stack, matched, "Ada")
    other_mentor = adas_mentor
    free = next(n for n in ("Cy", "Di", "Ed") if n not in (bos_mentor, adas_mentor))
    before = _records(stack, matched.cohort_id)

    ending = _post(
        stack,
        matched.cohort_id,
        {
            "token": matched.tokens[other_mentor],
            "action": "end",
            "confirm": "yes",
            "partner_id": matched.ids["Bo"],
        },
    )
    with time_machine.travel(datetime.combine(matched.starts, datetime.min.time(), LONDON) + timedelta(hours=20)):
        meeting = _post(
            stack,
            matched.cohort_id,
            {
                "token": matched.tokens[free],
                "action": "meeting",
                "on": matched.starts.isoformat(),
                "minutes": "30",
                "mode": "online",
                "partner_id": matched.ids["Bo"],
            },
        )

    assert ending["statusCode"] == 422
    assert "is not one of your current mentoring partners" in ending["body"]
    assert meeting["statusCode"] == 422
    assert "no current mentoring partner" in meeting["body"]
    assert _records(stack, matched.cohort_id) == before


def test_a_link_that_is_wrong_expired_or_for_another_cohort_says_so_and_changes_nothing(
    stack: Stack, matched: Programme
) -> None:
    other = stack.open_cohort()
    wrong = matched.tokens["Ada"][:-1] + ("A" if matched.tokens["Ada"][-1] != "A" else "B")
    forged = link_token(b"not the secret", matched.cohort_id, matched.ids["Ada"])
    fields = {"action": "help", "message": "hello"}
    before = _records(stack, matched.cohort_id)

    pages = {
        "wrong": _post(stack, matched.cohort_id, {"token": wrong, **fields}),
        "forged": _post(stack, matched.cohort_id, {"token": forged, **fields}),
        "malformed": _post(stack, matched.cohort_id, {"token": "<script>", **fields}),
        "other cohort": _post(stack, other, {"token": matched.tokens["Ada"], **fields}),
        "opened elsewhere": _open(stack, other, matched.tokens["Ada"]),
    }
    with time_machine.travel(datetime.now(UTC) + timedelta(days=365)):
        pages["expired"] = _post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], **fields})
        pages["expired page"] = _open(stack, matched.cohort_id, matched.tokens["Ada"])

    statuses = {name: page["statusCode"] for name, page in pages.items()}
    assert statuses == {
        "wrong": 404,
        "forged": 404,
        "malformed": 404,
        "other cohort": 403,
        "opened elsewhere": 403,
        "expired": 410,
        "expired page": 410,
    }
    for page in pages.values():
        assert "Nothing has been recorded" in page["body"]
        assert "<script>" not in page["body"]
    assert _records(stack, matched.cohort_id) == before
    assert _store(stack).help_requests(other) == []


def test_a_form_that_is_not_the_pages_is_refused(stack: Stack, matched: Programme) -> None:
    as_json = stack.call(
        "ParticipantFunction",
        api_event(
            "POST", f"/programme/{matched.cohort_id}", {"token": matched.tokens["Ada"]}, resource=RESOURCE
        ),
    )
    unknown = _post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "delete-everything"})

    assert as_json["statusCode"] == 422
    assert "application/x-www-form-urlencoded" in as_json["body"]
    assert unknown["statusCode"] == 422
    assert "is not one of the page" in unknown["body"]
