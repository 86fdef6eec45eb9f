"""``make smoke``'s journey, run against the local stack: the same code that checks a deployed
stack (infrastructure/smoke.py), with only the finding of the stack's resources replaced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import boto3
import pytest
from botocore.credentials import ReadOnlyCredentials

from infrastructure.local.runtime import LocalRuntime
from infrastructure.smoke import (
    DEAD_LETTER_QUEUES,
    MENTEE_PARTNER,
    PARTNER,
    SmokeFailedError,
    Target,
    journey,
)
from tests.e2e.conftest import OpenStack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runtime(open_stack: OpenStack) -> LocalRuntime:
    """The session's running stack (its start is the costly part of an end-to-end test)."""
    return open_stack.runtime


def local_target(runtime: LocalRuntime) -> Target:
    return Target(
        api_url=runtime.api_url,
        region="eu-west-2",
        credentials=ReadOnlyCredentials("testing", "testing", None),
        partner_key=runtime.partner_keys()[PARTNER]["value"],
        mentee_partner_key=runtime.partner_keys()[MENTEE_PARTNER]["value"],
        applications_table=runtime.physical["ApplicationsTable"]["Ref"],
        monitoring_table=runtime.physical["MonitoringTable"]["Ref"],
        schedule_group=runtime.physical["DeadlineScheduleGroup"]["Ref"],
        dead_letter_queues={name: runtime.physical[name]["Ref"] for name in DEAD_LETTER_QUEUES},
        session=boto3.session.Session(),
        endpoint_url=runtime.aws_endpoint,
        request_timeout=(10, None),
    )


def fire_deadline(runtime: LocalRuntime) -> Callable[[datetime], None]:
    """The local stack's deadline passes at once: its schedule is fired, as Scheduler would then."""

    def deadline_passes(deadline: datetime) -> None:
        runtime.wait_until_drained()
        runtime.fire_due(now=deadline)
        runtime.wait_until_drained()

    return deadline_passes


def test_the_journey_goes_from_open_to_matched_and_leaves_nothing_behind(runtime: LocalRuntime) -> None:
    said: list[str] = []

    cohort_id = journey(
        local_target(runtime),
        log=said.append,
        lead=timedelta(minutes=2),
        deadline_passes=fire_deadline(runtime),
        poll=0.5,
    )

    dynamodb = runtime.client("dynamodb")
    left = [
        item
        for table in ("ApplicationsTable", "MonitoringTable")
        for item in dynamodb.scan(TableName=runtime.physical[table]["Ref"])["Items"]
        if cohort_id in str(item)
    ]
    assert left == []
    assert any(line.startswith("matched: one pair") for line in said)
    assert runtime.dead_letter_counts() == dict.fromkeys(runtime.dead_letter_counts(), 0)


def test_a_journey_that_fails_says_why_and_still_cleans_up(runtime: LocalRuntime) -> None:
    target = local_target(runtime)
    target.partner_key = "not-a-partner-key"
    said: list[str] = []

    with pytest.raises(SmokeFailedError, match="the partner's application: 403"):
        journey(target, log=said.append, deadline_passes=fire_deadline(runtime), poll=0.5)

    cohort_id = said[0].split()[2]
    items = runtime.client("dynamodb").scan(TableName=target.applications_table)["Items"]
    assert not [item for item in items if cohort_id in str(item)]
    assert said[-1].startswith("cleaned up")
