"""Intake: each queued submission becomes an application with its eligibility decided, and an
anonymised monitoring record; the acknowledgement email is queued.

Partial batch failures: a record that fails is retried alone and, after the queue's redrive
count, parked on the dead-letter queue. Idempotent per submission id, not per SQS message.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters import client_config
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.adapters.messaging import SqsQueue
from mentoring.intake import process_submission
from mentoring.models import IntakeMessage, utcnow
from mentoring.observability import logger, metrics, traced
from mentoring.settings import IntakeSettings
from mentoring.submissions import parse_record

settings = IntakeSettings.from_env()
processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)
idempotency = IdempotencyConfig(event_key_jmespath="submission_id", expires_after_seconds=14 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table, boto_config=client_config("dynamodb")
)


@cache
def store() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table,
        monitoring_table=settings.monitoring_table,
        retention_days=settings.applicant_data_retention_days,
    )


@cache
def notify_queue() -> SqsQueue:
    return SqsQueue(settings.notify_queue_url)


@idempotent_function(data_keyword_argument="message", config=idempotency, persistence_store=persistence)
def take_in(message: dict[str, Any]) -> dict[str, Any]:
    application = process_submission(
        IntakeMessage.model_validate(message),
        store(),
        store(),
        notify_queue(),
        now=utcnow(),
        grace=timedelta(days=settings.late_answers_grace_days),
    )
    # Only ids and the decision: nothing personal is logged.
    logger.info(
        "application recorded",
        application_id=application.application_id,
        cohort_id=application.cohort_id,
        eligible=application.eligibility.eligible,
    )
    metrics.add_metric(
        name="ApplicationsEligible" if application.eligibility.eligible else "ApplicationsIneligible",
        unit="Count",
        value=1,
    )
    return {"application_id": application.application_id, "eligible": application.eligibility.eligible}


def record_handler(record: SqsRecordModel) -> dict[str, Any]:
    message = parse_record(IntakeMessage, str(record.body))
    logger.append_keys(submission_id=message.submission_id)
    result: dict[str, Any] = take_in(message=message.model_dump(mode="json"))
    return result


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
