"""After the match: each participant's personal link, and what they record with it.

Participants have no account. Every programme email carries a personal link whose token is a keyed
hash (HMAC-SHA256 under the programme link secret) of the cohort and the application, so any email
can carry it again without the token being kept anywhere: the table keeps its SHA-256 only, with
whose it is and until when it works (the programme's end and the time to answer its evaluation).
Whoever reads the table cannot make a link; whoever has a link can act only as its owner, in its
cohort, until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mentoring.matching.rules import broken_rules, score_pair
from mentoring.models import (
    Application,
    Cohort,
    EmailKind,
    FieldError,
    HelpRequest,
    Match,
    Meeting,
    MeetingRecord,
    Notification,
    ParticipantLink,
    Partnership,
    PartnershipEnd,
    Role,
    TrainingAttendance,
    token_digest,
)
from mentoring.ports import ApplicationStore, CohortStore, ProgrammeStore
from mentoring.programme import LONDON, calendar_of, session_id, sessions_for, starts_at
from mentoring.scheme import Scheme

# Project default (the sources are silent): a link works until eight weeks after the programme
# ends, time enough to answer its evaluation; the cohort's retention deletes it in any case.
LINK_GRACE = timedelta(weeks=8)
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"  # noqa: S105 - the shape of a token, not one


def link_token(key: bytes, cohort_id: str, application_id: str) -> str:
    """The participant's token: 43 url-safe characters, the same in every email of the cohort."""
    digest = hmac.new(key, f"programme-link\n{cohort_id}\n{application_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_url(base: str, cohort_id: str, token: str) -> str:
    """The page the link opens. The token is in the query, which the API's access log never
    records (it logs the route, not the path's values or the query)."""
    return f"{base.rstrip('/')}/programme/{cohort_id}?token={token}"


def link_for(key: bytes, cohort: Cohort, application: Application) -> ParticipantLink:
    """The hashed record of a participant's link, to keep before the link is first emailed."""
    return ParticipantLink(
        token_hash=token_digest(link_token(key, cohort.cohort_id, application.application_id)),
        cohort_id=cohort.cohort_id,
        application_id=application.application_id,
        role=application.role,
        expires_at=expiry(cohort),
    )


def expiry(cohort: Cohort) -> datetime:
    ends = datetime.combine(calendar_of(cohort).programme_ends, datetime.min.time(), LONDON)
    return ends + timedelta(days=1) + LINK_GRACE


# ---------------------------------------------------------------- opening a link


class LinkProblem(StrEnum):
    NOT_RECOGNISED = "not_recognised"
    EXPIRED = "expired"
    OTHER_COHORT = "other_cohort"
    NOT_A_PARTICIPANT = "not_a_participant"


@dataclass(frozen=True)
class Participant:
    """The owner of a link that works: who they are, their cohort, and their pairs in it."""

    link: ParticipantLink
    cohort: Cohort
    application: Application
    partners: tuple[Partnership, ...]
    partner_names: dict[str, str]

    @property
    def role(self) -> Role:
        return self.link.role

    def active(self) -> list[Partnership]:
        return [p for p in self.partners if p.ended is None]


def open_link(
    token: str,
    cohort_id: str,
    now: datetime,
    programme: ProgrammeStore,
    cohorts: CohortStore,
    applications: ApplicationStore,
) -> Participant | LinkProblem:
    """Whose link this is, or why it does not work. Reads only: opening a link changes nothing
    (mail scanners open links too)."""
    link = programme.find_link(token_digest(token))
    if link is None:
        return LinkProblem.NOT_RECOGNISED
    if link.cohort_id != cohort_id:
        return LinkProblem.OTHER_COHORT
    if now >= link.expires_at:
        return LinkProblem.EXPIRED
    cohort = cohorts.get_cohort(link.cohort_id)
    application = applications.get_application(link.cohort_id, link.application_id)
    if cohort is None or application is None or application.withdrawn is not None:
        return LinkProblem.NOT_A_PARTICIPANT
    pairs = [
        p
        for p in partnerships(cohort.cohort_id, programme, applications)
        if link.application_id in (p.mentee_id, p.mentor_id)
    ]
    names: dict[str, str] = {}
    for pair in pairs:
        other = pair.mentor_id if link.role is Role.MENTEE else pair.mentee_id
        found = applications.get_application(cohort.cohort_id, other)
        names[other] = (
            f"{found.applicant.given_name} {found.applicant.family_name}"
            if found is not None
            else "your partner"
        )
    return Participant(link, cohort, application, tuple(pairs), names)


# ---------------------------------------------------------------- the cohort's pairs


def partnerships(
    cohort_id: str, programme: ProgrammeStore, applications: ApplicationStore
) -> list[Partnership]:
    """Every pair of the cohort, current and ended, with its meetings: the programme view's rows."""
    met: dict[tuple[str, str], list[Meeting]] = defaultdict(list)
    for meeting in programme.meetings(cohort_id):
        met[(meeting.mentee_id, meeting.mentor_id)].append(meeting)
    ends = {(e.mentee_id, e.mentor_id): e for e in programme.ended(cohort_id)}
    pairs: dict[tuple[str, str], Partnership] = {}
    current: list[Match] = applications.list_matches(cohort_id)
    for match in current:
        pairs[(match.mentee_id, match.mentor_id)] = Partnership(
            mentee_id=match.mentee_id,
            mentor_id=match.mentor_id,
            rematched=match.rematched_at is not None,
        )
    for mentee, mentor in ends:
        pairs.setdefault((mentee, mentor), Partnership(mentee_id=mentee, mentor_id=mentor))
    result = []
    for key, pair in pairs.items():
        held = met.get(key, [])
        result.append(
            pair.model_copy(
                update={
                    "meetings": len(held),
                    "minutes": sum(m.minutes for m in held),
                    "last_met": max((m.on for m in held), default=None),
                    "ended": ends.get(key),
                }
            )
        )
    return sorted(result, key=lambda p: (p.mentee_id, p.ended is None, p.mentor_id))


# ---------------------------------------------------------------- what a participant records


class ParticipationError(ValueError):
    """What was sent cannot be recorded: each problem named by its field, with its reason."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def _pair_for(participant: Participant, partner_id: str | None, field: str) -> Partnership:
    active = participant.active()
    if not active:
        raise ParticipationError([FieldError(field=field, message="you have no current mentoring partner")])
    if partner_id is None or partner_id == "":
        if len(active) == 1:
            return active[0]
        raise ParticipationError(
            [FieldError(field=field, message="choose which of your mentees it was with")]
        )
    for pair in active:
        if (
            partner_id in (pair.mentee_id, pair.mentor_id)
            and partner_id != participant.application.application_id
        ):
            return pair
    raise ParticipationError(
        [FieldError(field=field, message="is not one of your current mentoring partners")]
    )


def record_meeting(
    participant: Participant, record: MeetingRecord, now: datetime, programme: ProgrammeStore
) -> Meeting:
    """Records a meeting of one of the participant's current pairs (once a day per pair)."""
    problems = []
    if record.on > now.astimezone(LONDON).date():
        problems.append(FieldError(field="on", message="is in the future: record a meeting once it has been"))
    if record.on < participant.cohort.recruitment_deadline.astimezone(LONDON).date():
        problems.append(
            FieldError(field="on", message="is before the recruitment deadline, when pairs were matched")
        )
    if problems:
        raise ParticipationError(problems)
    pair = _pair_for(participant, record.partner_id, "partner_id")
    meeting = Meeting(
        cohort_id=participant.cohort.cohort_id,
        mentee_id=pair.mentee_id,
        mentor_id=pair.mentor_id,
        on=record.on,
        minutes=record.minutes,
        mode=record.mode,
        recorded_by=participant.role,
        recorded_at=now,
    )
    programme.record_meeting(meeting)
    return meeting


def confirm_training(
    participant: Participant, chosen: str, now: datetime, programme: ProgrammeStore
) -> TrainingAttendance:
    """Records that the participant attended one of their role's training sessions (once it began)."""
    calendar = calendar_of(participant.cohort)
    sessions = {session_id(s): s for s in sessions_for(calendar, participant.role) if s in calendar.training}
    if chosen not in sessions:
        raise ParticipationError([FieldError(field="session", message="is not a training session of yours")])
    if starts_at(sessions[chosen]) > now:
        raise ParticipationError(
            [FieldError(field="session", message="has not happened yet: confirm it once you have attended")]
        )
    attendance = TrainingAttendance(
        cohort_id=participant.cohort.cohort_id,
        application_id=participant.application.application_id,
        session_id=chosen,
        confirmed_at=now,
    )
    programme.confirm_attendance(attendance)
    return attendance


def end_partnership(
    participant: Participant, partner_id: str | None, reason: str, now: datetime, programme: ProgrammeStore
) -> PartnershipEnd:
    """Ends one of the participant's current pairs; the coordinator is told (programme view) and
    may re-match the mentee from the cohort's free mentors."""
    pair = _pair_for(participant, partner_id, "partner_id")
    end = PartnershipEnd(
        cohort_id=participant.cohort.cohort_id,
        mentee_id=pair.mentee_id,
        mentor_id=pair.mentor_id,
        ended_by=participant.role.value,
        ended_at=now,
        reason=reason.strip()[:1000],
    )
    if not programme.end_partnership(end):
        raise ParticipationError(
            [FieldError(field="partner_id", message="this partnership has already ended")]
        )
    return end


def ask_for_help(
    participant: Participant, message: str, now: datetime, programme: ProgrammeStore
) -> HelpRequest:
    text = message.strip()
    if not text:
        raise ParticipationError([FieldError(field="message", message="say what you would like help with")])
    if len(text) > 2000:
        raise ParticipationError([FieldError(field="message", message="is longer than 2,000 characters")])
    request = HelpRequest(
        cohort_id=participant.cohort.cohort_id,
        application_id=participant.application.application_id,
        role=participant.role,
        message=text,
        asked_at=now,
    )
    programme.ask_for_help(request)
    return request


# ---------------------------------------------------------------- re-matching an ended pair


@dataclass(frozen=True)
class Candidate:
    """A free mentor the coordinator may pair an ended mentee with: allowed by the scheme's rules,
    with room under their capacity, and not a mentor this mentee has had."""

    mentor_id: str
    name: str
    score: float
    explanation: tuple[str, ...]
    load: int
    capacity: int


class RematchError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.error = FieldError(field=field, message=message)


def rematch_candidates(
    scheme: Scheme, cohort_id: str, mentee_id: str, programme: ProgrammeStore, applications: ApplicationStore
) -> list[Candidate]:
    """The cohort's free mentors for this mentee, the best-scoring first (the scheme's own scores)."""
    apps = {a.application_id: a for a in applications.list_applications(cohort_id)}
    mentee = apps.get(mentee_id)
    pairs = partnerships(cohort_id, programme, applications)
    if mentee is None or mentee.role is not Role.MENTEE:
        raise RematchError("mentee_id", "is not a mentee of this cohort")
    mine = [p for p in pairs if p.mentee_id == mentee_id]
    if not mine or any(p.ended is None for p in mine):
        raise RematchError("mentee_id", "this mentee's partnership has not ended: nothing to re-match")
    had = {p.mentor_id for p in mine}
    load: defaultdict[str, int] = defaultdict(int)
    for pair in pairs:
        if pair.ended is None:
            load[pair.mentor_id] += 1
    found = []
    for mentor in apps.values():
        if (
            mentor.role is not Role.MENTOR
            or not mentor.eligibility.eligible
            or mentor.withdrawn is not None
            or mentor.late
            or mentor.application_id in had
        ):
            continue
        capacity = min(mentor.profile.capacity, scheme.mentor_capacity_max)
        if load[mentor.application_id] >= capacity or broken_rules(scheme.pairing_rules, mentee, mentor):
            continue
        scored = score_pair(scheme, mentee, mentor)
        found.append(
            Candidate(
                mentor.application_id,
                f"{mentor.applicant.given_name} {mentor.applicant.family_name}",
                scored.score,
                tuple(scored.explanation),
                load[mentor.application_id],
                capacity,
            )
        )
    return sorted(found, key=lambda c: (-c.score, c.load, c.mentor_id))


def rematch(
    scheme: Scheme,
    cohort_id: str,
    mentee_id: str,
    mentor_id: str,
    now: datetime,
    programme: ProgrammeStore,
    applications: ApplicationStore,
) -> Match:
    """Pairs a mentee whose partnership ended with one of the cohort's free mentors. Asked again
    for the pair it made, it returns that pair (the caller queues its emails again)."""
    current = applications.get_match(cohort_id, mentee_id)
    ended = {(e.mentee_id, e.mentor_id) for e in programme.ended(cohort_id)}
    if (
        current is not None
        and current.mentor_id == mentor_id
        and current.rematched_at is not None
        and (mentee_id, mentor_id) not in ended
    ):
        return current
    chosen = {
        c.mentor_id: c for c in rematch_candidates(scheme, cohort_id, mentee_id, programme, applications)
    }
    candidate = chosen.get(mentor_id)
    if candidate is None:
        raise RematchError(
            "mentor_id",
            "is not a free mentor for this mentee (the scheme's rules forbid the pair, the mentor "
            "has no room, or they were this mentee's mentor before)",
        )
    match = Match(
        cohort_id=cohort_id,
        mentee_id=mentee_id,
        mentor_id=mentor_id,
        score=candidate.score,
        explanation=[*candidate.explanation, f"Re-matched by the coordinator on {now:%d %B %Y}."],
        rematched_at=now,
    )
    if not programme.rematch(match):
        raise RematchError("mentee_id", "this mentee has been re-matched already")
    return match


def rematch_notifications(match: Match) -> list[Notification]:
    """The new pair's emails: the match emails again, keyed by the pair (a mentee's first match
    email was sent under its own key, and a second re-match has a key of its own too)."""
    pair = hashlib.sha256(f"{match.mentee_id}\n{match.mentor_id}".encode()).hexdigest()[:12]
    moment = f"rematch-{pair}"
    return [
        Notification(
            cohort_id=match.cohort_id,
            kind=EmailKind.MATCHED_MENTEE,
            application_id=match.mentee_id,
            moment=moment,
        ),
        Notification(
            cohort_id=match.cohort_id,
            kind=EmailKind.MATCHED_MENTOR,
            application_id=match.mentor_id,
            mentee_ids=[match.mentee_id],
            moment=moment,
        ),
    ]
