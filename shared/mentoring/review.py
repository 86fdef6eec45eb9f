"""A coordinator's review of provisional matches: read them (JSON or CSV), change pairs under the
scheme's hard rules and capacities, and publish, which is the only step that emails the results."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from mentoring.deadline import result_notifications
from mentoring.institutions import institution_name
from mentoring.matching import broken_rules, score_pair
from mentoring.models import (
    Application,
    CohortMatches,
    CohortStatus,
    FieldError,
    Match,
    MatchChanges,
    MatchingResult,
    Role,
    UnmatchedMentee,
)
from mentoring.ports import ApplicationStore, CohortNotFoundError, CohortStore, NotificationQueue
from mentoring.scheme import PairingRule, get_scheme
from mentoring.text import csv_cell

REMOVED = "removed from the provisional matches by the coordinator"


class ReviewError(ValueError):
    """A review step the coordinator cannot take now (409) or a change that breaks a rule (422)."""

    def __init__(self, status: int, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


def cohort_matches(cohort_id: str, cohorts: CohortStore, applications: ApplicationStore) -> CohortMatches:
    cohort = cohorts.get_cohort(cohort_id)
    if cohort is None:
        raise CohortNotFoundError(f"cohort {cohort_id!r} does not exist")
    return CohortMatches(
        cohort_id=cohort_id,
        status=cohort.status,
        matches=applications.list_matches(cohort_id),
        unmatched=applications.list_unmatched(cohort_id),
    )


def matches_csv(result: CohortMatches, applications: ApplicationStore) -> str:
    """One row a mentee, matched or not, for the coordinator's spreadsheet."""
    apps = {a.application_id: a for a in applications.list_applications(result.cohort_id)}

    def who(application_id: str | None) -> list[str]:
        app = apps.get(application_id or "")
        if app is None:
            return ["", "", "", ""]
        person = app.applicant
        name = f"{person.given_name} {person.family_name}"
        return [app.application_id, name, person.email, institution_name(person.institution)]

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["status", "mentee_id", "mentee", "mentee_email", "mentee_institution",
         "mentor_id", "mentor", "mentor_email", "mentor_institution", "score", "why"]
    )  # fmt: skip
    for match in result.matches:
        row = [
            "matched",
            *who(match.mentee_id),
            *who(match.mentor_id),
            f"{match.score:g}",
            "; ".join(match.explanation),
        ]
        writer.writerow([csv_cell(cell) for cell in row])
    for unmatched in result.unmatched:
        row = ["unmatched", *who(unmatched.application_id), "", "", "", "", "", unmatched.reason]
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def _planned(
    cohort_id: str, request: MatchChanges, cohorts: CohortStore, applications: ApplicationStore
) -> tuple[CohortMatches, dict[str, Application], dict[str, str], list[FieldError]]:
    """The result the changes would give, and what is wrong with them (nothing is written)."""
    current = cohort_matches(cohort_id, cohorts, applications)
    if current.status is not CohortStatus.PROVISIONAL:
        raise ReviewError(409, f"the matches of this cohort are {current.status.value}, not provisional")
    cohort = cohorts.get_cohort(cohort_id)
    assert cohort is not None
    scheme = get_scheme(cohort.scheme_id)
    apps = {a.application_id: a for a in applications.list_applications(cohort_id) if a.counts}
    mentor_of = {m.mentee_id: m.mentor_id for m in current.matches}
    errors = []
    for k, change in enumerate(request.changes):
        problem = _apply(
            change.action, change.mentee_id, change.mentor_id, apps, mentor_of, scheme.pairing_rules
        )
        if problem is not None:
            errors.append(FieldError(field=f"changes.{k}", message=problem))
    # Capacity holds for the result, not between the steps of a swap.
    for mentor_id, load in sorted(Counter(mentor_of.values()).items()):
        capacity = min(apps[mentor_id].profile.capacity, scheme.mentor_capacity_max)
        if load > capacity:
            # Named by the last change that gives this mentor a mentee (only a change can overfill).
            last = max(k for k, c in enumerate(request.changes) if c.mentor_id == mentor_id)
            errors.append(
                FieldError(
                    field=f"changes.{last}",
                    message=f"mentor {mentor_id} would have {load} mentees; their capacity is {capacity}",
                )
            )
    return current, apps, mentor_of, errors


def check_changes(
    cohort_id: str, request: MatchChanges, cohorts: CohortStore, applications: ApplicationStore
) -> list[FieldError]:
    """What ``change_matches`` would refuse in these changes, without changing anything."""
    return _planned(cohort_id, request, cohorts, applications)[3]


def change_matches(
    cohort_id: str, request: MatchChanges, cohorts: CohortStore, applications: ApplicationStore
) -> CohortMatches:
    """Applies the changes in order, all or none, each checked as matching checks a pair."""
    current, apps, mentor_of, errors = _planned(cohort_id, request, cohorts, applications)
    if errors:
        raise ReviewError(422, "some changes break the scheme's rules; nothing was changed", errors)
    cohort = cohorts.get_cohort(cohort_id)
    assert cohort is not None
    scheme = get_scheme(cohort.scheme_id)
    previous = {m.mentee_id: m for m in current.matches}
    reasons = {u.application_id: u for u in current.unmatched}
    matches = []
    for mentee_id, mentor_id in sorted(mentor_of.items()):
        kept = previous.get(mentee_id)
        if kept is not None and kept.mentor_id == mentor_id:
            matches.append(kept)
            continue
        pair = score_pair(scheme, apps[mentee_id], apps[mentor_id])
        matches.append(
            Match(
                cohort_id=cohort_id,
                mentee_id=mentee_id,
                mentor_id=mentor_id,
                score=pair.score,
                explanation=["paired by the coordinator at review", *pair.explanation],
            )
        )
    unmatched = [
        reasons.get(a.application_id)
        or UnmatchedMentee(application_id=a.application_id, reason=REMOVED, outcome="removed")
        for a in sorted(apps.values(), key=lambda a: a.application_id)
        if a.role is Role.MENTEE
        and a.application_id not in mentor_of
        and _was_in_result(a, previous, reasons)
    ]
    applications.replace_results(cohort_id, matches, unmatched)
    return cohort_matches(cohort_id, cohorts, applications)


def _was_in_result(app: Application, previous: dict[str, Match], reasons: dict[str, UnmatchedMentee]) -> bool:
    return app.application_id in previous or app.application_id in reasons


def _apply(
    action: str,
    mentee_id: str,
    mentor_id: str | None,
    apps: dict[str, Application],
    mentor_of: dict[str, str],
    rules: Sequence[PairingRule],
) -> str | None:
    mentee = apps.get(mentee_id)
    if mentee is None or mentee.role is not Role.MENTEE:
        return "mentee_id is not an eligible mentee of this cohort"
    if action == "remove":
        if mentee_id not in mentor_of:
            return "this mentee has no mentor to remove"
        del mentor_of[mentee_id]
        return None
    mentor = apps.get(mentor_id or "")
    if mentor is None or mentor.role is not Role.MENTOR:
        return "mentor_id is not an eligible mentor of this cohort"
    if mentee.waiting_list:
        return "this mentee is on the waiting list"
    broken = broken_rules(rules, mentee, mentor)
    if broken:
        described: dict[str, str] = {rule.kind: rule.description for rule in rules}
        return "this pair breaks the scheme's rules: " + " ".join(described[kind] for kind in broken)
    mentor_of[mentee_id] = mentor.application_id
    return None


def publish(
    cohort_id: str,
    now: datetime,
    cohorts: CohortStore,
    applications: ApplicationStore,
    notifications: NotificationQueue,
) -> CohortMatches:
    """Publishes provisional matches once: the result emails are queued by this step only."""
    current = cohort_matches(cohort_id, cohorts, applications)
    if current.status is not CohortStatus.PROVISIONAL:
        raise ReviewError(409, f"the matches of this cohort are {current.status.value}, not provisional")
    mentors = [
        a.application_id
        for a in applications.list_applications(cohort_id)
        if a.counts and a.role is Role.MENTOR
    ]
    result = MatchingResult(
        matches=current.matches, unmatched_mentees=current.unmatched, unmatched_mentor_ids=[]
    )
    # Queued before the status moves: a failure leaves the cohort provisional, and a second publish
    # queues the same notifications, which notify sends once each.
    notifications.send_all(result_notifications(cohort_id, result, mentors))
    if not cohorts.publish_matches(cohort_id, now):
        raise ReviewError(409, "the matches of this cohort were published by another request")
    return cohort_matches(cohort_id, cohorts, applications)
