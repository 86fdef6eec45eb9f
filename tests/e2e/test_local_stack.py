"""The whole stack over HTTP, as `make run` serves it: form and partner submissions in, emails out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any
from urllib.parse import urlencode

import pytest
from mentoring.adapters.messaging import EventBridgeDeadlines

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port
from tests.integration.helpers import applicant_submission

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    runtime: LocalRuntime
    api: ApiClient
    cohort_id: str
    deadline: datetime
    accepted: list[str]
    eligible: int
    form: dict[str, Any]  # posted with a mistake, refused


FORM = "application/x-www-form-urlencoded"


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A submission as the applicant form posts it (``applicant.email=...``)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[f"{prefix}{key}"] = "yes" if value else ""
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def subjects(runtime: LocalRuntime) -> list[str]:
    assert runtime.outbox is not None
    runtime.sync_outbox()
    return [str(message_from_bytes(p.read_bytes())["Subject"]) for p in sorted(runtime.outbox.glob("*.eml"))]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Given a cohort with applicants from the web form and a partner, when the deadline fires."""
    folder = tmp_path_factory.mktemp("stack")
    with LocalRuntime(
        api_port=free_port(),
        aws_port=free_port(),
        outbox=folder / "outbox",
        logs=folder / "logs",
        rate_limits=False,  # the whole intake comes from this one address
    ) as runtime:
        api = ApiClient(runtime.api_url)
        deadline = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
        cohort_id = f"e2e-{deadline:%H%M%S}"
        reply = api.signed("POST", "/cohorts", {
            "cohort_id": cohort_id, "scheme_id": "b-mentor-professional", "name": "E2E cohort",
            "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
        })  # fmt: skip
        assert reply.status == 201, reply.body
        accepted, emails = [], []
        for spec in [
            ("mentee", "UCL", 6),
            ("mentee", "QMUL", 5),
            ("mentee", "UAL", 9),
            ("mentor", "SGUL", "Band 8b"),  # 9 on the common scale
        ]:
            body = applicant_submission(cohort_id, role=spec[0], institution=spec[1], grade=spec[2])
            reply = api.apply(body)
            assert reply.status == 202, reply.body
            accepted.append(reply.body["submission_id"])
            emails.append(body["applicant"]["email"])
        # Each applicant confirms from the link emailed to them (read from the outbox).
        runtime.wait_until_drained()
        links = runtime.confirmation_tokens()
        for email in emails:
            (token,) = links[email]
            assert api.confirm(token).status == 200
        partner_mentor = applicant_submission(cohort_id, role="mentor", grade=8)
        del partner_mentor["applicant"]["institution"]
        partner_mentor["reference"] = "KCL-E2E-1"
        reply = api.partner_batch(runtime.partner_keys()["KCL"]["value"], [partner_mentor])
        assert reply.status == 202, reply.body
        accepted += [r["submission_id"] for r in reply.body["results"]]
        # A form post with a mistake: the page sent back holds the name, the email and every
        # monitoring answer chosen, so that the applicant need not type them again.
        form = applicant_submission(cohort_id, role="mentee", grade=6)
        form["applicant"]["email"] = "not-an-email"
        reply = api._send("POST", "/applications", urlencode(_flat(form)), {"Content-Type": FORM})
        assert reply.status == 422
        assert form["applicant"]["given_name"] in reply.body
        runtime.wait_until_drained()
        fired = runtime.fire_due(now=deadline)  # and other cohorts' matching-lease watches
        assert [name for name in fired if not name.startswith("lease-")] == [
            EventBridgeDeadlines.name_for(cohort_id)
        ]
        runtime.wait_until_drained()
        # The coordinator's export: names and emails of every pair.
        export = api.signed("GET", f"/cohorts/{cohort_id}/matches?format=csv")
        assert "@example.ac.uk" in export.body
        yield Run(runtime, api, cohort_id, deadline, accepted, eligible=4, form=form)


def test_malformed_submission_gets_422_naming_each_bad_field(run: Run) -> None:
    body = applicant_submission(run.cohort_id)
    body["applicant"]["email"] = "nope"
    body["applicant"]["grade"] = "x" * 30

    reply = run.api.apply(body)

    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {"applicant.email", "applicant.grade"}


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_partner_call_without_a_valid_key_is_forbidden(run: Run, key: str | None) -> None:
    reply = run.api.partner_batch(key, [applicant_submission(run.cohort_id) | {"reference": "X-1"}])

    assert reply.status == 403


def test_a_partner_sees_what_became_of_its_application_and_not_anothers(run: Run) -> None:
    keys = run.runtime.partner_keys()

    mine = run.api.partner_status(keys["KCL"]["value"], "KCL-E2E-1")
    theirs = run.api.partner_status(keys["UCL"]["value"], "KCL-E2E-1")

    assert mine.status == 200
    assert mine.body["status"] in {"matched", "not_matched"}
    assert theirs.status == 404


def test_admin_routes_need_a_signed_request(run: Run) -> None:
    reply = run.api._send("GET", f"/cohorts/{run.cohort_id}", None, {})

    assert reply.status == 403


def test_every_accepted_submission_is_recorded(run: Run) -> None:
    progress = run.api.signed("GET", f"/cohorts/{run.cohort_id}").body

    assert progress["applications"] == len(run.accepted)
    assert sum(progress["eligible"].values()) == run.eligible
    assert run.runtime.dead_letter_counts() == dict.fromkeys(run.runtime.dead_letter_counts(), 0)


def test_matches_pair_mentees_with_mentors_from_other_institutions(run: Run) -> None:
    results = run.api.signed("GET", f"/cohorts/{run.cohort_id}/matches").body
    apps = {a["application_id"]: a for a in _applications(run)}

    assert len(results["matches"]) == 2
    for match in results["matches"]:
        mentee, mentor = apps[match["mentee_id"]], apps[match["mentor_id"]]
        assert mentee["applicant"]["institution"] != mentor["applicant"]["institution"]
        assert match["explanation"]


def test_one_acknowledgement_per_accepted_applicant_and_one_result_per_eligible_one(run: Run) -> None:
    sent = subjects(run.runtime)

    assert sum("please confirm your application" in s for s in sent) == 4  # the web form's
    assert sum("received your application" in s for s in sent) == len(run.accepted)
    results = [s for s in sent if "meet your" in s or "outcome of matching" in s]
    assert len(results) == run.eligible
    assert sum(s.endswith("matching results") for s in sent) == 1


def test_a_second_deadline_event_changes_nothing(run: Run) -> None:
    before = subjects(run.runtime)

    run.runtime.put_event(
        "mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": run.cohort_id}, wait=True
    )
    run.runtime.wait_until_drained()

    assert subjects(run.runtime) == before


def test_monitoring_rows_cannot_be_joined_to_applicants(run: Run) -> None:
    ddb = run.runtime.client("dynamodb")
    rows = ddb.scan(TableName=run.runtime.physical["MonitoringTable"]["Ref"])["Items"]
    applications = _applications(run)
    grouping = {"cohort_id", "scheme_id", "role", "eligible"}  # the groups the report counts by
    personal = {
        value
        for app in applications
        for value in _leaves(app)
        if value not in {run.cohort_id, "b-mentor-professional", "mentee", "mentor"}
    }

    assert len(rows) == len(applications)
    for row in rows:
        values = {str(next(iter(v.values()))) for k, v in row.items() if k not in grouping}
        assert not values & personal
        assert set(row) >= grouping
        # Moved to the store at the deadline (in batches of at least k): none is left pending.
        assert not row["record_id"]["S"].startswith("PENDING#")


def test_no_monitoring_answer_appears_in_any_functions_logs(run: Run) -> None:
    """The answers every applicant of the run gave (tests.integration.helpers.applicant_submission),
    searched for in every function's log after the whole run: intake, matching, notify, admin..."""
    answers = {"asian_indian", "35-44"}
    logs = {path.name: path.read_text() for path in run.runtime.logs.glob("*.log")}

    assert {"IntakeFunction.log", "MatchingFunction.log", "NotifyFunction.log"} <= set(logs)
    for name, text in logs.items():
        for answer in answers:
            assert answer not in text, f"{answer!r} in {name}"
        assert not re.search(r"\bwoman\b", text), name


def test_no_trace_holds_a_name_an_email_or_a_monitoring_answer(run: Run) -> None:
    """Tracing is on, as in the template (Active), and X-Ray's SDK sends what it records to the
    runtime's stand-in for the X-Ray daemon. The whole run went through it: applications from both
    doors, a refused form whose page holds a name and the answers chosen, intake, the deadline,
    matching, every email, and the coordinator's export of names and emails."""
    documents = run.runtime.traces.documents()
    segments = run.runtime.traces.segments()
    applications = _applications(run)
    personal = {
        value
        for person in [*(a["applicant"] for a in applications), run.form["applicant"]]
        for value in (person["given_name"], person["family_name"], person["email"], person["department"])
    }

    services = {s.get("annotations", {}).get("Service") for s in segments if s["name"] == "## handler"}
    assert {"submit", "intake", "matching", "notify", "admin", "monitoring"} <= services
    assert {s["name"] for s in segments} >= {"dynamodb", "sqs", "kms", "email"}  # AWS calls are traced
    for document in documents:
        for value in personal:
            assert value not in document
        for answer in ("asian_indian", "35-44"):
            assert answer not in document
        assert not re.search(r"\bwoman\b", document)


def test_closed_cohort_refuses_late_applications(run: Run) -> None:
    reply = run.api.apply(applicant_submission(run.cohort_id))

    assert reply.status == 422
    assert "closed" in reply.body["errors"][0]["message"]


def _applications(run: Run) -> list[dict[str, Any]]:
    ddb = run.runtime.client("dynamodb")
    items = ddb.query(
        TableName=run.runtime.physical["ApplicationsTable"]["Ref"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{run.cohort_id}"}, ":p": {"S": "APPLICATION#"}},
    )["Items"]
    return [json.loads(i["data"]["S"]) for i in items]


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif value is not None:
        yield str(value)


def test_a_poison_message_is_parked_on_the_dead_letter_queue_not_lost(run: Run) -> None:
    # Runs last in this module: it leaves one message on the intake dead-letter queue.
    sqs = run.runtime.client("sqs")
    sqs.send_message(
        QueueUrl=run.runtime.physical["IntakeQueue"]["Ref"], MessageBody='{"not": "a submission"}'
    )

    run.runtime.wait_until_drained()

    dead = sqs.receive_message(QueueUrl=run.runtime.physical["IntakeDeadLetterQueue"]["Ref"]).get(
        "Messages", []
    )
    assert [m["Body"] for m in dead] == ['{"not": "a submission"}']
    assert len(_applications(run)) == len(run.accepted)
