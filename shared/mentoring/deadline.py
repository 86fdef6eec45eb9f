"""The recruitment deadline: match the cohort once, store the result, queue one email per person.

A run holds the cohort under a lease (``mentoring.ports.Lease``) that outlasts its invocation. A
run killed part-way (a timeout, out of memory) hands nothing back, but its lease runs out: Lambda's
retry of the same invocation takes it over at once (the lease is its own), and anyone else once
it has run out. Every step is safe to do again: the matching is deterministic, results are keyed
by person and emails by (cohort, person, kind). When a lease runs out with the cohort still
matching, the watch announces it (an alarm), and a coordinator may run matching again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from mentoring.matching import match_cohort
from mentoring.models import Cohort, CohortStatus, EmailKind, MatchingResult, Notification, Role
from mentoring.ports import (
    ApplicationStore,
    CohortNotFoundError,
    CohortStore,
    DeadlineAnnouncer,
    Lease,
    LeaseWatch,
    NotificationQueue,
)
from mentoring.scheme import get_scheme


@dataclass(frozen=True)
class DeadlineRun:
    cohort_id: str
    ran: bool
    result: MatchingResult | None = None
    finished: bool = True  # False: another run took the cohort over before this one ended
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
    lease: Lease,
    cohorts: CohortStore,
    applications: ApplicationStore,
    notifications: NotificationQueue,
    watch: LeaseWatch,
) -> DeadlineRun:
    """Runs once per cohort, however many times the deadline event arrives, and again only after
    a run that held the cohort died (see the module's docstring)."""
    now = lease.taken
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    if not cohorts.claim_for_matching(cohort_id, lease):
        return DeadlineRun(cohort_id=cohort_id, ran=False)
    clock = _Stopwatch()
    try:
        watch.watch(cohort_id, lease)
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
                finished = cohorts.finish_matching(cohort_id, now, lease.owner, provisional=True)
            else:
                notifications.send_all(
                    result_notifications(cohort_id, result, [m.application_id for m in mentors])
                )
                finished = cohorts.finish_matching(cohort_id, now, lease.owner)
    except BaseException:
        # Hand the claim back so the platform's retry (or a coordinator's re-run) can run it again.
        cohorts.release_matching(cohort_id, lease.owner)
        raise
    return DeadlineRun(cohort_id=cohort_id, ran=True, result=result, finished=finished, stages=clock.seconds)


def stuck_in_matching(cohort_id: str, now: datetime, cohorts: CohortStore) -> Cohort | None:
    """The cohort, when it is still matching under a lease that has run out: the run that held it
    died and no retry took it over. None when matching finished or a run still holds it."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None or cohort.status is not CohortStatus.MATCHING:
        return None
    if cohort.matching_until is not None and cohort.matching_until > now:
        return None
    return cohort


class RerunRefusedError(ValueError):
    """Matching cannot be run again for this cohort now; the message says why, and when it can."""


def request_rerun(
    cohort_id: str, now: datetime, cohorts: CohortStore, announcer: DeadlineAnnouncer
) -> Cohort:
    """A coordinator's re-run of matching for a cohort whose run failed or died: the deadline is
    announced again, and the matching function runs as at the deadline (its claim decides, so a
    re-run asked twice still runs once). Refused while the deadline is ahead, while a run holds the
    cohort, and once matching has finished."""
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    refused = rerun_refusal(cohort, now)
    if refused is not None:
        raise RerunRefusedError(refused)
    announcer.announce(cohort_id)
    return cohort


def rerun_refusal(cohort: Cohort, now: datetime) -> str | None:
    """Why matching cannot run again for the cohort now, or None when it can: its run failed (the
    cohort is open after its deadline) or died (it is matching under a lease that has run out)."""
    if now < cohort.recruitment_deadline:
        return "the recruitment deadline has not passed: matching runs then"
    if cohort.status in {CohortStatus.PROVISIONAL, CohortStatus.MATCHED}:
        return "matching has finished for this cohort"
    if cohort.status is CohortStatus.MATCHING and cohort.matching_until and cohort.matching_until > now:
        return (
            f"a matching run holds this cohort until {cohort.matching_until:%Y-%m-%d %H:%M:%S} UTC; "
            "if it has not finished by then, ask again"
        )
    return None
