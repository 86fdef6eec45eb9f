"""In-memory implementations of the ports, for the pure domain tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from mentoring.models import (
    Application,
    Cohort,
    CohortStatus,
    HeldMark,
    HeldSubmission,
    IntakeMessage,
    Match,
    MonitoringAnswers,
    Notification,
    PendingAnswers,
    ProgrammeMoment,
    SealedAnswers,
    UnmatchedMentee,
)
from mentoring.ports import (
    Claim,
    ClaimedSubmission,
    CohortClosedError,
    CohortExistsError,
    DuplicateSubmissionError,
    Lease,
    OutboxEntry,
    OutgoingEmail,
)


class MemoryStore:
    """CohortStore and ApplicationStore in dicts, with the same guarantees as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.cohorts: dict[str, Cohort] = {}
        self.applications: dict[tuple[str, str], Application] = {}
        self.monitoring: list[PendingAnswers] = []
        self.matches: dict[str, list[Match]] = {}
        self.unmatched: dict[str, list[UnmatchedMentee]] = {}
        self.fail_on_results = False
        self.matching_owners: dict[str, str] = {}
        self.settling: dict[str, Lease] = {}
        self.places: dict[str, set[str]] = {}
        self.persons: dict[tuple[str, str], set[str]] = {}
        self.claims: MemoryClaims | None = None  # the claims a withdrawal releases, when attached

    def get_cohort(self, cohort_id: str) -> Cohort | None:
        return self.cohorts.get(cohort_id)

    def create_cohort(self, cohort: Cohort) -> None:
        if cohort.cohort_id in self.cohorts:
            raise CohortExistsError(cohort.cohort_id)
        self.cohorts[cohort.cohort_id] = cohort

    def list_open_cohorts(self, now: datetime) -> list[Cohort]:
        return sorted(
            (c for c in self.cohorts.values() if c.recruitment_deadline > now),
            key=lambda c: (c.recruitment_deadline, c.cohort_id),
        )

    def move_deadline(self, cohort_id: str, deadline: datetime) -> bool:
        cohort = self.cohorts[cohort_id]
        if cohort.status is not CohortStatus.OPEN:
            return False
        self.cohorts[cohort_id] = cohort.model_copy(update={"recruitment_deadline": deadline})
        return True

    def _move(self, cohort_id: str, source: CohortStatus, target: CohortStatus) -> bool:
        cohort = self.cohorts[cohort_id]
        if cohort.status is not source:
            return False
        self.cohorts[cohort_id] = cohort.model_copy(update={"status": target})
        return True

    def claim_for_matching(self, cohort_id: str, lease: Lease) -> bool:
        cohort = self.cohorts[cohort_id]
        held = self.matching_owners.get(cohort_id)
        ran_out = cohort.matching_until is None or cohort.matching_until < lease.taken
        if cohort.status is CohortStatus.OPEN or (
            cohort.status is CohortStatus.MATCHING and (ran_out or held == lease.owner)
        ):
            self.cohorts[cohort_id] = cohort.model_copy(
                update={"status": CohortStatus.MATCHING, "matching_until": lease.until}
            )
            self.matching_owners[cohort_id] = lease.owner
            return True
        return False

    def _leave_matching(self, cohort_id: str, owner: str, target: CohortStatus) -> bool:
        cohort = self.cohorts[cohort_id]
        if cohort.status is not CohortStatus.MATCHING or self.matching_owners.get(cohort_id) != owner:
            return False
        self.cohorts[cohort_id] = cohort.model_copy(update={"status": target, "matching_until": None})
        del self.matching_owners[cohort_id]
        return True

    def finish_matching(self, cohort_id: str, at: datetime, owner: str, provisional: bool = False) -> bool:
        target = CohortStatus.PROVISIONAL if provisional else CohortStatus.MATCHED
        return self._leave_matching(cohort_id, owner, target)

    def hold_for_settling(self, cohort_id: str, lease: Lease) -> bool:
        held = self.settling.get(cohort_id)
        if held is not None and held.owner != lease.owner and held.until >= lease.taken:
            return False
        self.settling[cohort_id] = lease
        return True

    def let_go_of_settling(self, cohort_id: str, owner: str) -> None:
        if self.settling.get(cohort_id) is not None and self.settling[cohort_id].owner == owner:
            del self.settling[cohort_id]

    def publish_matches(self, cohort_id: str, at: datetime) -> bool:
        return self._move(cohort_id, CohortStatus.PROVISIONAL, CohortStatus.MATCHED)

    def replace_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None:
        self.matches[cohort_id] = list(matches)
        self.unmatched[cohort_id] = list(unmatched)

    def release_matching(self, cohort_id: str, owner: str) -> None:
        self._leave_matching(cohort_id, owner, CohortStatus.OPEN)

    def take_place(self, cohort_id: str, application_id: str, limit: int) -> bool:
        places = self.places.setdefault(cohort_id, set())
        if application_id in places:
            return True
        if len(places) >= limit:
            return False
        places.add(application_id)
        cohort = self.cohorts[cohort_id]
        self.cohorts[cohort_id] = cohort.model_copy(update={"admitted_mentees": len(places)})
        return True

    def record_application(
        self, application: Application, monitoring: PendingAnswers | None, while_open: bool = False
    ) -> bool:
        if (application.cohort_id, application.application_id) in self.applications:
            return False
        if while_open and self.cohorts[application.cohort_id].status is not CohortStatus.OPEN:
            raise CohortClosedError(application.cohort_id)
        return self._record(application, monitoring)

    def _record(self, application: Application, monitoring: PendingAnswers | None) -> bool:
        key = (application.cohort_id, application.application_id)
        if key in self.applications:
            return False
        self.applications[key] = application
        if monitoring is not None:
            self.monitoring.append(monitoring)
        if application.person_key:
            self.persons.setdefault((application.cohort_id, application.person_key), set()).add(
                application.application_id
            )
        return True

    def same_person(self, cohort_id: str, person_key: str) -> list[str]:
        return sorted(self.persons.get((cohort_id, person_key), set()))

    def possible_duplicates(self, cohort_id: str) -> list[list[str]]:
        return sorted(sorted(ids) for (c, _), ids in self.persons.items() if c == cohort_id and len(ids) > 1)

    def withdraw(self, application: Application, release: Sequence[Claim]) -> bool:
        key = (application.cohort_id, application.application_id)
        if self.applications[key].withdrawn is not None:
            return False
        self.applications[key] = application
        if application.person_key:
            self.persons.get((application.cohort_id, application.person_key), set()).discard(
                application.application_id
            )
        if self.claims is not None:
            for claim in release:
                if claim.kind == "applicant":
                    self.claims.held.pop(claim.key, None)
                else:
                    self.claims.withdrawn.add(claim.key)
        return True

    def update_application(self, application: Application) -> None:
        self.applications[(application.cohort_id, application.application_id)] = application

    def holds_place(self, cohort_id: str, application_id: str) -> bool:
        return application_id in self.places.get(cohort_id, set())

    def move_place(self, cohort_id: str, from_id: str, to_id: str | None) -> bool:
        places = self.places.setdefault(cohort_id, set())
        if from_id not in places or (to_id is not None and to_id in places):
            return False
        places.discard(from_id)
        if to_id is not None:
            places.add(to_id)
        cohort = self.cohorts[cohort_id]
        self.cohorts[cohort_id] = cohort.model_copy(update={"admitted_mentees": len(places)})
        return True

    def get_application(self, cohort_id: str, application_id: str) -> Application | None:
        return self.applications.get((cohort_id, application_id))

    def list_applications(self, cohort_id: str) -> list[Application]:
        return [a for (c, _), a in self.applications.items() if c == cohort_id]

    def put_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None:
        if self.fail_on_results:
            raise ConnectionError("the table is unavailable")
        self.matches[cohort_id] = list(matches)
        self.unmatched[cohort_id] = list(unmatched)

    def list_matches(self, cohort_id: str) -> list[Match]:
        return self.matches.get(cohort_id, [])

    def list_unmatched(self, cohort_id: str) -> list[UnmatchedMentee]:
        return self.unmatched.get(cohort_id, [])

    def get_match(self, cohort_id: str, mentee_id: str) -> Match | None:
        return next((m for m in self.list_matches(cohort_id) if m.mentee_id == mentee_id), None)

    def get_unmatched(self, cohort_id: str, application_id: str) -> UnmatchedMentee | None:
        return next((u for u in self.list_unmatched(cohort_id) if u.application_id == application_id), None)


class WrappingSeal:
    """AnswerSealer and AnswerOpener standing in for KMS: the answers wrapped (base64, not secret)
    with the cohort they were sealed for, and refused under any other, as KMS refuses another
    encryption context."""

    def seal(self, answers: MonitoringAnswers, cohort_id: str) -> SealedAnswers:
        wrapped = json.dumps({"cohort_id": cohort_id, "answers": answers.model_dump()})
        return SealedAnswers(ciphertext=base64.b64encode(wrapped.encode()).decode())

    def open(self, sealed: SealedAnswers, cohort_id: str) -> MonitoringAnswers:
        wrapped = json.loads(base64.b64decode(sealed.ciphertext))
        if wrapped["cohort_id"] != cohort_id:
            raise ValueError("sealed for another cohort")
        return MonitoringAnswers.model_validate(wrapped["answers"])


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[object] = []

    def send_all(self, messages: Iterable[IntakeMessage] | Iterable[Notification]) -> None:
        self.messages.extend(messages)


class MemoryWatch:
    """LeaseWatch: the leases it was asked to watch."""

    def __init__(self) -> None:
        self.watched: list[tuple[str, Lease]] = []

    def watch(self, cohort_id: str, lease: Lease) -> None:
        self.watched.append((cohort_id, lease))


class MemoryAnnouncer:
    """DeadlineAnnouncer: the cohorts whose deadline it announced again."""

    def __init__(self) -> None:
        self.announced: list[str] = []

    def announce(self, cohort_id: str) -> None:
        self.announced.append(cohort_id)


class MemoryScheduler:
    def __init__(self) -> None:
        self.schedules: dict[str, datetime] = {}
        self.programme: dict[str, dict[str, datetime]] = {}

    def schedule_deadline(self, cohort_id: str, at: datetime) -> str:
        self.schedules[cohort_id] = at
        return f"deadline-{cohort_id}"

    def schedule_programme(
        self, cohort_id: str, moments: Sequence[ProgrammeMoment], cancel: Sequence[str] = ()
    ) -> list[str]:
        """Keeps ``programme[cohort_id][moment_id]`` = its time, as Scheduler would keep the schedules."""
        own = self.programme.setdefault(cohort_id, {})
        for moment in moments:
            own[moment.moment_id] = moment.at
        for moment_id in cancel:
            own.pop(moment_id, None)
        return [f"programme-{cohort_id}-{m.moment_id}" for m in moments]


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        return str(len(self.sent))


class MemoryClaims:
    """SubmissionClaims in a dict, all or nothing like the DynamoDB transaction."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, str, str]] = {}
        self.withdrawn: set[str] = set()

    def claim(self, claims: Sequence[Claim], body_hash: str, submission_id: str, cohort_id: str) -> None:
        for claim in claims:
            held = self.held.get(claim.key)
            if claim.key in self.withdrawn:
                raise DuplicateSubmissionError("withdrawn")
            if held is not None and held[:2] != (body_hash, submission_id):
                raise DuplicateSubmissionError(claim.kind)
        for claim in claims:
            self.held[claim.key] = (body_hash, submission_id, cohort_id)

    def find(self, claim: Claim) -> ClaimedSubmission | None:
        held = self.held.get(claim.key)
        if not held:
            return None
        return ClaimedSubmission(
            submission_id=held[1], cohort_id=held[2], withdrawn=claim.key in self.withdrawn
        )


class MemoryOutbox:
    """EmailOutbox in a dict, with the DynamoDB adapter's conditions."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], OutboxEntry] = {}

    def reserve(self, cohort_id: str, key: str, now: datetime) -> OutboxEntry:
        before = self.entries.get((cohort_id, key), OutboxEntry("new"))
        if before.status in {"new", "failed"}:
            self.entries[(cohort_id, key)] = OutboxEntry("sending", since=now)
            return OutboxEntry("new")
        return before

    def mark_sent(self, cohort_id: str, key: str, message_id: str, now: datetime) -> None:
        self.entries[(cohort_id, key)] = OutboxEntry("sent", since=now, message_id=message_id)

    def release(self, cohort_id: str, key: str) -> None:
        if self.entries[(cohort_id, key)].status == "sending":
            self.entries[(cohort_id, key)] = OutboxEntry("failed")


class MemoryHeld:
    """HeldSubmissions in a dict, with the DynamoDB adapter's conditions (and no TTL: a lapsed item
    stays until something deletes it, as DynamoDB's TTL may take days to)."""

    def __init__(self) -> None:
        self.items: dict[str, HeldSubmission] = {}
        self.cohort_marks: dict[tuple[str, str], HeldMark] = {}

    def hold(self, held: HeldSubmission) -> None:
        assert held.token_hash not in self.items
        self.items[held.token_hash] = held
        key = (held.cohort_id, held.submission_id)
        confirmed = key in self.cohort_marks and self.cohort_marks[key].confirmed
        self.cohort_marks[key] = held.mark().model_copy(update={"confirmed": confirmed})

    def find(self, token_hash: str) -> HeldSubmission | None:
        return self.items.get(token_hash)

    def start_confirming(self, token_hash: str, at: datetime) -> HeldSubmission | None:
        held = self.items.get(token_hash)
        if held is not None and held.confirmed_at is None:
            held = self.items[token_hash] = held.model_copy(update={"confirmed_at": at})
        return held

    def finish(self, held: HeldSubmission) -> None:
        stored = self.items[held.token_hash]
        self.items[held.token_hash] = stored.model_copy(update={"done": True, "message": None})
        key = (held.cohort_id, held.submission_id)
        self.cohort_marks[key] = self.cohort_marks[key].model_copy(update={"confirmed": True})

    def marks(self, cohort_id: str) -> list[HeldMark]:
        return [mark for (cohort, _), mark in self.cohort_marks.items() if cohort == cohort_id]


class MemoryRecords:
    """What participants recorded (PairRecords): meetings and pairs that ended early."""

    def __init__(self) -> None:
        self.met: list[Match] = []
        self.ended_pairs: list[Match] = []

    def meetings(self, cohort_id: str) -> list[Match]:
        return [m for m in self.met if m.cohort_id == cohort_id]

    def ended(self, cohort_id: str) -> list[Match]:
        return [m for m in self.ended_pairs if m.cohort_id == cohort_id]
