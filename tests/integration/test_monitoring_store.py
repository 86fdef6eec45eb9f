"""The Monitoring store is written in k-anonymous batches of at least k, never one person at a time:
at the deadline, then by the hourly sweep for late answers, which deletes those still fewer than k
after the grace period. Each write is observed on the handlers' own boto3 client."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mentoring.adapters import client
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.ports import Lease

from tests.integration.helpers import Stack, applicant_submission, intake_message, load_event, sqs_event

pytestmark = pytest.mark.integration

K = 5  # B-MEntor Professional's
GRACE = timedelta(days=14)  # the template's default


@contextmanager
def observed_writes(stack: Stack) -> Iterator[list[list[dict[str, Any]]]]:
    """The stored records each transaction on the Monitoring table writes (not intake's pending ones)."""
    table = stack.physical("MonitoringTable")
    writes: list[list[dict[str, Any]]] = []

    def observe(params: dict[str, Any], **_: Any) -> None:
        puts = [
            i["Put"]["Item"]
            for i in params["TransactItems"]
            if i.get("Put", {}).get("TableName") == table
            and not i["Put"]["Item"]["record_id"]["S"].startswith("PENDING#")  # intake holding one
        ]
        if puts:
            writes.append(puts)

    events = client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", observe, unique_id="observe-batches")
    try:
        yield writes
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", unique_id="observe-batches")


def groups(items: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((str(i["role"]), str(i["eligible"])) for i in items)


def sweep(stack: Stack, at: datetime) -> dict[str, Any]:
    """The hourly schedule's event, as EventBridge puts it, at a given time."""
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-2",
        "resources": ["arn:aws:events:eu-west-2:123456789012:rule/sweep"],
        "detail": {},
    }
    result: dict[str, Any] = stack.call("MonitoringFunction", event)
    return result


def deadline_event(cohort: str, at: datetime) -> dict[str, Any]:
    event = load_event("deadline_event.json") | {"id": str(uuid.uuid4()), "detail": {"cohort_id": cohort}}
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def apply(stack: Stack, cohort: str, specs: list[tuple[str, int]]) -> None:
    """Applications through intake: (role, grade) each."""
    messages = [intake_message(applicant_submission(cohort, role=role, grade=grade)) for role, grade in specs]
    for start in range(0, len(messages), 10):
        stack.call("IntakeFunction", sqs_event(messages[start : start + 10]))


def test_answers_wait_sealed_then_move_in_k_anonymous_batches_at_the_deadline(stack: Stack) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    cohort = stack.open_cohort(deadline)
    # 15 eligible mentees, 6 eligible mentors and the one mentor who is not eligible (grade 7).
    apply(stack, cohort, [("mentee", 6)] * 15 + [("mentor", 9)] * 6 + [("mentor", 7)])
    held = stack.monitoring_records(cohort)
    assert len(held) == 22
    assert all(r["record_id"]["S"].startswith("PENDING#") for r in held)

    with observed_writes(stack) as writes:
        result = stack.call("MonitoringFunction", deadline_event(cohort, deadline))
        again = stack.call("MonitoringFunction", deadline_event(cohort, deadline))

    assert (result["stored"], again["stored"]) == (22, 0)
    assert all(len(w) >= K for w in writes)
    assert {w[0]["cohort_id"]["S"] for w in writes} == {cohort}
    stored = stack.monitoring_records(cohort)
    assert len(stored) == 22
    assert min(groups(stored).values()) >= K
    # The lone ineligible mentor is among at least k mentors whose outcome is not recorded.
    assert groups(stored)[("{'S': 'mentor'}", "{'NULL': True}")] >= K
    assert not {r["record_id"]["S"] for r in stored} & {
        r["record_id"]["S"].removeprefix("PENDING#") for r in held
    }
    assert all("sealed" not in r and "ethnicity" in r and "record_key" in r for r in stored)


def test_late_answers_are_stored_only_once_k_are_waiting(stack: Stack) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    cohort = stack.open_cohort(deadline)
    apply(stack, cohort, [("mentee", 6)] * 6)
    stack.call("MonitoringFunction", deadline_event(cohort, deadline))
    stored_at_deadline = len(stack.monitoring_records(cohort))

    sizes = []
    with observed_writes(stack) as writes:
        for late in range(1, K + 1):
            apply(stack, cohort, [("mentee", 6)])  # one more late answer, then the hourly sweep
            sweep(stack, deadline + timedelta(hours=late))
            sizes.append(len(stack.monitoring_records(cohort)) - stored_at_deadline)

    assert stored_at_deadline == 6
    assert sizes == [1, 2, 3, 4, K]  # pending records, until the fifth makes a batch of k
    # (the sweep settles every cohort of the shared table: only this one's writes are ours)
    assert [len(w) for w in writes if w[0]["cohort_id"]["S"] == cohort] == [K]
    assert not any(r["record_id"]["S"].startswith("PENDING#") for r in stack.monitoring_records(cohort))


def test_fewer_than_k_are_deleted_after_the_grace_period_and_never_stored(stack: Stack) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    small = stack.open_cohort(deadline)
    apply(stack, small, [("mentee", 6), ("mentor", 9), ("mentee", 5)])  # fewer than k applicants

    with observed_writes(stack) as writes:
        at_deadline = stack.call("MonitoringFunction", deadline_event(small, deadline))
        within = sweep(stack, deadline + GRACE - timedelta(hours=1))
        pending_within = len(stack.monitoring_records(small))
        after = sweep(stack, deadline + GRACE + timedelta(hours=1))

    assert (at_deadline["stored"], at_deadline["waiting"]) == (0, 3)
    assert within["stored"] == 0
    assert pending_within == 3
    assert after["discarded"] >= 3
    assert stack.monitoring_records(small) == []
    assert not any(w[0]["cohort_id"]["S"] == small for w in writes)


def test_a_cohort_held_by_another_settling_run_is_left_to_it_until_its_hold_runs_out(stack: Stack) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    cohort = stack.open_cohort(deadline)
    apply(stack, cohort, [("mentee", 6)] * K)
    cohorts = DynamoApplications(stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb"))
    now = datetime.now(UTC)
    # A sweep that took the cohort and was killed: it never lets go.
    assert cohorts.hold_for_settling(cohort, Lease("killed-sweep", now, now + timedelta(minutes=5)))

    held = stack.call("MonitoringFunction", deadline_event(cohort, deadline))
    assert cohorts.hold_for_settling(
        cohort, Lease("killed-sweep", now, now - timedelta(seconds=1))
    )  # ran out
    taken_over = stack.call("MonitoringFunction", deadline_event(cohort, deadline))

    assert held["stored"] == 0
    assert taken_over["stored"] == K
