"""The deadline's runs as Lambda's asynchronous invocation makes them: retried after a function
error (a crash or a timeout included) under the same request id, then parked on the on-failure
destination with the error, for someone to see; and a run killed at any point ends matched once,
with one email each."""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest

from infrastructure.local.__main__ import email_kind
from infrastructure.local.client import ApiClient
from infrastructure.local.provision import sent_emails
from infrastructure.local.runtime import LocalRuntime
from tests.e2e.conftest import OpenStack
from tests.integration.helpers import applicant_submission

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


# ---------------------------------------------------------------- killed at random points

AT_CALLS = 2  # runs killed just before one of their AWS calls, chosen at random
AT_TIMES = 1  # runs killed at a random moment


def open_cohort_with_applicants(runtime: LocalRuntime, api: ApiClient) -> tuple[str, list[str]]:
    """A cohort two mentees and two mentors apply to (each pair from two institutions); its
    deadline an hour ahead, so that only this test announces it. Returns the id and the emails."""
    cohort_id = f"kill-{uuid.uuid4().hex[:10]}"
    deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    reply = api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": "b-mentor-professional", "name": "Killed runs",
        "recruitment_deadline": deadline.isoformat(),
        "coordinator_email": f"coordinator-{cohort_id}@example.ac.uk",
    })  # fmt: skip
    assert reply.status == 201, reply.body
    people = [
        applicant_submission(cohort_id, role="mentee", institution="UCL", grade=6),
        applicant_submission(cohort_id, role="mentee", institution="UCL", grade=6),
        applicant_submission(cohort_id, role="mentor", institution="KCL", grade=9),
        applicant_submission(cohort_id, role="mentor", institution="KCL", grade=9),
    ]
    for person in people:
        assert api.apply(person).status == 202
    return cohort_id, [p["applicant"]["email"] for p in people]


def announce(
    runtime: LocalRuntime, cohort_id: str, die_at_call: int | None = None, kill_after: float | None = None
) -> bool:
    """Announces the cohort's deadline, and kills the matching invocation's process where it is (as
    a timeout or running out of memory would): just before its ``die_at_call``-th AWS call, or
    ``kill_after`` seconds into it. True if it was killed. The runtime then plays Lambda's
    asynchronous retries (same request id) and, after them, the on-failure destination."""
    matching = runtime.functions["MatchingFunction"]
    crashes = matching.crashes
    if die_at_call is not None:
        matching.die_at_call(die_at_call)
    started = matching.started
    runtime.put_event("mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": cohort_id})
    if kill_after is not None:
        while matching.started == started:
            time.sleep(0.002)
        serving = matching.serving()
        time.sleep(kill_after)
        for pid in set(serving) & set(matching.serving()):
            os.kill(pid, signal.SIGKILL)
    runtime.wait_until_drained()
    return matching.crashes > crashes


def result_emails(runtime: LocalRuntime) -> Counter[str]:
    """How many result emails each address was sent (acknowledgements aside)."""
    counts: Counter[str] = Counter()
    for _, raw in sent_emails(runtime.aws_endpoint):
        message = message_from_bytes(raw)
        if email_kind(str(message["Subject"])) != "acknowledgement":
            counts[str(message["To"])] += 1
    return counts


def test_a_matching_run_killed_at_random_points_ends_matched_once_with_one_email_each(
    runtime: LocalRuntime,
) -> None:
    api = ApiClient(runtime.api_url)
    cohorts = [open_cohort_with_applicants(runtime, api) for _ in range(1 + AT_CALLS + AT_TIMES)]
    runtime.wait_until_drained()
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    # A run that is not killed: how many AWS calls it makes, and how long it takes.
    matching = runtime.functions["MatchingFunction"]
    assert not announce(runtime, cohorts[0][0])
    calls, took = matching.calls_of_last_invocation(), matching.last_duration
    # Killed just before a call (each call a point where the stores change), or at a moment.
    points: list[dict[str, Any]] = [
        {"die_at_call": c} for c in sorted(rng.sample(range(1, calls + 1), AT_CALLS))
    ]
    points += [{"kill_after": rng.uniform(0, took)} for _ in range(AT_TIMES)]

    killed = [
        announce(runtime, cohort_id, **point)
        for (cohort_id, _), point in zip(cohorts[1:], points, strict=True)
    ]

    sent = result_emails(runtime)
    trial = f"seed {seed}: {calls} calls in {took:.2f} s, killed at {points}: {killed}"
    assert all(killed[:AT_CALLS]), trial
    for cohort_id, emails in cohorts:
        progress = api.signed("GET", f"/cohorts/{cohort_id}").body
        matches = api.signed("GET", f"/cohorts/{cohort_id}/matches").body["matches"]
        assert progress["cohort"]["status"] == "matched", (cohort_id, trial)
        assert len(matches) == 2, (cohort_id, trial)
        assert [sent[e] for e in emails] == [1, 1, 1, 1], (cohort_id, trial)
        assert sent[f"coordinator-{cohort_id}@example.ac.uk"] == 1, (cohort_id, trial)
    assert parked(runtime) == [], trial
