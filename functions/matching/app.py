"""Matching: the recruitment deadline event starts one matching run for the cohort.

The run holds the cohort under a lease that outlasts this invocation (``mentoring.deadline``): a
duplicate or concurrent delivery finds it held and does nothing; a run that fails hands it back
and raises, so Lambda's asynchronous retry runs it again; a run that is killed (a timeout, out of
memory) is taken over by Lambda's retry, which has the same request id. Once a lease has run out,
its watch (MatchingLeaseExpired) raises the CohortsStuckInMatching alarm if the cohort is still
matching.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import LEASE_EXPIRED, EventBridgeDeadlines, SchedulerLeaseWatch, SqsQueue
from mentoring.deadline import run_deadline, stuck_in_matching
from mentoring.models import DeadlineEvent, LeaseExpiredEvent, utcnow
from mentoring.observability import logger, metrics, traced
from mentoring.ports import Lease
from mentoring.settings import MatchingSettings

settings = MatchingSettings.from_env()


@cache
def store() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@cache
def lease_watch() -> SchedulerLeaseWatch:
    return SchedulerLeaseWatch(
        EventBridgeDeadlines(
            group=settings.schedule_group,
            bus_arn=settings.event_bus_arn,
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.deadline_dead_letter_queue_arn,
        )
    )


def check_lease(event: dict[str, Any]) -> dict[str, Any]:
    """A run's lease has run out: the alarm, if the cohort is still matching (the run died)."""
    cohort_id = parse(event=event, model=LeaseExpiredEvent).detail.cohort_id
    cohort = stuck_in_matching(cohort_id, utcnow(), store())
    if cohort is None:
        return {"cohort_id": cohort_id, "stuck": False}
    logger.error(
        "a matching run died holding the cohort and no retry took it over; "
        "run matching again with POST /cohorts/{cohortId}/matching-runs",
        cohort_id=cohort_id,
    )
    metrics.add_metric(name="CohortsStuckInMatching", unit="Count", value=1)
    return {"cohort_id": cohort_id, "stuck": True}


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    received = parse(event=event, model=EventBridgeModel)
    logger.set_correlation_id(received.id)
    if received.detail_type == LEASE_EXPIRED:
        return check_lease(event)
    cohort_id = parse(event=event, model=DeadlineEvent).detail.cohort_id
    logger.append_keys(cohort_id=cohort_id)
    # Held for the rest of this invocation and a margin, under the request id that Lambda's
    # retries of this invocation keep.
    lease = Lease.for_invocation(
        context.aws_request_id, utcnow(), timedelta(milliseconds=context.get_remaining_time_in_millis())
    )
    run = run_deadline(cohort_id, lease, store(), store(), notify_queue(), lease_watch())
    if not run.ran or run.result is None:
        logger.info("matching already ran, or another run holds the cohort; nothing to do")
        metrics.add_metric(name="DeadlineEventsIgnored", unit="Count", value=1)
        return {"cohort_id": cohort_id, "ran": False}
    result = run.result
    logger.info(
        "matching finished",
        matches=len(result.matches),
        unmatched_mentees=len(result.unmatched_mentees),
        unmatched_mentors=len(result.unmatched_mentor_ids),
        stage_seconds=run.stages,
        taken_over=not run.finished,
    )
    metrics.add_metric(name="Matches", unit="Count", value=len(result.matches))
    metrics.add_metric(name="UnmatchedMentees", unit="Count", value=len(result.unmatched_mentees))
    for stage, seconds in run.stages.items():
        metrics.add_metric(name=f"DeadlineStage{stage.title()}Seconds", unit="Seconds", value=seconds)
    return {"cohort_id": cohort_id, "ran": True, "matches": len(result.matches), "stages": run.stages}
