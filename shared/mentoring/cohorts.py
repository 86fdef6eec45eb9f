"""Cohorts: a coordinator opens a cohort of a scheme, and its deadline is scheduled with it."""

from __future__ import annotations

from datetime import datetime, timedelta

from mentoring.models import Cohort, CohortProgress, FieldError, NewCohort, Role
from mentoring.ports import (
    ApplicationStore,
    CohortExistsError,
    CohortNotFoundError,
    CohortStore,
    DeadlineScheduler,
)
from mentoring.programme import calendar_problems, cohort_calendar
from mentoring.scheme import load_schemes

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
    cohorts.create_cohort(cohort)
    return cohort


def progress(cohort_id: str, cohorts: CohortStore, applications: ApplicationStore) -> CohortProgress:
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    apps = applications.list_applications(cohort_id)
    roles = [r.value for r in Role]
    return CohortProgress(
        cohort=cohort,
        applications=len(apps),
        eligible={r: sum(1 for a in apps if a.role == r and a.eligibility.eligible) for r in roles},
        ineligible={r: sum(1 for a in apps if a.role == r and not a.eligibility.eligible) for r in roles},
        matches=len(applications.list_matches(cohort_id)),
    )
