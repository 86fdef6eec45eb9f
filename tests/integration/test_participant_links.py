"""The participant's personal link: a page that records meetings, training attendance, requests for
help, early ends and the evaluation; and, played as someone who means harm, a link that is wrong, expired, for
another cohort or used for another person's pair, which changes nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from mentoring.evaluation import questions
from mentoring.models import Role
from mentoring.participation import link_token
from mentoring.programme import LONDON, calendar_of
from mentoring.scheme import get_scheme

from tests.integration.helpers import Stack, api_event
from tests.integration.programme import RESOURCE, Programme, open_page, partner, post, records, store

pytestmark = pytest.mark.integration


def test_the_link_opens_the_participants_page_and_changes_nothing(stack: Stack, matched: Programme) -> None:
    before = records(stack, matched.cohort_id)

    page = open_page(stack, matched.cohort_id, matched.tokens["Ada"])

    assert page["statusCode"] == 200
    assert page["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert page["multiValueHeaders"]["Referrer-Policy"] == ["no-referrer"]
    mentor = partner(stack, matched, "Ada")
    assert f"{mentor} Family" in page["body"]
    assert "0 meetings recorded, of the 6" in page["body"]
    assert "you take part as a mentee" in page["body"]
    # The token is in the page's forms, never in the address they post to.
    assert f'action="/dev/programme/{matched.cohort_id}"' in page["body"]
    assert records(stack, matched.cohort_id) == before


def test_a_meeting_recorded_by_both_is_counted_once(stack: Stack, matched: Programme) -> None:
    mentor = partner(stack, matched, "Ada")
    met = matched.starts + timedelta(days=3)
    with time_machine.travel(
        datetime.combine(met, datetime.min.time(), LONDON) + timedelta(hours=18), tick=True
    ):
        first = post(
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
        second = post(
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
        page = open_page(stack, matched.cohort_id, matched.tokens["Ada"])

    assert first["statusCode"] == second["statusCode"] == 200, first["body"]
    assert "your meeting is recorded" in second["body"]
    meetings = store(stack).meetings(matched.cohort_id)
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
    before = records(stack, matched.cohort_id)
    with time_machine.travel(
        datetime.combine(matched.starts, datetime.min.time(), LONDON) + timedelta(hours=20)
    ):
        response = post(
            stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "meeting", **sent}
        )

    assert response["statusCode"] == 422
    assert "Nothing was recorded" in response["body"]
    summary = re.search(r'class="error-summary".*?</div>', response["body"], re.S)
    assert summary is not None
    assert f'href="#{field}"' in summary.group(0)
    assert message in summary.group(0)
    assert records(stack, matched.cohort_id) == before


def test_training_is_confirmed_once_it_has_happened_and_only_ones_own(
    stack: Stack, matched: Programme
) -> None:
    induction = f"training.{matched.training:%Y%m%d}.mentee-induction"
    briefing = f"training.{matched.training + timedelta(days=1):%Y%m%d}.mentor-briefing"
    before_it = datetime.combine(matched.training, datetime.min.time(), LONDON)
    with time_machine.travel(before_it, tick=False):
        early = post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": induction},
        )
    with time_machine.travel(before_it + timedelta(days=1), tick=False):
        not_hers = post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": briefing},
        )
        done = post(
            stack,
            matched.cohort_id,
            {"token": matched.tokens["Ada"], "action": "training", "session": induction},
        )
        again = post(
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
    attended = store(stack).attendance(matched.cohort_id)
    assert [(a.application_id, a.session_id) for a in attended] == [(matched.ids["Ada"], induction)]


def test_help_reaches_the_coordinators_list(stack: Stack, matched: Programme) -> None:
    empty = post(stack, matched.cohort_id, {"token": matched.tokens["Bo"], "action": "help", "message": "  "})
    asked = post(
        stack,
        matched.cohort_id,
        {"token": matched.tokens["Bo"], "action": "help", "message": "We cannot find a time to meet."},
    )

    assert empty["statusCode"] == 422
    assert "say what you would like help with" in empty["body"]
    assert asked["statusCode"] == 200
    requests = store(stack).help_requests(matched.cohort_id)
    assert [(r.application_id, r.message) for r in requests] == [
        (matched.ids["Bo"], "We cannot find a time to meet.")
    ]


def test_a_partnership_ends_once_and_only_by_one_of_the_pair(stack: Stack, matched: Programme) -> None:
    mentor = partner(stack, matched, "Ada")
    unticked = post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "end"})
    ended = post(
        stack,
        matched.cohort_id,
        {"token": matched.tokens["Ada"], "action": "end", "confirm": "yes", "reason": "We do not get on."},
    )
    again = post(
        stack, matched.cohort_id, {"token": matched.tokens[mentor], "action": "end", "confirm": "yes"}
    )

    assert unticked["statusCode"] == 422
    assert "tick the box" in unticked["body"]
    assert ended["statusCode"] == 200
    assert "ended on" in ended["body"]
    assert again["statusCode"] == 422
    assert "no current mentoring partner" in again["body"]
    (end,) = store(stack).ended(matched.cohort_id)
    assert (end.mentee_id, end.ended_by, end.reason) == (matched.ids["Ada"], "mentee", "We do not get on.")


def test_a_mentor_cannot_end_or_record_for_a_pair_that_is_not_theirs(
    stack: Stack, matched: Programme
) -> None:
    """The attacker holds a real link and names someone else's pair in the form."""
    bos_mentor, adas_mentor = partner(stack, matched, "Bo"), partner(stack, matched, "Ada")
    other_mentor = adas_mentor
    free = next(n for n in ("Cy", "Di", "Ed") if n not in (bos_mentor, adas_mentor))
    before = records(stack, matched.cohort_id)

    ending = post(
        stack,
        matched.cohort_id,
        {
            "token": matched.tokens[other_mentor],
            "action": "end",
            "confirm": "yes",
            "partner_id": matched.ids["Bo"],
        },
    )
    with time_machine.travel(
        datetime.combine(matched.starts, datetime.min.time(), LONDON) + timedelta(hours=20)
    ):
        meeting = post(
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
    assert records(stack, matched.cohort_id) == before


def test_a_link_that_is_wrong_expired_or_for_another_cohort_says_so_and_changes_nothing(
    stack: Stack, matched: Programme
) -> None:
    other = stack.open_cohort()
    wrong = matched.tokens["Ada"][:-1] + ("A" if matched.tokens["Ada"][-1] != "A" else "B")
    forged = link_token(b"not the secret", matched.cohort_id, matched.ids["Ada"])
    fields = {"action": "help", "message": "hello"}
    before = records(stack, matched.cohort_id)

    pages = {
        "wrong": post(stack, matched.cohort_id, {"token": wrong, **fields}),
        "forged": post(stack, matched.cohort_id, {"token": forged, **fields}),
        "malformed": post(stack, matched.cohort_id, {"token": "<script>", **fields}),
        "other cohort": post(stack, other, {"token": matched.tokens["Ada"], **fields}),
        "opened elsewhere": open_page(stack, other, matched.tokens["Ada"]),
    }
    with time_machine.travel(datetime.now(UTC) + timedelta(days=365)):
        pages["expired"] = post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], **fields})
        pages["expired page"] = open_page(stack, matched.cohort_id, matched.tokens["Ada"])

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
    assert records(stack, matched.cohort_id) == before
    assert store(stack).help_requests(other) == []


def test_a_form_that_is_not_the_pages_is_refused(stack: Stack, matched: Programme) -> None:
    as_json = stack.call(
        "ParticipantFunction",
        api_event(
            "POST", f"/programme/{matched.cohort_id}", {"token": matched.tokens["Ada"]}, resource=RESOURCE
        ),
    )
    unknown = post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], "action": "delete-everything"})

    assert as_json["statusCode"] == 422
    assert "application/x-www-form-urlencoded" in as_json["body"]
    assert unknown["statusCode"] == 422
    assert "is not one of the page" in unknown["body"]


def test_what_the_programme_records_goes_with_the_cohorts_personal_data(
    stack: Stack, matched: Programme
) -> None:
    """Applicant data with the cohort's retention (DynamoDB deletes it then); a link's record no later."""
    on = matched.starts.isoformat()
    with time_machine.travel(
        datetime.combine(matched.training, datetime.min.time(), LONDON) + timedelta(days=1)
    ):
        induction = f"training.{matched.training:%Y%m%d}.mentee-induction"
        for fields in (
            {"action": "meeting", "on": on, "minutes": "30", "mode": "online"},
            {"action": "training", "session": induction},
            {"action": "help", "message": "A question"},
            {"action": "end", "confirm": "yes"},
        ):
            assert (
                post(stack, matched.cohort_id, {"token": matched.tokens["Ada"], **fields})["statusCode"]
                == 200
            )
    cohort = store(stack).get_cohort(matched.cohort_id)
    assert cohort is not None
    expected = int((cohort.recruitment_deadline + timedelta(days=548)).timestamp())  # the template's default
    items = stack.client("dynamodb").query(
        TableName=stack.physical("ApplicationsTable"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{matched.cohort_id}"}},
    )["Items"]
    kept = [i for i in items if i["sk"]["S"].split("#")[0] in {"MEETING", "ATTENDED", "HELP", "ENDED"}]
    assert sorted({i["sk"]["S"].split("#")[0] for i in kept}) == ["ATTENDED", "ENDED", "HELP", "MEETING"]
    assert all(i["expires_at"] == {"N": str(expected)} for i in kept)
    links = stack.client("dynamodb").scan(TableName=stack.physical("ApplicationsTable"))["Items"]
    mine = [i for i in links if i["pk"]["S"].startswith("LINK#") and matched.cohort_id in i["data"]["S"]]
    assert len(mine) == 5
    assert all(0 < int(i["expires_at"]["N"]) <= expected for i in mine)
    assert all(matched.tokens["Ada"] not in i["pk"]["S"] + i["data"]["S"] for i in mine)  # kept hashed


def _monitoring_items(stack: Stack, cohort_id: str) -> list[dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.physical("MonitoringTable"))["Items"]
    return [i for i in items if i.get("cohort_id", {}).get("S") == cohort_id]


def test_the_evaluation_is_answered_once_from_the_page_sealed_apart_from_identity(
    stack: Stack, matched: Programme
) -> None:
    scheme = get_scheme("b-mentor-professional")
    asked = questions(scheme, Role.MENTEE)
    cohort = store(stack).get_cohort(matched.cohort_id)
    assert cohort is not None
    last_day = datetime.combine(calendar_of(cohort).programme_ends, datetime.min.time(), LONDON)
    answers = {q.id: q.options[0].value for q in asked}
    sent = {"token": matched.tokens["Ada"], "action": "evaluation", **answers, "next_year": "yes"}

    with time_machine.travel(last_day - timedelta(days=1)):
        early_page = open_page(stack, matched.cohort_id, matched.tokens["Ada"])
        early = post(stack, matched.cohort_id, sent)
    with time_machine.travel(last_day + timedelta(hours=10)):
        page = open_page(stack, matched.cohort_id, matched.tokens["Ada"])
        wrong = post(stack, matched.cohort_id, {**sent, asked[0].id: "ever so much"})
        answered = post(stack, matched.cohort_id, sent)
        again = post(stack, matched.cohort_id, sent)
    with time_machine.travel(last_day + timedelta(days=29)):
        late = post(stack, matched.cohort_id, {**sent, "token": matched.tokens["Bo"]})

    assert "How did it go?" not in early_page["body"]
    assert early["statusCode"] == 422
    assert "opens on the programme" in early["body"]
    assert asked[0].text_for(Role.MENTEE) in page["body"]
    assert "kept with your name" in page["body"]  # the one answer that is not anonymous says so
    assert wrong["statusCode"] == 422
    assert f'href="#{asked[0].id}"' in wrong["body"]
    assert "ever so much" not in wrong["body"]
    assert answered["statusCode"] == 200
    assert "your answers to the evaluation are in" in answered["body"]
    assert again["statusCode"] == 422
    assert "answered the evaluation already" in again["body"]
    assert late["statusCode"] == 422
    assert "has closed" in late["body"]
    held = [
        i for i in _monitoring_items(stack, matched.cohort_id) if i["record_id"]["S"].startswith("EVALUATION")
    ]
    assert len(held) == 1  # once, however often sent
    assert set(held[0]) == {"record_id", "cohort_id", "scheme_id", "role", "sealed"}  # no identity, no time
    assert matched.ids["Ada"] not in json.dumps(held[0])
    assert [(c.application_id, c.would_mentor) for c in store(stack).next_year(matched.cohort_id)] == [
        (matched.ids["Ada"], True)
    ]
