"""What the coordinator follows once the programme runs: each pair's meetings against the scheme's
minimum, training attendance, the pairs that need attention, and the same across a scheme's
cohorts and years. Read-only views over the programme's records (mentoring.participation)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mentoring.institutions import institution_name
from mentoring.models import Application, CalendarSession, Cohort, HelpRequest, Partnership, Role
from mentoring.participation import partnerships
from mentoring.ports import ApplicationStore, ProgrammeStore
from mentoring.programme import LONDON, calendar_of, day, session_id, starts_at
from mentoring.programme_dates import NUDGE_AFTER_MATCHING
from mentoring.scheme import get_scheme
from mentoring.text import csv_cell

# A pair with no meeting recorded by the time the nudge goes (mentoring.programme_dates: the
# project's default) needs the coordinator's word too, as does one that ended early and is not
# re-matched, and anyone who asked for help.


@dataclass(frozen=True)
class PairRow:
    partnership: Partnership
    mentee: Application | None
    mentor: Application | None
    attention: tuple[str, ...]

    @property
    def status(self) -> str:
        if self.partnership.ended is not None:
            return "ended early"
        return "re-matched" if self.partnership.rematched else "active"


@dataclass(frozen=True)
class SessionRow:
    session: CalendarSession
    session_id: str
    expected: int
    confirmed: int
    held: bool


@dataclass(frozen=True)
class ProgrammeView:
    cohort: Cohort
    minimum_meetings: int
    pairs: list[PairRow]
    sessions: list[SessionRow]
    help_requests: list[tuple[HelpRequest, Application | None]]
    free_mentors: int = 0
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def needing_attention(self) -> list[PairRow]:
        return [row for row in self.pairs if row.attention]


def attention(
    pair: Partnership, cohort: Cohort, helped: Sequence[HelpRequest], now: datetime, minimum: int
) -> tuple[str, ...]:
    """Why the coordinator should look at this pair now, in words (nothing: all is well)."""
    reasons = []
    today = now.astimezone(LONDON).date()
    calendar = calendar_of(cohort)
    if pair.ended is not None:
        by = pair.ended.ended_by
        reasons.append(f"Ended early by the {by} on {day(pair.ended.ended_at.astimezone(LONDON).date())}")
    elif pair.meetings == 0 and now >= cohort.recruitment_deadline + NUDGE_AFTER_MATCHING:
        weeks = NUDGE_AFTER_MATCHING.days // 7
        reasons.append(f"No meeting recorded {weeks} weeks after matching")
    elif today > calendar.programme_ends and pair.meetings < minimum:
        reasons.append(f"{pair.meetings} meetings recorded, below the scheme's {minimum}")
    for request in helped:
        if request.application_id in (pair.mentee_id, pair.mentor_id):
            reasons.append(
                f"Asked for help on {day(request.asked_at.astimezone(LONDON).date())}: {request.message}"
            )
    return tuple(reasons)


def programme_view(
    cohort: Cohort, now: datetime, programme: ProgrammeStore, applications: ApplicationStore
) -> ProgrammeView:
    apps = {a.application_id: a for a in applications.list_applications(cohort.cohort_id)}
    calendar = calendar_of(cohort)
    minimum = calendar.minimum_meetings
    pairs = partnerships(cohort.cohort_id, programme, applications)
    helped = programme.help_requests(cohort.cohort_id)
    # An ended pair whose mentee has a new mentor needs nothing more.
    rematched = {p.mentee_id for p in pairs if p.ended is None}
    rows = []
    for pair in pairs:
        reasons = attention(pair, cohort, helped, now, minimum)
        if pair.ended is not None and pair.mentee_id in rematched:
            reasons = tuple(r for r in reasons if not r.startswith("Ended early")) or ()
        rows.append(PairRow(pair, apps.get(pair.mentee_id), apps.get(pair.mentor_id), reasons))
    attended: dict[str, set[str]] = {}
    for record in programme.attendance(cohort.cohort_id):
        attended.setdefault(record.session_id, set()).add(record.application_id)
    taking_part = {Role.MENTEE: {p.mentee_id for p in pairs}, Role.MENTOR: {p.mentor_id for p in pairs}}
    sessions = []
    for session in calendar.training:
        sid = session_id(session)
        expected = set().union(*(taking_part[role] for role in session.roles))
        sessions.append(
            SessionRow(
                session,
                sid,
                len(expected),
                len(attended.get(sid, set()) & expected),
                starts_at(session) <= now,
            )
        )
    current = [p for p in pairs if p.ended is None]
    load: dict[str, int] = {}
    for pair in current:
        load[pair.mentor_id] = load.get(pair.mentor_id, 0) + 1
    scheme = get_scheme(cohort.scheme_id)
    free = sum(
        1
        for a in apps.values()
        if a.role is Role.MENTOR
        and a.eligibility.eligible
        and a.withdrawn is None
        and not a.late
        and load.get(a.application_id, 0) < min(a.profile.capacity, scheme.mentor_capacity_max)
    )
    summary = {
        "pairs": len(current),
        "reached_minimum": sum(1 for p in current if p.meetings >= minimum),
        "meetings": sum(p.meetings for p in pairs),
        "ended_early": sum(1 for p in pairs if p.ended is not None),
        "rematched": sum(1 for p in current if p.rematched),
        "help_requests": len(helped),
        "needing_attention": sum(1 for r in rows if r.attention),
    }
    return ProgrammeView(
        cohort,
        minimum,
        rows,
        sessions,
        [(h, apps.get(h.application_id)) for h in sorted(helped, key=lambda h: h.asked_at, reverse=True)],
        free,
        summary,
    )


def _name(application: Application | None) -> str:
    if application is None:
        return ""
    return f"{application.applicant.given_name} {application.applicant.family_name}"


def programme_csv(view: ProgrammeView) -> str:
    """One row a pair (ended ones too), for the coordinator's spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["mentee_id", "mentee", "mentee_institution", "mentor_id", "mentor", "mentor_institution", "status",
         "meetings", "minimum_meetings", "minutes", "last_met", "ended_on", "ended_by", "needs_attention"]
    )  # fmt: skip
    for row in view.pairs:
        pair = row.partnership
        cells = [
            pair.mentee_id,
            _name(row.mentee),
            institution_name(row.mentee.applicant.institution) if row.mentee else "",
            pair.mentor_id,
            _name(row.mentor),
            institution_name(row.mentor.applicant.institution) if row.mentor else "",
            row.status,
            str(pair.meetings),
            str(view.minimum_meetings),
            str(pair.minutes),
            pair.last_met.isoformat() if pair.last_met else "",
            pair.ended.ended_at.astimezone(LONDON).date().isoformat() if pair.ended else "",
            pair.ended.ended_by if pair.ended else "",
            "; ".join(row.attention),
        ]
        writer.writerow([csv_cell(cell) for cell in cells])
    return out.getvalue()


@dataclass(frozen=True)
class CohortFigures:
    """One cohort's programme in numbers, for the scheme-level view across cohorts and years."""

    cohort: Cohort
    pairs: int
    reached_minimum: int
    ended_early: int
    rematched: int
    training_expected: int
    training_confirmed: int
    help_requests: int

    @property
    def year(self) -> int:
        return calendar_of(self.cohort).programme_starts.year


def cohort_figures(view: ProgrammeView) -> CohortFigures:
    held = [s for s in view.sessions if s.held]
    return CohortFigures(
        view.cohort,
        view.summary["pairs"],
        view.summary["reached_minimum"],
        view.summary["ended_early"],
        view.summary["rematched"],
        sum(s.expected for s in held),
        sum(s.confirmed for s in held),
        view.summary["help_requests"],
    )
