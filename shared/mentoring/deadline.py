"""The recruitment deadline: match the cohort once, store the result, queue one email per person."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from mentoring.matching import match_cohort
from mentoring.models import EmailKind, MatchingResult, Notification, Role
from mentoring.ports import ApplicationStore, CohortNotFoundError, CohortStore, NotificationQueue
from mentoring.scheme import get_scheme


@dataclass(frozen=True)
class DeadlineRun:
    cohort_id: str
    ran: bool
    result: MatchingResult | None = None
    stages: dict[str, float] = field(default_factory=dict)  # seconds: read, match, store, queue


@dataclass
class _Stopwatch:
    """How long each stage of the run took, for the log, the metrics and the benchmark."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


def result_notifications(cohort_id: str, result: MatchingResult, mentor_ids: list[str]) -> list[Notification]:
    """One email per eligible person, and one to the coordinator."""
    mentees_of: dict[str, list[str]] = {}
    for m in result.matches:
        mentees_of.setdefault(m.mentor_id, []).append(m.mentee_id)
    notes = [
        Notification(cohort_id=cohort_id, kind=EmailKind.MATCHED_MENTEE, application_id=m.mentee_id)
        for m in result.matches
    ]
    notes += [
        Notification(cohort_id=cohort_id, kind=EmailKind.UNMATCHED, application_id=u.application_id)
        for u in result.unmatched_mentees
    ]
    notes += [
        Notification(
            cohort_id=cohort_id,
            kind=EmailKind.MATCHED_MENTOR if mentor_id in mentees_of else EmailKind.UNMATCHED,
            application_id=mentor_id,
            mentee_ids=mentees_of.get(mentor_id),
        )
        for mentor_id in sorted(mentor_ids)
    ]
    notes.append(Notification(cohort_id=cohort_id, kind=EmailKind.COORDINATOR_SUMMARY))
    return notes


def run_deadline(
    cohort_id: str,
    now: datetime,
    cohorts: CohortStore,
    applications: ApplicationStore,
    notifications: NotificationQueue,
) -> DeadlineRun:
    """Runs once per cohort, however many times the deadline event arrives."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    if not cohorts.claim_for_matching(cohort_id, now):
        return DeadlineRun(cohort_id=cohort_id, ran=False)
    clock = _Stopwatch()
    try:
        scheme = get_scheme(cohort.scheme_id)
        with clock.stage("read"):
            # Late applications (processed after the claim) are not in this round; intake told them.
            # Withdrawn ones are never matched.
            eligible = [a for a in applications.list_applications(cohort_id) if a.counts]
        mentees = [a for a in eligible if a.role is Role.MENTEE]
        mentors = [a for a in eligible if a.role is Role.MENTOR]
        with clock.stage("match"):
            result = match_cohort(scheme, cohort_id, mentees, mentors)
        with clock.stage("store"):
            applications.put_results(cohort_id, result.matches, result.unmatched_mentees)
        with clock.stage("queue"):
            if scheme.publish == "after_review":
                # Held as provisional: only the coordinator hears, and publishing sends the results.
                notifications.send_all([Notification(cohort_id=cohort_id, kind=EmailKind.MATCHES_TO_REVIEW)])
                cohorts.finish_matching(cohort_id, now, provisional=True)
            else:
                notifications.send_all(
                    result_notifications(cohort_id, result, [m.application_id for m in mentors])
                )
                cohorts.finish_matching(cohort_id, now)
    except BaseException:
        # Hand the claim back so the platform's retry (or a coordinator's re-run) can run it again;
        # results are keyed by person and emails by (cohort, person, kind), so a re-run adds nothing twice.
        cohorts.release_matching(cohort_id)
        raise
    return DeadlineRun(cohort_id=cohort_id, ran=True, result=result, stages=clock.seconds)
