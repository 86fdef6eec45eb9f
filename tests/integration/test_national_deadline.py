"""The deadline run at national scale, against moto through the real adapters: every application is
read whatever its id (the cohort is read by several range queries at once), writes DynamoDB leaves
unprocessed are sent again until stored, and a cohort's results are stored and queued once each
when batches go out several at a time."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from mentoring.adapters import client
from mentoring.adapters import dynamodb as dynamodb_adapter
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.models import Application, Match

from tests.integration.helpers import Stack, queued_bodies
from tests.unit.factories import application, mentor

pytestmark = pytest.mark.integration

# Ids on either side of every range boundary, equal to one, and outside hexadecimal altogether.
AWKWARD_IDS = [
    "0",
    "0fff",
    "1",
    "1-a",
    "9~",
    "a",
    "A",
    "f",
    "ffff",
    "g-partner",
    "Z",
    "zz",
    "~",
    "-",
    "\u00e9",
]


def store(stack: Stack) -> DynamoApplications:
    return DynamoApplications(
        stack.physical("ApplicationsTable"), monitoring_table=stack.physical("MonitoringTable")
    )


def record(stack: Stack, applications: list[Application]) -> None:
    adapter = store(stack)
    for app in applications:
        assert adapter.record_application(app, None)


def test_every_application_is_read_once_whatever_its_id(stack: Stack) -> None:
    """Protection: the read's ranges cover every sort key of the cohort's applications, and a key on
    a boundary is read by one range only."""
    cohort_id = stack.open_cohort()
    record(stack, [application(application_id=i, cohort_id=cohort_id) for i in AWKWARD_IDS])

    read = [a.application_id for a in store(stack).list_applications(cohort_id)]

    assert Counter(read) == Counter(AWKWARD_IDS)


@contextmanager
def leaving_unprocessed(table: str, times: int) -> Iterator[list[int]]:
    """The next ``times`` BatchWriteItem calls of the handlers' client are answered as a throttled
    DynamoDB answers them: nothing written, every request handed back as UnprocessedItems."""
    calls = [0]

    def throttled(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if calls[0] >= times:
            return None
        calls[0] += 1
        requested = json.loads(params["body"])["RequestItems"]  # the request as sent, DynamoDB JSON
        return AWSResponse("https://injected", 200, {}, None), {
            "UnprocessedItems": {table: requested[table]},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    dynamodb = client("dynamodb")
    event = "before-call.dynamodb.BatchWriteItem"
    dynamodb.meta.events.register(event, throttled, unique_id="unprocessed")
    try:
        yield calls
    finally:
        dynamodb.meta.events.unregister(event, unique_id="unprocessed")


def matches_of(cohort_id: str, count: int) -> list[Match]:
    return [
        Match(cohort_id=cohort_id, mentee_id=f"mentee-{k:03d}", mentor_id="m", score=1.0, explanation=[])
        for k in range(count)
    ]


def test_writes_left_unprocessed_are_sent_again_until_every_match_is_stored(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protection: the unprocessed items of a throttled batch write are written again, not dropped."""
    monkeypatch.setattr(dynamodb_adapter.time, "sleep", lambda _: None)
    cohort_id = stack.open_cohort()
    matches = matches_of(cohort_id, 60)

    with leaving_unprocessed(stack.physical("ApplicationsTable"), times=5) as calls:
        store(stack).put_results(cohort_id, matches, [])

    assert calls[0] == 5
    assert sorted(m.mentee_id for m in store(stack).list_matches(cohort_id)) == [m.mentee_id for m in matches]


def test_writes_dynamodb_keeps_refusing_fail_the_run_loudly(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protection: a batch DynamoDB never takes raises (the deadline run hands its claim back and is
    retried) instead of looping for ever or returning as if stored."""
    monkeypatch.setattr(dynamodb_adapter.time, "sleep", lambda _: None)
    cohort_id = stack.open_cohort()

    with (
        leaving_unprocessed(stack.physical("ApplicationsTable"), times=10_000),
        pytest.raises(RuntimeError, match="unprocessed"),
    ):
        store(stack).put_results(cohort_id, matches_of(cohort_id, 30), [])


def test_a_cohort_of_hundreds_is_matched_stored_and_queued_once_each(stack: Stack) -> None:
    """The deadline run through the matching function's handler: results written and notifications
    sent many batches at once, and none of them twice or missing."""
    cohort_id = stack.open_cohort()
    institutions = itertools.cycle(["UCL", "KCL", "UAL"])  # where the factory's grades are eligible
    mentees = [application(cohort_id=cohort_id, institution=next(institutions)) for _ in range(150)]
    mentors = [mentor(cohort_id=cohort_id, institution=next(institutions), capacity=2) for _ in range(60)]
    record(stack, mentees + mentors)

    result = stack.deliver_deadline(cohort_id)

    stored = store(stack)
    matches, unmatched = stored.list_matches(cohort_id), stored.list_unmatched(cohort_id)
    assert result["matches"] == len(matches) == 120
    assert {m.mentee_id for m in matches} | {u.application_id for u in unmatched} == {
        a.application_id for a in mentees
    }
    notes = queued_bodies(stack, "NotifyQueue")
    keys = Counter((n.get("application_id"), n["kind"]) for n in notes)
    assert max(keys.values()) == 1
    people = {a.application_id for a in mentees + mentors}
    assert {who for who, _ in keys if who is not None} == people
    assert len(notes) == len(people) + 1  # and the coordinator's summary
    assert set(result["stages"]) == {"read", "match", "store", "queue"}
