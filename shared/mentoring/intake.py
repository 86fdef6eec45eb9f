"""Intake: one accepted submission becomes an application with its eligibility decided, and its
monitoring answers are held, still sealed, for their batch: intake never reads them."""

from __future__ import annotations

from datetime import datetime, timedelta

from mentoring.eligibility import decide
from mentoring.identity import person_key
from mentoring.institutions import common_grade
from mentoring.models import Application, EmailKind, IntakeMessage, Notification, PendingAnswers, Role
from mentoring.ports import (
    ApplicationStore,
    CohortClosedError,
    CohortNotFoundError,
    CohortStore,
    NotificationQueue,
)
from mentoring.scheme import get_scheme


def split_monitoring(message: IntakeMessage, scheme_id: str, eligible: bool) -> PendingAnswers:
    """The sealed answers with only the reporting group: no id, name, email or time of the person."""
    submission = message.submission
    return PendingAnswers(
        cohort_id=submission.cohort_id,
        scheme_id=scheme_id,
        role=submission.role,
        eligible=eligible,
        sealed=message.monitoring,
    )


def to_application(message: IntakeMessage, scheme_id: str) -> Application:
    submission = message.submission
    scheme = get_scheme(scheme_id)
    applicant = submission.applicant
    if message.partner is not None:
        # A partner's applicants belong to the partner that the API key authenticated.
        applicant = applicant.model_copy(update={"institution": message.partner})
    answers = {**submission.self_identification.answers, **submission.profile.answers}
    return Application(
        application_id=message.submission_id,
        cohort_id=submission.cohort_id,
        scheme_id=scheme_id,
        role=submission.role,
        channel=message.channel,
        partner=message.partner,
        applicant=applicant,
        self_identification=submission.self_identification,
        profile=submission.profile,
        eligibility=decide(scheme, submission.role, applicant, answers),
        common_grade=common_grade(applicant.institution, applicant.grade),
        received_at=message.received_at,
        partner_reference=message.reference,
        claims=message.claims,
        person_key=person_key(applicant.given_name, applicant.family_name, applicant.institution),
    )


def process_submission(
    message: IntakeMessage,
    cohorts: CohortStore,
    applications: ApplicationStore,
    notifications: NotificationQueue,
    *,
    now: datetime,
    grace: timedelta,
) -> Application:
    """Records the application, and holds its sealed answers unless the cohort's deadline plus the
    grace period for late answers has passed: then they could never be stored in a batch of k."""
    cohort = cohorts.get_cohort(message.submission.cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {message.submission.cohort_id!r} does not exist")
    application = to_application(message, cohort.scheme_id)
    if application.role is Role.MENTEE and application.eligibility.eligible:
        # Places are counted as eligible mentees arrive; later ones wait, and are told so.
        limit = cohort.places or get_scheme(cohort.scheme_id).max_mentees
        if not cohorts.take_place(cohort.cohort_id, application.application_id, limit):
            application = application.model_copy(update={"waiting_list": True})
    monitoring = (
        split_monitoring(message, cohort.scheme_id, application.eligibility.eligible)
        if now < cohort.recruitment_deadline + grace
        else None
    )
    try:
        # Recorded only while the cohort is open, so matching never starts between the check
        # and the write and leaves an accepted application out in silence.
        applications.record_application(application, monitoring, while_open=True)
    except CohortClosedError:
        application = application.model_copy(update={"late": True})
        applications.record_application(application, monitoring)
    # Sent on a redelivery too: notify's idempotency makes it one email whatever the count.
    notes = [
        Notification(
            cohort_id=cohort.cohort_id,
            kind=EmailKind.ACKNOWLEDGEMENT,
            application_id=application.application_id,
        )
    ]
    if application.person_key and len(applications.same_person(cohort.cohort_id, application.person_key)) > 1:
        # One name at one institution under two addresses (two doors, say): the coordinator decides.
        notes.append(
            Notification(
                cohort_id=cohort.cohort_id,
                kind=EmailKind.POSSIBLE_DUPLICATE,
                application_id=application.application_id,
            )
        )
    notifications.send_all(notes)
    return application
