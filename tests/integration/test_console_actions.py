"""The console's actions: each through the domain function the JSON API uses, each confirmed by
the person first, each written to the audit log, and each refused where the cohort's state or the
person's role does not allow it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from mentoring.adapters.dynamodb import DynamoAuditLog
from mentoring.models import StaffRole
from mentoring.programme import default_calendar
from mentoring.scheme import get_scheme

from tests.integration.console import PASSWORD, Browser, new_staff, signed_in
from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    intake_message,
    queued_bodies,
    sqs_event,
)
from tests.integration.test_matching_leases import announced_deadlines, killed_run, past_cohort

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
EXAMPLES = Path(__file__).parents[1] / "examples" / "womens-mentoring-pilot.yaml"


def audit_actions(stack: Stack, cohort_id: str) -> list[tuple[str, str]]:
    entries = DynamoAuditLog(stack.physical("ApplicationsTable"), stack.client("dynamodb")).entries()
    return [(e.actor, e.action) for e in entries if e.cohort_id == cohort_id]


def cohort_item(stack: Stack, cohort_id: str) -> dict[str, object]:
    return next(c for c in stack_cohorts(stack) if c["cohort_id"] == cohort_id)


def stack_cohorts(stack: Stack) -> list[dict[str, object]]:
    from mentoring.adapters.dynamodb import DynamoApplications

    store = DynamoApplications(stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb"))
    return [c.model_dump() for c in store.list_cohorts()]


@pytest.fixture
def coordinator(stack: Stack) -> tuple[Browser, str]:
    member = new_staff(
        stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional", "womens-mentoring-pilot")
    )
    return signed_in(stack, member), member.email


def test_a_coordinator_opens_a_cohort_and_its_deadline_is_scheduled_in_london_time(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    browser.get("/console/cohorts/new")
    deadline = (datetime.now(LONDON) + timedelta(days=30)).replace(hour=17, minute=0, second=0, microsecond=0)
    name = f"B-MEntor console {datetime.now(UTC):%H%M%S%f}"

    reply = browser.post(
        "/console/cohorts/new",
        {
            "scheme_id": "b-mentor-professional",
            "name": name,
            "recruitment_deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
            "coordinator_email": email,
        },
    )

    assert reply.status == 303, reply.body
    cohort_id = reply.location.split("/cohorts/")[1].split("?")[0]
    schedule = stack.schedule_for(cohort_id)
    assert schedule["ScheduleExpression"] == f"at({deadline.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/London"
    assert (email, "opened the cohort") in audit_actions(stack, cohort_id)
    page = browser.get(f"/console/cohorts/{cohort_id}")
    assert "Recruitment is open" in page.body
    assert f"{deadline.day} {deadline:%B %Y}, 5:00pm" in page.body


def test_a_cohort_opened_with_its_own_programme_dates_keeps_them_and_wrong_ones_are_named(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    browser.get("/console/cohorts/new")
    deadline = (datetime.now(LONDON) + timedelta(days=30)).replace(hour=17, minute=0, second=0, microsecond=0)
    usual = default_calendar(get_scheme("b-mentor-professional"), deadline)  # sessions inside it
    starts, ends = usual.programme_starts - timedelta(days=1), usual.programme_ends + timedelta(days=14)
    form = {
        "scheme_id": "b-mentor-professional",
        "name": f"B-MEntor programme {datetime.now(UTC):%H%M%S%f}",
        "recruitment_deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
        "coordinator_email": email,
    }

    wrong = browser.post(
        "/console/cohorts/new",
        {**form, "programme_starts": "31/02/2027", "minimum_meetings": "lots"},
    )
    backwards = browser.post(
        "/console/cohorts/new",
        {**form, "programme_starts": ends.isoformat(), "programme_ends": starts.isoformat()},
    )
    opened = browser.post(
        "/console/cohorts/new",
        {
            **form,
            "programme_starts": starts.isoformat(),
            "programme_ends": ends.isoformat(),
            "minimum_meetings": "8",
        },
    )

    assert wrong.status == backwards.status == 400
    assert set(re.findall(r'<li><a href="#([^"]+)">', wrong.body)) == {"programme_starts", "minimum_meetings"}
    assert set(re.findall(r'<li><a href="#([^"]+)">', backwards.body)) == {"programme_ends"}
    assert "The programme&#39;s end is" in backwards.body
    assert 'id="programme_ends-error"' in backwards.body
    assert opened.status == 303, opened.body
    cohort_id = opened.location.split("/cohorts/")[1].split("?")[0]
    calendar = cohort_item(stack, cohort_id)["calendar"]
    assert isinstance(calendar, dict)
    assert (calendar["programme_starts"], calendar["programme_ends"]) == (starts, ends)
    assert calendar["minimum_meetings"] == 8
    assert calendar["training"]  # the scheme's sessions, moved to the deadline


def open_with_places(browser: Browser, email: str, name: str, places: int) -> str:
    """A B-MEntor Professional cohort opened from the console's form with its own number of places."""
    browser.get("/console/cohorts/new")
    deadline = (datetime.now(LONDON) + timedelta(days=30)).strftime("%Y-%m-%dT17:00")
    reply = browser.post(
        "/console/cohorts/new",
        {
            "scheme_id": "b-mentor-professional",
            "name": f"{name} {datetime.now(UTC):%H%M%S%f}",
            "recruitment_deadline": deadline,
            "coordinator_email": email,
            "places": str(places),
        },
    )
    return reply.location.split("/cohorts/")[1].split("?")[0]


def test_a_cohort_opened_with_its_own_number_of_places_keeps_to_it(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    cohort_id = open_with_places(browser, email, "Two places", 2)

    mentees = [applicant_submission(cohort_id) for _ in range(3)]
    stack.call("IntakeFunction", sqs_event([intake_message(m) for m in mentees]))

    assert sorted(a["waiting_list"] for a in stack.applications(cohort_id)) == [False, False, True]
    assert "2 of 2 taken" in browser.get(f"/console/cohorts/{cohort_id}").body


def test_a_withdrawn_application_frees_its_place_for_the_first_waiting_and_is_audited(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    cohort_id = open_with_places(browser, email, "Withdrawals", 1)
    stack.call(
        "IntakeFunction", sqs_event([intake_message(applicant_submission(cohort_id)) for _ in range(2)])
    )
    holder, waiting = sorted(stack.applications(cohort_id), key=lambda a: a["waiting_list"])
    stack.purge("NotifyQueue")
    path = f"/console/cohorts/{cohort_id}/applications/{holder['application_id']}"

    page = browser.get(path)
    asked = browser.get(f"{path}/withdraw")
    no_reason = browser.post(f"{path}/withdraw", {})
    done = browser.post(f"{path}/withdraw", {"reason": "applicant_request"})
    again = browser.post(f"{path}/withdraw", {"reason": "applicant_request"})

    assert f'{path}/withdraw" role="button"' in page.body
    assert asked.status == 200
    assert 'type="radio" value="applicant_request"' in asked.body
    assert no_reason.status == 400
    assert "Choose why the application is withdrawn" in no_reason.body
    assert done.status == 303
    assert done.location.endswith("?done=withdrawn")
    assert again.status == 303  # a second click changes nothing more
    stored = {a["application_id"]: a for a in stack.applications(cohort_id)}
    assert stored[holder["application_id"]]["withdrawn"]["reason"] == "applicant_request"
    assert stored[waiting["application_id"]]["waiting_list"] is False  # the freed place is theirs
    kinds = sorted(b["kind"] for b in queued_bodies(stack, "NotifyQueue"))
    assert kinds == ["place_offered", "withdrawn"]
    assert audit_actions(stack, cohort_id).count((email, "withdrew an application")) == 1
    listing = browser.get(f"/console/cohorts/{cohort_id}/applications", status="withdrawn")
    assert holder["applicant"]["family_name"] in listing.body
    assert waiting["applicant"]["family_name"] not in listing.body
    assert "Withdraw this application" not in browser.get(path).body


def test_a_coordinator_cannot_open_a_cohort_of_a_scheme_they_do_not_run(stack: Stack) -> None:
    browser = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, schemes=("womens-mentoring-pilot",)))
    browser.get("/console/cohorts/new")
    before = len(stack_cohorts(stack))

    reply = browser.post(
        "/console/cohorts/new",
        {
            "scheme_id": "b-mentor-professional",
            "name": "Not mine 2030",
            "recruitment_deadline": "2030-01-31T17:00",
            "coordinator_email": "x@example.ac.uk",
        },
    )

    assert reply.status == 400
    assert "Choose one of your schemes" in reply.body
    assert len(stack_cohorts(stack)) == before


def test_a_form_with_mistakes_says_what_to_fix_beside_each_field(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, _ = coordinator
    browser.get("/console/cohorts/new")

    reply = browser.post(
        "/console/cohorts/new",
        {
            "scheme_id": "b-mentor-professional",
            "name": "",
            "recruitment_deadline": "tomorrow",
            "coordinator_email": "x",
        },
    )

    assert reply.status == 400
    summary = re.findall(r'<li><a href="#([^"]+)">', reply.body)
    assert {"name", "recruitment_deadline"} <= set(summary)
    assert 'id="name-error"' in reply.body
    assert 'aria-invalid="true"' in reply.body


def test_the_deadline_moves_with_its_schedule_and_closing_early_stops_applications(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    cohort_id = stack.open_cohort()
    browser.get(f"/console/cohorts/{cohort_id}/deadline")
    later = (datetime.now(LONDON) + timedelta(days=3)).replace(second=0, microsecond=0)

    moved = browser.post(
        f"/console/cohorts/{cohort_id}/deadline", {"recruitment_deadline": later.strftime("%Y-%m-%dT%H:%M")}
    )

    assert moved.status == 303
    assert stack.schedule_for(cohort_id)["ScheduleExpression"] == f"at({later.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert cohort_item(stack, cohort_id)["recruitment_deadline"] == later.astimezone(UTC)

    confirm = browser.get(f"/console/cohorts/{cohort_id}/close")
    assert "cannot be undone" in confirm.body
    closed = browser.post(f"/console/cohorts/{cohort_id}/close", {})

    assert closed.status == 303
    deadline = cohort_item(stack, cohort_id)["recruitment_deadline"]
    assert isinstance(deadline, datetime)
    assert deadline - datetime.now(UTC) < timedelta(minutes=1)
    late = stack.call("SubmitFunction", _form_post(applicant_submission(cohort_id)))
    browser.get(f"/console/cohorts/{cohort_id}")
    stack.deliver_deadline(cohort_id)
    again = browser.post(f"/console/cohorts/{cohort_id}/close", {})
    assert again.status == 409
    assert [a for _, a in audit_actions(stack, cohort_id)] == [
        "closed recruitment early",
        "moved the recruitment deadline",
    ]
    assert all(actor == email for actor, _ in audit_actions(stack, cohort_id))
    del late  # submit's own answer to a late applicant is tested with submit


def _form_post(submission: dict[str, object]) -> dict[str, object]:
    from tests.integration.helpers import api_event

    return api_event("POST", "/applications", submission)


def test_a_waiting_list_mentee_gets_a_place_only_when_one_is_free(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, _ = coordinator
    cohort_id = stack.open_cohort()
    mentees = [applicant_submission(cohort_id) for _ in range(41)]
    for start in range(0, 41, 10):
        stack.call("IntakeFunction", sqs_event([intake_message(m) for m in mentees[start : start + 10]]))
    waiting = next(a for a in stack.applications(cohort_id) if a["waiting_list"])
    path = f"/console/cohorts/{cohort_id}/applications/{waiting['application_id']}"
    assert "Give a place" in browser.get(path).body

    full = browser.post(f"{path}/admit", {})
    # A place frees (as a withdrawal frees one): the counter goes down by one.
    stack.client("dynamodb").update_item(
        TableName=stack.physical("ApplicationsTable"),
        Key={"pk": {"S": f"COHORT#{cohort_id}"}, "sk": {"S": "COHORT"}},
        UpdateExpression="SET admitted_mentees = admitted_mentees - :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    admitted = browser.post(f"{path}/admit", {})

    assert full.status == 409
    assert "40 mentee places are taken" in full.body
    assert admitted.status == 303
    after = next(a for a in stack.applications(cohort_id) if a["application_id"] == waiting["application_id"])
    assert after["waiting_list"] is False
    assert "Give a place" not in browser.get(path).body


@pytest.fixture
def provisional(stack: Stack) -> tuple[str, dict[str, str]]:
    cohort = stack.open_cohort(scheme_id="womens-mentoring-pilot")
    examples = yaml.safe_load(EXAMPLES.read_text())["applications"]
    submissions = [
        {"cohort_id": cohort, "consent": True, **{k: v for k, v in e.items() if k != "expect"}}
        for e in examples
    ]
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions]))
    stack.purge("NotifyQueue")
    assert stack.deliver_deadline(cohort)["ran"] is True
    return cohort, {a["applicant"]["given_name"]: a["application_id"] for a in stack.applications(cohort)}


def test_the_review_email_links_to_the_console_page_of_the_matches(
    stack: Stack, provisional: tuple[str, dict[str, str]]
) -> None:
    cohort, _ = provisional
    before = len(stack.sent_emails())
    stack.call("NotifyFunction", sqs_event([{"cohort_id": cohort, "kind": "matches_to_review"}]))

    email = message_from_bytes(stack.sent_emails()[before])
    text = next(
        p.get_payload(decode=True).decode() for p in email.walk() if p.get_content_type() == "text/plain"
    )

    assert f"/console/cohorts/{cohort}/matches" in text
    assert "POST /cohorts" not in text


def test_a_change_that_breaks_a_rule_is_shown_and_nothing_changes(
    stack: Stack, provisional: tuple[str, dict[str, str]], coordinator: tuple[Browser, str]
) -> None:
    cohort, ids = provisional
    browser, _ = coordinator
    browser.get(f"/console/cohorts/{cohort}/matches")
    before = stack.matches(cohort)

    reply = browser.post(
        f"/console/cohorts/{cohort}/matches/check", {"mentee_id": ids["Ada"], "mentor_id": ids["Grace"]}
    )

    assert reply.status == 422
    assert "breaks the scheme" in reply.body
    assert stack.matches(cohort) == before


def test_a_coordinator_re_pairs_a_mentee_after_checking_then_publishes_once(
    stack: Stack, provisional: tuple[str, dict[str, str]], coordinator: tuple[Browser, str]
) -> None:
    cohort, ids = provisional
    browser, email = coordinator
    page = browser.get(f"/console/cohorts/{cohort}/matches")
    assert "Review the provisional matches" in page.body
    assert "with room for more" in page.body

    check = browser.post(
        f"/console/cohorts/{cohort}/matches/check", {"mentee_id": ids["Ada"], "mentor_id": "none"}
    )
    assert check.status == 200
    assert "Leave Ada Brown without a match." in check.body
    changed = browser.post(
        f"/console/cohorts/{cohort}/matches/change", {"mentee_id": ids["Ada"], "mentor_id": "none"}
    )
    assert changed.status == 303
    assert stack.matches(cohort) == []
    repaired = browser.post(
        f"/console/cohorts/{cohort}/matches/change", {"mentee_id": ids["Ada"], "mentor_id": ids["Hedy"]}
    )
    assert repaired.status == 303
    assert [(m["mentee_id"], m["mentor_id"]) for m in stack.matches(cohort)] == [(ids["Ada"], ids["Hedy"])]
    stack.purge("NotifyQueue")

    assert "cannot be undone" in browser.get(f"/console/cohorts/{cohort}/publish").body
    published = browser.post(f"/console/cohorts/{cohort}/publish", {})
    again = browser.post(f"/console/cohorts/{cohort}/publish", {})

    assert published.status == 303
    assert again.status == 409
    kinds = sorted(n["kind"] for n in queued_bodies(stack, "NotifyQueue"))
    assert "matched_mentee" in kinds
    assert [a for _, a in audit_actions(stack, cohort)] == [
        "published the matches",
        "changed a provisional pair",
        "changed a provisional pair",
    ]
    assert {actor for actor, _ in audit_actions(stack, cohort)} == {email}


def test_an_administrator_invites_a_coordinator_who_signs_in_and_chooses_a_password(stack: Stack) -> None:
    admin = signed_in(stack, new_staff(stack, StaffRole.ADMINISTRATOR))
    admin.get("/console/staff")
    invitee = f"new-coordinator-{datetime.now(UTC):%H%M%S%f}@example.ac.uk"
    before = len(stack.sent_emails())

    reply = admin.post(
        "/console/staff",
        {
            "name": "New Coordinator",
            "email": invitee,
            "role": "coordinator",
            "schemes": "womens-mentoring-pilot",
        },
    )

    assert reply.status == 303, reply.body
    email = message_from_bytes(stack.sent_emails()[before])
    assert email["To"] == invitee
    text = next(
        p.get_payload(decode=True).decode() for p in email.walk() if p.get_content_type() == "text/plain"
    )
    assert f"https://{'abc123.execute-api.eu-west-2.amazonaws.com'}/dev/console/sign-in" in text
    temporary = re.search(r"temporary password: (\S+)", text).group(1)

    browser = Browser(stack)
    browser.get("/console/sign-in")
    first = browser.post("/console/sign-in", {"email": invitee, "password": temporary})
    assert first.location == "/dev/console/sign-in/new-password"
    weak = browser.post("/console/sign-in/new-password", {"new_password": "short"})
    assert weak.status == 400
    chosen = browser.post("/console/sign-in/new-password", {"new_password": PASSWORD})
    assert chosen.status == 303
    home = browser.get("/console")
    assert home.status == 200
    assert "New Coordinator" in home.body
    assert browser.get("/console/staff").status == 403
    assert browser.get("/console/audit").status == 403
    log = admin.get("/console/audit")
    assert invitee in log.body
    assert "invited" in log.body


def test_an_invitation_needs_the_scope_of_the_role(stack: Stack) -> None:
    admin = signed_in(stack, new_staff(stack, StaffRole.ADMINISTRATOR))
    admin.get("/console/staff")

    reply = admin.post(
        "/console/staff", {"name": "No Schemes", "email": "no-schemes@example.ac.uk", "role": "coordinator"}
    )

    assert reply.status == 400
    assert "choose their schemes" in reply.body


def test_two_step_sign_in_asks_for_a_code_once_set_up(stack: Stack) -> None:
    member = new_staff(stack, StaffRole.COORDINATOR, schemes=("womens-mentoring-pilot",))
    browser = signed_in(stack, member)
    browser.get("/console/account")
    setup = browser.post("/console/account/authenticator", {})
    assert 'class="secret"' in setup.body
    confirmed = browser.post("/console/account/authenticator/confirm", {"code": "123456"})
    assert confirmed.status == 303

    again = Browser(stack)
    again.get("/console/sign-in")
    first = again.post("/console/sign-in", {"email": member.email, "password": PASSWORD})

    assert first.location == "/dev/console/sign-in/code"
    assert "__Host-mentoring-session" not in again.jar
    done = again.post("/console/sign-in/code", {"code": "123456"})
    assert done.status == 303
    assert again.get("/console").status == 200


def test_a_withdrawn_mentee_on_the_waiting_list_is_given_no_place(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, _ = coordinator
    request: dict[str, object] = {**stack.cohort_request(), "places": 1}
    assert stack.call("AdminFunction", api_event("POST", "/cohorts", request))["statusCode"] == 201
    cohort_id = str(request["cohort_id"])
    first, second = applicant_submission(cohort_id), applicant_submission(cohort_id)
    for body in (first, second):
        stack.call("IntakeFunction", sqs_event([intake_message(body)]))
    waiting = next(a["application_id"] for a in stack.applications(cohort_id) if a["waiting_list"])
    path = f"/console/cohorts/{cohort_id}/applications/{waiting}"
    assert browser.post(f"{path}/withdraw", {"reason": "not_genuine"}).status == 303
    stack.client("dynamodb").update_item(  # a place frees
        TableName=stack.physical("ApplicationsTable"),
        Key={"pk": {"S": f"COHORT#{cohort_id}"}, "sk": {"S": "COHORT"}},
        UpdateExpression="SET admitted_mentees = admitted_mentees - :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    refused = browser.post(f"{path}/admit", {})

    assert refused.status == 409
    assert "withdrawn" in refused.body
    assert "Give a place" not in browser.get(path).body


def test_a_coordinator_runs_matching_again_once_a_run_has_died_confirmed_and_audited(
    stack: Stack, coordinator: tuple[Browser, str]
) -> None:
    browser, email = coordinator
    alive, dead = past_cohort(stack), past_cohort(stack)
    killed_run(stack, alive, lease_left=timedelta(minutes=5))  # its run may still finish
    killed_run(stack, dead, lease_left=-timedelta(seconds=1))  # its run is dead

    with announced_deadlines(stack) as announced:
        held_page = browser.get(f"/console/cohorts/{alive}")
        held = browser.post(f"/console/cohorts/{alive}/rerun", {})
        dead_page = browser.get(f"/console/cohorts/{dead}")
        confirm = browser.get(f"/console/cohorts/{dead}/rerun")
        forged = browser.post(f"/console/cohorts/{dead}/rerun", {"csrf_token": "guessed"})
        rerun = browser.post(f"/console/cohorts/{dead}/rerun", {})
        events = announced()

    assert "Run matching again" not in held_page.body
    assert held.status == 409
    assert "holds this cohort until" in held.body
    assert f"/console/cohorts/{dead}/rerun" in dead_page.body
    assert confirm.status == 200
    assert 'method="post"' in confirm.body
    assert forged.status == 403
    assert rerun.status == 303
    assert rerun.location.endswith(f"/console/cohorts/{dead}?done=rerun")
    assert [(e["source"], e["detail"]) for e in events] == [("mentoring.deadlines", {"cohort_id": dead})]
    # The same domain function as the coordinators' API: the announced deadline runs matching once.
    assert stack.call("MatchingFunction", events[0])["ran"] is True
    assert browser.post(f"/console/cohorts/{dead}/rerun", {}).status == 409
    assert audit_actions(stack, dead) == [(email, "ran matching again")]
    assert audit_actions(stack, alive) == []
