"""What each role may see and do, checked on the server for every page and action.

An administrator sees and does everything; a coordinator acts on the cohorts of their own schemes;
a partner's EDI lead reads, and only their own institution's applicants.
"""

from __future__ import annotations

from mentoring.models import Application, Cohort, HeldMark, StaffMember, StaffRole
from mentoring.scheme import load_schemes


class ForbiddenError(PermissionError):
    """The signed-in person's role does not reach this page or action (403)."""


def institution_of(application: Application) -> str | None:
    return application.partner or application.applicant.institution


def visible_schemes(staff: StaffMember) -> set[str]:
    schemes = load_schemes()
    if staff.role is StaffRole.ADMINISTRATOR:
        return set(schemes)
    if staff.role is StaffRole.COORDINATOR:
        return set(staff.schemes) & set(schemes)
    return {scheme_id for scheme_id, s in schemes.items() if staff.institution in s.institutions}


def can_see_cohort(staff: StaffMember, cohort: Cohort) -> bool:
    return cohort.scheme_id in visible_schemes(staff)


def can_act_on(staff: StaffMember, scheme_id: str) -> bool:
    """Open, change and publish: administrators anywhere, coordinators in their own schemes."""
    if staff.role is StaffRole.ADMINISTRATOR:
        return True
    return staff.role is StaffRole.COORDINATOR and scheme_id in staff.schemes


def can_see_application(staff: StaffMember, application: Application) -> bool:
    if staff.role is StaffRole.PARTNER_LEAD:
        return staff.institution is not None and institution_of(application) == staff.institution
    return can_act_on(staff, application.scheme_id)


def require_cohort(staff: StaffMember, cohort: Cohort | None) -> Cohort:
    """The cohort, if this person may see it; a cohort out of scope looks like none at all."""
    if cohort is None or not can_see_cohort(staff, cohort):
        raise ForbiddenError("You do not have access to this cohort.")
    return cohort


def require_action(staff: StaffMember, cohort: Cohort) -> None:
    if not can_act_on(staff, cohort.scheme_id):
        raise ForbiddenError("Your role does not allow this action on this cohort.")


def require_administrator(staff: StaffMember) -> None:
    if staff.role is not StaffRole.ADMINISTRATOR:
        raise ForbiddenError("Only an administrator can do this.")


def applications_for(staff: StaffMember, applications: list[Application]) -> list[Application]:
    """The applications this person may see: a partner lead's own institution's only."""
    return [a for a in applications if can_see_application(staff, a)]


def marks_for(staff: StaffMember, marks: list[HeldMark]) -> list[HeldMark]:
    """The held applications this person may count: a partner lead's own institution's only."""
    if staff.role is StaffRole.PARTNER_LEAD:
        return [m for m in marks if staff.institution is not None and m.institution == staff.institution]
    return marks
