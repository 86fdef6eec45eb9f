"""Matching: the recruitment deadline event starts one matching run for the cohort.

A duplicate or concurrent delivery finds the cohort already claimed and does nothing; a run that
fails hands its claim back and raises, so Lambda's asynchronous retry runs it again.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import SqsQueue
from mentoring.deadline import run_deadline
from mentoring.models import DeadlineEvent, utcnow
from mentoring.observability import logger, metrics, traced
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


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@event_parser(model=DeadlineEvent)
def handler(event: DeadlineEvent, context: LambdaContext) -> dict[str, Any]:
    cohort_id = event.detail.cohort_id
    logger.set_correlation_id(event.id)
    logger.append_keys(cohort_id=cohort_id)
    run = run_deadline(cohort_id, utcnow(), store(), store(), notify_queue())
    if not run.ran or run.result is None:
        logger.info("matching already ran for this cohort; nothing to do")
        metrics.add_metric(name="DeadlineEventsIgnored", unit="Count", value=1)
        return {"cohort_id": cohort_id, "ran": False}
    result = run.result
    logger.info(
        "matching finished",
        matches=len(result.matches),
        unmatched_mentees=len(result.unmatched_mentees),
        unmatched_mentors=len(result.unmatched_mentor_ids),
        stage_seconds=run.stages,
    )
    metrics.add_metric(name="Matches", unit="Count", value=len(result.matches))
    metrics.add_metric(name="UnmatchedMentees", unit="Count", value=len(result.unmatched_mentees))
    for stage, seconds in run.stages.items():
        metrics.add_metric(name=f"DeadlineStage{stage.title()}Seconds", unit="Seconds", value=seconds)
    return {"cohort_id": cohort_id, "ran": True, "matches": len(result.matches), "stages": run.stages}
