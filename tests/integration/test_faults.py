"""Faults injected into the AWS calls the handlers make (throttling, refusals, a crash between
sending and recording, a deadline delivered twice at once): afterwards the stores hold exactly
what they should. Each test fails if the protection it names is removed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    confirm,
    confirmation_tokens,
    failing,
    intake_message,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def notify_once(stack: Stack, note: dict[str, Any], message_id: str) -> bool:
    """One delivery of one notification; True when it succeeded. (A batch whose every record
    fails fails the invocation, as Powertools does, and SQS delivers it again.)"""
    try:
        return failures(stack.call("NotifyFunction", sqs_event([note], message_id=message_id))) == []
    except BatchProcessingError:
        return False


def acknowledgement_to_send(stack: Stack) -> dict[str, Any]:
    """One application taken in by intake: its acknowledgement, waiting on the notify queue."""
    cohort = stack.open_cohort()
    stack.call("IntakeFunction", sqs_event([intake_message(applicant_submission(cohort))]))
    (note,) = queued_bodies(stack, "NotifyQueue")
    return note


def test_a_queue_that_refuses_gives_a_retryable_503_never_a_false_202(stack: Stack) -> None:
    """Protection: submit answers 202 only after the queue accepted the message (for the web form,
    the confirmation link's)."""
    body = applicant_submission(stack.open_cohort())

    with failing("sqs", "SendMessageBatch", code="ServiceUnavailable", times=1):
        refused = stack.call("SubmitFunction", api_event("POST", "/applications", body))
    assert refused["statusCode"] == 503
    assert refused["multiValueHeaders"]["Retry-After"] == ["30"]
    assert confirmation_tokens(stack) == []  # its held copy is unreachable, and lapses

    retried = stack.call("SubmitFunction", api_event("POST", "/applications", body))
    assert retried["statusCode"] == 202
    (token,) = confirmation_tokens(stack)
    assert confirm(stack, token)["statusCode"] == 200
    assert [q["submission_id"] for q in queued_bodies(stack, "IntakeQueue")] == [
        json.loads(retried["body"])["submission_id"]
    ]


def test_a_confirmation_the_queue_refuses_is_a_503_and_pressing_again_confirms_it_once(stack: Stack) -> None:
    """Protection: the address's claim, then the queue, then the held item marked done: a
    confirmation that stops between them finishes when the applicant presses again."""
    body = applicant_submission(stack.open_cohort())
    stack.call("SubmitFunction", api_event("POST", "/applications", body))
    (token,) = confirmation_tokens(stack)

    with failing("sqs", "SendMessageBatch", code="ServiceUnavailable", times=1):
        refused = confirm(stack, token)
    assert refused["statusCode"] == 503
    assert refused["multiValueHeaders"]["Retry-After"] == ["30"]
    assert "press" in refused["body"]
    assert queued_bodies(stack, "IntakeQueue") == []

    again = confirm(stack, token)

    assert again["statusCode"] == 200, again["body"]
    assert len(queued_bodies(stack, "IntakeQueue")) == 1


def test_a_throttled_write_fails_only_its_record_and_the_retry_stores_it_once(stack: Stack) -> None:
    """Protection: partial batch failures, and one transaction for the application and its monitoring row."""
    cohort = stack.open_cohort()
    messages = [intake_message(applicant_submission(cohort)) for _ in range(3)]
    event = sqs_event(messages)

    with failing("dynamodb", "TransactWriteItems", code="ProvisionedThroughputExceededException", times=1):
        response = stack.call("IntakeFunction", event)
    (failed,) = failures(response)
    redelivery = {"Records": [r for r in event["Records"] if r["messageId"] == failed]}
    again = stack.call("IntakeFunction", redelivery)
    stack.call("IntakeFunction", event)  # and the whole batch once more, as a duplicate delivery

    assert failures(again) == []
    assert len(stack.applications(cohort)) == 3
    assert len(stack.monitoring_records(cohort)) == 3


def test_ses_throttling_is_retried_and_the_email_is_sent_once(stack: Stack) -> None:
    """Protection: a failed send gives its outbox record back, so the redelivery sends it."""
    note = acknowledgement_to_send(stack)
    before = len(stack.sent_emails())

    with failing("sesv2", "SendEmail", code="TooManyRequestsException", times=10):
        first = notify_once(stack, note, "first")
    second = notify_once(stack, note, "redelivered")

    assert (first, second) == (False, True)
    assert len(stack.sent_emails()) - before == 1


def test_brief_ses_throttling_is_retried_with_backoff_within_the_delivery(stack: Stack) -> None:
    """Protection: the mailer retries SES's throttling answers (and only those) itself."""
    note = acknowledgement_to_send(stack)
    before = len(stack.sent_emails())

    with failing("sesv2", "SendEmail", code="TooManyRequestsException", times=2) as injected:
        delivered = notify_once(stack, note, "first")

    assert injected == [2]
    assert delivered is True
    assert len(stack.sent_emails()) - before == 1


def test_a_crash_between_sending_and_recording_never_sends_twice(stack: Stack) -> None:
    """Protection: the outbox record written before sending (Powertools idempotency alone would
    forget the failed attempt and send again)."""
    note = acknowledgement_to_send(stack)
    before = len(stack.sent_emails())

    # SES accepts the email; recording it as sent fails, as if the process stopped there.
    # The outbox reservation (the first UpdateItem) goes through; recording the send fails.
    with failing("dynamodb", "UpdateItem", code="InternalServerError", after=1) as injected:
        crashed = notify_once(stack, note, "first")
    redeliveries = [notify_once(stack, note, f"again-{n}") for n in range(2)]

    assert crashed is False
    assert injected == [1]
    assert redeliveries == [False, False]  # still "sending": retried later, never re-sent
    assert len(stack.sent_emails()) - before == 1


@contextmanager
def answer_lost(times: int = 1) -> Iterator[None]:
    """SES accepts the next ``times`` emails and their answers never arrive: each request reaches
    moto and the handler's client then sees a read timeout, as after a dropped connection."""
    from mentoring.adapters import client

    ses, http, lost = client("sesv2"), URLLib3Session(), [0]

    def accept_then_time_out(request: Any, **_: Any) -> None:
        if lost[0] >= times:
            return
        lost[0] += 1
        http.send(request)
        raise ReadTimeoutError(endpoint_url=request.url)

    event = "before-send.sesv2.SendEmail"
    ses.meta.events.register_first(event, accept_then_time_out, unique_id="fault-answer-lost")
    try:
        yield
    finally:
        ses.meta.events.unregister(event, unique_id="fault-answer-lost")


def test_an_email_whose_answer_was_lost_is_never_sent_again(stack: Stack) -> None:
    """Protection: a send with an unknown outcome keeps its outbox record (only a refusal gives it
    back), and the SES client makes one attempt (botocore would resend after a read timeout)."""
    note = acknowledgement_to_send(stack)
    before = len(stack.sent_emails())

    with answer_lost(times=3):
        lost = notify_once(stack, note, "first")
    redeliveries = [notify_once(stack, note, f"again-{n}") for n in range(2)]

    assert lost is False
    assert redeliveries == [False, False]  # still "sending": SES may have it, so never resent
    assert len(stack.sent_emails()) - before == 1


def test_notify_starts_no_send_it_might_not_have_time_to_record(stack: Stack) -> None:
    """Protection: a send starts only with SEND_BUDGET_MS of the invocation left, so the function's
    timeout never stops a sender between SES and the outbox (which would leave the email uncertain)."""
    note = acknowledgement_to_send(stack)
    before = len(stack.sent_emails())

    with pytest.raises(BatchProcessingError):  # its only record failed: SQS delivers it again
        stack.call("NotifyFunction", sqs_event([note]), remaining_ms=5_000)
    untouched = len(stack.sent_emails()) - before
    retried = stack.call("NotifyFunction", sqs_event([note]))

    assert untouched == 0
    assert failures(retried) == []
    assert len(stack.sent_emails()) - before == 1


def test_a_deadline_delivered_twice_at_once_runs_matching_once(stack: Stack) -> None:
    """Protection: the conditional write that moves the cohort from open to matching."""
    cohort = stack.open_cohort()
    specs = [("mentee", "UCL", 6), ("mentee", "KCL", 5), ("mentor", "UAL", 9)]
    stack.call(
        "IntakeFunction",
        sqs_event(
            [
                intake_message(applicant_submission(cohort, role=r, institution=i, grade=g))
                for r, i, g in specs
            ]
        ),
    )
    stack.purge("NotifyQueue")

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: stack.deliver_deadline(cohort), range(2)))

    assert sorted(r["ran"] for r in runs) == [False, True]
    kinds = sorted(n["kind"] for n in queued_bodies(stack, "NotifyQueue"))
    assert kinds == ["coordinator_summary", "matched_mentee", "matched_mentor", "unmatched"]


def test_an_application_processed_after_matching_started_is_told_not_left_out_in_silence(
    stack: Stack,
) -> None:
    """Protection: the application is recorded only while the cohort is open (a condition in the
    same transaction), so one that arrives as matching starts is marked late and told so."""
    cohort = stack.open_cohort()
    in_flight = intake_message(applicant_submission(cohort))
    stack.deliver_deadline(cohort)  # matching starts while the submission is still on the queue
    stack.purge("NotifyQueue")

    stack.call("IntakeFunction", sqs_event([in_flight]))

    (application,) = stack.applications(cohort)
    assert application["late"] is True
    (note,) = queued_bodies(stack, "NotifyQueue")
    assert note["kind"] == "acknowledgement"
    stack.call("NotifyFunction", sqs_event([note]))
    assert b"not part of this round" in stack.sent_emails()[-1]
