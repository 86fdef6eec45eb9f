"""Sending one email at most once, whatever the redeliveries and the concurrency.

The outbox record is written before SES is called:

- no record (or a failed send): reserve it as ``sending``, send, mark it ``sent``;
- ``sent``: the email went; nothing to do;
- ``sending`` for less than ``IN_FLIGHT``: another delivery is sending it now; fail this one, so
  SQS delivers it again later and finds the outcome;
- ``sending`` for longer: a sender stopped between reserving and marking. SES may or may not
  have accepted the email, and nothing can tell which. It is not sent again (at most once);
  it is reported as uncertain for the coordinator to check. This is the remaining window.

A send that SES certainly did not accept (throttling left after the mailer's retries, SES refusing,
SES never reached) gives the record back before raising, so SQS redelivers it and it is sent then:
never dropped. A send whose outcome is unknown (the answer timed out or the connection dropped
after the request went) keeps its record ``sending``: SES may have accepted it, so it is never sent
again, and it ends as uncertain like a sender that stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mentoring.confirmation import confirmation_notice
from mentoring.emails import PersonalLink, compose
from mentoring.models import Application, Cohort, EmailKind, Notification
from mentoring.participation import link_for, link_token, link_url
from mentoring.ports import (
    ApplicationStore,
    CohortNotFoundError,
    CohortStore,
    EmailNotSentError,
    EmailOutbox,
    HeldSubmissions,
    Mailer,
    ProgrammeStore,
    SubmissionClaims,
)

IN_FLIGHT = timedelta(minutes=15)


@dataclass(frozen=True)
class PersonalLinks:
    """Each participant's personal link, for their emails after the match: its hashed record is
    kept (again: the same person's link is the same token) before the email that carries it is
    composed, so no email carries a link that does not open."""

    key: bytes
    base: str  # the public API's address, before /programme/...
    programme: ProgrammeStore

    def __call__(self, cohort: Cohort, application: Application) -> str:
        self.programme.register_link(link_for(self.key, cohort, application))
        token = link_token(self.key, cohort.cohort_id, application.application_id)
        return link_url(self.base, cohort.cohort_id, token)


class SendInProgressError(RuntimeError):
    """Another delivery of this notification is sending it now; try again later."""


@dataclass(frozen=True)
class Delivery:
    outcome: Literal["sent", "already_sent", "uncertain", "not_needed"]
    message_id: str | None = None


def deliver(
    note: Notification,
    now: datetime,
    cohorts: CohortStore,
    applications: ApplicationStore,
    outbox: EmailOutbox,
    mailer: Mailer,
    console_url: str = "",
    held: HeldSubmissions | None = None,
    claims: SubmissionClaims | None = None,
    personal_link: PersonalLink | None = None,
) -> Delivery:
    cohort = cohorts.get_cohort(note.cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {note.cohort_id!r} does not exist")
    # Composed before reserving: a bad notification reserves nothing.
    if note.kind is EmailKind.CONFIRMATION:
        if held is None or claims is None:
            raise ValueError("a confirmation email needs the held applications and the claims")
        email = confirmation_notice(note, cohort, now, held, claims)
        if email is None:  # confirmed or lapsed meanwhile: the link would lead nowhere
            return Delivery("not_needed")
    else:
        email = compose(note, cohort, applications, console_url, personal_link)
    before = outbox.reserve(note.cohort_id, note.key, now)
    if before.status == "sent":
        return Delivery("already_sent", before.message_id)
    if before.status == "sending":
        if before.since is not None and now - before.since < IN_FLIGHT:
            raise SendInProgressError(f"{note.key} is being sent by another delivery")
        return Delivery("uncertain")
    try:
        message_id = mailer.send(email)
    except EmailNotSentError:
        outbox.release(note.cohort_id, note.key)
        raise
    outbox.mark_sent(note.cohort_id, note.key, message_id, now)
    return Delivery("sent", message_id)
