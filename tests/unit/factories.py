"""Small builders of domain objects with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from mentoring.eligibility import decide
from mentoring.identity import person_key
from mentoring.institutions import common_grade
from mentoring.models import (
    Applicant,
    Application,
    ApplicationSubmission,
    Cohort,
    IntakeMessage,
    MatchingProfile,
    MonitoringAnswers,
    Role,
    SelfIdentification,
)
from mentoring.ports import Lease
from mentoring.programme import default_calendar
from mentoring.scheme import get_scheme

from tests.unit.fakes import WrappingSeal

SCHEME_ID = "b-mentor-professional"
NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def lease(owner: str = "run-1", now: datetime = NOW, minutes: int = 11) -> Lease:
    """A matching run's hold on its cohort, as an invocation of ``minutes`` would take it."""
    return Lease(owner=owner, taken=now, until=now + timedelta(minutes=minutes))


def applicant(**overrides: Any) -> Applicant:
    n = next(_ids)
    fields: dict[str, Any] = {
        "given_name": f"Given{n}",
        "family_name": f"Family{n}",
        "email": f"person{n}@example.ac.uk",
        "institution": "UCL",
        "department": "Finance",
        "job_title": "Officer",
        "grade": 6,
    }
    return Applicant(**(fields | overrides))


def application(
    role: Role = Role.MENTEE,
    *,
    application_id: str | None = None,
    cohort_id: str = "cohort-a",
    minority: str = "yes",
    skills: tuple[str, ...] = ("data",),
    goals: tuple[str, ...] = ("leadership",),
    capacity: int = 1,
    **applicant_fields: Any,
) -> Application:
    person = applicant(**applicant_fields)
    answers = SelfIdentification(minority_ethnic_background=minority, staff_group="professional_services")
    profile = MatchingProfile(skills=list(skills), career_goals=list(goals), capacity=capacity)
    scheme = get_scheme(SCHEME_ID)
    return Application(
        application_id=application_id or f"{role.value}-{next(_ids):04d}",
        cohort_id=cohort_id,
        scheme_id=SCHEME_ID,
        role=role,
        channel="web_form",
        applicant=person,
        self_identification=answers,
        profile=profile,
        eligibility=decide(scheme, role, person, answers.answers | profile.answers),
        common_grade=common_grade(person.institution, person.grade),
        received_at=NOW,
        person_key=person_key(person.given_name, person.family_name, person.institution),
    )


def mentor(**kwargs: Any) -> Application:
    kwargs.setdefault("grade", 9)
    return application(Role.MENTOR, **kwargs)


def cohort(
    cohort_id: str = "cohort-a",
    status: str = "open",
    deadline: datetime | None = None,
    scheme_id: str = SCHEME_ID,
) -> Cohort:
    deadline = deadline or NOW + timedelta(days=7)
    return Cohort(
        cohort_id=cohort_id,
        scheme_id=scheme_id,
        name="Test cohort",
        recruitment_deadline=deadline,
        calendar=default_calendar(get_scheme(scheme_id), deadline),
        coordinator_email="coordinator@example.ac.uk",
        status=status,  # type: ignore[arg-type]
        created_at=NOW,
    )


def submission(
    cohort_id: str = "cohort-a", role: str = "mentee", **applicant_fields: Any
) -> ApplicationSubmission:
    return ApplicationSubmission(
        cohort_id=cohort_id,
        role=Role(role),
        applicant=applicant(**applicant_fields),
        self_identification=SelfIdentification(
            minority_ethnic_background="yes", staff_group="professional_services"
        ),
        profile=MatchingProfile(skills=["data"], career_goals=["leadership"]),
        monitoring=MonitoringAnswers(ethnicity="black_caribbean", religion="sikh", age_band="25-34"),
        consent=True,
    )


def intake_message(sub: ApplicationSubmission, partner: str | None = None) -> IntakeMessage:
    """The message submit queues: the answers sealed (by the stand-in for KMS)."""
    return IntakeMessage(
        submission_id=f"sub-{next(_ids)}",
        received_at=NOW,
        channel="partner" if partner else "web_form",
        partner=partner,
        submission=sub.details(),
        monitoring=WrappingSeal().seal(sub.monitoring, sub.cohort_id),
    )
