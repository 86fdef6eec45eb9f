"""Every model of the system in one place, by layer.

- Public contracts: what applicants and partners send and what they get back
  (also the source of the API's validation and error bodies).
- Domain entities: what the pipeline reasons about.
- Messages: what travels on the queues and the event bus (ids only, never personal data).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import Tag as UnionTag

from mentoring.text import multi_line, single_line

# Every free-text field is cleaned here, once (mentoring.text): single-line fields refuse control
# characters, line breaks and direction overrides; multi-line fields keep only line breaks.
SingleLine = AfterValidator(single_line)
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), SingleLine]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(multi_line)
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60), SingleLine
]
CohortId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")]
# A moment's id names it within its cohort, whatever its time: "training-20210114-7d", "nudge".
MomentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,23}$")]
InstitutionCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,10}$")]
GradeLabel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), SingleLine]
QuestionKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
# An answer to a scheme question: a choice or text, a list of choices or tags, or a number.
AnswerText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), SingleLine]


def _answer_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "text-answer"
    if isinstance(value, list):
        return "list-answer"
    if isinstance(value, int) and not isinstance(value, bool):
        return "number-answer"
    if isinstance(value, float) and value.is_integer():
        return "number-answer"  # JSON has one kind of number: 1.0 is the whole number 1
    return None


# Each kind of answer is checked by its own branch, chosen by what was sent, so an error names what
# is wrong with it rather than every type it is not. The tags cannot be question ids (a hyphen).
Answer = Annotated[
    Annotated[AnswerText, UnionTag("text-answer")]
    | Annotated[list[Tag], Field(max_length=20), UnionTag("list-answer")]
    | Annotated[int, UnionTag("number-answer")],
    Discriminator(
        _answer_kind,
        custom_error_type="answer_type",
        custom_error_message="must be text, a list of text, or a whole number",
    ),
]
ANSWER_BRANCHES = frozenset({"text-answer", "list-answer", "number-answer"})


class Role(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class Contract(BaseModel):
    """Base of every public input: unknown fields are refused, not dropped in silence."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- monitoring (equal opportunities)

PREFER_NOT_TO_SAY: Final = "prefer_not_to_say"

Ethnicity = Literal[
    "asian_bangladeshi",
    "asian_chinese",
    "asian_indian",
    "asian_pakistani",
    "asian_other",
    "black_african",
    "black_caribbean",
    "black_other",
    "mixed_white_asian",
    "mixed_white_black_african",
    "mixed_white_black_caribbean",
    "mixed_other",
    "arab",
    "white_british",
    "white_irish",
    "white_gypsy_or_irish_traveller",
    "white_other",
    "other",
    "prefer_not_to_say",
]
Gender = Literal["woman", "man", "non_binary", "other", "prefer_not_to_say"]
SexualOrientation = Literal[
    "bisexual", "gay_man", "gay_woman_lesbian", "heterosexual", "other", "prefer_not_to_say"
]
YesNo = Literal["yes", "no", "prefer_not_to_say"]
Religion = Literal[
    "no_religion",
    "buddhist",
    "christian",
    "hindu",
    "jewish",
    "muslim",
    "sikh",
    "spiritual",
    "other",
    "prefer_not_to_say",
]
AgeBand = Literal["16-24", "25-34", "35-44", "45-54", "55-64", "65+", "prefer_not_to_say"]


class MonitoringAnswers(Contract):
    """Equal-opportunities monitoring: optional, never used for any decision, stored apart from identity."""

    ethnicity: Ethnicity = PREFER_NOT_TO_SAY
    gender: Gender = PREFER_NOT_TO_SAY
    trans_history: YesNo = PREFER_NOT_TO_SAY
    sexual_orientation: SexualOrientation = PREFER_NOT_TO_SAY
    disability: YesNo = PREFER_NOT_TO_SAY
    religion: Religion = PREFER_NOT_TO_SAY
    age_band: AgeBand = PREFER_NOT_TO_SAY


# ---------------------------------------------------------------- submissions (public contract)


class Applicant(Contract):
    """Who the applicant is: identity, used to contact them and to apply the scheme's rules."""

    given_name: ShortText
    family_name: ShortText
    email: EmailStr = Field(max_length=254)
    staff_number: ShortText | None = None
    institution: InstitutionCode | None = Field(
        default=None, description="Code of the applicant's institution; partners' come from their API key."
    )
    department: ShortText = Field(description="Department, school or faculty.")
    job_title: ShortText
    grade: GradeLabel = Field(
        description="The grade as the applicant's institution names it (for example 7, or Band 8a); "
        "the scheme's rules use its place on the common scale."
    )

    @field_validator("grade", mode="before")
    @classmethod
    def _grade_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SchemeAnswers(Contract):
    """Answers to the questions of the cohort's scheme, by question id.

    The scheme definition says which questions each role answers and what a valid answer is;
    submit checks the answers against it and names the field of every problem.
    """

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    __pydantic_extra__: dict[QuestionKey, Answer] = Field(init=False)

    def answer(self, question: str) -> Answer | None:
        return (self.__pydantic_extra__ or {}).get(question)

    @property
    def answers(self) -> dict[str, Answer]:
        return dict(self.__pydantic_extra__ or {})


class SelfIdentification(SchemeAnswers):
    """Answers that a scheme's eligibility needs; asked apart from monitoring, and said so on the form."""


class MatchingProfile(SchemeAnswers):
    """What matching uses to find a good pair: answers to the scheme's matching questions."""

    about: LongText = ""

    @property
    def capacity(self) -> int:
        """Mentors: how many mentees they can take on (the scheme's ``capacity`` question)."""
        value = self.answer("capacity")
        return value if isinstance(value, int) and value > 0 else 1


class ApplicationDetails(Contract):
    """An application without its monitoring answers: what intake reads and the Applications table
    keeps. The answers travel beside it, sealed (:class:`SealedAnswers`), never in it."""

    cohort_id: CohortId
    role: Role
    applicant: Applicant
    self_identification: SelfIdentification = Field(default_factory=SelfIdentification)
    profile: MatchingProfile = Field(default_factory=MatchingProfile)
    consent: bool = Field(description="Consent to processing this application for the scheme.")

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is needed to process the application")
        return value


class ApplicationSubmission(ApplicationDetails):
    """One application to one cohort, from the web form or from a partner university."""

    monitoring: MonitoringAnswers = Field(default_factory=MonitoringAnswers)

    def details(self) -> ApplicationDetails:
        """Everything but the monitoring answers (and a partner's reference, which the claims hold)."""
        return ApplicationDetails.model_validate(
            self.model_dump(include=set(ApplicationDetails.model_fields))
        )


PartnerReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
]


class PartnerApplication(ApplicationSubmission):
    """One application from a partner university, under the partner's own reference for it."""

    reference: PartnerReference = Field(
        description="The partner's own id for this application (1-64 letters, digits and . _ : / -). "
        "Sending the same reference again returns the first result; a different application under "
        "a reference already used is refused with 409."
    )


class PartnerBatch(Contract):
    """A partner university's submission of up to 100 applications (each gets its own result)."""

    applications: list[PartnerApplication] = Field(min_length=1, max_length=100)


class PartnerEnvelope(Contract):
    """The batch as first read: the items are checked one by one, so one bad row blocks nothing."""

    applications: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field, for example applicant.email.")
    message: str = Field(description="What is wrong and what to send instead; never the value sent.")


class ErrorBody(BaseModel):
    message: str
    errors: list[FieldError] = Field(default_factory=list)


class Accepted(BaseModel):
    """A web-form application, held until its applicant confirms it from the link emailed to them."""

    submission_id: str
    status: Literal["awaiting_confirmation"] = "awaiting_confirmation"
    confirm_by: datetime = Field(
        description="The link emailed to the applicant's address works until then; the application "
        "counts only once confirmed."
    )


class ItemResult(BaseModel):
    """What became of one application of a partner's request."""

    index: int = Field(ge=0, description="Position of the application in the request.")
    reference: str | None = Field(default=None, description="The partner's reference, when it was readable.")
    status: Literal[202, 409, 422] = Field(
        description="202 accepted (or accepted before, for a repeat), 409 conflict, 422 invalid."
    )
    submission_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class PartnerBatchResult(BaseModel):
    results: list[ItemResult]
    accepted: int
    refused: int


ApplicationProgress = Literal[
    "received", "not_eligible", "eligible", "waiting_list", "late", "matched", "not_matched", "withdrawn"
]


class PartnerApplicationStatus(BaseModel):
    """What a partner may see of an application it sent: never a monitoring answer."""

    reference: str
    submission_id: str
    cohort_id: str
    status: ApplicationProgress = Field(
        description="received: not yet processed; then not_eligible, eligible or waiting_list (or late: "
        "processed after matching had started); after the deadline, matched or not_matched; withdrawn: "
        "withdrawn by the scheme's coordinator."
    )
    reasons: list[str] = Field(default_factory=list, description="Why the application is or is not eligible.")


# ---------------------------------------------------------------- queue messages


class SealedAnswers(BaseModel):
    """Monitoring answers as KMS ciphertext under the Monitoring key, sealed by submit.

    Only the monitoring function may open them (``kms:Decrypt`` with this purpose in the
    encryption context), when it stores them in a batch of at least k: so identity and answers are
    never readable together on the queue, its dead-letter queue, or in a log or trace of intake.
    """

    ciphertext: str = Field(description="Base64 of the KMS ciphertext blob.")


# The encryption context every sealed answer carries: KMS refuses to open it under any other, and
# the template's policies name the purpose.
SEALED_ANSWERS_PURPOSE: Final = "equal-opportunities-monitoring"


def sealing_context(cohort_id: str, purpose: str = SEALED_ANSWERS_PURPOSE) -> dict[str, str]:
    return {"purpose": purpose, "cohort_id": cohort_id}


class IntakeMessage(BaseModel):
    """A submission on the intake queue: identity in the clear (the queue is encrypted), the
    monitoring answers sealed, so no reader of the queue sees both."""

    submission_id: str
    received_at: datetime
    channel: Literal["web_form", "partner"]
    partner: InstitutionCode | None = None
    reference: str | None = Field(default=None, description="A partner's reference for the application.")
    submission: ApplicationDetails
    monitoring: SealedAnswers
    claims: list[str] = Field(
        default_factory=list,
        description="The keys of the claims that made it unique (keyed hashes, never an address).",
    )


class ConfirmationLink(BaseModel):
    """The link that confirms a held web-form application: the page's address and a random token.

    The token travels only here (on the encrypted notify queue) and in the email; the table keeps
    its hash, so nobody who reads the table can confirm an application.
    """

    token: str = Field(min_length=32, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    page: str = Field(pattern=r"^https?://[^\s?#]+$", description="The confirmation page, without the token.")

    @property
    def url(self) -> str:
        return f"{self.page}?token={self.token}"


def token_digest(token: str) -> str:
    """What the table keeps of a confirmation token: its SHA-256 (a random token needs no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


class HeldSubmission(BaseModel):
    """A web-form application held until its applicant confirms it from the emailed link.

    Until then it is no application: it holds no place, claims no address and is not matched. It
    holds the submission only as the intake message carries it, and drops it once confirmed.
    """

    token_hash: str
    cohort_id: str
    submission_id: str
    body_hash: str
    claims: list[str] = Field(description="The keys of the applicant claims that confirmation takes.")
    held_at: datetime
    confirm_by: datetime
    message: IntakeMessage | None = Field(description="For intake, at confirmation; dropped after it.")
    confirmed_at: datetime | None = None
    done: bool = Field(default=False, description="Confirmed and handed to intake.")

    def mark(self) -> HeldMark:
        """What the cohort keeps of it to count it (kept while it is held: the message is there)."""
        if self.message is None:
            raise ValueError("a held application is marked when it is held, with its message")
        details = self.message.submission
        return HeldMark(
            role=details.role,
            institution=self.message.partner or details.applicant.institution,
            confirm_by=self.confirm_by,
        )


class HeldMark(BaseModel):
    """What the cohort keeps of one held web-form application, so that the console can count those
    awaiting confirmation without reading (or showing) whose they are: one a submission, however
    often it is sent, with the role and institution the funnel and a partner lead's view split by."""

    role: Role
    institution: str | None = None
    confirm_by: datetime = Field(description="The latest link's: a resent application waits again.")
    confirmed: bool = False


class EmailKind(StrEnum):
    CONFIRMATION = "confirmation"  # to a web-form applicant: confirm (or: you have already applied)
    ACKNOWLEDGEMENT = "acknowledgement"
    MATCHED_MENTEE = "matched_mentee"
    MATCHED_MENTOR = "matched_mentor"
    UNMATCHED = "unmatched"
    COORDINATOR_SUMMARY = "coordinator_summary"
    MATCHES_TO_REVIEW = "matches_to_review"
    POSSIBLE_DUPLICATE = "possible_duplicate"  # to the coordinator: one name at one institution twice
    WITHDRAWN = "withdrawn"  # to an applicant whose application was withdrawn at their request
    PLACE_OFFERED = "place_offered"  # to a mentee moved from the waiting list into a freed place
    # The programme's dates (mentoring.programme_dates), each email named by its moment as well:
    TRAINING_REMINDER = "training_reminder"  # to those whose compulsory sessions are on that day
    MEETING_NUDGE = "meeting_nudge"  # to a pair with no meeting recorded weeks after matching
    CHECK_IN = "check_in"  # to every pair still together, halfway through the programme
    PROGRAMME_END = "programme_end"  # to every participant, with the evaluation
    EVENT_INVITATION = "event_invitation"  # an optional event (the celebration), to its roles


class Notification(BaseModel):
    """One email to send. Ids only: notify reads names and addresses from the Applications table."""

    cohort_id: str
    kind: EmailKind
    application_id: str | None = None
    # A matched mentor's mentees, so that notify reads each of their matches by its key rather than
    # every match of a national cohort for every email (absent on messages queued before it was).
    mentee_ids: list[str] | None = None
    confirmation: ConfirmationLink | None = Field(
        default=None, description="A confirmation email's link (its token is a secret, not personal data)."
    )
    moment: MomentId | None = Field(
        default=None,
        description="The programme date the email is for (ProgrammeMoment.moment_id), or the re-match "
        "(rematch-<digest of the pair>): a kind of email happens more than once in a cohort (a reminder "
        "before each training day; a mentee's second match).",
    )

    @property
    def key(self) -> str:
        """Business key: one email of a kind per person per cohort (per held application, for a
        confirmation: named by its token's hash, never the token), and per programme date for the
        programme's emails."""
        if self.confirmation is not None:
            return f"{self.cohort_id}#{token_digest(self.confirmation.token)}#{self.kind.value}"
        key = f"{self.cohort_id}#{self.application_id or 'coordinator'}#{self.kind.value}"
        return key if self.moment is None else f"{key}#{self.moment}"


class DeadlineReached(BaseModel):
    """Detail of the RecruitmentDeadlineReached event that the cohort's schedule puts on the bus."""

    cohort_id: CohortId


class DeadlineEvent(EventBridgeModel):
    """The whole event as EventBridge delivers it to the functions that act at the deadline."""

    detail: DeadlineReached


class LeaseExpiredEvent(EventBridgeModel):
    """MatchingLeaseExpired, which a matching run's watch puts on the bus once its lease has run out."""

    detail: DeadlineReached


class MomentKind(StrEnum):
    """What a programme date is for (mentoring.programme_dates)."""

    TRAINING_REMINDER = "training_reminder"
    MEETING_NUDGE = "meeting_nudge"
    CHECK_IN = "check_in"
    PROGRAMME_END = "programme_end"
    EVENT_INVITATION = "event_invitation"


class ProgrammeMoment(BaseModel):
    """One date of a cohort's programme that sends emails: a one-time schedule fires at ``at``."""

    model_config = ConfigDict(frozen=True)

    moment_id: MomentId
    kind: MomentKind
    at: datetime = Field(description="When its emails go (an instant; 09:00 London time on its day).")
    on: date | None = Field(
        default=None, description="The day of the sessions or event it is about (reminders, invitations)."
    )
    days_before: int | None = Field(default=None, description="Reminders: how many days before the day.")


class ProgrammeDateReached(BaseModel):
    """Detail of the ProgrammeDateReached event that a programme date's schedule puts on the bus."""

    cohort_id: CohortId
    moment_id: MomentId


class ProgrammeDateEvent(EventBridgeModel):
    detail: ProgrammeDateReached


class MatchingRerun(Contract):
    """The answer to a coordinator's re-run of matching: the deadline is announced again."""

    cohort_id: str
    status: Literal["requested"] = "requested"
    message: str = (
        "matching will run again for this cohort shortly; its results are emailed as at the deadline"
    )


# ---------------------------------------------------------------- domain entities


class CohortStatus(StrEnum):
    OPEN = "open"
    MATCHING = "matching"
    PROVISIONAL = "provisional"  # matched, held for the coordinator to review and publish
    MATCHED = "matched"


# ---------------------------------------------------------------- the programme calendar

LONDON: Final = ZoneInfo("Europe/London")


class CalendarSession(Contract):
    """A training session or an event of the programme, as it reads on a London calendar."""

    title: ShortText
    roles: list[Role] = Field(min_length=1, max_length=2, description="Who attends: mentee, mentor or both.")
    date: date
    starts: time = Field(
        description="London wall-clock time, for example 10:00 (GMT or BST as the date has it)."
    )
    ends: time
    where: Literal["online", "in_person"]
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = Field(
        default="", description="Where, or how to join (optional)."
    )
    compulsory: bool = Field(default=True, description="Training is; a celebration may not be.")

    @field_validator("starts", "ends")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a London wall-clock time without an offset, for example 10:00")
        return value


class ProgrammeCalendar(Contract):
    """A cohort's calendar after its recruitment deadline: training, the programme, events, meetings."""

    training: list[CalendarSession] = Field(default_factory=list, max_length=20)
    programme_starts: date
    programme_ends: date
    events: list[CalendarSession] = Field(default_factory=list, max_length=20)
    minimum_meetings: int = Field(ge=1, le=52, description="One-to-one meetings each pair holds at least.")


class CalendarRequest(Contract):
    """A cohort's own calendar when it is opened: each part left out is the scheme's, moved to the
    cohort's deadline in whole weeks (same weekdays, same London times)."""

    training: list[CalendarSession] | None = Field(default=None, max_length=20)
    programme_starts: date | None = None
    programme_ends: date | None = None
    events: list[CalendarSession] | None = Field(default=None, max_length=20)
    minimum_meetings: int | None = Field(default=None, ge=1, le=52)


def london_deadline(value: datetime) -> datetime:
    """A deadline as a moment: with its offset as given, or without one as London wall-clock time."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    local = value.replace(tzinfo=LONDON)
    if local.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != value:
        raise ValueError(
            f"{value:%H:%M} on {value:%d %B %Y} does not exist in London (the clocks go forward that night)"
        )
    if local.utcoffset() != local.replace(fold=1).utcoffset():
        raise ValueError(
            f"{value:%H:%M} on {value:%d %B %Y} happens twice in London (the clocks go back that night); "
            "give it with its offset"
        )
    return local.astimezone(UTC)


class NewCohort(Contract):
    """A coordinator's request to open a cohort of a scheme, with its programme calendar."""

    cohort_id: CohortId
    scheme_id: str = Field(min_length=1, max_length=64)
    name: ShortText
    recruitment_deadline: datetime = Field(
        description="ISO 8601, in the future: with a UTC offset, or without one as London time "
        "(2027-01-29T17:00:00 is 5pm in London, GMT or BST as the date has it)."
    )
    coordinator_email: EmailStr
    places: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Mentee places in this cohort; the scheme's max_mentees if not given.",
    )
    calendar: CalendarRequest | None = Field(
        default=None, description="The cohort's own dates; what is left out comes from the scheme."
    )

    @field_validator("recruitment_deadline")
    @classmethod
    def _moment(cls, value: datetime) -> datetime:
        return london_deadline(value)


class Cohort(BaseModel):
    cohort_id: str
    scheme_id: str
    name: str
    recruitment_deadline: datetime
    coordinator_email: str
    places: int | None = Field(default=None, description="Mentee places; None: the scheme's max_mentees.")
    calendar: ProgrammeCalendar | None = Field(
        default=None,
        description="Set when the cohort is opened; a cohort stored without one has its scheme's, "
        "moved to its deadline (mentoring.programme.calendar_of).",
    )
    status: CohortStatus = CohortStatus.OPEN
    created_at: datetime
    admitted_mentees: int = Field(default=0, description="Eligible mentees with a place in the cohort.")
    matching_until: datetime | None = Field(
        default=None,
        description="While matching: until when its run holds the cohort. Past it, the run has died "
        "and a coordinator may run matching again.",
    )


class RuleOutcome(BaseModel):
    """One eligibility rule applied to one applicant, in words the applicant understands."""

    rule: str
    passed: bool
    reason: str


class Eligibility(BaseModel):
    eligible: bool
    outcomes: list[RuleOutcome]

    @property
    def reasons(self) -> list[str]:
        return [o.reason for o in self.outcomes if not o.passed]


class Withdrawal(BaseModel):
    """Why and when a coordinator withdrew an application."""

    reason: Literal["applicant_request", "not_genuine"]
    at: datetime


class Application(BaseModel):
    """An applicant's application as kept for matching: identity, profile, eligibility. No monitoring."""

    application_id: str
    cohort_id: str
    scheme_id: str
    role: Role
    channel: Literal["web_form", "partner"]
    partner: str | None = None
    applicant: Applicant
    self_identification: SelfIdentification
    profile: MatchingProfile
    eligibility: Eligibility
    common_grade: int | None = Field(
        default=None, description="The applicant's grade on the common scale; None when unknown."
    )
    waiting_list: bool = Field(
        default=False, description="An eligible mentee who applied after the cohort was full."
    )
    late: bool = Field(
        default=False,
        description="Accepted before the deadline but processed after matching had started: "
        "not part of this cohort's matching, and told so.",
    )
    received_at: datetime
    partner_reference: str | None = Field(default=None, description="The partner's reference, if any.")
    claims: list[str] = Field(
        default_factory=list,
        description="The keys of the claims that made it unique (keyed hashes, never an address): "
        "a withdrawal releases them without the key that made them.",
    )
    person_key: str | None = Field(
        default=None,
        description="A hash of the name at the institution (mentoring.identity): the same person under "
        "two addresses shares it, and is flagged to the coordinator as a possible duplicate.",
    )
    withdrawn: Withdrawal | None = Field(
        default=None, description="Withdrawn by the coordinator: holds no place, is never matched."
    )

    @property
    def counts(self) -> bool:
        """Whether the application takes part in this cohort's matching (eligible, on time, not withdrawn)."""
        return self.eligibility.eligible and not self.late and self.withdrawn is None


class Withdrawn(BaseModel):
    """The answer to a withdrawal: the application, and who now has the place it held (if anyone)."""

    application_id: str
    reason: Literal["applicant_request", "not_genuine"]
    place_given_to: str | None = Field(
        default=None, description="The mentee moved from the waiting list into the freed place."
    )


class WithdrawRequest(Contract):
    """A coordinator's withdrawal of an application: at the applicant's request (they are told), or
    because it is not genuine (filed under someone else's name or address: nobody is emailed)."""

    reason: Literal["applicant_request", "not_genuine"]


def new_record_id() -> str:
    """A random key (UUIDv4, never time-ordered), so the key says nothing about when or who."""
    return str(uuid.uuid4())


class PendingAnswers(BaseModel):
    """One person's monitoring answers held until their batch is stored, still sealed: a random key,
    the reporting group, and ciphertext that only the monitoring function can open."""

    record_id: str = Field(default_factory=new_record_id)
    cohort_id: str
    scheme_id: str
    role: Role
    eligible: bool
    sealed: SealedAnswers


RECORD_KEY_BITS: Final = 32


def new_record_key() -> int:
    """A stored record's random key, fixed when it is written: the report's rounding of a figure is
    decided by the keys of the records it counts (``mentoring.monitoring_report``)."""
    return secrets.randbits(RECORD_KEY_BITS)


class MonitoringRecord(BaseModel):
    """An anonymised equal-opportunities record: a random key, the reporting group and the answers only.

    ``role`` and ``eligible`` are None where recording them would have left fewer than k people of a
    batch with that combination (``mentoring.monitoring.generalise``).
    """

    record_id: str = Field(default_factory=new_record_id)
    cohort_id: str
    scheme_id: str
    role: Role | None
    eligible: bool | None = Field(
        description="The outcome the report counts (applied, eligible); nothing else."
    )
    answers: MonitoringAnswers
    record_key: int = Field(default_factory=new_record_key, ge=0, lt=2**RECORD_KEY_BITS)


# ---------------------------------------------------------------- the evaluation survey

# The encryption context's purpose of sealed evaluation answers: KMS opens them only as such, never
# as monitoring answers (nor these as those).
EVALUATION_PURPOSE: Final = "programme-evaluation"


class EvaluationAnswers(BaseModel):
    """One person's answers to their scheme's evaluation survey: each question answered, by id, with
    the value of the answer chosen (a question left unanswered is absent). No free text, no
    identity: only the scheme's listed answers (``mentoring.evaluation.parse_answers``)."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str] = Field(default_factory=dict)


class PendingEvaluation(BaseModel):
    """One person's evaluation answers held until their batch is stored, still sealed: a random key,
    the cohort, the role (the report's only group), and ciphertext only the monitoring function can
    open. No identifier and no time."""

    record_id: str = Field(default_factory=new_record_id)
    cohort_id: str
    scheme_id: str
    role: Role
    sealed: SealedAnswers


class EvaluationRecord(BaseModel):
    """Stored evaluation answers: a random key, the cohort and scheme, the role (None where fewer
    than k of a batch had it), the answers, and the record key the report's rounding uses.

    ``eligible`` is never recorded (everyone answering was matched); it is here, always None, so
    that a batch is made k-anonymous by the same code as monitoring answers
    (``mentoring.monitoring.generalise``), grouped by role alone."""

    record_id: str = Field(default_factory=new_record_id)
    cohort_id: str
    scheme_id: str
    role: Role | None
    eligible: None = None
    answers: dict[str, str]
    record_key: int = Field(default_factory=new_record_key, ge=0, lt=2**RECORD_KEY_BITS)


class NextYearChoice(BaseModel):
    """A participant's answer to "would you like to be a mentor next year?": personal data, kept
    with identity (never with the anonymous evaluation) as the next cohort's invitation list, with
    the cohort's retention."""

    cohort_id: str
    application_id: str
    would_mentor: bool
    recorded_at: datetime


class Match(BaseModel):
    cohort_id: str
    mentee_id: str
    mentor_id: str
    score: float
    explanation: list[str]
    rematched_at: datetime | None = Field(
        default=None, description="Set when the coordinator made this pair after the mentee's first ended."
    )


UnmatchedOutcome = Literal["waiting_list", "no_mentor", "no_allowed_mentor", "mentors_taken", "removed"]


class UnmatchedMentee(BaseModel):
    application_id: str
    reason: str = Field(description="Why, for the coordinator, in words.")
    outcome: UnmatchedOutcome = Field(
        default="mentors_taken",
        description="waiting_list: applied when the cohort was full; no_mentor: no eligible mentor applied; "
        "no_allowed_mentor: the scheme's pairing rules allowed none; mentors_taken: every allowed mentor "
        "was needed for other mentees; removed: taken out by the coordinator at review.",
    )
    excluded_by: list[str] = Field(
        default_factory=list, description="The pairing rules, in words, that ruled mentors out."
    )


class MatchingResult(BaseModel):
    matches: list[Match]
    unmatched_mentees: list[UnmatchedMentee]
    unmatched_mentor_ids: list[str]
    policy: Literal["optimal", "stable"] = "optimal"
    certified_optimal: bool | None = Field(
        default=None, description="optimal policy: whether the dual prices proved the result the best."
    )

    @property
    def total_score(self) -> float:
        return sum(m.score for m in self.matches)


class CohortMatches(BaseModel):
    """A cohort's matching result as the coordinator reads it."""

    cohort_id: str
    status: CohortStatus = Field(description="provisional: held for review; matched: published.")
    matches: list[Match]
    unmatched: list[UnmatchedMentee]


class MatchChange(Contract):
    """One change a coordinator makes to provisional matches."""

    action: Literal["pair", "remove"] = Field(
        description="pair: give the mentee this mentor (moving them from any other); remove: unmatch them."
    )
    mentee_id: str = Field(min_length=1, max_length=64)
    mentor_id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _mentor_when_pairing(self) -> MatchChange:
        if self.action == "pair" and self.mentor_id is None:
            raise ValueError("a pair change names the mentor_id")
        if self.action == "remove" and self.mentor_id is not None:
            raise ValueError("a remove change names the mentee only")
        return self


class MatchChanges(Contract):
    """Changes applied in order, all or none: a swap is two pair changes."""

    changes: list[MatchChange] = Field(min_length=1, max_length=200)


class CohortProgress(BaseModel):
    cohort: Cohort
    applications: int
    eligible: dict[str, int]
    ineligible: dict[str, int]
    matches: int
    withdrawn: int = 0
    possible_duplicates: list[list[str]] = Field(
        default_factory=list,
        description="Applications under one name at one institution with different addresses, "
        "perhaps one person applying twice: withdraw all but one if so.",
    )


# ---------------------------------------------------------------- the console's people and its audit log


class StaffRole(StrEnum):
    """What a person signed in to the console may do; the scope comes with the role."""

    ADMINISTRATOR = "administrator"  # every scheme; opens cohorts, invites staff, reads the audit log
    COORDINATOR = "coordinator"  # their schemes only
    PARTNER_LEAD = "partner_lead"  # read only, their own institution's applicants only


class NewStaffMember(Contract):
    """An administrator's invitation to the console."""

    email: EmailStr = Field(max_length=254)
    name: ShortText
    role: StaffRole
    schemes: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20, description="Coordinators: the schemes they run."
    )
    institution: InstitutionCode | None = Field(default=None, description="Partner leads: their institution.")

    @model_validator(mode="after")
    def _scope_fits_the_role(self) -> NewStaffMember:
        if self.role is StaffRole.COORDINATOR and not self.schemes:
            raise ValueError("a coordinator runs at least one scheme: choose their schemes")
        if self.role is StaffRole.PARTNER_LEAD and self.institution is None:
            raise ValueError("a partner's EDI lead belongs to an institution: choose it")
        return self


class StaffMember(BaseModel):
    """Someone who may sign in to the console, keyed by the identity provider's subject (``sub``)."""

    user_id: str
    email: str
    name: str
    role: StaffRole
    schemes: list[str] = Field(default_factory=list)
    institution: str | None = None
    invited_by: str | None = None
    invited_at: datetime


class AuditEntry(BaseModel):
    """One action taken on the platform: who, what, when (ids, never an applicant's answers)."""

    at: datetime
    actor_id: str
    actor: str = Field(description="The signed-in person's email, or the IAM principal of an API call.")
    action: str
    cohort_id: str | None = None
    subject: str | None = Field(
        default=None, description="What the action was on: an application id, a person."
    )
    detail: str = ""


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- the programme, after the match

MeetingMode = Literal["in_person", "online"]


class ParticipantLink(BaseModel):
    """What the table keeps of a participant's personal link: the SHA-256 of its token (never the
    token), whose it is, and until when it works. Found by the hash alone."""

    token_hash: str
    cohort_id: str
    application_id: str
    role: Role
    expires_at: datetime


class MeetingRecord(Contract):
    """A one-to-one meeting as a participant records it from their personal link."""

    on: date = Field(description="The day of the meeting.")
    minutes: int = Field(ge=5, le=600, description="How long it lasted, in minutes (5 to 600).")
    mode: MeetingMode = Field(description="in_person or online.")
    partner_id: str | None = Field(
        default=None, description="For a mentor with more than one mentee: whose meeting it was."
    )


class Meeting(BaseModel):
    """One meeting of a pair. A pair meets at most once a day: when both record the same day, it is
    one meeting (the later record's length and mode stand), so nothing is counted twice."""

    cohort_id: str
    mentee_id: str
    mentor_id: str
    on: date
    minutes: int
    mode: MeetingMode
    recorded_by: Role
    recorded_at: datetime


class TrainingAttendance(BaseModel):
    """A participant's confirmation that they attended one training session of the cohort."""

    cohort_id: str
    application_id: str
    session_id: str = Field(description="mentoring.programme.session_id of the session.")
    confirmed_at: datetime


class PartnershipEnd(BaseModel):
    """A pair that ended before the programme did, by one of them (or the coordinator)."""

    cohort_id: str
    mentee_id: str
    mentor_id: str
    ended_by: Literal["mentee", "mentor", "coordinator"]
    ended_at: datetime
    reason: str = ""


class HelpRequest(BaseModel):
    """A participant asking the coordinator for help, from their personal link."""

    cohort_id: str
    application_id: str
    role: Role
    message: str
    asked_at: datetime
    request_id: str = Field(default_factory=new_record_id)


class Partnership(BaseModel):
    """A pair of the programme as the coordinator follows it: its meetings and whether it ended."""

    mentee_id: str
    mentor_id: str
    meetings: int = 0
    minutes: int = 0
    last_met: date | None = None
    ended: PartnershipEnd | None = None
    rematched: bool = Field(default=False, description="Made by the coordinator after an earlier pair ended.")
