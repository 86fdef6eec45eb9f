"""Matching runs against moto: the lease a run holds, the watch it sets on it, the alarm when a
cohort is left matching, and a coordinator's re-run through its IAM-authorised route."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import SchedulerLeaseWatch
from mentoring.models import Cohort
from mentoring.ports import Lease

from tests.integration.helpers import Stack, api_event, applicant_submission, intake_message, sqs_event

pytestmark = pytest.mark.integration


def past_cohort(stack: Stack, with_applicants: bool = True) -> str:
    """A cohort whose recruitment deadline passed five minutes ago, with a mentee and a mentor."""
    cohort_id = f"it-run-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    store(stack).create_cohort(
        Cohort(
            cohort_id=cohort_id,
            scheme_id="b-mentor-professional",
            name="Runs",
            recruitment_deadline=now + timedelta(hours=1),
            coordinator_email="c@example.ac.uk",
            created_at=now,
        )
    )
    if with_applicants:
        messages = [
            intake_message(applicant_submission(cohort_id, role="mentee", institution="UCL", grade=6)),
            intake_message(applicant_submission(cohort_id, role="mentor", institution="KCL", grade=9)),
        ]
        stack.call("IntakeFunction", sqs_event(messages))
    store(stack).move_deadline(cohort_id, now - timedelta(minutes=5))
    return cohort_id


def store(stack: Stack) -> DynamoApplications:
    return DynamoApplications(stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb"))


def killed_run(stack: Stack, cohort_id: str, lease_left: timedelta) -> Lease:
    """A run that claimed the cohort and was then killed, its lease ``lease_left`` from running out."""
    now = datetime.now(UTC)
    lease = Lease(
        owner=f"killed-{uuid.uuid4().hex[:6]}", taken=now - timedelta(minutes=11), until=now + lease_left
    )
    assert store(stack).claim_for_matching(cohort_id, lease)
    return lease


def rerun(stack: Stack, cohort_id: str) -> dict[str, Any]:
    event = api_event(
        "POST", f"/cohorts/{cohort_id}/matching-runs", None, resource="/cohorts/{cohortId}/matching-runs"
    )
    response: dict[str, Any] = stack.call("AdminFunction", event)
    return response


def test_a_run_watches_its_lease_with_a_schedule_after_it_runs_out(stack: Stack) -> None:
    cohort_id = past_cohort(stack)

    assert stack.deliver_deadline(cohort_id, request_id="request-1")["ran"] is True

    group = stack.physical("DeadlineScheduleGroup")
    scheduler = stack.client("scheduler")
    names = [
        s["Name"]
        for s in scheduler.list_schedules(GroupName=group)["Schedules"]
        if s["Name"].startswith("lease-")
    ]
    watches = [scheduler.get_schedule(Name=n, GroupName=group) for n in names]
    mine = [w for w in watches if json.loads(w["Target"]["Input"]) == {"cohort_id": cohort_id}]
    assert len(mine) == 1
    assert mine[0]["Target"]["EventBridgeParameters"] == {
        "DetailType": "MatchingLeaseExpired",
        "Source": "mentoring.matching",
    }
    assert len(mine[0]["Name"]) <= 64


def test_a_cohort_left_matching_after_its_lease_ran_out_raises_the_alarm(stack: Stack) -> None:
    stuck = past_cohort(stack, with_applicants=False)
    killed_run(stack, stuck, lease_left=-timedelta(minutes=1))
    finished = past_cohort(stack)
    stack.deliver_deadline(finished)

    alarm = stack.deliver_deadline(stuck, detail_type="MatchingLeaseExpired")
    quiet = stack.deliver_deadline(finished, detail_type="MatchingLeaseExpired")

    assert alarm == {"cohort_id": stuck, "stuck": True}
    assert quiet == {"cohort_id": finished, "stuck": False}


def test_lambdas_retry_of_a_killed_run_takes_over_and_another_delivery_does_not(stack: Stack) -> None:
    cohort_id = past_cohort(stack)
    lease = killed_run(stack, cohort_id, lease_left=timedelta(minutes=10))

    other = stack.deliver_deadline(cohort_id, request_id="another-request")
    retry = stack.deliver_deadline(cohort_id, request_id=lease.owner)

    assert other["ran"] is False
    assert retry["ran"] is True
    assert len(stack.matches(cohort_id)) == 1


@contextmanager
def announced_deadlines(stack: Stack) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What is put on the bus as a recruitment deadline from now on, as EventBridge would deliver it:
    a rule on the bus to a queue of this test's own, read by the function it yields."""
    events, sqs = stack.client("events"), stack.client("sqs")
    bus, rule = stack.physical("MentoringEventBus"), f"announced-{uuid.uuid4().hex[:8]}"
    queue = sqs.create_queue(QueueName=rule)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    events.put_rule(
        Name=rule, EventBusName=bus, EventPattern=json.dumps({"detail-type": ["RecruitmentDeadlineReached"]})
    )
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    def announced() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        # EventBridge's envelope always names the account; moto's SQS target leaves it out.
        return [{"account": "123456789012", **json.loads(m["Body"])} for m in messages]

    try:
        yield announced
    finally:
        events.remove_targets(Rule=rule, EventBusName=bus, Ids=["q"])
        events.delete_rule(Name=rule, EventBusName=bus)
        sqs.delete_queue(QueueUrl=queue)


def test_a_coordinator_reruns_a_dead_run_once_its_lease_ran_out_and_not_before(stack: Stack) -> None:
    alive = past_cohort(stack)
    killed_run(stack, alive, lease_left=timedelta(minutes=5))
    dead = past_cohort(stack)
    killed_run(stack, dead, lease_left=-timedelta(seconds=1))

    with announced_deadlines(stack) as announced:
        refused = rerun(stack, alive)
        accepted = rerun(stack, dead)
        unknown = rerun(stack, "no-such-cohort")
        (event,) = announced()

    assert refused["statusCode"] == 409
    assert "holds this cohort until" in json.loads(refused["body"])["message"]
    assert accepted["statusCode"] == 202, accepted["body"]
    assert unknown["statusCode"] == 404
    assert (event["source"], event["detail"]) == ("mentoring.deadlines", {"cohort_id": dead})
    # The announced deadline, delivered, runs matching once more; a second re-run is refused.
    assert stack.call("MatchingFunction", event)["ran"] is True
    assert rerun(stack, dead)["statusCode"] == 409


def test_a_lease_watchs_name_keeps_within_schedulers_limits() -> None:
    lease = Lease(owner="r", taken=datetime.now(UTC), until=datetime.now(UTC))

    assert len(SchedulerLeaseWatch.name_for("a" * 63, lease)) <= 64
