"""One person is one applicant: canonical addresses, possible duplicates across doors, and a
coordinator's withdrawal that frees a place and moves the waiting list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mentoring.emails import compose
from mentoring.identity import canonical_email, person_key
from mentoring.intake import process_submission
from mentoring.models import CohortStatus, EmailKind, Notification, Role, WithdrawRequest
from mentoring.ports import Claim
from mentoring.submissions import Candidate, FrontDoor, accept, claims_for
from mentoring.withdrawal import WithdrawalError, claims_of, withdraw_application

from tests.unit.factories import NOW, cohort, intake_message, lease, submission
from tests.unit.fakes import MemoryClaims, MemoryQueue, MemoryStore, MemoryWatch, WrappingSeal

KEY = b"the submission id key"
GRACE = timedelta(days=14)  # for late monitoring answers

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.create_cohort(cohort("cohort-a"))
    memory.claims = MemoryClaims()
    return memory


# ---------------------------------------------------------------- canonical addresses


@pytest.mark.parametrize(
    "address",
    [
        "amara@ucl.ac.uk",
        "AMARA@UCL.AC.UK",
        "\uff41mara@ucl.ac.uk",  # fullwidth a
        "\u0430mara@ucl.ac.uk",  # Cyrillic a
        "\U0001d41amara@ucl.ac.uk",  # mathematical bold a
        "amara+2@ucl.ac.uk",  # plus addressing, on at UCL's Microsoft 365
        "amara+scheme+x@ucl.ac.uk",
        "amara@\uff55cl.ac.uk",  # fullwidth u in the domain
    ],
)
def test_the_confusable_forms_of_an_address_are_one_applicant(address: str) -> None:
    assert canonical_email(address) == "amara@ucl.ac.uk"


def test_what_the_mail_system_keeps_apart_stays_apart() -> None:
    # Microsoft 365 keeps dots: am.ara@ is another mailbox (flagged by name instead, below).
    assert canonical_email("am.ara@ucl.ac.uk") != canonical_email("amara@ucl.ac.uk")
    # ASCII is kept as typed: 1 and l are different people's addresses.
    assert canonical_email("amara1@ucl.ac.uk") != canonical_email("amaral@ucl.ac.uk")
    assert canonical_email("amara@kcl.ac.uk") != canonical_email("amara@ucl.ac.uk")


def test_gmail_ignores_dots_and_googlemail_is_gmail() -> None:
    assert (
        canonical_email("A.Mara+x@googlemail.com") == canonical_email("amara@gmail.com") == "amara@gmail.com"
    )


def test_an_application_under_a_confusable_address_is_a_duplicate(store: MemoryStore) -> None:
    claims, queue = MemoryClaims(), MemoryQueue()
    first = submission(email="amara@ucl.ac.uk")
    second = first.model_copy(
        update={"applicant": first.applicant.model_copy(update={"email": "\u0430mara+2@ucl.ac.uk"})}
    )

    door = FrontDoor(store, claims, queue, WrappingSeal(), KEY)

    results = accept([Candidate(0, first), Candidate(1, second)], "web_form", None, NOW, door)

    assert [r.status for r in results] == [202, 409]
    assert claims_for(first, None, KEY)[0] == claims_for(second, None, KEY)[0]


# ---------------------------------------------------------------- possible duplicates across doors


def test_the_same_name_at_one_institution_under_two_addresses_is_flagged_to_the_coordinator(
    store: MemoryStore,
) -> None:
    queue = MemoryQueue()
    web = intake_message(
        submission(given_name="Amara", family_name="Okafor", email="amara@ucl.ac.uk", institution="UCL")
    )
    partner = intake_message(
        submission(given_name="AMARA ", family_name="okafor", email="a.okafor@ucl.ac.uk", institution=None),
        partner="UCL",
    )

    process_submission(web, store, store, queue, now=NOW, grace=GRACE)
    process_submission(partner, store, store, queue, now=NOW, grace=GRACE)

    kinds = [(n.kind, n.application_id) for n in queue.messages if isinstance(n, Notification)]
    assert (EmailKind.POSSIBLE_DUPLICATE, partner.submission_id) in kinds
    assert [k for k, _ in kinds].count(EmailKind.POSSIBLE_DUPLICATE) == 1
    assert store.possible_duplicates("cohort-a") == [sorted([web.submission_id, partner.submission_id])]
    email = compose(
        Notification(
            cohort_id="cohort-a", kind=EmailKind.POSSIBLE_DUPLICATE, application_id=partner.submission_id
        ),
        store.cohorts["cohort-a"],
        store,
    )
    assert email.to == "coordinator@example.ac.uk"
    assert "amara@ucl.ac.uk" in email.text
    assert "a.okafor@ucl.ac.uk" in email.text
    assert "withdraw" in email.text


def test_the_same_name_at_another_institution_is_not_flagged(store: MemoryStore) -> None:
    queue = MemoryQueue()
    for institution in ("UCL", "KCL"):
        message = intake_message(
            submission(given_name="Amara", family_name="Okafor", institution=institution)
        )
        process_submission(message, store, store, queue, now=NOW, grace=GRACE)

    assert store.possible_duplicates("cohort-a") == []
    assert all(n.kind is EmailKind.ACKNOWLEDGEMENT for n in queue.messages if isinstance(n, Notification))


def test_person_keys_ignore_case_spacing_punctuation_and_lookalikes() -> None:
    assert person_key("Amara", "Okafor-Smith", "UCL") == person_key(" \u0430mara", "OKAFOR SMITH", "UCL")
    assert person_key("Amara", "Okafor", "UCL") != person_key("Amara", "Okafor", "KCL")


# ---------------------------------------------------------------- withdrawal


def _mentees(store: MemoryStore, n: int) -> list[str]:
    ids = []
    for k in range(n):
        sent = submission()
        keys, _ = claims_for(sent, None, KEY)
        message = intake_message(sent).model_copy(
            update={"received_at": NOW + timedelta(minutes=k), "claims": [c.key for c in keys]}
        )
        store.claims.claim(keys, "h", message.submission_id, "cohort-a")  # type: ignore[union-attr]
        ids.append(
            process_submission(message, store, store, MemoryQueue(), now=NOW, grace=GRACE).application_id
        )
    return ids


def test_withdrawing_a_mentee_gives_the_place_to_the_first_waiting(store: MemoryStore) -> None:
    ids = _mentees(store, 43)  # B-MEntor Professional has 40 places: three wait
    waiting = [i for i in ids if store.applications[("cohort-a", i)].waiting_list]
    assert len(waiting) == 3
    queue = MemoryQueue()

    result = withdraw_application(
        "cohort-a", ids[5], WithdrawRequest(reason="applicant_request"), NOW, store, store, queue
    )

    assert result.place_given_to == waiting[0]
    assert not store.applications[("cohort-a", waiting[0])].waiting_list
    assert store.applications[("cohort-a", waiting[1])].waiting_list
    assert ids[5] not in store.places["cohort-a"]
    assert len(store.places["cohort-a"]) == 40
    assert store.applications[("cohort-a", ids[5])].withdrawn is not None
    sent = {(n.kind, n.application_id) for n in queue.messages if isinstance(n, Notification)}
    assert sent == {(EmailKind.WITHDRAWN, ids[5]), (EmailKind.PLACE_OFFERED, waiting[0])}


def test_a_withdrawn_place_with_nobody_waiting_is_free_again(store: MemoryStore) -> None:
    (only,) = _mentees(store, 1)

    withdraw_application(
        "cohort-a", only, WithdrawRequest(reason="not_genuine"), NOW, store, store, MemoryQueue()
    )

    assert store.cohorts["cohort-a"].admitted_mentees == 0
    assert store.take_place("cohort-a", "someone-new", 40)


def test_a_fake_application_is_withdrawn_silently_and_the_real_person_can_apply(store: MemoryStore) -> None:
    (fake,) = _mentees(store, 1)
    queue = MemoryQueue()
    application = store.applications[("cohort-a", fake)]
    (claim,) = claims_of(application)
    assert claim.key in store.claims.held  # type: ignore[union-attr]

    withdraw_application("cohort-a", fake, WithdrawRequest(reason="not_genuine"), NOW, store, store, queue)

    assert queue.messages == []  # the address's owner never applied: nobody is emailed
    assert claim.key not in store.claims.held  # type: ignore[union-attr]


def test_withdrawn_applications_are_never_matched(store: MemoryStore) -> None:
    from mentoring.deadline import run_deadline

    (mentee,) = _mentees(store, 1)
    withdraw_application(
        "cohort-a", mentee, WithdrawRequest(reason="not_genuine"), NOW, store, store, MemoryQueue()
    )

    run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())

    assert store.list_matches("cohort-a") == []
    assert all(u.application_id != mentee for u in store.list_unmatched("cohort-a"))


def test_withdrawing_twice_changes_nothing_twice(store: MemoryStore) -> None:
    ids = _mentees(store, 42)
    queue = MemoryQueue()
    request = WithdrawRequest(reason="applicant_request")

    first = withdraw_application("cohort-a", ids[0], request, NOW, store, store, queue)
    again = withdraw_application("cohort-a", ids[0], request, NOW, store, store, queue)

    assert first.place_given_to is not None
    assert again.place_given_to is None
    assert len(store.places["cohort-a"]) == 40
    assert len([n for n in queue.messages if isinstance(n, Notification)]) == 2


def test_a_partner_reference_withdrawn_is_refused_on_retry(store: MemoryStore) -> None:
    reference = Claim("reference", "REFERENCE#UCL#UCL-1")
    assert store.claims is not None
    store.claims.claim([reference], "h", "id-1", "cohort-a")
    store.claims.withdrawn.add(reference.key)

    with pytest.raises(Exception, match="withdrawn"):
        store.claims.claim([reference], "h", "id-1", "cohort-a")


def test_no_withdrawal_once_matching_has_started(store: MemoryStore) -> None:
    (mentee,) = _mentees(store, 1)
    store.cohorts["cohort-a"] = store.cohorts["cohort-a"].model_copy(update={"status": CohortStatus.MATCHING})

    with pytest.raises(WithdrawalError) as refused:
        withdraw_application(
            "cohort-a", mentee, WithdrawRequest(reason="not_genuine"), NOW, store, store, MemoryQueue()
        )

    assert refused.value.status == 409


def test_an_unknown_application_is_404(store: MemoryStore) -> None:
    with pytest.raises(WithdrawalError) as refused:
        withdraw_application(
            "cohort-a", "nope", WithdrawRequest(reason="not_genuine"), NOW, store, store, MemoryQueue()
        )
    assert refused.value.status == 404


def test_mentors_hold_no_place_and_are_simply_withdrawn(store: MemoryStore) -> None:
    message = intake_message(submission(role="mentor", grade=9))
    mentor = process_submission(message, store, store, MemoryQueue(), now=NOW, grace=GRACE)
    assert mentor.role is Role.MENTOR

    result = withdraw_application(
        "cohort-a",
        mentor.application_id,
        WithdrawRequest(reason="not_genuine"),
        NOW,
        store,
        store,
        MemoryQueue(),
    )

    assert result.place_given_to is None
    assert store.applications[("cohort-a", mentor.application_id)].withdrawn is not None
