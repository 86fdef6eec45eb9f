"""Cohorts: a coordinator opens a cohort of a scheme, and its deadline and its programme's dates
(``mentoring.programme_dates``) are scheduled with it; moving the deadline moves them."""

from __future__ import annotations

from datetime import datetime, timedelta

from mentoring.models import (
    Application,
    Cohort,
    CohortProgress,
    CohortStatus,
    FieldError,
    NewCohort,
    Role,
    UnmatchedMentee,
)
from mentoring.ports import (
    ApplicationStore,
    CohortExistsError,
    CohortNotFoundError,
    CohortStore,
    DeadlineScheduler,
)
from mentoring.programme import calendar_of, calendar_problems, cohort_calendar
from mentoring.programme_dates import schedule_changes
from mentoring.scheme import get_scheme, load_schemes

# A deadline closer than this could fire before the schedule exists.
MINIMUM_LEAD = timedelta(seconds=30)


class CohortRequestError(ValueError):
    """A request a coordinator can fix; ``errors`` name each field to change and why."""

    def __init__(self, field: str, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.errors = errors or [FieldError(field=field, message=message)]


def create_cohort(
    request: NewCohort, now: datetime, cohorts: CohortStore, scheduler: DeadlineScheduler
) -> Cohort:
    if request.scheme_id not in load_schemes():
        known = ", ".join(sorted(load_schemes()))
        raise CohortRequestError("scheme_id", f"no scheme {request.scheme_id!r}; known schemes: {known}")
    if request.recruitment_deadline < now + MINIMUM_LEAD:
        raise CohortRequestError("recruitment_deadline", "the recruitment deadline must be in the future")
    scheme = load_schemes()[request.scheme_id]
    calendar = cohort_calendar(scheme, request.recruitment_deadline, request.calendar)
    problems = calendar_problems(calendar, request.recruitment_deadline, scheme)
    if problems:
        first = problems[0]
        raise CohortRequestError(first.field, f"the calendar cannot work: {first.message}", problems)
    if cohorts.get_cohort(request.cohort_id) is not None:
        raise CohortExistsError(f"cohort {request.cohort_id!r} already exists")
    cohort = Cohort(**request.model_dump(exclude={"calendar"}), calendar=calendar, created_at=now)
    scheduler.schedule_deadline(cohort.cohort_id, cohort.recruitment_deadline)
    scheduler.schedule_programme(cohort.cohort_id, schedule_changes(None, cohort, now)[0])
    cohorts.create_cohort(cohort)
    return cohort


def progress(cohort_id: str, cohorts: CohortStore, applications: ApplicationStore) -> CohortProgress:
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    every = applications.list_applications(cohort_id)
    apps = [a for a in every if a.withdrawn is None]
    roles = [r.value for r in Role]
    return CohortProgress(
        cohort=cohort,
        applications=len(apps),
        eligible={r: sum(1 for a in apps if a.role == r and a.eligibility.eligible) for r in roles},
        ineligible={r: sum(1 for a in apps if a.role == r and not a.eligibility.eligible) for r in roles},
        matches=len(applications.list_matches(cohort_id)),
        withdrawn=len(every) - len(apps),
        possible_duplicates=applications.possible_duplicates(cohort_id),
    )


class CohortStateError(ValueError):
    """The cohort is not in the state this step needs (409)."""


def move_deadline(
    cohort_id: str, deadline: datetime, now: datetime, cohorts: CohortStore, scheduler: DeadlineScheduler
) -> Cohort:
    """Extends or brings forward an open cohort's recruitment deadline; its schedule moves with it.

    The schedule moves first: should the cohort then turn out to be closed, the moved schedule
    finds nothing open to match, while the other order could leave a deadline with no schedule.
    """
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    if cohort.status is not CohortStatus.OPEN or cohort.recruitment_deadline <= now:
        raise CohortStateError("recruitment has already closed for this cohort")
    if deadline < now + timedelta(minutes=1):
        raise CohortRequestError(
            "recruitment_deadline", "the new deadline must be at least a minute from now"
        )
    return _move(cohort, deadline, now, cohorts, scheduler)


def close_recruitment(
    cohort_id: str, now: datetime, cohorts: CohortStore, scheduler: DeadlineScheduler
) -> Cohort:
    """Closes recruitment early: the form refuses applications at once, and matching starts as soon
    as the schedule can fire (it needs a moment to exist before its time)."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    if cohort.status is not CohortStatus.OPEN or cohort.recruitment_deadline <= now:
        raise CohortStateError("recruitment has already closed for this cohort")
    deadline = (now + MINIMUM_LEAD).replace(microsecond=0)
    return _move(cohort, deadline, now, cohorts, scheduler)


def _move(
    cohort: Cohort, deadline: datetime, now: datetime, cohorts: CohortStore, scheduler: DeadlineScheduler
) -> Cohort:
    """The deadline's schedule, and the programme dates that follow it, move before the cohort does
    (a retry finds the cohort as it was and moves them again, to the same times)."""
    _check_calendar(cohort, deadline)
    moved = cohort.model_copy(update={"recruitment_deadline": deadline})
    scheduler.schedule_deadline(cohort.cohort_id, deadline)
    scheduler.schedule_programme(cohort.cohort_id, *schedule_changes(cohort, moved, now))
    if not cohorts.move_deadline(cohort.cohort_id, deadline):
        raise CohortStateError("recruitment has already closed for this cohort")
    return moved


def _check_calendar(cohort: Cohort, deadline: datetime) -> None:
    """The programme still follows the deadline: its training and events come after it."""
    moved = cohort.model_copy(update={"recruitment_deadline": deadline})
    problems = calendar_problems(calendar_of(moved), deadline, get_scheme(cohort.scheme_id))
    if problems:
        raise CohortRequestError(
            "recruitment_deadline",
            f"the cohort's calendar cannot work with this deadline: {problems[0].message}",
            problems,
        )


def admit_from_waiting_list(
    cohort_id: str, application_id: str, cohorts: CohortStore, applications: ApplicationStore
) -> Application:
    """Gives a waiting-list mentee a place, if one is free; after matching, they join the mentees
    the coordinator can pair at review."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    application = applications.get_application(cohort_id, application_id)
    if application is None or not application.waiting_list or not application.eligibility.eligible:
        raise CohortStateError("this application is not on the waiting list")
    if application.withdrawn is not None:
        raise CohortStateError("this application is withdrawn: it takes no place")
    if cohort.status not in {CohortStatus.OPEN, CohortStatus.PROVISIONAL}:
        raise CohortStateError(f"the cohort is {cohort.status.value}: places can no longer change")
    limit = cohort.places or get_scheme(cohort.scheme_id).max_mentees
    if not cohorts.admit(application, limit):
        raise CohortStateError(f"all {limit} mentee places are taken: a place must be freed first")
    admitted = application.model_copy(update={"waiting_list": False})
    if cohort.status is CohortStatus.PROVISIONAL:
        current = applications.list_unmatched(cohort_id)
        applications.replace_results(
            cohort_id,
            applications.list_matches(cohort_id),
            [*current, UnmatchedMentee(application_id=application_id, reason=ADMITTED)],
        )
    return admitted


ADMITTED = "given a place from the waiting list after matching; pair them with a mentor who has room"
