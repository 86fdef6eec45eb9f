"""The use cases over in-memory ports: intake, the deadline, cohorts, submissions and emails."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from mentoring.cohorts import CohortRequestError, create_cohort
from mentoring.deadline import run_deadline
from mentoring.emails import compose
from mentoring.intake import process_submission
from mentoring.matching import match_cohort
from mentoring.models import (
    ApplicationSubmission,
    EmailKind,
    IntakeMessage,
    MatchingProfile,
    NewCohort,
    Notification,
    PartnerBatch,
    Role,
)
from mentoring.ports import CohortExistsError, CohortNotFoundError
from mentoring.scheme import get_scheme
from mentoring.submissions import (
    Candidate,
    FrontDoor,
    SubmissionError,
    accept,
    batch_status,
    body_hash,
    claims_for,
    form_to_dict,
    parse_form,
    parse_json,
    partner_candidates,
    partner_status,
)

from tests.unit.factories import NOW, application, cohort, intake_message, lease, mentor, submission
from tests.unit.fakes import (
    MemoryClaims,
    MemoryQueue,
    MemoryScheduler,
    MemoryStore,
    MemoryWatch,
    WrappingSeal,
)

pytestmark = pytest.mark.unit

KEY = b"the submission id key"
GRACE = timedelta(days=14)  # for late monitoring answers


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.create_cohort(cohort("cohort-a"))
    return memory


# ---------------------------------------------------------------- intake


def test_intake_stores_the_application_and_holds_the_answers_sealed_without_identity(
    store: MemoryStore,
) -> None:
    sent = submission(staff_number="S-123")
    message = intake_message(sent)

    application = process_submission(message, store, store, MemoryQueue(), now=NOW, grace=GRACE)

    (record,) = store.monitoring
    assert application.eligibility.eligible
    assert record.sealed == message.monitoring  # intake never opens them
    assert WrappingSeal().open(record.sealed, "cohort-a") == sent.monitoring
    record_values = set(json.dumps(record.model_dump(mode="json")).split('"'))
    for personal in (
        "S-123",
        message.submission_id,
        application.applicant.email,
        application.applicant.given_name,
    ):
        assert personal not in record_values
    assert (record.cohort_id, record.scheme_id, record.role) == (
        "cohort-a",
        "b-mentor-professional",
        Role.MENTEE,
    )


def test_partner_applicants_belong_to_the_partner(store: MemoryStore) -> None:
    message = intake_message(submission(institution=None), partner="SGUL")

    application = process_submission(message, store, store, MemoryQueue(), now=NOW, grace=GRACE)

    assert application.applicant.institution == "SGUL"
    assert application.partner == "SGUL"


def test_a_redelivered_submission_is_stored_once_and_acknowledged_under_one_key(store: MemoryStore) -> None:
    message = intake_message(submission())
    queue = MemoryQueue()

    process_submission(message, store, store, queue, now=NOW, grace=GRACE)
    process_submission(message, store, store, queue, now=NOW, grace=GRACE)

    assert len(store.applications) == 1
    assert len(store.monitoring) == 1
    assert {n.key for n in queue.messages if isinstance(n, Notification)} == {
        f"cohort-a#{message.submission_id}#acknowledgement"
    }


def test_answers_arriving_after_the_grace_period_are_not_held(store: MemoryStore) -> None:
    """They could never be stored in a batch of k: the application is kept, the answers are not."""
    deadline = store.cohorts["cohort-a"].recruitment_deadline

    application = process_submission(
        intake_message(submission()), store, store, MemoryQueue(), now=deadline + GRACE, grace=GRACE
    )

    assert (application.cohort_id, application.application_id) in store.applications
    assert store.monitoring == []


def test_intake_for_an_unknown_cohort_fails_loudly(store: MemoryStore) -> None:
    with pytest.raises(CohortNotFoundError):
        process_submission(
            intake_message(submission("gone-cohort")), store, store, MemoryQueue(), now=NOW, grace=GRACE
        )


# ---------------------------------------------------------------- the deadline


def _fill(store: MemoryStore) -> None:
    for app in [
        application(institution="UCL"),
        application(institution="KCL"),
        application(institution="QMUL", grade=9),  # ineligible
        mentor(institution="UAL", capacity=1),
        mentor(institution="SGUL", grade=7),  # ineligible
    ]:
        store.applications[(app.cohort_id, app.application_id)] = app


def test_deadline_matches_once_and_queues_one_email_per_eligible_person(store: MemoryStore) -> None:
    _fill(store)
    queue = MemoryQueue()

    first = run_deadline("cohort-a", lease(), store, store, queue, MemoryWatch())
    again = run_deadline("cohort-a", lease(), store, store, queue, MemoryWatch())

    assert first.ran
    assert not again.ran
    kinds = sorted(n.kind.value for n in queue.messages if isinstance(n, Notification))
    assert kinds == ["coordinator_summary", "matched_mentee", "matched_mentor", "unmatched"]
    assert store.cohorts["cohort-a"].status.value == "matched"


def test_a_failed_run_gives_its_claim_back_so_a_retry_runs(store: MemoryStore) -> None:
    _fill(store)
    store.fail_on_results = True

    with pytest.raises(ConnectionError):
        run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())
    store.fail_on_results = False
    retry = run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())

    assert retry.ran
    assert len(store.list_matches("cohort-a")) == 1


# ---------------------------------------------------------------- cohorts


def _request(**overrides: object) -> NewCohort:
    fields: dict[str, object] = {
        "cohort_id": "cohort-b",
        "scheme_id": "b-mentor-professional",
        "name": "Spring",
        "recruitment_deadline": NOW + timedelta(days=30),
        "coordinator_email": "edi@example.ac.uk",
    }
    return NewCohort.model_validate(fields | overrides)


def test_opening_a_cohort_schedules_its_deadline(store: MemoryStore) -> None:
    scheduler = MemoryScheduler()

    opened = create_cohort(_request(), NOW, store, scheduler)

    assert scheduler.schedules == {"cohort-b": NOW + timedelta(days=30)}
    assert store.get_cohort("cohort-b") == opened


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scheme_id": "nope"}, "scheme_id"),
        ({"recruitment_deadline": NOW - timedelta(hours=1)}, "recruitment_deadline"),
    ],
)
def test_a_cohort_request_that_cannot_work_names_the_field(
    store: MemoryStore, overrides: dict[str, object], field: str
) -> None:
    scheduler = MemoryScheduler()

    with pytest.raises(CohortRequestError) as error:
        create_cohort(_request(**overrides), NOW, store, scheduler)

    assert error.value.field == field
    assert scheduler.schedules == {}


def test_a_cohort_id_cannot_be_opened_twice(store: MemoryStore) -> None:
    scheduler = MemoryScheduler()
    create_cohort(_request(), NOW, store, scheduler)
    scheduler.schedules.clear()

    with pytest.raises(CohortExistsError):
        create_cohort(_request(name="Again"), NOW, store, scheduler)
    assert scheduler.schedules == {}


# ---------------------------------------------------------------- submissions


def test_malformed_json_names_the_body() -> None:
    with pytest.raises(SubmissionError) as error:
        parse_json(PartnerBatch, "{oops")

    assert error.value.errors[0].field == "body"


def test_field_errors_name_dotted_fields_and_never_echo_values() -> None:
    body = submission().model_dump(mode="json")
    body["applicant"]["email"] = "Xanthippe-at-nowhere"
    body["monitoring"]["religion"] = "Pastafarian"
    body["consent"] = False
    body["extra"] = "field"

    with pytest.raises(SubmissionError) as error:
        parse_json(type(submission()), json.dumps(body))

    fields = {e.field: e.message for e in error.value.errors}
    assert set(fields) == {"applicant.email", "monitoring.religion", "consent", "extra"}
    assert fields["extra"] == "is not a field of this form"
    text = json.dumps([e.model_dump() for e in error.value.errors])
    assert "Xanthippe" not in text
    assert "Pastafarian" not in text


def test_a_form_post_becomes_the_same_submission_as_json() -> None:
    form = (
        "cohort_id=cohort-a&role=mentor&applicant.given_name=Ada&applicant.family_name=Lovelace"
        "&applicant.email=ada%40example.ac.uk&applicant.institution=KCL&applicant.department=Maths"
        "&applicant.job_title=Director&applicant.grade=9&profile.skills=data%2C+strategy&profile.capacity=2"
        "&consent=yes&applicant.staff_number=&profile.goals=a&profile.goals=b"
    )

    parsed = parse_form(
        form, {"profile.skills": "list", "profile.capacity": "number", "profile.goals": "list"}
    )

    assert parsed.profile.answer("skills") == ["data", "strategy"]
    assert parsed.profile.answer("goals") == ["a", "b"]  # repeated checkboxes
    assert parsed.profile.capacity == 2
    assert parsed.applicant.staff_number is None
    assert form_to_dict("role=mentee")["consent"] is False


def door(store: MemoryStore, claims: MemoryClaims, queue: MemoryQueue, key: bytes = KEY) -> FrontDoor:
    return FrontDoor(store, claims, queue, WrappingSeal(), key)


def _web(*subs: ApplicationSubmission) -> list[Candidate]:
    return [Candidate(i, s) for i, s in enumerate(subs)]


def test_accept_queues_one_message_per_submission(store: MemoryStore) -> None:
    queue = MemoryQueue()

    results = accept(
        _web(submission(), submission()), "web_form", None, NOW, door(store, MemoryClaims(), queue)
    )

    assert [r.status for r in results] == [202, 202]
    assert [m.submission_id for m in queue.messages] == [r.submission_id for r in results]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "message"),
    [("no-cohort", "no cohort has this id"), ("closed-one", "closed"), ("past-one", "closed")],
)
def test_accept_refuses_unknown_and_closed_cohorts_and_queues_nothing(
    store: MemoryStore, target: str, message: str
) -> None:
    store.create_cohort(cohort("closed-one", status="matched"))
    store.create_cohort(cohort("past-one", deadline=NOW - timedelta(minutes=1)))
    queue = MemoryQueue()

    (result,) = accept(_web(submission(target)), "web_form", None, NOW, door(store, MemoryClaims(), queue))

    assert result.status == 422
    assert result.errors[0].field == "cohort_id"
    assert message in result.errors[0].message
    assert queue.messages == []


def test_the_same_application_sent_twice_gets_the_same_id_and_a_changed_one_a_conflict(
    store: MemoryStore,
) -> None:
    claims, queue = MemoryClaims(), MemoryQueue()
    original = submission(email="amara@example.ac.uk")
    changed = original.model_copy(update={"profile": MatchingProfile(skills=["other"])})

    first = accept(_web(original), "web_form", None, NOW, door(store, claims, queue))
    again = accept(_web(original), "web_form", None, NOW, door(store, claims, queue))
    other = accept(_web(changed), "web_form", None, NOW, door(store, claims, queue))

    assert first[0].submission_id == again[0].submission_id
    assert again[0].status == 202  # queued again: intake's idempotency makes it one application
    assert other[0].status == 409
    assert other[0].errors[0].field == "applicant.email"


def test_the_queued_message_carries_the_answers_sealed_and_never_in_the_clear(store: MemoryStore) -> None:
    queue = MemoryQueue()
    sent = submission()  # black_caribbean, sikh, 25-34

    accept(_web(sent), "web_form", None, NOW, door(store, MemoryClaims(), queue))

    (message,) = queue.messages
    assert isinstance(message, IntakeMessage)
    body = message.model_dump_json()
    assert sent.applicant.email in body  # intake needs the identity...
    for answer in ("black_caribbean", "sikh", "25-34"):
        assert answer not in body  # ...and never sees the answers beside it
    assert "monitoring" not in message.submission.model_dump()
    assert WrappingSeal().open(message.monitoring, sent.cohort_id) == sent.monitoring


def test_ids_and_claims_cannot_be_recomputed_from_an_email_without_the_key(store: MemoryStore) -> None:
    sent = submission(email="amara@example.ac.uk")
    email_sha = hashlib.sha256(b"amara@example.ac.uk").hexdigest()

    with_key, _ = claims_for(sent, None, KEY)
    (first,) = accept(_web(sent), "web_form", None, NOW, door(store, MemoryClaims(), MemoryQueue()))
    (again,) = accept(_web(sent), "web_form", None, NOW, door(store, MemoryClaims(), MemoryQueue()))
    (other_key,) = accept(
        _web(sent), "web_form", None, NOW, door(store, MemoryClaims(), MemoryQueue(), key=b"another key")
    )

    assert first.submission_id == again.submission_id  # stable under one key: a retry is one application
    assert first.submission_id != other_key.submission_id  # and nothing without it
    public = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"APPLICANT#cohort-a#{email_sha}")), email_sha}
    assert first.submission_id not in public
    (claim,) = with_key
    assert email_sha not in claim.key
    assert "amara" not in claim.key
    shouted = sent.model_copy(
        update={"applicant": sent.applicant.model_copy(update={"email": "AMARA@example.ac.uk"})}
    )
    assert claims_for(shouted, None, KEY)[0] == with_key  # one person, however the address is written


def test_the_retry_check_is_keyed_so_answers_cannot_be_matched_against_it() -> None:
    sent = submission()

    assert body_hash(sent, None, KEY) == body_hash(sent, None, KEY)
    assert body_hash(sent, None, KEY) != body_hash(sent, None, b"another key")
    plain = json.dumps({"partner": None, "submission": sent.model_dump(mode="json")}, sort_keys=True)
    assert body_hash(sent, None, KEY) != hashlib.sha256(plain.encode()).hexdigest()


def test_partner_items_are_judged_one_by_one(store: MemoryStore) -> None:
    good = submission(institution=None).model_dump(mode="json") | {"reference": "KCL-1"}
    foreign = submission(institution="UCL").model_dump(mode="json") | {"reference": "KCL-2"}
    broken = good | {"reference": "KCL-3", "role": "sponsor"}
    queue = MemoryQueue()

    candidates = partner_candidates([good, foreign, broken, "not an object"], "KCL")
    results = accept(candidates, "partner", "KCL", NOW, door(store, MemoryClaims(), queue))

    assert [(r.index, r.reference, r.status) for r in results] == [
        (0, "KCL-1", 202),
        (1, "KCL-2", 422),
        (2, "KCL-3", 422),
        (3, None, 422),
    ]
    assert results[1].errors[0].field == "applicant.institution"
    assert results[2].errors[0].field == "role"
    assert len(queue.messages) == 1  # type: ignore[attr-defined]
    assert batch_status(results, single=False) == 207


def test_a_reference_is_the_partners_own(store: MemoryStore) -> None:
    claims = MemoryClaims()
    item = submission(institution=None).model_dump(mode="json") | {"reference": "REF-1"}
    (kcl,) = accept(
        partner_candidates([item], "KCL"), "partner", "KCL", NOW, door(store, claims, MemoryQueue())
    )
    # Another partner may use the same reference for its own application (another person).
    other = item | {"applicant": item["applicant"] | {"email": "someone.else@example.ac.uk"}}
    (ucl,) = accept(
        partner_candidates([other], "UCL"), "partner", "UCL", NOW, door(store, claims, MemoryQueue())
    )

    assert (kcl.status, ucl.status) == (202, 202)
    assert kcl.submission_id != ucl.submission_id
    assert partner_status("UCL", "REF-1", claims, store).submission_id == ucl.submission_id  # type: ignore[union-attr]
    assert partner_status("QMUL", "REF-1", claims, store) is None


# ---------------------------------------------------------------- emails


def test_acknowledgement_of_an_ineligible_applicant_gives_the_reasons(store: MemoryStore) -> None:
    app = application(grade=9)
    store.applications[(app.cohort_id, app.application_id)] = app
    note = Notification(
        cohort_id="cohort-a", kind=EmailKind.ACKNOWLEDGEMENT, application_id=app.application_id
    )

    email = compose(note, store.cohorts["cohort-a"], store)

    assert email.to == app.applicant.email
    assert "Mentees are at grade 5-7" in email.text
    assert "Mentees are at grade 5-7" in email.html


def test_matched_mentee_email_introduces_the_mentor_and_why(store: MemoryStore) -> None:
    _fill(store)
    run_deadline("cohort-a", lease(), store, store, MemoryQueue(), MemoryWatch())
    (match,) = store.list_matches("cohort-a")
    guide = store.get_application("cohort-a", match.mentor_id)
    assert guide is not None

    email = compose(
        Notification(cohort_id="cohort-a", kind=EmailKind.MATCHED_MENTEE, application_id=match.mentee_id),
        store.cohorts["cohort-a"],
        store,
    )

    assert email.subject.endswith("meet your mentor")
    assert guide.applicant.email in email.text
    assert match.explanation[0].removesuffix(" (+2)") in email.text  # the points are the coordinator's
    assert "(+2)" not in email.text
    assert "Mentee training" in email.text


def test_html_escapes_what_applicants_typed(store: MemoryStore) -> None:
    app = application(given_name="<script>alert(1)</script>")
    store.applications[(app.cohort_id, app.application_id)] = app
    note = Notification(
        cohort_id="cohort-a", kind=EmailKind.ACKNOWLEDGEMENT, application_id=app.application_id
    )

    email = compose(note, store.cohorts["cohort-a"], store)

    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<script>" in email.text


def test_a_mentee_after_the_cohort_is_full_waits_and_is_told_so(store: MemoryStore) -> None:
    store.places["cohort-a"] = {f"earlier-{n}" for n in range(40)}  # B-MEntor Professional: 40 places
    message = intake_message(submission())

    application = process_submission(message, store, store, MemoryQueue(), now=NOW, grace=GRACE)
    note = Notification(
        cohort_id="cohort-a", kind=EmailKind.ACKNOWLEDGEMENT, application_id=application.application_id
    )
    email = compose(note, store.cohorts["cohort-a"], store)

    assert application.eligibility.eligible
    assert application.waiting_list
    assert "waiting list" in email.text
    result = match_cohort(
        get_scheme("b-mentor-professional"), "cohort-a", [application], [mentor(institution="KCL")]
    )
    assert result.matches == []
    assert "waiting list" in result.unmatched_mentees[0].reason
