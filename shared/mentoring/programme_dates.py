"""The programme's dates that send emails, and what each sends when its time comes.

A cohort's calendar (:mod:`mentoring.programme`) becomes its *moments*: a reminder before each day
of compulsory sessions, a nudge to pairs who have not met some weeks after matching, a check-in
halfway through the programme, the programme's end with its evaluation, and the invitation to each
optional event (the celebration). Each moment is a one-time schedule, created when the cohort is
opened and moved when its deadline moves (``mentoring.cohorts``); when it fires, the programme
function queues one email per person concerned, keyed by the moment, so that a moment delivered
twice, or a schedule that fires once more after a move, sends nobody anything twice.

The timings are this project's defaults, for the coordinator to confirm (the sources give none):
reminders 7 days and 1 day before, the nudge 6 weeks after matching (the recruitment deadline;
pairs are asked to make first contact within a week of it), the invitation 4 weeks before the
event, and every email at 09:00 London time on its day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from mentoring.models import (
    CalendarSession,
    Cohort,
    CohortStatus,
    EmailKind,
    Match,
    MomentKind,
    Notification,
    ProgrammeMoment,
    Role,
)
from mentoring.ports import ApplicationStore, CohortNotFoundError, CohortStore, NotificationQueue
from mentoring.programme import LONDON, calendar_of, london_time

# The project's defaults (the sources are silent): see the module's docstring.
REMINDER_DAYS_BEFORE = (7, 1)
NUDGE_AFTER_MATCHING = timedelta(weeks=6)
INVITATION_DAYS_BEFORE = 28
SENDS_AT = time(9, 0)  # London wall-clock time; exists on every day, clocks changing or not

# A schedule that fires this much before its moment's time belongs to a moment since moved later
# (the moved schedule fires then): it sends nothing now.
EARLY = timedelta(minutes=5)


def _morning(on: date) -> datetime:
    """09:00 in London on that day (GMT or BST as the day has it), as an instant."""
    return datetime.combine(on, SENDS_AT, LONDON).astimezone(UTC)


def moments(cohort: Cohort) -> list[ProgrammeMoment]:
    """Every moment of the cohort's programme, in time order, each with an id that stays the same
    while what it is about stays the same (a reminder names its day; the nudge, the check-in and
    the end are one each a cohort)."""
    calendar = calendar_of(cohort)
    sessions = [*calendar.training, *calendar.events]
    found: list[ProgrammeMoment] = []
    for on in sorted({s.date for s in sessions if s.compulsory}):
        found += [
            ProgrammeMoment(
                moment_id=f"training-{on:%Y%m%d}-{days}d",
                kind=MomentKind.TRAINING_REMINDER,
                at=_morning(on - timedelta(days=days)),
                on=on,
                days_before=days,
            )
            for days in REMINDER_DAYS_BEFORE
        ]
    found += [
        ProgrammeMoment(
            moment_id=f"event-{on:%Y%m%d}",
            kind=MomentKind.EVENT_INVITATION,
            at=_morning(on - timedelta(days=INVITATION_DAYS_BEFORE)),
            on=on,
        )
        for on in sorted({s.date for s in calendar.events if not s.compulsory})
    ]
    matched_on = london_time(cohort.recruitment_deadline).date()
    starts, ends = calendar.programme_starts, calendar.programme_ends
    found += [
        ProgrammeMoment(
            moment_id="nudge", kind=MomentKind.MEETING_NUDGE, at=_morning(matched_on + NUDGE_AFTER_MATCHING)
        ),
        ProgrammeMoment(
            moment_id="check-in",
            kind=MomentKind.CHECK_IN,
            at=_morning(starts + timedelta(days=(ends - starts).days // 2)),
        ),
        ProgrammeMoment(moment_id="end", kind=MomentKind.PROGRAMME_END, at=_morning(ends)),
    ]
    return sorted(found, key=lambda m: (m.at, m.moment_id))


def to_schedule(cohort: Cohort, now: datetime) -> list[ProgrammeMoment]:
    """The moments still to come that can concern anyone: after ``now`` and after matching (the
    recruitment deadline). Those already past are not scheduled (again)."""
    return [m for m in moments(cohort) if m.at > now and m.at > cohort.recruitment_deadline]


def moment_of(cohort: Cohort, moment_id: str) -> ProgrammeMoment | None:
    return next((m for m in moments(cohort) if m.moment_id == moment_id), None)


def sessions_on(cohort: Cohort, moment: ProgrammeMoment, role: Role) -> list[CalendarSession]:
    """The sessions a reminder or an invitation is about, for one role: compulsory ones on the
    reminder's day, optional events on the invitation's."""
    calendar = calendar_of(cohort)
    optional = moment.kind is MomentKind.EVENT_INVITATION
    return sorted(
        (
            s
            for s in [*calendar.training, *calendar.events]
            if s.date == moment.on and s.compulsory is not optional and role in s.roles
        ),
        key=lambda s: (s.starts, s.title),
    )


# ---------------------------------------------------------------- what a moment sends


class Pair(Protocol):
    """A mentee and a mentor, as a meeting or an ended partnership names them."""

    @property
    def mentee_id(self) -> str: ...

    @property
    def mentor_id(self) -> str: ...


class PairRecords(Protocol):
    """What participants recorded (``mentoring.ports.ProgrammeStore`` provides it)."""

    def meetings(self, cohort_id: str) -> Sequence[Pair]: ...

    def ended(self, cohort_id: str) -> Sequence[Pair]:
        """The pairs that ended before the programme did."""


@dataclass(frozen=True)
class MomentRun:
    cohort_id: str
    moment_id: str
    queued: int = 0
    nothing_because: str | None = None  # why nothing was queued, for the log


_KIND = {
    MomentKind.TRAINING_REMINDER: EmailKind.TRAINING_REMINDER,
    MomentKind.MEETING_NUDGE: EmailKind.MEETING_NUDGE,
    MomentKind.CHECK_IN: EmailKind.CHECK_IN,
    MomentKind.PROGRAMME_END: EmailKind.PROGRAMME_END,
    MomentKind.EVENT_INVITATION: EmailKind.EVENT_INVITATION,
}


def reach_moment(
    cohort_id: str,
    moment_id: str,
    at: datetime,
    cohorts: CohortStore,
    applications: ApplicationStore,
    records: PairRecords,
    notifications: NotificationQueue,
) -> MomentRun:
    """A programme date has come (``at``: when its schedule fired): queues its emails. Safe to run
    again: each email is keyed by the moment, and notify sends each key once."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:  # a date is scheduled with its cohort: raised, retried, then parked (alarmed)
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    moment = moment_of(cohort, moment_id)
    if moment is None:
        return MomentRun(cohort_id, moment_id, nothing_because="the cohort's calendar no longer has it")
    if moment.at - EARLY > at:
        return MomentRun(cohort_id, moment_id, nothing_because="it has moved later; its schedule fires then")
    if cohort.status is not CohortStatus.MATCHED:
        return MomentRun(cohort_id, moment_id, nothing_because=f"the cohort is {cohort.status.value}")
    notes = notifications_for(moment, cohort, applications, records)
    if notes:
        notifications.send_all(notes)
    return MomentRun(cohort_id, moment_id, queued=len(notes))


def notifications_for(
    moment: ProgrammeMoment, cohort: Cohort, applications: ApplicationStore, records: PairRecords
) -> list[Notification]:
    """One email per person the moment concerns (a mentor once, naming the mentees it is about)."""
    cohort_id = cohort.cohort_id
    matches = applications.list_matches(cohort_id)
    ended = {(p.mentee_id, p.mentor_id) for p in records.ended(cohort_id)}
    active = [m for m in matches if (m.mentee_id, m.mentor_id) not in ended]
    kind = _KIND[moment.kind]

    def note(application_id: str, mentee_ids: list[str] | None = None) -> Notification:
        return Notification(
            cohort_id=cohort_id,
            kind=kind,
            application_id=application_id,
            mentee_ids=mentee_ids,
            moment=moment.moment_id,
        )

    if moment.kind is MomentKind.PROGRAMME_END:
        # Everyone who took part, a pair that ended early included: the evaluation is theirs too.
        everyone = {m.mentee_id: Role.MENTEE for m in matches} | {m.mentor_id: Role.MENTOR for m in matches}
        for mentee_id, mentor_id in sorted(ended):
            everyone.setdefault(mentee_id, Role.MENTEE)
            everyone.setdefault(mentor_id, Role.MENTOR)
        return [note(person) for person in sorted(everyone)]
    if moment.kind is MomentKind.MEETING_NUDGE:
        met = {(p.mentee_id, p.mentor_id) for p in records.meetings(cohort_id)}
        return _to_pairs([m for m in active if (m.mentee_id, m.mentor_id) not in met], note)
    if moment.kind is MomentKind.CHECK_IN:
        return _to_pairs(active, note)
    # A reminder or an invitation: those of the sessions' roles, among the pairs still together.
    roles = {role for role in Role if sessions_on(cohort, moment, role)}
    people = [(m.mentee_id, Role.MENTEE) for m in active] + [(m.mentor_id, Role.MENTOR) for m in active]
    return [note(person) for person in sorted({p for p, role in people if role in roles})]


def _to_pairs(pairs: list[Match], note: _Note) -> list[Notification]:
    """Each mentee of these pairs, and each of their mentors once, naming their mentees among them."""
    mentees_of: dict[str, list[str]] = {}
    for m in pairs:
        mentees_of.setdefault(m.mentor_id, []).append(m.mentee_id)
    return [note(m.mentee_id) for m in sorted(pairs, key=lambda m: m.mentee_id)] + [
        note(mentor_id, sorted(mentees)) for mentor_id, mentees in sorted(mentees_of.items())
    ]


class _Note(Protocol):
    def __call__(self, application_id: str, mentee_ids: list[str] | None = None) -> Notification: ...


def schedule_changes(
    before: Cohort | None, after: Cohort, now: datetime
) -> tuple[list[ProgrammeMoment], list[str]]:
    """What changes from the cohort ``before`` (None: a new cohort) to the cohort ``after``: the
    moments to schedule (new, or at a new time) and the ids of the scheduled ones that no longer
    exist (to delete). Worked out from the two cohorts alone, so a retry does it again the same."""
    wanted = to_schedule(after, now)
    had = {m.moment_id: m.at for m in to_schedule(before, now)} if before is not None else {}
    keep = {m.moment_id for m in wanted}
    return [m for m in wanted if had.get(m.moment_id) != m.at], [i for i in had if i not in keep]
