"""Notify: renders each person's email (text and HTML) and sends it with SES, once per
(cohort, person, kind of email) whatever the number of deliveries."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities import parameters
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
from mentoring.adapters.dynamodb import (
    DynamoApplications,
    DynamoEmailOutbox,
    DynamoHeldSubmissions,
    DynamoProgramme,
    DynamoSubmissionClaims,
)
from mentoring.adapters.messaging import SesMailer
from mentoring.delivery import PersonalLinks, deliver
from mentoring.models import Notification, utcnow
from mentoring.observability import logger, metrics, traced
from mentoring.settings import NotifySettings
from mentoring.submissions import parse_record

# Time enough for one email: an SES attempt at its full connect and read timeouts (13 s), the
# throttling backoff and the outbox writes. A send is started only with this much of the invocation
# left, because a sender stopped by the function's timeout between SES and the outbox leaves the
# email uncertain (never sent twice). Only an SES that answers "throttled" slowly several times
# running could still outlast it.
SEND_BUDGET_MS = 20_000

settings = NotifySettings.from_env()
processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)
idempotency = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=90 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.idempotency_table, boto_config=client_config("dynamodb")
)


@cache
def store() -> DynamoApplications:
    return DynamoApplications(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def mailer() -> SesMailer:
    return SesMailer(settings.sender_email, rate=settings.send_rate)


@cache
def outbox() -> DynamoEmailOutbox:
    return DynamoEmailOutbox(
        settings.applications_table, retention_days=settings.applicant_data_retention_days
    )


@cache
def held() -> DynamoHeldSubmissions:
    return DynamoHeldSubmissions(settings.applications_table)


@cache
def claims() -> DynamoSubmissionClaims:
    return DynamoSubmissionClaims(settings.applications_table)


@cache
def programme() -> DynamoProgramme:
    return DynamoProgramme(settings.applications_table, retention_days=settings.applicant_data_retention_days)


# Read once and kept for a while (Powertools' cache), as submit keeps its key.
LINK_KEY_MAX_AGE = 900


@cache
def secrets() -> parameters.SecretsProvider:
    """Powertools' provider with the project's client settings (its own would wait 60 s)."""
    return parameters.SecretsProvider(boto_config=client_config("secretsmanager"))


def personal_links() -> PersonalLinks:
    key = secrets().get(settings.programme_link_secret, max_age=LINK_KEY_MAX_AGE)
    return PersonalLinks(str(key).encode(), settings.public_api_url, programme())


@idempotent_function(data_keyword_argument="notification", config=idempotency, persistence_store=persistence)
def send_once(notification: dict[str, Any]) -> dict[str, str]:
    note = Notification.model_validate(notification)
    delivery = deliver(
        note,
        utcnow(),
        store(),
        store(),
        outbox(),
        mailer(),
        settings.console_url,
        held(),
        claims(),
        personal_links(),
    )
    if delivery.outcome == "uncertain":
        # A sender stopped between reserving and recording: SES may have sent it. Not resent.
        logger.warning(
            "email outcome uncertain; not sent again", kind=note.kind.value, notification_key=note.key
        )
        metrics.add_metric(name="EmailsUncertain", unit="Count", value=1)
    else:
        logger.info(
            "email delivered", outcome=delivery.outcome, kind=note.kind.value, notification_key=note.key
        )
        metrics.add_metric(name="EmailsSent", unit="Count", value=1 if delivery.outcome == "sent" else 0)
    return {"outcome": delivery.outcome, "message_id": delivery.message_id or ""}


class OutOfTimeError(RuntimeError):
    """Too little of the invocation is left to send an email and record it; SQS delivers it again."""


def record_handler(record: SqsRecordModel, lambda_context: LambdaContext) -> dict[str, str]:
    if lambda_context.get_remaining_time_in_millis() < SEND_BUDGET_MS:
        raise OutOfTimeError("too little time left in this invocation to send an email safely")
    note = parse_record(Notification, str(record.body))
    result: dict[str, str] = send_once(notification={**note.model_dump(mode="json"), "key": note.key})
    return result


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
