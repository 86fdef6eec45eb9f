"""A coordinator withdraws an application: at the applicant's request, or because it is not genuine
(filed under someone else's name or address). The place it held goes to the first mentee on the
waiting list, the person can apply again, and it is never matched.

The admin API's ``POST /cohorts/{id}/applications/{application_id}/withdraw`` and the console call
:func:`withdraw_application`; it is safe to call again after a failure part-way (it finishes the
job and changes nothing twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mentoring.models import (
    Application,
    CohortStatus,
    EmailKind,
    Notification,
    Role,
    Withdrawal,
    WithdrawRequest,
)
from mentoring.ports import (
    ApplicationStore,
    Claim,
    CohortNotFoundError,
    CohortStore,
    NotificationQueue,
)


class WithdrawalError(ValueError):
    """A withdrawal that cannot be made: ``status`` is 404 (no such application) or 409 (too late)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WithdrawalResult:
    application: Application
    place_given_to: str | None = None


def claims_of(application: Application) -> list[Claim]:
    """The claims that made this application unique: its applicant's address (and a partner's
    reference), as submit keyed them (the coordinator's side has no key to recompute them)."""
    return [
        Claim("reference" if key.startswith("REFERENCE#") else "applicant", key) for key in application.claims
    ]


def withdraw_application(
    cohort_id: str,
    application_id: str,
    request: WithdrawRequest,
    now: datetime,
    cohorts: CohortStore,
    applications: ApplicationStore,
    notifications: NotificationQueue,
) -> WithdrawalResult:
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    application = applications.get_application(cohort_id, application_id)
    if application is None:
        raise WithdrawalError(404, f"cohort {cohort_id!r} has no application {application_id!r}")
    if application.withdrawn is None:
        if cohort.status is not CohortStatus.OPEN:
            raise WithdrawalError(
                409,
                f"matching has started for this cohort ({cohort.status.value}); change its provisional "
                "matches instead",
            )
        application = application.model_copy(update={"withdrawn": Withdrawal(reason=request.reason, at=now)})
        if applications.withdraw(application, claims_of(application)):
            if request.reason == "applicant_request":
                notifications.send_all(
                    [
                        Notification(
                            cohort_id=cohort_id, kind=EmailKind.WITHDRAWN, application_id=application_id
                        )
                    ]
                )
        else:  # withdrawn meanwhile by another request: finish its job with what was stored
            stored = applications.get_application(cohort_id, application_id)
            application = stored or application
    return WithdrawalResult(application, _pass_on_place(application, applications, notifications))


def _pass_on_place(
    withdrawn: Application, applications: ApplicationStore, notifications: NotificationQueue
) -> str | None:
    """The withdrawn mentee's place, given to the first mentee waiting (by the time they were received)."""
    cohort_id = withdrawn.cohort_id
    if withdrawn.role is not Role.MENTEE or not applications.holds_place(cohort_id, withdrawn.application_id):
        return None
    waiting = sorted(
        (
            a
            for a in applications.list_applications(cohort_id)
            if a.role is Role.MENTEE and a.waiting_list and a.counts
        ),
        key=lambda a: (a.received_at, a.application_id),
    )
    for candidate in waiting:
        if applications.move_place(cohort_id, withdrawn.application_id, candidate.application_id):
            applications.update_application(candidate.model_copy(update={"waiting_list": False}))
            notifications.send_all(
                [
                    Notification(
                        cohort_id=cohort_id,
                        kind=EmailKind.PLACE_OFFERED,
                        application_id=candidate.application_id,
                    )
                ]
            )
            return candidate.application_id
    applications.move_place(cohort_id, withdrawn.application_id, None)
    return None
