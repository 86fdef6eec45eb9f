"""Monitoring: stores pending equal-opportunities answers, and pending evaluation answers, in
k-anonymous batches of at least k.

Runs on a cohort's recruitment deadline event (its monitoring answers), on the end of its programme
(its evaluation answers), and every hour on a schedule (the sweep, both kinds) for answers that
arrived late, deleting those that are still fewer than k once the grace period is over. The time it
acts on is the event's, never a clock of its own. Running twice moves nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from mentoring.adapters.dynamodb import DynamoApplications, DynamoEvaluation, DynamoMonitoring
from mentoring.adapters.kms import KmsAnswers, KmsEvaluationAnswers
from mentoring.evaluation import settle_evaluation, sweep_evaluation
from mentoring.models import DeadlineEvent, ProgrammeDateEvent, utcnow
from mentoring.monitoring import Settled, settle_alone, sweep
from mentoring.observability import logger, metrics, traced
from mentoring.ports import CohortNotFoundError, Lease
from mentoring.scheme import get_scheme
from mentoring.settings import MonitoringSettings

settings = MonitoringSettings.from_env()
DEADLINE = "RecruitmentDeadlineReached"
PROGRAMME_DATE = "ProgrammeDateReached"
PROGRAMME_END = (
    "end"  # the moment id of a programme's end (mentoring.programme_dates); its rule sends no other
)


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


@cache
def evaluation_store() -> DynamoEvaluation:
    return DynamoEvaluation(settings.monitoring_table)


@cache
def evaluation_opener() -> KmsEvaluationAnswers:
    return KmsEvaluationAnswers(settings.monitoring_key_id)


def report(results: list[Settled], kind: str = "Monitoring") -> dict[str, Any]:
    for result in results:
        if result.stored or result.discarded:
            logger.info(
                f"{kind.lower()} answers settled",
                cohort_id=result.cohort_id,
                stored=result.stored,
                transactions=result.transactions,
                discarded=result.discarded,
            )
    metrics.add_metric(name=f"{kind}AnswersStored", unit="Count", value=sum(r.stored for r in results))
    metrics.add_metric(name=f"{kind}AnswersDiscarded", unit="Count", value=sum(r.discarded for r in results))
    return {
        "stored": sum(r.stored for r in results),
        "discarded": sum(r.discarded for r in results),
        "waiting": sum(r.waiting for r in results),
    }


def programme_ended(event: ProgrammeDateEvent, lease: Lease) -> dict[str, Any]:
    """The end of a cohort's programme: its evaluation answers may be stored now. A date of a
    cohort that does not exist moves nothing (the programme function parks it; the sweep deletes
    any answers such a cohort left)."""
    date = event.detail
    cohort = cohorts().get_cohort(date.cohort_id) if date.moment_id == PROGRAMME_END else None
    if cohort is None:
        logger.warning("a programme date with nothing to settle", cohort_id=date.cohort_id)
        return {"cohort_id": date.cohort_id, "evaluation": report([], "Evaluation")}
    result = settle_evaluation(
        cohort, event.time, evaluation_store(), evaluation_opener(), cohorts(), lease, programme_ended=True
    )
    return {"cohort_id": cohort.cohort_id, "evaluation": report([result], "Evaluation")}


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    received = parse(event=event, model=EventBridgeModel)
    logger.set_correlation_id(received.id)
    grace = timedelta(days=settings.late_answers_grace_days)
    # Held for the rest of this invocation, by its request id (a run that dies lets go when it ends).
    lease = Lease.for_invocation(
        context.aws_request_id, utcnow(), timedelta(milliseconds=context.get_remaining_time_in_millis())
    )
    if received.detail_type == PROGRAMME_DATE:
        return programme_ended(parse(event=event, model=ProgrammeDateEvent), lease)
    if received.detail_type != DEADLINE:  # the hourly sweep
        monitoring = report(sweep(received.time, grace, cohorts(), store(), opener(), lease))
        evaluation = sweep_evaluation(
            received.time, cohorts(), evaluation_store(), evaluation_opener(), lease
        )
        return {**monitoring, "evaluation": report(evaluation, "Evaluation")}
    cohort_id = parse(event=event, model=DeadlineEvent).detail.cohort_id
    cohort = cohorts().get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    k = get_scheme(cohort.scheme_id).monitoring_batch
    result = settle_alone(
        cohort, k, received.time, grace, store(), opener(), cohorts(), lease, deadline_reached=True
    )
    if result.elsewhere:
        logger.info("another run is storing this cohort's answers", cohort_id=cohort_id)
    return {"cohort_id": cohort_id, **report([result])}
