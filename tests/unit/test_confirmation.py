"""Double opt-in: a web-form application counts only once its applicant confirms it from the link
emailed to the address they gave, and the public door answers alike whoever has applied before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from mentoring.confirmation import (
    CONFIRMATION_WINDOW,
    Confirmation,
    Outcome,
    confirm_application,
    confirmation_notice,
    hold_application,
    look_up,
    unconfirmed,
)
from mentoring.intake import process_submission
from mentoring.models import (
    ApplicationSubmission,
    EmailKind,
    IntakeMessage,
    MatchingProfile,
    Notification,
    Role,
    SelfIdentification,
    WithdrawRequest,
    token_digest,
)
from mentoring.ports import OutgoingEmail
from mentoring.submissions import FrontDoor
from mentoring.withdrawal import withdraw_application

from tests.unit.factories import NOW, cohort, submission
from tests.unit.fakes import MemoryClaims, MemoryHeld, MemoryQueue, MemoryStore, WrappingSeal

pytestmark = pytest.mark.unit

PAGE = "https://abc123.execute-api.eu-west-2.amazonaws.com/dev/applications/confirm"
KEY = b"the submission id key"
GRACE = timedelta(days=14)  # for late monitoring answers


@dataclass
class Door:
    """The ports of the public door and of confirmation, in memory."""

    store: MemoryStore = field(default_factory=MemoryStore)
    held: MemoryHeld = field(default_factory=MemoryHeld)
    claims: MemoryClaims = field(default_factory=MemoryClaims)
    intake: MemoryQueue = field(default_factory=MemoryQueue)
    notify: MemoryQueue = field(default_factory=MemoryQueue)

    def __post_init__(self) -> None:
        self.store.create_cohort(cohort("cohort-a"))
        self.store.claims = self.claims

    @property
    def front(self) -> FrontDoor:
        return FrontDoor(self.store, self.claims, self.intake, WrappingSeal(), KEY)

    def apply(self, sub: ApplicationSubmission, at: Any = NOW) -> str:
        """Submits through the form; returns the token of the link emailed for it."""
        result = hold_application(sub, at, self.front, self.held, self.notify, PAGE)
        assert result.status == 202, result.errors
        note = self.notify.messages[-1]
        assert isinstance(note, Notification)
        assert note.confirmation is not None
        return note.confirmation.token

    def confirm(self, token: str, at: Any = NOW) -> Confirmation:
        return confirm_application(token, at, self.held, self.store, self.claims, self.store, self.intake)

    def take_in(self) -> None:
        """Intake processes what confirmation queued."""
        for message in self.intake.messages:
            assert isinstance(message, IntakeMessage)
            process_submission(message, self.store, self.store, MemoryQueue(), now=NOW, grace=GRACE)
        self.intake.messages.clear()

    def notice(self, token: str, at: Any = NOW) -> OutgoingEmail | None:
        note = next(
            n
            for n in self.notify.messages
            if isinstance(n, Notification) and n.confirmation and n.confirmation.token == token
        )
        return confirmation_notice(note, self.store.cohorts[note.cohort_id], at, self.held, self.claims)


@pytest.fixture
def door() -> Door:
    return Door()


# ---------------------------------------------------------------- held, not yet an application


def test_a_held_application_claims_nothing_and_is_not_an_application(door: Door) -> None:
    token = door.apply(submission(email="amara@ucl.ac.uk"))

    assert door.store.applications == {}
    assert door.claims.held == {}
    assert door.intake.messages == []
    (held,) = door.held.items.values()
    assert held.token_hash == token_digest(token)
    assert token not in held.model_dump_json()  # the table keeps the hash only
    (note,) = door.notify.messages
    assert isinstance(note, Notification)
    assert note.kind is EmailKind.CONFIRMATION
    assert note.confirmation is not None
    assert note.confirmation.url == f"{PAGE}?token={token}"
    assert token not in note.key  # the outbox and idempotency records name the hash


def test_an_invalid_application_is_refused_and_nothing_is_held_or_sent(door: Door) -> None:
    result = hold_application(submission("no-such-cohort"), NOW, door.front, door.held, door.notify, PAGE)

    assert result.status == 422
    assert door.held.items == {}
    assert door.notify.messages == []


def test_each_link_is_a_new_random_token(door: Door) -> None:
    same = submission()

    first, second = door.apply(same), door.apply(same)

    assert first != second
    assert len(first) == 64  # 32 random bytes


# ---------------------------------------------------------------- confirming


def test_confirming_hands_it_to_intake_received_at_the_time_of_confirmation(door: Door) -> None:
    token = door.apply(submission())
    later = NOW + timedelta(hours=5)

    result = door.confirm(token, later)

    assert result.outcome is Outcome.CONFIRMED
    (message,) = door.intake.messages
    assert isinstance(message, IntakeMessage)
    assert message.received_at == later  # acknowledgement, places, waiting list, deadline: from now
    assert len(door.claims.held) == 1
    (held,) = door.held.items.values()
    assert held.done
    assert held.message is None  # the submission is dropped once intake has it


def test_the_page_a_link_opens_changes_nothing(door: Door) -> None:
    token = door.apply(submission())

    seen = look_up(token, NOW, door.held, door.store, door.store)

    assert seen.outcome is Outcome.AWAITING
    assert door.intake.messages == []
    assert door.claims.held == {}


def test_confirming_twice_does_it_once(door: Door) -> None:
    token = door.apply(submission())

    first = door.confirm(token)
    again = door.confirm(token, NOW + timedelta(minutes=1))

    assert (first.outcome, again.outcome) == (Outcome.CONFIRMED, Outcome.ALREADY_CONFIRMED)
    assert len(door.intake.messages) == 1


def test_a_second_link_for_the_same_application_confirms_it_once(door: Door) -> None:
    same = submission()
    first, second = door.apply(same), door.apply(same)  # a double click: two emails

    door.confirm(first)
    door.take_in()
    again = door.confirm(second)

    assert again.outcome is Outcome.ALREADY_CONFIRMED
    assert door.intake.messages == []
    assert len(door.store.applications) == 1


def test_an_unconfirmed_application_lapses(door: Door) -> None:
    token = door.apply(submission())
    lapsed = NOW + CONFIRMATION_WINDOW

    result = door.confirm(token, lapsed)

    # Still stored (DynamoDB's TTL deletes within days, not on time), and refused all the same.
    assert token_digest(token) in door.held.items
    assert result.outcome is Outcome.EXPIRED
    assert look_up(token, lapsed, door.held, door.store, door.store).outcome is Outcome.EXPIRED
    assert door.intake.messages == []
    assert door.claims.held == {}


def test_a_link_nobody_was_sent_is_not_found(door: Door) -> None:
    assert door.confirm("x" * 43).outcome is Outcome.NOT_FOUND


def test_confirming_after_the_deadline_is_refused_as_a_late_submission_is(door: Door) -> None:
    door.store.create_cohort(cohort("closing", deadline=NOW + timedelta(hours=2)))
    token = door.apply(submission("closing"))

    result = door.confirm(token, NOW + timedelta(hours=3))

    assert result.outcome is Outcome.CLOSED
    assert "closed" in result.errors[0].message
    assert door.intake.messages == []
    assert door.claims.held == {}


def test_a_confirmation_stopped_part_way_finishes_at_its_first_time(door: Door) -> None:
    door.store.create_cohort(cohort("closing", deadline=NOW + timedelta(hours=2)))
    token = door.apply(submission("closing"))
    in_time = NOW + timedelta(hours=1)
    door.held.start_confirming(token_digest(token), in_time)  # then the function stopped

    result = door.confirm(token, NOW + timedelta(hours=3))  # the applicant presses again, late

    assert result.outcome is Outcome.CONFIRMED
    (message,) = door.intake.messages
    assert isinstance(message, IntakeMessage)
    assert message.received_at == in_time  # late handling (intake) follows the confirmed time


def test_an_address_that_already_applied_keeps_its_first_application(door: Door) -> None:
    first = submission(email="amara@ucl.ac.uk")
    changed = first.model_copy(update={"profile": MatchingProfile(skills=["other"])})
    door.confirm(door.apply(first))

    result = door.confirm(door.apply(changed))

    assert result.outcome is Outcome.ALREADY_APPLIED
    assert len(door.intake.messages) == 1


def test_a_link_for_a_withdrawn_application_never_lets_it_in_again(door: Door) -> None:
    same = submission(email="amara@ucl.ac.uk")
    first, second = door.apply(same), door.apply(same)
    door.confirm(first)
    door.take_in()
    (application,) = door.store.applications.values()
    withdraw_application(
        "cohort-a",
        application.application_id,
        WithdrawRequest(reason="not_genuine"),
        NOW,
        door.store,
        door.store,
        MemoryQueue(),
    )

    outcomes = [door.confirm(first).outcome, door.confirm(second).outcome]

    assert outcomes == [Outcome.WITHDRAWN, Outcome.WITHDRAWN]
    assert door.intake.messages == []
    assert door.claims.held == {}  # the address stays free for the real person's application
    real = same.model_copy(update={"profile": MatchingProfile(skills=["real"])})
    assert door.confirm(door.apply(real)).outcome is Outcome.CONFIRMED


# ---------------------------------------------------------------- the attacks of issue 15


def _leader(email: str) -> ApplicationSubmission:
    sub = submission("reverse", grade="Professorial", institution="ICL", email=email)
    return sub.model_copy(
        update={
            "self_identification": SelfIdentification(leadership_role="presidents_board"),
            "profile": MatchingProfile(topics=["disability"]),
        }
    )


def test_a_cohort_cannot_be_filled_by_unconfirmed_applications(door: Door) -> None:
    door.store.create_cohort(cohort("reverse", scheme_id="reverse-mentoring"))  # 12 places, then closes
    for n in range(12):
        door.apply(_leader(f"board-member-{n}@imperial.example.ac.uk"))  # invented: never confirmed

    token = door.apply(_leader("real.leader@imperial.example.ac.uk"))
    result = door.confirm(token)
    door.take_in()

    assert result.outcome is Outcome.CONFIRMED
    (real,) = door.store.applications.values()
    assert real.counts
    assert not real.waiting_list
    assert door.store.cohorts["reverse"].admitted_mentees == 1


class Recording:
    """Wraps a port and records the name of each call made on it."""

    def __init__(self, port: object, calls: list[str], name: str) -> None:
        self._port, self._calls, self._name = port, calls, name

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self._port, attribute)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(f"{self._name}.{attribute}")
            return target(*args, **kwargs)

        return call


def test_the_door_does_the_same_for_an_address_that_applied_and_for_a_new_one(door: Door) -> None:
    door.confirm(door.apply(submission(email="amara@ucl.ac.uk")))
    door.take_in()

    def submit(email: str) -> tuple[Any, list[str]]:
        calls: list[str] = []
        front = FrontDoor(
            Recording(door.store, calls, "cohorts"),  # type: ignore[arg-type]
            Recording(door.claims, calls, "claims"),  # type: ignore[arg-type]
            Recording(door.intake, calls, "intake"),  # type: ignore[arg-type]
            Recording(WrappingSeal(), calls, "sealer"),  # type: ignore[arg-type]
            KEY,
        )
        result = hold_application(
            submission(email=email),
            NOW,
            front,
            Recording(door.held, calls, "held"),  # type: ignore[arg-type]
            Recording(door.notify, calls, "notify"),  # type: ignore[arg-type]
            PAGE,
        )
        return result, calls

    known, known_calls = submit("amara@ucl.ac.uk")
    new, new_calls = submit("someone.new@ucl.ac.uk")

    assert known.model_dump(exclude={"submission_id"}) == new.model_dump(exclude={"submission_id"})
    assert known.status == 202
    assert known_calls == new_calls == ["cohorts.get_cohort", "sealer.seal", "held.hold", "notify.send_all"]


# ---------------------------------------------------------------- what the address is told


def test_the_address_gets_a_link_to_confirm_and_nothing_the_sender_typed(door: Door) -> None:
    token = door.apply(submission(given_name="Bcc: spy@evil.example", family_name="Visit http://evil"))

    email = door.notice(token)

    assert email is not None
    assert f"{PAGE}?token={token}" in email.text
    assert f'<a href="{PAGE}?token={token}">' in email.html
    assert "confirm" in email.subject.lower()
    assert "evil" not in email.text + email.html + email.subject


def test_an_address_that_already_applied_is_told_so_without_a_link(door: Door) -> None:
    first = submission(email="amara@ucl.ac.uk")
    door.confirm(door.apply(first))
    stranger = door.apply(first.model_copy(update={"profile": MatchingProfile(skills=["fake"])}))

    email = door.notice(stranger)

    assert email is not None
    assert email.to == "amara@ucl.ac.uk"
    assert "already applied" in email.subject
    assert "token=" not in email.text + email.html
    assert "coordinator@example.ac.uk" in email.text


def test_no_email_once_confirmed_or_lapsed(door: Door) -> None:
    confirmed, lapsed = door.apply(submission()), door.apply(submission())
    door.confirm(confirmed)

    assert door.notice(confirmed) is None
    assert door.notice(lapsed, NOW + CONFIRMATION_WINDOW) is None


# ---------------------------------------------------------------- what the coordinator counts


def test_the_coordinator_counts_held_applications_by_role_each_submission_once(door: Door) -> None:
    twice = submission(email="amara@ucl.ac.uk")
    door.apply(twice)
    door.apply(twice)  # a double click: two links, one submission
    mentor = submission(role="mentor", email="ben@ucl.ac.uk", grade=9)
    door.apply(mentor.model_copy(update={"self_identification": SelfIdentification(staff_group="academic")}))
    confirmed = door.apply(submission(email="cleo@ucl.ac.uk"))
    door.confirm(confirmed)
    door.confirm(confirmed)  # and its retry
    taken = door.store.cohorts["cohort-a"]

    waiting = unconfirmed(door.held.marks("cohort-a"), taken, NOW + timedelta(hours=1))
    later = unconfirmed(door.held.marks("cohort-a"), taken, NOW + CONFIRMATION_WINDOW)

    assert (waiting.awaiting, waiting.lapsed) == ({Role.MENTEE: 1, Role.MENTOR: 1}, {})
    assert (later.awaiting, later.lapsed) == ({}, {Role.MENTEE: 1, Role.MENTOR: 1})


def test_sent_again_after_its_link_lapsed_it_awaits_again_and_counts_once(door: Door) -> None:
    again, same = NOW + CONFIRMATION_WINDOW + timedelta(hours=1), submission()
    door.apply(same)
    door.apply(same, at=again)

    counted = unconfirmed(door.held.marks("cohort-a"), door.store.cohorts["cohort-a"], again)

    assert (counted.awaiting, counted.lapsed) == ({Role.MENTEE: 1}, {})


def test_held_applications_not_confirmed_when_recruitment_closes_count_as_lapsed(door: Door) -> None:
    door.store.create_cohort(cohort("closing", deadline=NOW + timedelta(hours=2)))
    door.apply(submission("closing"))

    closed = unconfirmed(door.held.marks("closing"), door.store.cohorts["closing"], NOW + timedelta(hours=3))

    assert (closed.awaiting, closed.lapsed) == ({}, {Role.MENTEE: 1})  # its link works, but too late
