"""The deadline's runs as Lambda's asynchronous invocation makes them: retried after a function
error, then parked on the on-failure destination with the error, for someone to see."""

from __future__ import annotations

import json

import pytest

from infrastructure.local.runtime import LocalRuntime
from tests.e2e.conftest import OpenStack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runtime(open_stack: OpenStack) -> LocalRuntime:
    """The session's running stack (its start is the costly part of an end-to-end test)."""
    return open_stack.runtime


def parked(runtime: LocalRuntime) -> list[dict[str, object]]:
    sqs = runtime.client("sqs")
    url = runtime.physical["DeadlineDeadLetterQueue"]["Ref"]
    records = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            records.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def test_a_deadline_for_no_cohort_is_retried_then_parked_with_its_error(runtime: LocalRuntime) -> None:
    runtime.put_event(
        "mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": "no-such-cohort"}, wait=True
    )

    records = {str(r["requestContext"]["functionArn"]).rsplit("-", 1)[-1]: r for r in parked(runtime)}  # type: ignore[index]

    assert set(records) == {"MatchingFunction", "MonitoringFunction"}
    for record in records.values():
        assert record["requestContext"]["condition"] == "RetriesExhausted"  # type: ignore[index]
        assert record["requestContext"]["approximateInvokeCount"] == 3  # type: ignore[index]
        assert record["requestPayload"]["detail"] == {"cohort_id": "no-such-cohort"}  # type: ignore[index]
        assert "does not exist" in record["responsePayload"]["errorMessage"]  # type: ignore[index]
