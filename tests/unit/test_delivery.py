"""Each email at most once: the outbox record is written before SES is called."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mentoring.delivery import IN_FLIGHT, SendInProgressError, deliver
from mentoring.models import EmailKind, Notification
from mentoring.ports import EmailNotSentError, OutgoingEmail

from tests.unit.factories import NOW, application, cohort
from tests.unit.fakes import MemoryMailer, MemoryOutbox, MemoryStore

pytestmark = pytest.mark.unit


class FlakyMailer(MemoryMailer):
    """SES that fails the first ``failures`` sends (throttling left after the client's retries)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, email: OutgoingEmail) -> str:
        if self.failures:
            self.failures -= 1
            raise EmailNotSentError("Throttling: maximum sending rate exceeded")
        return super().send(email)


class LostAnswerMailer(MemoryMailer):
    """SES that accepts the email and whose answer never arrives (a read timeout)."""

    def send(self, email: OutgoingEmail) -> str:
        super().send(email)
        raise TimeoutError("Read timeout on endpoint URL")


class CrashingOutbox(MemoryOutbox):
    """A process that stops after SES accepted the email and before the outbox recorded it."""

    def mark_sent(self, cohort_id: str, key: str, message_id: str, now: object) -> None:  # type: ignore[override]
        raise SystemExit("the sender stopped")


@pytest.fixture
def store() -> tuple[MemoryStore, Notification]:
    store = MemoryStore()
    store.create_cohort(cohort())
    app = application()
    store.applications[(app.cohort_id, app.application_id)] = app
    return store, Notification(
        cohort_id="cohort-a", kind=EmailKind.ACKNOWLEDGEMENT, application_id=app.application_id
    )


def test_a_redelivered_notification_is_sent_once(store: tuple[MemoryStore, Notification]) -> None:
    data, note = store
    outbox, mailer = MemoryOutbox(), MemoryMailer()

    first = deliver(note, NOW, data, data, outbox, mailer)
    again = deliver(note, NOW + timedelta(hours=1), data, data, outbox, mailer)

    assert (first.outcome, again.outcome) == ("sent", "already_sent")
    assert len(mailer.sent) == 1


def test_a_failed_send_is_given_back_and_sent_on_the_next_delivery(
    store: tuple[MemoryStore, Notification],
) -> None:
    data, note = store
    outbox, mailer = MemoryOutbox(), FlakyMailer(failures=1)

    with pytest.raises(EmailNotSentError, match="Throttling"):
        deliver(note, NOW, data, data, outbox, mailer)
    retried = deliver(note, NOW + timedelta(seconds=30), data, data, outbox, mailer)

    assert retried.outcome == "sent"
    assert len(mailer.sent) == 1


def test_a_crash_after_sending_never_sends_twice(store: tuple[MemoryStore, Notification]) -> None:
    data, note = store
    outbox, mailer = CrashingOutbox(), MemoryMailer()

    with pytest.raises(SystemExit):
        deliver(note, NOW, data, data, outbox, mailer)
    # Soon after: the first delivery might still be running, so this one fails and is retried later.
    with pytest.raises(SendInProgressError):
        deliver(note, NOW + timedelta(minutes=1), data, data, outbox, mailer)
    # Later: the outcome is uncertain (the remaining window); it is reported, not sent again.
    late = deliver(note, NOW + IN_FLIGHT + timedelta(minutes=1), data, data, outbox, mailer)

    assert late.outcome == "uncertain"
    assert len(mailer.sent) == 1


def test_a_send_whose_answer_was_lost_is_never_sent_again(store: tuple[MemoryStore, Notification]) -> None:
    data, note = store
    outbox, mailer = MemoryOutbox(), LostAnswerMailer()

    with pytest.raises(TimeoutError):
        deliver(note, NOW, data, data, outbox, mailer)
    with pytest.raises(SendInProgressError):  # not given back: SES may have accepted it
        deliver(note, NOW + timedelta(minutes=3), data, data, outbox, MemoryMailer())
    late = deliver(note, NOW + IN_FLIGHT + timedelta(minutes=1), data, data, outbox, MemoryMailer())

    assert late.outcome == "uncertain"
    assert len(mailer.sent) == 1
