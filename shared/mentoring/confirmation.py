"""Double opt-in for the public form: an application counts only once its applicant confirms it
from the link emailed to the address they gave.

At submit, a web-form application is *held*: nothing is claimed, so it holds no place, blocks
nobody and is not matched, and the door does the same work and gives the same answer whether or not
that address has applied before (no probing). A link with a random token goes to the address; the
table keeps only the token's hash. The link opens a page whose button posts the token back (mail
scanners fetch links, so a GET never confirms). Confirming claims the applicant's address and hands
the application to intake, received at the time of confirmation: the acknowledgement, places, the
waiting list, the deadline and late handling all follow that time. A held application that is not
confirmed within ``CONFIRMATION_WINDOW`` lapses (and DynamoDB's TTL deletes it).

Edge cases, decided:

- confirming twice (or from a second link for the same application): "already confirmed", nothing
  done twice;
- confirming after the recruitment deadline: refused as a late submission is (the cohort closed);
  a confirmation that started before the deadline and stopped part-way finishes at its first time;
- confirming when the cohort is full (schemes that close when full): refused, as at submit;
- a link for an application the coordinator has since withdrawn: "withdrawn", never let in again;
- the address already has another application in the cohort: "already applied" (the person is the
  mailbox's owner, so telling them reveals nothing to a stranger); notify's email already said so.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from mentoring.emails import already_applied_email, confirmation_email
from mentoring.models import (
    ApplicationSubmission,
    Cohort,
    ConfirmationLink,
    EmailKind,
    FieldError,
    HeldMark,
    HeldSubmission,
    ItemResult,
    Notification,
    Role,
    token_digest,
)
from mentoring.ports import (
    ApplicationStore,
    Claim,
    CohortStore,
    DuplicateSubmissionError,
    HeldSubmissions,
    IntakeQueue,
    NotificationQueue,
    OutgoingEmail,
    SubmissionClaims,
)
from mentoring.submissions import (
    FrontDoor,
    body_hash,
    check_submission,
    claims_for,
    cohort_problem,
    intake_message,
    is_closed,
)

# How long a confirmation link works: a long weekend. The project's default.
CONFIRMATION_WINDOW = timedelta(hours=72)


def hold_application(
    submission: ApplicationSubmission,
    now: datetime,
    door: FrontDoor,
    held: HeldSubmissions,
    notifications: NotificationQueue,
    confirm_page: str,
) -> ItemResult:
    """A web-form application, checked and held for confirmation; its link queued for email.

    The same steps for every valid application, whoever has applied before: nothing here reads
    a claim or an application, so neither the answer nor its timing can tell a stranger anything.
    The held application keeps the submission as the intake message carries it (monitoring
    answers sealed), and the claims and id keyed as submit alone can key them.
    """
    errors = check_submission(submission, door.cohorts.get_cohort(submission.cohort_id), None, now)
    if errors:
        return ItemResult(index=0, status=422, errors=errors)
    claims, submission_id = claims_for(submission, None, door.id_key)
    token = secrets.token_hex(32)  # 256 random bits, in letters any mail program keeps in a link
    held.hold(
        HeldSubmission(
            token_hash=token_digest(token),
            cohort_id=submission.cohort_id,
            submission_id=submission_id,
            body_hash=body_hash(submission, None, door.id_key),
            claims=[c.key for c in claims],
            held_at=now,
            confirm_by=now + CONFIRMATION_WINDOW,
            message=intake_message(submission, submission_id, now, "web_form", None, door.sealer, claims),
        )
    )
    notifications.send_all(
        [
            Notification(
                cohort_id=submission.cohort_id,
                kind=EmailKind.CONFIRMATION,
                confirmation=ConfirmationLink(token=token, page=confirm_page),
            )
        ]
    )
    return ItemResult(index=0, status=202, submission_id=submission_id)


class Outcome(StrEnum):
    AWAITING = "awaiting"  # held, waiting for the applicant's confirmation
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_FOUND = "not_found"  # no such link (never issued, or deleted after it lapsed)
    EXPIRED = "expired"  # not confirmed in time
    WITHDRAWN = "withdrawn"  # confirmed, then withdrawn by the coordinator
    ALREADY_APPLIED = "already_applied"  # this address has another application in the cohort
    CLOSED = "closed"  # the deadline passed (or the cohort filled) before confirmation


@dataclass(frozen=True)
class Confirmation:
    outcome: Outcome
    cohort: Cohort | None = None
    held: HeldSubmission | None = None
    errors: list[FieldError] = field(default_factory=list)


def confirm_application(
    token: str,
    now: datetime,
    held: HeldSubmissions,
    cohorts: CohortStore,
    claims: SubmissionClaims,
    applications: ApplicationStore,
    queue: IntakeQueue,
) -> Confirmation:
    """Confirms the held application this link was sent for; safe to repeat after a failure."""
    found = held.find(token_digest(token))
    cohort = cohorts.get_cohort(found.cohort_id) if found is not None else None
    if found is None or cohort is None:
        return Confirmation(Outcome.NOT_FOUND)
    existing = applications.get_application(found.cohort_id, found.submission_id)
    if found.done or existing is not None:
        # Confirmed before (through this link or another for the same application), or a
        # confirmation that stopped after intake had it: finish, and never claim again.
        if not found.done:
            held.finish(found)
        if existing is not None and existing.withdrawn is not None:
            return Confirmation(Outcome.WITHDRAWN, cohort, found)
        return Confirmation(Outcome.ALREADY_CONFIRMED, cohort, found)
    if found.confirmed_at is None:
        # DynamoDB deletes lapsed items within days, not on time: the time is checked here.
        if now >= found.confirm_by:
            return Confirmation(Outcome.EXPIRED, cohort, found)
        problem = _too_late(cohort, found, now)
        if problem is not None:
            return Confirmation(Outcome.CLOSED, cohort, found, [problem])
        confirming = held.start_confirming(found.token_hash, now)
        if confirming is None:  # deleted as it lapsed, between the two reads
            return Confirmation(Outcome.EXPIRED, cohort)
        found = confirming
    # From here on, a confirmation that stopped part-way finishes at the time it was first made
    # (checked then), even after the deadline: intake marks it late if matching has started.
    try:
        claims.claim(
            [Claim("applicant", key) for key in found.claims],
            found.body_hash,
            found.submission_id,
            found.cohort_id,
        )
    except DuplicateSubmissionError:
        return Confirmation(Outcome.ALREADY_APPLIED, cohort, found)
    assert found.message is not None  # kept until the confirmation is done
    queue.send_all([found.message.model_copy(update={"received_at": found.confirmed_at or now})])
    held.finish(found)
    return Confirmation(Outcome.CONFIRMED, cohort, found)


def _too_late(cohort: Cohort, held: HeldSubmission, now: datetime) -> FieldError | None:
    """Applications are judged at the time they are confirmed, as a submission is when it arrives."""
    role = held.message.submission.role if held.message is not None else Role.MENTOR
    return cohort_problem(cohort, role, now)  # the page's title says it was not confirmed


def look_up(
    token: str, now: datetime, held: HeldSubmissions, cohorts: CohortStore, applications: ApplicationStore
) -> Confirmation:
    """Where the application of this link stands, changing nothing (the page a link opens)."""
    found = held.find(token_digest(token))
    cohort = cohorts.get_cohort(found.cohort_id) if found is not None else None
    if found is None or cohort is None:
        return Confirmation(Outcome.NOT_FOUND)
    if found.done or found.confirmed_at is not None:
        existing = applications.get_application(found.cohort_id, found.submission_id)
        if existing is not None and existing.withdrawn is not None:
            return Confirmation(Outcome.WITHDRAWN, cohort, found)
        if found.done:
            return Confirmation(Outcome.ALREADY_CONFIRMED, cohort, found)
    elif now >= found.confirm_by:
        return Confirmation(Outcome.EXPIRED, cohort, found)
    return Confirmation(Outcome.AWAITING, cohort, found)


def confirmation_notice(
    note: Notification,
    cohort: Cohort,
    now: datetime,
    held: HeldSubmissions,
    claims: SubmissionClaims,
) -> OutgoingEmail | None:
    """The email a held application's address gets: its confirmation link or, when the address
    already has an application in the cohort, word that it has (no link). None when there is
    nothing to say any more (confirmed, or lapsed, before this was sent).

    This is where the person who applied learns of a second application under their address: the
    public door answered the stranger exactly as it answers anyone.
    """
    link = note.confirmation
    if link is None:
        raise ValueError("a confirmation notification carries its link")
    found = held.find(token_digest(link.token))
    if found is None or found.message is None or found.done or found.confirmed_at is not None:
        return None
    if now >= found.confirm_by:
        return None
    applied = [claims.find(Claim("applicant", key)) for key in found.claims]
    if any(a is not None and not a.withdrawn for a in applied):
        return already_applied_email(cohort, found.message)
    return confirmation_email(cohort, found.message, link, found.confirm_by)


@dataclass(frozen=True)
class Unconfirmed:
    """Held web-form applications not confirmed, by role: counts only, never whose."""

    awaiting: Counter[Role]
    lapsed: Counter[Role]


def unconfirmed(marks: Iterable[HeldMark], cohort: Cohort, now: datetime) -> Unconfirmed:
    """Awaiting while the link works and the cohort still takes confirmations; lapsed after (the
    link's time passed, or recruitment closed first: a confirmation would be refused either way)."""
    taking = not is_closed(cohort, now)
    awaiting: Counter[Role] = Counter()
    lapsed: Counter[Role] = Counter()
    for mark in marks:
        if not mark.confirmed:
            (awaiting if taking and now < mark.confirm_by else lapsed)[mark.role] += 1
    return Unconfirmed(awaiting, lapsed)
