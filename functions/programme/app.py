"""Programme: a date of a cohort's programme has come (its one-time schedule put ProgrammeDateReached
on the bus); queues the emails of the people it concerns (``mentoring.programme_dates``).

Safe to deliver again (EventBridge's retries, Lambda's, a moved schedule firing once more): each
email is keyed by its moment, and notify sends each key once. A failed invocation raises, so Lambda
retries it and then parks the event on the deadline's dead-letter queue (alarmed).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoProgramme
from mentoring.adapters.messaging import SqsQueue
from mentoring.models import ProgrammeDateEvent
from mentoring.observability import logger, metrics, traced
from mentoring.programme_dates import reach_moment
from mentoring.settings import ProgrammeSettings

settings = ProgrammeSettings.from_env()


@cache
def store() -> DynamoProgramme:
    """The cohort, its matches, and what participants recorded (one table)."""
    return DynamoProgramme(settings.applications_table, retention_days=settings.applicant_data_retention_days)


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    received = parse(event=event, model=ProgrammeDateEvent)
    logger.set_correlation_id(received.id)
    cohort_id, moment_id = received.detail.cohort_id, received.detail.moment_id
    logger.append_keys(cohort_id=cohort_id, moment_id=moment_id)
    # The event's time is when the schedule fired: a moment moved later since sends nothing yet.
    run = reach_moment(cohort_id, moment_id, received.time, store(), store(), store(), notify_queue())
    if run.nothing_because is not None:
        logger.info("programme date: nothing to send", reason=run.nothing_because)
        metrics.add_metric(name="ProgrammeDatesIgnored", unit="Count", value=1)
    else:
        logger.info("programme date: emails queued", queued=run.queued)
        metrics.add_metric(name="ProgrammeEmailsQueued", unit="Count", value=run.queued)
    return {"cohort_id": cohort_id, "moment_id": moment_id, "queued": run.queued}
