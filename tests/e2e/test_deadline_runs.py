"""The deadline's runs as Lambda's asynchronous invocation makes them: retried after a function
error (a crash or a timeout included) under the same request id, then parked on the on-failure
destination with the error, for someone to see; and a run killed at any point ends matched once,
with one email each."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

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

# A run changes the world only through its AWS calls, so killing it just before a call stands for
# killing it at any moment since the call before (a call in flight when it dies either landed or
# not: as if killed just after it, or just before it). Three deaths, at calls chosen at random:
# one cohort whose first run dies, and one whose first run and Lambda's retry that takes it over
# both die, its last retry finishing.
DIES_ONCE, DIES_TWICE = 1, 2


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
    for person in people:  # through the form, each confirmed from the link emailed (it counts then)
        assert api.apply(person).status == 202
        assert api.confirm(runtime.confirmation_link(person["applicant"]["email"])).status == 200
    return cohort_id, [p["applicant"]["email"] for p in people]


def announce(runtime: LocalRuntime, cohort_id: str, *die_at_calls: int) -> int:
    """Announces the cohort's deadline; the matching invocations are killed where they are (as a
    timeout or running out of memory would), each just before its AWS call numbered in
    ``die_at_calls``, in turn. The runtime plays Lambda's asynchronous retries (same request id)
    and, after them, the on-failure destination. Returns how many invocations were killed."""
    matching = runtime.functions["MatchingFunction"]
    crashes = matching.crashes
    matching.die_at_calls(*die_at_calls)
    runtime.put_event("mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": cohort_id})
    runtime.wait_until_drained()
    assert not matching.kills_pending(), f"a run made fewer calls than {die_at_calls}"
    return matching.crashes - crashes


def result_emails(runtime: LocalRuntime) -> Counter[str]:
    """How many result emails each address was sent (the confirmation links and acknowledgements
    before them aside)."""
    counts: Counter[str] = Counter()
    for _, raw in sent_emails(runtime.aws_endpoint):
        message = message_from_bytes(raw)
        if email_kind(str(message["Subject"])) not in {"confirmation", "acknowledgement"}:
            counts[str(message["To"])] += 1
    return counts


def test_a_matching_run_killed_at_random_points_ends_matched_once_with_one_email_each(
    runtime: LocalRuntime,
) -> None:
    api = ApiClient(runtime.api_url)
    cohorts = [open_cohort_with_applicants(runtime, api) for _ in range(3)]
    runtime.wait_until_drained()
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    # A run that is not killed: how many AWS calls a run makes.
    assert announce(runtime, cohorts[0][0]) == 0
    calls = runtime.functions["MatchingFunction"].calls_of_last_invocation()
    points = [rng.randint(1, calls) for _ in range(DIES_ONCE + DIES_TWICE)]

    killed = [
        announce(runtime, cohorts[1][0], *points[:DIES_ONCE]),
        announce(runtime, cohorts[2][0], *points[DIES_ONCE:]),
    ]

    sent = result_emails(runtime)
    trial = f"seed {seed}: a run makes {calls} calls; killed before calls {points}"
    assert killed == [DIES_ONCE, DIES_TWICE], trial
    for cohort_id, emails in cohorts:
        progress = api.signed("GET", f"/cohorts/{cohort_id}").body
        matches = api.signed("GET", f"/cohorts/{cohort_id}/matches").body["matches"]
        assert progress["cohort"]["status"] == "matched", (cohort_id, trial)
        assert len(matches) == 2, (cohort_id, trial)
        assert [sent[e] for e in emails] == [1, 1, 1, 1], (cohort_id, trial)
        assert sent[f"coordinator-{cohort_id}@example.ac.uk"] == 1, (cohort_id, trial)
    assert parked(runtime) == [], trial
