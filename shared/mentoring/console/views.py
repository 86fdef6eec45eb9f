"""What each console page shows, gathered from the stores through the domain (no HTML here)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, cast

from mentoring.confirmation import CONFIRMATION_WINDOW, Unconfirmed, unconfirmed
from mentoring.console.access import (
    ForbiddenError,
    applications_for,
    can_act_on,
    can_see_application,
    institution_of,
    marks_for,
    visible_schemes,
)
from mentoring.deadline import rerun_refusal
from mentoring.institutions import institution_name, load_institutions
from mentoring.models import (
    Application,
    CalendarSession,
    Cohort,
    CohortMatches,
    CohortStatus,
    Match,
    MatchChange,
    Role,
    StaffMember,
    StaffRole,
)
from mentoring.ports import ApplicationStore, CohortStore, HeldSubmissions
from mentoring.programme import calendar_of, day, session_line
from mentoring.review import cohort_matches
from mentoring.scheme import Scheme, get_scheme, load_schemes

STATUSES = {
    "not_eligible": "Not eligible",
    "eligible": "Eligible",
    "waiting_list": "Waiting list",
    "late": "Late",
    "matched": "Matched",
    "not_matched": "Not matched",
    "withdrawn": "Withdrawn",
}


def person(application: Application) -> str:
    return f"{application.applicant.given_name} {application.applicant.family_name}"


def status_of(application: Application, matched: set[str], unmatched: set[str]) -> str:
    if application.withdrawn is not None:
        return "withdrawn"
    if not application.eligibility.eligible:
        return "not_eligible"
    if application.application_id in matched:
        return "matched"
    if application.application_id in unmatched:
        return "not_matched"
    if application.late:
        return "late"
    return "waiting_list" if application.waiting_list else "eligible"


def cohorts_by_scheme(
    staff: StaffMember, cohorts: list[Cohort], status: str = ""
) -> list[tuple[Scheme, list[Cohort]]]:
    """The cohorts this person may see, grouped by scheme, soonest deadline first."""
    schemes = load_schemes()
    visible = visible_schemes(staff)
    grouped: dict[str, list[Cohort]] = {}
    for cohort in cohorts:
        if (
            cohort.scheme_id in visible
            and cohort.scheme_id in schemes
            and status in {"", cohort.status.value}
        ):
            grouped.setdefault(cohort.scheme_id, []).append(cohort)
    return [(schemes[s], grouped[s]) for s in sorted(grouped, key=lambda s: schemes[s].name)]


@dataclass
class Funnel:
    """A cohort's applications at each step, by role: what the dashboard shows."""

    steps: list[tuple[str, dict[str, int]]] = field(default_factory=list)


def funnel(
    applications: list[Application], matches: list[Match], result_known: bool, held: Unconfirmed
) -> Funnel:
    matched = {m.mentee_id for m in matches} | {m.mentor_id for m in matches}

    def count(test: object) -> dict[str, int]:
        counts = Counter(a.role.value for a in applications if test(a))  # type: ignore[operator]
        return {r.value: counts.get(r.value, 0) for r in Role}

    def by_role(counts: Counter[Role]) -> dict[str, int]:
        return {r.value: counts.get(r, 0) for r in Role}

    # Sent from the form, not yet applications: numbers only (whose is not shown until confirmed).
    # A withdrawn application was applied; it counts in no later step, as it takes no part.
    steps = [
        ("Awaiting the applicant's confirmation", by_role(held.awaiting)),
        ("Not confirmed in time", by_role(held.lapsed)),
        ("Applied", count(lambda a: True)),
        ("Withdrawn", count(lambda a: a.withdrawn is not None)),
        ("Eligible", count(lambda a: a.withdrawn is None and a.eligibility.eligible)),
        ("Not eligible", count(lambda a: a.withdrawn is None and not a.eligibility.eligible)),
        (
            "On the waiting list",
            count(lambda a: a.withdrawn is None and a.eligibility.eligible and a.waiting_list),
        ),
        ("Late (after matching began)", count(lambda a: a.withdrawn is None and a.late)),
    ]
    if result_known:
        steps.append(("Matched", count(lambda a: a.application_id in matched)))
    return Funnel(steps)


@dataclass(frozen=True)
class ApplicationRow:
    application: Application
    name: str
    institution: str
    status: str
    reasons: list[str]


def application_rows(
    staff: StaffMember,
    cohort: Cohort,
    store: ApplicationStore,
    role: str = "",
    status: str = "",
    institution: str = "",
) -> list[ApplicationRow]:
    """The applications this person may see, filtered, each with the reasons for its eligibility."""
    apps = applications_for(staff, store.list_applications(cohort.cohort_id))
    results_known = cohort.status in {CohortStatus.PROVISIONAL, CohortStatus.MATCHED}
    matches = store.list_matches(cohort.cohort_id) if results_known else []
    matched = {m.mentee_id for m in matches} | {m.mentor_id for m in matches}
    unmatched = {u.application_id for u in store.list_unmatched(cohort.cohort_id)} if results_known else set()
    rows = []
    for a in sorted(
        apps, key=lambda a: (a.applicant.family_name.casefold(), a.applicant.given_name.casefold())
    ):
        row_status = status_of(a, matched, unmatched)
        if role and a.role.value != role:
            continue
        if status and row_status != status:
            continue
        if institution and institution_of(a) != institution:
            continue
        eligibility = a.eligibility
        reasons = [o.reason for o in eligibility.outcomes if o.passed == eligibility.eligible]
        rows.append(ApplicationRow(a, person(a), institution_name(institution_of(a)), row_status, reasons))
    return rows


@dataclass(frozen=True)
class PairView:
    match: Match
    mentee: Application | None
    mentor: Application | None


@dataclass(frozen=True)
class FreeMentor:
    mentor: Application
    remaining: int


@dataclass(frozen=True)
class Review:
    """Provisional (or published) matches, as the coordinator reviews them."""

    result: CohortMatches
    pairs: list[PairView]
    unmatched: list[tuple[Application | None, str]]
    free_mentors: list[FreeMentor]
    mentees: list[Application]


def review(cohort: Cohort, cohorts: CohortStore, store: ApplicationStore) -> Review:
    result = cohort_matches(cohort.cohort_id, cohorts, store)
    scheme = get_scheme(cohort.scheme_id)
    apps = {a.application_id: a for a in store.list_applications(cohort.cohort_id)}
    load = Counter(m.mentor_id for m in result.matches)
    free = [
        FreeMentor(a, min(a.profile.capacity, scheme.mentor_capacity_max) - load[a.application_id])
        for a in sorted(apps.values(), key=person)
        if a.role is Role.MENTOR and a.eligibility.eligible and not a.late
        and min(a.profile.capacity, scheme.mentor_capacity_max) > load[a.application_id]
    ]  # fmt: skip
    in_result = {m.mentee_id for m in result.matches} | {u.application_id for u in result.unmatched}
    return Review(
        result=result,
        pairs=[PairView(m, apps.get(m.mentee_id), apps.get(m.mentor_id)) for m in result.matches],
        unmatched=[(apps.get(u.application_id), u.reason) for u in result.unmatched],
        free_mentors=free,
        mentees=sorted((apps[i] for i in in_result if i in apps), key=person),
    )


def may_act(staff: StaffMember, cohort: Cohort) -> bool:
    return can_act_on(staff, cohort.scheme_id)


def deadline_passed(cohort: Cohort, now: datetime) -> bool:
    return cohort.recruitment_deadline <= now


COHORT_STATUSES = [s.value for s in CohortStatus]
ROLE_STATUS_ORDER = list(STATUSES)


def places(cohort: Cohort) -> int:
    return cohort.places or get_scheme(cohort.scheme_id).max_mentees


def scheme_names(staff: StaffMember) -> list[str]:
    schemes = load_schemes()
    return [schemes[s].name for s in staff.schemes if s in schemes]


def can_open_any(staff: StaffMember) -> bool:
    return any(can_act_on(staff, scheme_id) for scheme_id in load_schemes())


def role_labels(scheme: Scheme) -> dict[str, str]:
    return {role.value: definition.label for role, definition in scheme.roles.items()}


def dashboard(
    staff: StaffMember, cohort: Cohort, store: ApplicationStore, held: HeldSubmissions, now: datetime
) -> dict[str, Any]:
    scheme = get_scheme(cohort.scheme_id)
    partner_view = staff.role is StaffRole.PARTNER_LEAD
    apps = applications_for(staff, store.list_applications(cohort.cohort_id))
    results_known = cohort.status in {CohortStatus.PROVISIONAL, CohortStatus.MATCHED}
    matches = store.list_matches(cohort.cohort_id) if results_known else []
    held_counts = unconfirmed(marks_for(staff, held.marks(cohort.cohort_id)), cohort, now)
    calendar = calendar_of(cohort)
    return {
        "cohort": cohort,
        "scheme": scheme,
        "places": places(cohort),
        "funnel": funnel(apps, matches, results_known, held_counts),
        "partner_view": partner_view,
        "may_act": may_act(staff, cohort),
        "rerun_possible": rerun_refusal(cohort, now) is None,
        "confirmation_hours": int(CONFIRMATION_WINDOW.total_seconds() // 3600),
        "now": now,
        "calendar": calendar,
        "sessions": [session_line(s) for s in sorted([*calendar.training, *calendar.events], key=_when)],
        "programme": f"{day(calendar.programme_starts)} to {day(calendar.programme_ends)}",
    }


def _when(session: CalendarSession) -> tuple[date, time]:
    return session.date, session.starts


def applications_page(
    staff: StaffMember, cohort: Cohort, store: ApplicationStore, role: str, status: str, institution: str
) -> dict[str, Any]:
    scheme = get_scheme(cohort.scheme_id)
    labels = role_labels(scheme)
    return {
        "cohort": cohort,
        "rows": application_rows(staff, cohort, store, role, status, institution),
        "partner_view": staff.role is StaffRole.PARTNER_LEAD,
        "roles": list(labels.items()),
        "role_labels": labels,
        "statuses": list(STATUSES.items()),
        "institutions": sorted(scheme.institution_names().items(), key=lambda item: item[1]),
    }


def application_page(
    staff: StaffMember, cohort: Cohort, application_id: str, store: ApplicationStore
) -> dict[str, Any]:
    scheme = get_scheme(cohort.scheme_id)
    app = store.get_application(cohort.cohort_id, application_id)
    if app is None or not can_see_application(staff, app):
        raise ForbiddenError("You do not have access to this application.")
    rows = [
        r for r in application_rows(staff, cohort, store) if r.application.application_id == application_id
    ]
    row = rows[0]
    answers = []
    for question in scheme.questions_for(app.role):
        value = app.self_identification.answer(question.id)
        if value is None:
            value = app.profile.answer(question.id)
        if value is None:
            continue
        answers.append(
            (question.label, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
        )
    if app.profile.about:
        answers.append(("About them", app.profile.about))
    acting = may_act(staff, cohort)
    possible = []
    if (
        acting
        and app.waiting_list
        and app.withdrawn is None
        and app.eligibility.eligible
        and cohort.status in {CohortStatus.OPEN, CohortStatus.PROVISIONAL}
    ):
        possible.append(("admit", "Give a place (off the waiting list)", ""))
    if acting and app.withdrawn is None and cohort.status is CohortStatus.OPEN:
        possible.append(("withdraw", "Withdraw this application", "warning"))
    return {
        "cohort": cohort,
        "app": app,
        "row": row,
        "answers": answers,
        "role_labels": role_labels(scheme),
        "actions": possible,
    }


def matches_page(staff: StaffMember, cohort: Cohort, store: ApplicationStore) -> dict[str, Any]:
    if cohort.status not in {CohortStatus.PROVISIONAL, CohortStatus.MATCHED}:
        raise ForbiddenError("This cohort has no matches yet: matching starts at the recruitment deadline.")
    scheme = get_scheme(cohort.scheme_id)
    return {
        "cohort": cohort,
        "review": review(cohort, store_of(store), store),
        "provisional": cohort.status is CohortStatus.PROVISIONAL,
        "may_act": may_act(staff, cohort),
        "role_labels": role_labels(scheme),
        "name": person,
    }


def store_of(store: ApplicationStore) -> CohortStore:
    """The Applications table's adapter is both stores; the page was given it as one."""
    return cast(CohortStore, store)


def schemes_to_open(staff: StaffMember) -> list[Scheme]:
    return sorted((s for s in load_schemes().values() if can_act_on(staff, s.id)), key=lambda s: s.name)


def describe_change(cohort: Cohort, change: MatchChange, store: ApplicationStore) -> str:
    apps = {a.application_id: a for a in store.list_applications(cohort.cohort_id)}
    mentee = apps.get(change.mentee_id)
    mentor = apps.get(change.mentor_id or "")
    who = person(mentee) if mentee else "this mentee"
    if change.action == "remove":
        return f"Leave {who} without a match."
    return f"Pair {who} with {person(mentor) if mentor else 'this mentor'}."


def staff_page(members: list[StaffMember]) -> dict[str, Any]:
    return {
        "members": sorted(members, key=lambda m: (m.role.value, m.name.casefold())),
        "roles": [(r.value, r.value.replace("_", " ").capitalize()) for r in StaffRole],
        "schemes": sorted(load_schemes().values(), key=lambda s: s.name),
        "institutions": sorted(((c, i.name) for c, i in load_institutions().items()), key=lambda x: x[1]),
        "chosen_schemes": [],
    }
