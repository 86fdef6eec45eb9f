"""The programme calendar of a cohort: its dates in London time, checked, said in words, and put in
people's diaries as iCalendar invitations.

A scheme's definition holds the calendar of the cohort its source describes (B-MEntor Professional:
the 2020-21 round). A new cohort takes that calendar moved to its own recruitment deadline in whole
weeks, so that a Thursday training stays a Thursday at the same time, unless the coordinator gives
its own dates. The same functions serve the admin API, the console and the schedules that follow
the programme.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mentoring.models import (
    CalendarRequest,
    CalendarSession,
    Cohort,
    FieldError,
    ProgrammeCalendar,
    Role,
)

if TYPE_CHECKING:
    from mentoring.scheme import Scheme

LONDON = ZoneInfo("Europe/London")


# ---------------------------------------------------------------- London time, in words


def london_time(at: datetime) -> datetime:
    return at.astimezone(LONDON)


def zone(at: datetime) -> str:
    """The zone's name at that moment: GMT in winter, BST (British Summer Time) in summer."""
    return london_time(at).tzname() or "UK time"


def when(at: datetime) -> str:
    """A moment as people in the UK read it, zone named: 'Friday 18 December 2026 at 17:00 GMT'."""
    local = london_time(at)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} {zone(at)}"


def day(on: date) -> str:
    return f"{on:%A} {on.day} {on:%B %Y}"


def session_when(session: CalendarSession) -> str:
    """'Thursday 14 January 2021, 10:00 to 11:30 GMT'."""
    starts = starts_at(session)
    return f"{day(session.date)}, {session.starts:%H:%M} to {session.ends:%H:%M} {zone(starts)}"


def session_line(session: CalendarSession) -> str:
    """'Mentee training: Thursday 14 January 2021, 10:00 to 11:30 GMT, online'."""
    place = "online" if session.where == "online" else "in person"
    detail = f" ({session.location})" if session.location else ""
    return f"{session.title}: {session_when(session)}, {place}{detail}"


def starts_at(session: CalendarSession) -> datetime:
    return datetime.combine(session.date, session.starts, LONDON)


def ends_at(session: CalendarSession) -> datetime:
    return datetime.combine(session.date, session.ends, LONDON)


def session_id(session: CalendarSession) -> str:
    """A session's name that stays the same in every email, page and record of the cohort (and in
    its diary entry's UID): its kind, its day and its title, e.g. ``training.20210114.mentee-training``."""
    kind = "training" if session.compulsory else "event"
    return f"{kind}.{session.date:%Y%m%d}.{_slug(session.title)}"


def sessions_for(calendar: ProgrammeCalendar, role: Role) -> list[CalendarSession]:
    """What one person must keep free, in date order: their role's training, then the events."""
    chosen = [s for s in [*calendar.training, *calendar.events] if role in s.roles]
    return sorted(chosen, key=lambda s: (s.date, s.starts, s.title))


# ---------------------------------------------------------------- London wall-clock times


class LocalTimeError(ValueError):
    """A wall-clock time that London does not have (clocks forward) or has twice (clocks back)."""


def london_moment(on: date, at: time) -> datetime:
    """The moment a London wall-clock time names, or a LocalTimeError that says why there is none."""
    first = datetime.combine(on, at, LONDON)
    second = first.replace(fold=1)
    back = first.astimezone(UTC).astimezone(LONDON)
    if (back.date(), back.time()) != (on, at.replace(tzinfo=None)):
        raise LocalTimeError(
            f"{at:%H:%M} on {day(on)} does not exist in London: the clocks go forward an hour that night"
        )
    if first.utcoffset() != second.utcoffset():
        raise LocalTimeError(
            f"{at:%H:%M} on {day(on)} happens twice in London: the clocks go back an hour that night; "
            "choose another time"
        )
    return first


# ---------------------------------------------------------------- a cohort's calendar


def weeks_between(reference: date, target: date) -> int:
    """Whole weeks to move a calendar so that nothing comes closer to the deadline than before."""
    return math.ceil((target - reference).days / 7)


def moved(calendar: ProgrammeCalendar, weeks: int) -> ProgrammeCalendar:
    """The same calendar ``weeks`` later: the same weekdays, the same London times."""
    shift = timedelta(weeks=weeks)
    return calendar.model_copy(
        update={
            "training": [s.model_copy(update={"date": s.date + shift}) for s in calendar.training],
            "events": [s.model_copy(update={"date": s.date + shift}) for s in calendar.events],
            "programme_starts": calendar.programme_starts + shift,
            "programme_ends": calendar.programme_ends + shift,
        }
    )


def reference_calendar(scheme: Scheme) -> ProgrammeCalendar:
    """The calendar of the cohort the scheme's source describes (its definition's ``calendar``)."""
    own = scheme.calendar
    return ProgrammeCalendar(
        training=[s.session() for s in own.training],
        programme_starts=own.programme_starts,
        programme_ends=own.programme_ends,
        events=[s.session() for s in own.events],
        minimum_meetings=scheme.minimum_meetings,
    )


def default_calendar(scheme: Scheme, deadline: datetime) -> ProgrammeCalendar:
    """The scheme's calendar moved to a cohort whose recruitment deadline is ``deadline``."""
    weeks = weeks_between(london_time(scheme.calendar.deadline_at()).date(), london_time(deadline).date())
    return moved(reference_calendar(scheme), weeks)


def calendar_of(cohort: Cohort) -> ProgrammeCalendar:
    """A cohort's calendar: the one it was opened with, or its scheme's moved to its deadline."""
    if cohort.calendar is not None:
        return cohort.calendar
    from mentoring.scheme import get_scheme  # noqa: PLC0415 (the scheme module imports this one)

    return default_calendar(get_scheme(cohort.scheme_id), cohort.recruitment_deadline)


def cohort_calendar(scheme: Scheme, deadline: datetime, given: CalendarRequest | None) -> ProgrammeCalendar:
    """The coordinator's calendar, each part not given taken from the scheme's (moved to the deadline)."""
    calendar = default_calendar(scheme, deadline)
    if given is None:
        return calendar
    chosen = {name: getattr(given, name) for name in given.model_fields_set}
    return calendar.model_copy(update={k: v for k, v in chosen.items() if v is not None})


def calendar_problems(
    calendar: ProgrammeCalendar, deadline: datetime, scheme: Scheme, prefix: str = "calendar."
) -> list[FieldError]:
    """Everything wrong with a cohort's calendar, each named by its field and said with its reason."""
    return [
        FieldError(field=prefix + field, message=message)
        for field, message in _problems(calendar, deadline, scheme)
    ]


def _problems(calendar: ProgrammeCalendar, deadline: datetime, scheme: Scheme) -> Iterator[tuple[str, str]]:
    starts, ends = calendar.programme_starts, calendar.programme_ends
    closing = f"the recruitment deadline, {when(deadline)}"
    if ends < starts:
        yield "programme_ends", f"is {day(ends)}, before the programme starts ({day(starts)})"
    if starts < london_time(deadline).date():
        yield "programme_starts", f"is {day(starts)}, before {closing}; the programme starts after matching"
    span = f"the programme ({day(starts)} to {day(ends)})"
    for kind, sessions in (("training", calendar.training), ("events", calendar.events)):
        for i, session in enumerate(sessions):
            where = f"{kind}.{i}"
            yield from _session_problems(session, where, scheme)
            try:
                begins = london_moment(session.date, session.starts)
            except LocalTimeError:
                continue
            if kind == "training" and begins <= deadline:
                yield (
                    f"{where}.date",
                    f"{session.title} on {session_when(session)} is before {closing}. People are told "
                    "their training dates when they apply and are matched at the deadline, so training "
                    "comes after it: move the training later or the deadline earlier",
                )
            elif kind == "training" and session.date > ends:
                yield f"{where}.date", f"{session.title} on {day(session.date)} is after the end of {span}"
            elif kind == "events" and not starts <= session.date <= ends:
                yield f"{where}.date", f"{session.title} on {day(session.date)} is outside {span}"


def _session_problems(session: CalendarSession, where: str, scheme: Scheme) -> Iterator[tuple[str, str]]:
    for j, role in enumerate(session.roles):
        if role not in scheme.roles:
            yield f"{where}.roles.{j}", f"{scheme.name} has no {role.value} role"
    for name, at in (("starts", session.starts), ("ends", session.ends)):
        try:
            london_moment(session.date, at)
        except LocalTimeError as problem:
            yield f"{where}.{name}", str(problem)
    if session.ends <= session.starts:
        yield f"{where}.ends", f"is {session.ends:%H:%M}, not after the start ({session.starts:%H:%M})"


# ---------------------------------------------------------------- diary invitations


def invitation(cohort: Cohort, scheme_name: str, sessions: Sequence[CalendarSession]) -> bytes:
    """An iCalendar file (RFC 5545) of these sessions, for people's diaries.

    ``METHOD:PUBLISH``: entries to add, not meeting requests to answer. Each session keeps the same
    UID in every email of the cohort, so a calendar that receives it twice updates one entry.
    """
    # Imported here: only the notify function sends invitations (the library is in the shared layer).
    from icalendar import Calendar, Event  # noqa: PLC0415

    diary = Calendar()
    diary.add("prodid", "-//EDI mentoring//Programme calendar//EN")
    diary.add("version", "2.0")
    diary.add("method", "PUBLISH")
    diary.add("x-wr-calname", f"{cohort.name} ({scheme_name})")
    for session in sessions:
        event = Event()
        event.add("uid", f"{cohort.cohort_id}.{session_id(session)}@mentoring")
        event.add("dtstamp", cohort.created_at.astimezone(UTC))
        event.add("dtstart", starts_at(session))
        event.add("dtend", ends_at(session))
        event.add("summary", f"{scheme_name}: {session.title}")
        event.add("location", session.location or ("Online" if session.where == "online" else "In person"))
        required = "Compulsory for" if session.compulsory else "For"
        who = " and ".join(sorted(f"{r.value}s" for r in session.roles))
        event.add("description", f"{cohort.name}. {required} {who}.")
        event.add("transp", "OPAQUE")
        diary.add_component(event)
    diary.add_missing_timezones()
    data: bytes = diary.to_ical()
    return data


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.casefold()).strip("-")
