"""Monitoring: at a cohort's recruitment deadline, moves its pending equal-opportunities answers
to the Monitoring store in shuffled batches of at least k, so that the time a record was written
cannot narrow it down to fewer than k people. Running twice moves nothing twice."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications, DynamoMonitoring
from mentoring.adapters.kms import KmsAnswers
from mentoring.models import DeadlineEvent
from mentoring.monitoring import flush
from mentoring.observability import logger, metrics, tracer
from mentoring.ports import CohortNotFoundError
from mentoring.scheme import get_scheme
from mentoring.settings import MonitoringSettings

settings = MonitoringSettings.from_env()


@cache
def cohorts() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def store() -> DynamoMonitoring:
    return DynamoMonitoring(settings.monitoring_table)


@cache
def opener() -> KmsAnswers:
    return KmsAnswers(settings.monitoring_key_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DeadlineEvent)
def handler(event: DeadlineEvent, context: LambdaContext) -> dict[str, Any]:
    cohort_id = event.detail.cohort_id
    logger.set_correlation_id(event.id)
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    result = flush(cohort_id, get_scheme(cohort.scheme_id).monitoring_batch, store(), opener())
    logger.info("monitoring answers stored", cohort_id=cohort_id, moved=result.moved, batches=result.batches)
    metrics.add_metric(name="MonitoringAnswersStored", unit="Count", value=result.moved)
    return {"cohort_id": cohort_id, "moved": result.moved, "batches": result.batches}
