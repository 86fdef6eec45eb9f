"""The Monitoring store is written in shuffled batches of at least k at the deadline, never one
person at a time: each batch is one transaction, observed on the handlers' own boto3 client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mentoring.adapters import client

from tests.integration.helpers import Stack, applicant_submission, intake_message, load_event, sqs_event

pytestmark = pytest.mark.integration


def test_answers_wait_without_identifiers_then_move_in_batches_of_at_least_k(stack: Stack) -> None:
    cohort = stack.open_cohort()
    messages = [intake_message(applicant_submission(cohort)) for _ in range(23)]
    for start in range(0, 23, 10):
        stack.call("IntakeFunction", sqs_event(messages[start : start + 10]))
    held = stack.monitoring_records(cohort)
    assert len(held) == 23
    assert all(r["record_id"]["S"].startswith("PENDING#") for r in held)

    monitoring_table = stack.physical("MonitoringTable")
    batches: list[int] = []

    def observe(params: dict[str, Any], **_: Any) -> None:
        writes = [i for i in params["TransactItems"] if i.get("Put", {}).get("TableName") == monitoring_table]
        batches.append(len(writes))

    events = client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", observe, unique_id="observe-batches")
    try:
        event = load_event("deadline_event.json") | {"id": str(uuid.uuid4()), "detail": {"cohort_id": cohort}}
        result = stack.call("MonitoringFunction", event)
        again = stack.call("MonitoringFunction", event)
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", unique_id="observe-batches")

    assert result["moved"] == 23
    assert again["moved"] == 0
    assert sum(batches) == 23
    assert min(batches) >= 5  # B-MEntor Professional's k
    stored = stack.monitoring_records(cohort)
    assert len(stored) == 23
    assert not {r["record_id"]["S"] for r in stored} & {
        r["record_id"]["S"].removeprefix("PENDING#") for r in held
    }
