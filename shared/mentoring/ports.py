"""The small interfaces between the domain and AWS. Adapters in ``mentoring.adapters`` implement
them with boto3; tests implement them in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from mentoring.models import (
    Application,
    AuditEntry,
    Cohort,
    EvaluationRecord,
    HeldMark,
    HeldSubmission,
    HelpRequest,
    IntakeMessage,
    Match,
    Meeting,
    MonitoringRecord,
    NextYearChoice,
    Notification,
    ParticipantLink,
    PartnershipEnd,
    PendingAnswers,
    PendingEvaluation,
    ProgrammeMoment,
    SealedAnswers,
    StaffMember,
    TrainingAttendance,
    UnmatchedMentee,
)
from mentoring.text import unsafe


class CohortNotFoundError(LookupError):
    pass


# A lease outlasts its run's invocation by this much: enough for the clocks of Lambda's hosts and
# DynamoDB's to differ and for the last write to land.
LEASE_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class Lease:
    """A run's hold on a cohort: who holds it (the invocation's request id, which Lambda keeps
    when it retries an asynchronous invocation), from when, and until when. It lasts longer than
    the invocation can, so a lease past its time belongs to a run that is dead."""

    owner: str
    taken: datetime
    until: datetime

    @classmethod
    def for_invocation(cls, owner: str, now: datetime, remaining: timedelta) -> Lease:
        """A lease for the rest of an invocation (``remaining``), and the margin."""
        return cls(owner=owner, taken=now, until=now + remaining + LEASE_MARGIN)


class CohortStore(Protocol):
    def get_cohort(self, cohort_id: str) -> Cohort | None: ...

    def create_cohort(self, cohort: Cohort) -> None:
        """Raises ``CohortExistsError`` when the id is taken."""

    def list_open_cohorts(self, now: datetime) -> list[Cohort]:
        """Cohorts whose recruitment deadline is still ahead, soonest first."""

    def list_cohorts(self) -> list[Cohort]:
        """Every cohort, with its current status."""

    def move_deadline(self, cohort_id: str, deadline: datetime) -> bool:
        """Sets an open cohort's recruitment deadline; False when it is no longer open."""

    def admit(self, application: Application, limit: int) -> bool:
        """Gives a waiting-list mentee one of the cohort's ``limit`` places and takes them off the
        waiting list, together; False when every place is taken."""

    def claim_for_matching(self, cohort_id: str, lease: Lease) -> bool:
        """Takes the cohort for a matching run under ``lease``: when it is open, when the run that
        held it has died (its lease has run out), or when the lease is already this one's owner's
        (Lambda retrying the same invocation). False when another run holds it, or it is matched."""

    def finish_matching(self, cohort_id: str, at: datetime, owner: str, provisional: bool = False) -> bool:
        """Matching is done: published (matched) or held for review (provisional), only while
        ``owner`` holds the cohort; False when another run has taken it over."""

    def publish_matches(self, cohort_id: str, at: datetime) -> bool:
        """Moves a provisional cohort to matched; False when it is not provisional (any more)."""

    def release_matching(self, cohort_id: str, owner: str) -> None:
        """Gives a failed run's claim back (if ``owner`` still holds it) so that a retry can run."""

    def hold_for_settling(self, cohort_id: str, lease: Lease) -> bool:
        """Takes the cohort for storing its monitoring answers under ``lease``, unless another run
        holds it (a deadline and a sweep never split one cohort's answers between them)."""

    def let_go_of_settling(self, cohort_id: str, owner: str) -> None: ...

    def take_place(self, cohort_id: str, application_id: str, limit: int) -> bool:
        """Gives an eligible mentee one of the cohort's ``limit`` places; False when all are taken.

        Idempotent: the same application asking again gets the answer it got the first time.
        """


class CohortExistsError(ValueError):
    pass


class CohortClosedError(RuntimeError):
    """Matching has started for this cohort: an application arriving now is not part of it."""


@dataclass(frozen=True)
class Claim:
    """A key that identifies one application: a partner's reference, or an applicant in a cohort."""

    kind: Literal["reference", "applicant"]
    key: str


@dataclass(frozen=True)
class ClaimedSubmission:
    submission_id: str
    cohort_id: str
    withdrawn: bool = False


class DuplicateSubmissionError(ValueError):
    """A claim is held by a different application; ``kind`` says which claim."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class SubmissionClaims(Protocol):
    def claim(self, claims: Sequence[Claim], body_hash: str, submission_id: str, cohort_id: str) -> None:
        """Holds every claim for this submission, or none.

        A claim already held for the same body and submission id is a retry and succeeds again;
        held for anything else, it raises ``DuplicateSubmissionError``.
        """

    def find(self, claim: Claim) -> ClaimedSubmission | None: ...


class HeldSubmissions(Protocol):
    """Web-form applications waiting for confirmation, found by the hash of their link's token."""

    def hold(self, held: HeldSubmission) -> None:
        """Stores it until ``held.confirm_by`` (then it lapses)."""

    def find(self, token_hash: str) -> HeldSubmission | None: ...

    def start_confirming(self, token_hash: str, at: datetime) -> HeldSubmission | None:
        """Records ``at`` as the time of confirmation unless a time is recorded already; returns the
        held application as stored (None when it has gone)."""

    def finish(self, held: HeldSubmission) -> None:
        """Marks it confirmed and handed to intake, and drops the submission it held."""

    def marks(self, cohort_id: str) -> list[HeldMark]:
        """One a submission held for the cohort (kept with ``hold`` and ``finish``, in the same
        writes): what the console counts as awaiting confirmation, or lapsed unconfirmed."""


class ApplicationStore(Protocol):
    def record_application(
        self, application: Application, monitoring: PendingAnswers | None, while_open: bool = False
    ) -> bool:
        """Stores the application and its sealed monitoring answers (when held) together, or neither.

        With ``while_open``, only while the cohort is still open; otherwise ``CohortClosedError``.

        False when the application was already recorded (a redelivered submission): nothing is
        written again, so a retry can never add a second monitoring record.
        """

    def get_application(self, cohort_id: str, application_id: str) -> Application | None: ...

    def list_applications(self, cohort_id: str) -> list[Application]: ...

    def put_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None: ...

    def list_matches(self, cohort_id: str) -> list[Match]: ...

    def get_match(self, cohort_id: str, mentee_id: str) -> Match | None:
        """One mentee's match, read by its key: each result email reads its own, never the cohort's."""

    def get_unmatched(self, cohort_id: str, application_id: str) -> UnmatchedMentee | None: ...

    def replace_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None:
        """The result becomes exactly these matches and unmatched mentees."""

    def list_unmatched(self, cohort_id: str) -> list[UnmatchedMentee]: ...

    def same_person(self, cohort_id: str, person_key: str) -> list[str]:
        """The ids of the (not withdrawn) applications under this name at this institution."""

    def possible_duplicates(self, cohort_id: str) -> list[list[str]]:
        """Each group of two or more applications under one name at one institution."""

    def withdraw(self, application: Application, release: Sequence[Claim]) -> bool:
        """Stores the application as withdrawn (``application.withdrawn`` set), takes it out of its
        person's group and releases its claims, all together; False when it was already withdrawn.

        A released applicant claim lets the person apply again; a released reference claim stays
        held, so a partner's retry of a withdrawn application is refused rather than let in again.
        """

    def update_application(self, application: Application) -> None:
        """Stores a changed application (a mentee moved from the waiting list into a place)."""

    def holds_place(self, cohort_id: str, application_id: str) -> bool: ...

    def move_place(self, cohort_id: str, from_id: str, to_id: str | None) -> bool:
        """Gives ``from_id``'s place to ``to_id`` (or frees it, when None) in one step.

        False when ``from_id`` holds no place or ``to_id`` already holds one (nothing changes).
        """


A_contra = TypeVar("A_contra", bound=BaseModel, contravariant=True)
A_co = TypeVar("A_co", bound=BaseModel, covariant=True)


class AnswerSealer(Protocol[A_contra]):
    """Seals answers where they are received (encrypt only): monitoring answers in submit
    (``AnswerSealer[MonitoringAnswers]``), evaluation answers in the participant page."""

    def seal(self, answers: A_contra, cohort_id: str) -> SealedAnswers: ...


class AnswerOpener(Protocol[A_co]):
    """Opens sealed answers: only where they are stored in a batch of at least k."""

    def open(self, sealed: SealedAnswers, cohort_id: str) -> A_co: ...


class IntakeQueue(Protocol):
    def send_all(self, messages: Iterable[IntakeMessage]) -> None:
        """Returns only once every message is durably queued."""


class NotificationQueue(Protocol):
    def send_all(self, notifications: Iterable[Notification]) -> None: ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        # Refused when composed, before its outbox record is written: a header that cannot be
        # built would otherwise fail at the mailer and leave the email uncertain, never sent.
        for name in ("to", "subject"):
            if any(unsafe(c) for c in getattr(self, name)):
                raise ValueError(f"an email's {name} must be one line without control characters")


class EmailNotSentError(RuntimeError):
    """The provider refused the email (throttling, a rejected address) or was never reached, so
    sending it again cannot give two. Any other error from a send leaves the outcome unknown."""


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Sends one email; returns the provider's message id. Raises EmailNotSentError when the
        provider certainly did not accept it."""


class LeaseWatch(Protocol):
    def watch(self, cohort_id: str, lease: Lease) -> None:
        """Arranges for the cohort to be looked at once ``lease`` has run out (matching's alarm)."""


class DeadlineAnnouncer(Protocol):
    def announce(self, cohort_id: str) -> None:
        """Announces the cohort's recruitment deadline again (a coordinator's re-run of matching)."""


class DeadlineScheduler(Protocol):
    """A cohort's one-time schedules: its recruitment deadline, and its programme's dates."""

    def schedule_deadline(self, cohort_id: str, at: datetime) -> str:
        """Creates the one-time schedule that announces the deadline; returns its name."""

    def schedule_programme(
        self, cohort_id: str, moments: Sequence[ProgrammeMoment], cancel: Sequence[str] = ()
    ) -> list[str]:
        """Creates (or moves) one schedule per moment, each announcing its moment at its time, and
        deletes those of the moments ``cancel`` names (gone already is fine); returns the names.
        Safe to repeat."""


class EmailOutbox(Protocol):
    """One record per email, written before it is sent: the at-most-once guard of notify."""

    def reserve(self, cohort_id: str, key: str, now: datetime) -> OutboxEntry:
        """Marks the email as being sent now, unless its record says otherwise; returns the
        record as it was before (status ``new`` when there was none)."""

    def mark_sent(self, cohort_id: str, key: str, message_id: str, now: datetime) -> None: ...

    def release(self, cohort_id: str, key: str) -> None:
        """The send failed before SES accepted the message: a later delivery may send it."""


@dataclass(frozen=True)
class OutboxEntry:
    status: Literal["new", "sending", "sent", "failed"]
    since: datetime | None = None
    message_id: str | None = None


class ProgrammeStore(Protocol):
    """What happens after the match, kept with the cohort's applicant data (and its retention)."""

    def register_link(self, link: ParticipantLink) -> None:
        """Keeps a personal link's hash (idempotent: the same person's link is the same token)."""

    def find_link(self, token_hash: str) -> ParticipantLink | None: ...

    def record_meeting(self, meeting: Meeting) -> bool:
        """Stores the pair's meeting of that day; False when the day had one already (now updated)."""

    def meetings(self, cohort_id: str) -> list[Meeting]: ...

    def confirm_attendance(self, attendance: TrainingAttendance) -> bool:
        """False when it was confirmed already (the first confirmation stands)."""

    def attendance(self, cohort_id: str) -> list[TrainingAttendance]: ...

    def end_partnership(self, end: PartnershipEnd) -> bool:
        """Records the end, only while the mentee's match is still with that mentor and not ended;
        False otherwise (ended already, or re-matched)."""

    def ended(self, cohort_id: str) -> list[PartnershipEnd]: ...

    def rematch(self, match: Match) -> bool:
        """Gives the mentee a new mentor, only while their match is ended; False otherwise."""

    def ask_for_help(self, request: HelpRequest) -> None: ...

    def help_requests(self, cohort_id: str) -> list[HelpRequest]: ...


P = TypeVar("P")
R_contra = TypeVar("R_contra", contravariant=True)


class BatchStore(Protocol[P, R_contra]):
    """Answers pending their batch (sealed, no identifier) and their stored records (in batches of
    at least k): what ``mentoring.monitoring`` settles, for monitoring and evaluation answers alike."""

    def pending(self, cohort_id: str) -> list[P]: ...

    def pending_cohorts(self) -> list[str]:
        """The cohorts that have pending answers."""

    def move_batch(self, cohort_id: str, retire: Sequence[str], write: Sequence[R_contra]) -> None:
        """In one transaction: deletes the pending answers ``retire`` names and writes ``write``."""

    def discard(self, pending: Sequence[str]) -> None:
        """Deletes these pending answers unread (fewer than k after the grace period)."""


class MonitoringStore(BatchStore[PendingAnswers, MonitoringRecord], Protocol):
    """The Monitoring table's monitoring answers: pending (sealed, held by intake) and stored."""


class EvaluationStore(BatchStore[PendingEvaluation, EvaluationRecord], Protocol):
    """The Monitoring table's evaluation answers: pending (sealed, held by the participant page)
    and stored (in batches), apart from the monitoring answers and from identity."""

    def hold(self, pending: PendingEvaluation, answered_by: str | None = None) -> None:
        """Stores one person's sealed answers as pending; with ``answered_by`` (their application),
        records on identity's side that it answered, in the same write, once: a second time raises
        ``AlreadyAnsweredError`` and stores nothing."""

    def answered(self, cohort_id: str, application_id: str) -> bool: ...


class AlreadyAnsweredError(RuntimeError):
    """This application has answered its cohort's survey already: nothing was stored again."""


class NextYearList(Protocol):
    """Who would mentor next year: personal data in the Applications table, with the cohort's
    retention, read by the scheme's coordinator as the next cohort's invitation list."""

    def record_next_year(self, choice: NextYearChoice) -> None:
        """Stores the person's answer (a later answer replaces an earlier one)."""

    def next_year(self, cohort_id: str) -> list[NextYearChoice]: ...


class StaffDirectory(Protocol):
    """Who may use the console, with their role and its scope: the one source of truth for roles."""

    def get_staff(self, user_id: str) -> StaffMember | None: ...

    def put_staff(self, member: StaffMember) -> None: ...

    def list_staff(self) -> list[StaffMember]: ...


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest first."""


@dataclass(frozen=True)
class Tokens:
    """What a completed sign-in gives: tokens never shown to page scripts (HttpOnly cookies)."""

    access_token: str
    refresh_token: str | None
    expires_in: int


@dataclass(frozen=True)
class Challenge:
    """A further step the identity provider asks for before it gives tokens."""

    name: Literal["NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP"]
    session: str


class SignInError(ValueError):
    """Sign-in refused: the message is safe to show (it never says whether the account exists)."""


class IdentityProvider(Protocol):
    def sign_in(self, username: str, password: str) -> Tokens | Challenge: ...

    def answer_challenge(
        self, challenge: Challenge, username: str, answers: dict[str, str]
    ) -> Tokens | Challenge: ...

    def refresh(self, refresh_token: str) -> Tokens: ...

    def sign_out(self, username: str) -> None:
        """Revokes the person's refresh tokens, in every browser they signed in with."""

    def invite(self, email: str, name: str, temporary_password: str) -> str:
        """Creates the account (no message sent by the provider); returns its subject (``sub``)."""

    def start_authenticator(self, access_token: str) -> str:
        """Begins setting up an authenticator app; returns the shared secret to enter in it."""

    def confirm_authenticator(self, access_token: str, code: str) -> None:
        """Checks a code from the app and makes it the person's second factor."""
