"""The coordinator's programme view: the pairs' meetings against the minimum, training attended,
who needs a word, an ended pair re-matched from the cohort's free mentors, the CSV, and the
scheme's cohorts side by side; and refused to anyone whose role does not cover the scheme."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from email import message_from_bytes

import pytest
import time_machine
from mentoring.models import StaffRole
from mentoring.programme import LONDON

from tests.integration.console import new_staff, signed_in
from tests.integration.helpers import Stack, queued_bodies, sqs_event
from tests.integration.programme import Programme, partner, post, store

pytestmark = pytest.mark.integration


def _evening(day: datetime | object) -> datetime:
    return datetime.combine(day, datetime.min.time(), LONDON) + timedelta(hours=20)  # type: ignore[arg-type]


def test_the_coordinator_follows_the_pairs_and_re_matches_one_that_ended(
    stack: Stack, matched: Programme
) -> None:
    p = matched
    adas_mentor, bos_mentor = partner(stack, p, "Ada"), partner(stack, p, "Bo")
    free = next(n for n in ("Cy", "Di", "Ed") if n not in (adas_mentor, bos_mentor))
    browser = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, schemes=("b-mentor-professional",)))
    with time_machine.travel(_evening(p.training + timedelta(days=2))):
        for days in (3, 5):
            on = (p.starts + timedelta(days=days)).isoformat()
            fields = {
                "token": p.tokens["Bo"],
                "action": "meeting",
                "on": on,
                "minutes": "50",
                "mode": "online",
            }
            assert post(stack, p.cohort_id, fields)["statusCode"] == 200
        induction = f"training.{p.training:%Y%m%d}.mentee-induction"
        assert (
            post(stack, p.cohort_id, {"token": p.tokens["Bo"], "action": "training", "session": induction})[
                "statusCode"
            ]
            == 200
        )
        asked = {"token": p.tokens["Bo"], "action": "help", "message": "Could we have a room on campus?"}
        assert post(stack, p.cohort_id, asked)["statusCode"] == 200
        ended = {"token": p.tokens[adas_mentor], "action": "end", "confirm": "yes", "reason": "Moving abroad"}
        assert post(stack, p.cohort_id, ended)["statusCode"] == 200

        page = browser.get(f"/console/cohorts/{p.cohort_id}/programme")

    assert page.status == 200, page.body
    assert "Ended early by the mentor on" in page.body
    assert "Could we have a room on campus?" in page.body
    assert "2 of 6" in page.body  # Bo's pair's meetings against the minimum
    assert "1 of 2" in page.body  # Bo confirmed the mentees' induction; Ada has not
    assert f'<option value="{p.ids[free]}">' in page.body  # the free mentor is offered for Ada
    assert f'<option value="{p.ids[adas_mentor]}">' not in page.body  # never the one who left

    with time_machine.travel(_evening(p.training + timedelta(days=3))):
        refused = browser.post(
            f"/console/cohorts/{p.cohort_id}/programme/rematch",
            {"mentee_id": p.ids["Ada"], "mentor_id": p.ids[bos_mentor]},
        )
        rematched = browser.post(
            f"/console/cohorts/{p.cohort_id}/programme/rematch",
            {"mentee_id": p.ids["Ada"], "mentor_id": p.ids[free]},
        )
        again = browser.post(  # the same form sent twice (a double click, a retry after an error)
            f"/console/cohorts/{p.cohort_id}/programme/rematch",
            {"mentee_id": p.ids["Ada"], "mentor_id": p.ids[bos_mentor]},
        )
        twice = browser.post(
            f"/console/cohorts/{p.cohort_id}/programme/rematch",
            {"mentee_id": p.ids["Ada"], "mentor_id": p.ids[free]},
        )
        before = len(stack.sent_emails())
        stack.call("NotifyFunction", sqs_event(queued_bodies(stack, "NotifyQueue")))
        after = browser.get(f"/console/cohorts/{p.cohort_id}/programme")
        exported = browser.get(f"/console/cohorts/{p.cohort_id}/programme.csv")
        scheme = browser.get("/console/schemes/b-mentor-professional/programme")

    assert refused.status == 422
    assert "is not a free mentor for this mentee" in refused.body
    assert rematched.status == 303
    assert again.status == 422  # Ada has a mentor again: nothing to re-match
    assert twice.status == 303
    emailed = [message_from_bytes(raw) for raw in stack.sent_emails()[before:]]
    to_new_pair = sorted((str(m["To"]), str(m["Subject"])) for m in emailed)
    ada, new = (
        store(stack).get_application(p.cohort_id, p.ids["Ada"]),
        store(stack).get_application(p.cohort_id, p.ids[free]),
    )
    assert ada is not None
    assert new is not None
    assert to_new_pair == sorted(
        [
            (ada.applicant.email, "B-MEntor Professional: meet your mentor"),
            (new.applicant.email, "B-MEntor Professional: meet your mentee"),
        ]
    )  # each once, though the form was sent twice
    assert "Re-matched by the coordinator" in "".join(str(m) for m in emailed)
    match = store(stack).get_match(p.cohort_id, p.ids["Ada"])
    assert match is not None
    assert match.mentor_id == p.ids[free]
    assert match.rematched_at is not None
    assert "Re-matched" in after.body
    assert "Ended early by the mentor" not in after.body  # Ada has a mentor again
    rows = list(csv.DictReader(io.StringIO(exported.body)))
    assert exported.headers["Content-Type"].startswith("text/csv")
    by_pair = {(r["mentee"].split()[0], r["mentor"].split()[0]): r for r in rows}
    assert by_pair[("Ada", adas_mentor)]["status"] == "ended early"
    assert by_pair[("Ada", free)]["status"] == "re-matched"
    assert by_pair[("Bo", bos_mentor)]["meetings"] == "2"
    assert "Could we have a room on campus?" in by_pair[("Bo", bos_mentor)]["needs_attention"]
    assert scheme.status == 200
    assert f"/console/cohorts/{p.cohort_id}/programme" in scheme.body


def test_the_programme_is_refused_to_a_coordinator_of_another_scheme_and_to_a_partner_lead(
    stack: Stack, matched: Programme
) -> None:
    other = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, schemes=("womens-mentoring-pilot",)))
    lead = signed_in(stack, new_staff(stack, StaffRole.PARTNER_LEAD, institution="KCL"))
    cohort = f"/console/cohorts/{matched.cohort_id}"
    scheme = "/console/schemes/b-mentor-professional/programme"
    paths = [f"{cohort}/programme", f"{cohort}/programme.csv", scheme]

    for browser in (other, lead):
        for path in paths:
            assert browser.get(path).status == 403, path
        posted = browser.post(
            f"/console/cohorts/{matched.cohort_id}/programme/rematch",
            {"mentee_id": matched.ids["Ada"], "mentor_id": matched.ids["Ed"]},
        )
        assert posted.status == 403
    assert store(stack).ended(matched.cohort_id) == []
