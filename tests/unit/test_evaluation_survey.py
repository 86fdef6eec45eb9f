"""The evaluation survey: its questions come from the scheme, wrong answers are named field by field,
and answers are settled as monitoring answers are: in k-anonymous batches of at least k, from the
programme's last day, deleted unread when fewer than k are left once the evaluation closes."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, time, timedelta

import pytest
from mentoring.evaluation import (
    EVALUATION_OPEN_FOR,
    NEXT_YEAR_FIELD,
    EvaluationAnswersError,
    EvaluationClosedError,
    EvaluationNotOpenError,
    NotAParticipantError,
    evaluation_open,
    evaluation_opens,
    invitation_list,
    parse_answers,
    parse_next_year,
    questions,
    receive_evaluation,
    record_next_year,
    settle_evaluation,
    sweep_evaluation,
)
from mentoring.evaluation_report import EvaluationRow, build_report, to_csv, to_html, to_json
from mentoring.models import (
    LONDON,
    EvaluationAnswers,
    EvaluationRecord,
    NextYearChoice,
    PendingEvaluation,
    Role,
    SealedAnswers,
)
from mentoring.ports import AlreadyAnsweredError
from mentoring.programme import calendar_of
from mentoring.scheme import AGREEMENT, get_scheme, load_schemes

from tests.unit.factories import NOW, application, cohort, lease
from tests.unit.fakes import MemoryStore

pytestmark = pytest.mark.unit

SCHEME = get_scheme("b-mentor-professional")
K = SCHEME.monitoring_batch


class WrappingEvaluationSeal:
    """AnswerSealer and AnswerOpener of evaluation answers standing in for KMS (bound to the cohort)."""

    def seal(self, answers: EvaluationAnswers, cohort_id: str) -> SealedAnswers:
        wrapped = json.dumps({"cohort_id": cohort_id, "answers": answers.model_dump()})
        return SealedAnswers(ciphertext=base64.b64encode(wrapped.encode()).decode())

    def open(self, sealed: SealedAnswers, cohort_id: str) -> EvaluationAnswers:
        wrapped = json.loads(base64.b64decode(sealed.ciphertext))
        if wrapped["cohort_id"] != cohort_id:
            raise ValueError("sealed for another cohort")
        return EvaluationAnswers.model_validate(wrapped["answers"])


class MemoryEvaluation:
    """EvaluationStore in dicts; records every transaction written."""

    def __init__(self) -> None:
        self.pending_records: dict[str, PendingEvaluation] = {}
        self.stored: dict[str, EvaluationRecord] = {}
        self.writes: list[list[EvaluationRecord]] = []
        self.answered_by: set[tuple[str, str]] = set()

    def hold(self, pending: PendingEvaluation, answered_by: str | None = None) -> None:
        if answered_by is not None:
            if (pending.cohort_id, answered_by) in self.answered_by:
                raise AlreadyAnsweredError(answered_by)
            self.answered_by.add((pending.cohort_id, answered_by))
        self.pending_records[pending.record_id] = pending

    def answered(self, cohort_id: str, application_id: str) -> bool:
        return (cohort_id, application_id) in self.answered_by

    def pending(self, cohort_id: str) -> list[PendingEvaluation]:
        return [p for p in self.pending_records.values() if p.cohort_id == cohort_id]

    def pending_cohorts(self) -> list[str]:
        return sorted({p.cohort_id for p in self.pending_records.values()})

    def move_batch(self, cohort_id: str, retire: Sequence[str], write: Sequence[EvaluationRecord]) -> None:
        for record_id in retire:
            del self.pending_records[record_id]
        for record in write:
            self.stored[record.record_id] = record
        self.writes.append(list(write))

    def discard(self, pending: Sequence[str]) -> None:
        for record_id in pending:
            del self.pending_records[record_id]


class MemoryNextYear:
    def __init__(self) -> None:
        self.choices: dict[tuple[str, str], NextYearChoice] = {}

    def record_next_year(self, choice: NextYearChoice) -> None:
        self.choices[(choice.cohort_id, choice.application_id)] = choice

    def next_year(self, cohort_id: str) -> list[NextYearChoice]:
        return [c for (cid, _), c in self.choices.items() if cid == cohort_id]


# ---------------------------------------------------------------- the questions


def test_every_scheme_asks_each_role_something_with_fixed_answers_only() -> None:
    for scheme in load_schemes().values():
        for role in scheme.roles:
            asked = questions(scheme, role)
            assert asked, f"{scheme.id} asks its {role.value}s nothing"
            for question in asked:
                assert question.kind in {"agreement", "choice"}  # no free text: it could say who wrote it
                assert len(question.options) >= 2
        assert scheme.next_year.text.endswith("?")


def test_an_agreement_question_offers_the_five_point_scale_in_order() -> None:
    confidence = next(q for q in questions(SCHEME, Role.MENTEE) if q.id == "confidence")
    assert [(o.value, o.label) for o in confidence.options] == list(AGREEMENT)


def test_questions_for_a_role_leave_out_the_other_roles_questions() -> None:
    assert "fulfilment" in [q.id for q in questions(SCHEME, Role.MENTOR)]
    assert "fulfilment" not in [q.id for q in questions(SCHEME, Role.MENTEE)]
    assert "career" not in [q.id for q in questions(SCHEME, Role.MENTOR)]


# ---------------------------------------------------------------- parsing


def test_answers_of_the_role_are_kept_and_an_empty_field_is_no_answer() -> None:
    answers = parse_answers(
        SCHEME, Role.MENTEE, {"confidence": "agree", "career": "strongly_agree", "sessions": "six_or_more",
                              "skills": ""}
    )  # fmt: skip
    assert answers.answers == {"confidence": "agree", "career": "strongly_agree", "sessions": "six_or_more"}


def test_each_wrong_field_is_named_with_its_reason_and_never_its_value() -> None:
    with pytest.raises(EvaluationAnswersError) as raised:
        parse_answers(
            SCHEME,
            Role.MENTOR,
            {"confidence": "very much so", "career": "agree", "favourite_colour": "blue", "sessions": "6"},
        )
    errors = {e.field: e.message for e in raised.value.errors}
    assert errors == {
        "confidence": "choose one of the answers listed",
        "career": "this question is not asked of a mentor",
        "favourite_colour": "the survey has no such question",
        "sessions": "choose one of the answers listed",
    }
    assert "very much so" not in str(raised.value)
    assert "blue" not in str(raised.value)


def test_next_year_is_yes_no_or_no_answer_and_named_when_wrong() -> None:
    assert [parse_next_year(v) for v in ("yes", "no", "", None)] == [True, False, None, None]
    with pytest.raises(EvaluationAnswersError) as raised:
        parse_next_year("maybe")
    assert [(e.field, e.message) for e in raised.value.errors] == [(NEXT_YEAR_FIELD, "choose yes or no")]


def test_a_required_question_left_unanswered_is_named() -> None:
    required = SCHEME.model_copy(
        update={
            "evaluation": tuple(
                q.model_copy(update={"required": q.id == "recommend"}) for q in SCHEME.evaluation
            )
        }
    )
    with pytest.raises(EvaluationAnswersError) as raised:
        parse_answers(required, Role.MENTEE, {"confidence": "agree", "recommend": " "})
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("recommend", "this question needs an answer")
    ]


# ---------------------------------------------------------------- receiving and settling

OPENS = evaluation_opens(cohort())


def answer(store: MemoryEvaluation, n: int, role: Role = Role.MENTEE, cohort_id: str = "cohort-a") -> None:
    for i in range(n):
        given = parse_answers(SCHEME, role, {"confidence": AGREEMENT[i % 5][0]})
        receive_evaluation(cohort(cohort_id), role, given, WrappingEvaluationSeal(), store, OPENS)


def test_received_answers_are_held_sealed_with_no_identifier_and_no_time() -> None:
    store = MemoryEvaluation()
    answer(store, 1)
    (held,) = store.pending_records.values()
    assert set(held.model_dump()) == {"record_id", "cohort_id", "scheme_id", "role", "sealed"}
    assert "agree" not in held.sealed.ciphertext  # sealed, not readable on the way


def test_a_person_s_answers_are_held_once_and_that_they_answered_is_kept_apart() -> None:
    store = MemoryEvaluation()
    given = parse_answers(SCHEME, Role.MENTEE, {"confidence": "agree"})
    receive_evaluation(cohort(), Role.MENTEE, given, WrappingEvaluationSeal(), store, OPENS, "mentee-1")

    with pytest.raises(AlreadyAnsweredError):
        receive_evaluation(cohort(), Role.MENTEE, given, WrappingEvaluationSeal(), store, OPENS, "mentee-1")

    assert len(store.pending_records) == 1
    assert store.answered("cohort-a", "mentee-1")
    assert "mentee-1" not in next(iter(store.pending_records.values())).model_dump_json()


def test_answers_are_taken_from_the_programme_s_last_day_until_the_survey_closes() -> None:
    store = MemoryEvaluation()
    given = parse_answers(SCHEME, Role.MENTEE, {"confidence": "agree"})
    with pytest.raises(EvaluationNotOpenError) as early:
        receive_evaluation(
            cohort(), Role.MENTEE, given, WrappingEvaluationSeal(), store, OPENS - timedelta(seconds=1)
        )
    with pytest.raises(EvaluationClosedError) as late:
        receive_evaluation(
            cohort(), Role.MENTEE, given, WrappingEvaluationSeal(), store, OPENS + EVALUATION_OPEN_FOR
        )

    assert (early.value.closed, late.value.closed) == (False, True)
    assert store.pending_records == {}
    assert evaluation_open(cohort(), OPENS)
    assert not evaluation_open(cohort(), OPENS + EVALUATION_OPEN_FOR)
    assert OPENS.astimezone(LONDON).time() == time(0)
    assert OPENS.date() == calendar_of(cohort()).programme_ends


def settle_at(store: MemoryEvaluation, at: datetime, ended: bool = False) -> tuple[int, int, int]:
    cohorts = MemoryStore()
    cohorts.cohorts["cohort-a"] = cohort()
    result = settle_evaluation(cohort(), at, store, WrappingEvaluationSeal(), cohorts, lease(now=at), ended)
    return result.stored, result.waiting, result.discarded


def test_nothing_is_stored_before_the_programme_s_last_day_however_many_answered() -> None:
    store = MemoryEvaluation()
    answer(store, 3 * K)
    assert settle_at(store, OPENS - timedelta(minutes=1)) == (0, 3 * K, 0)
    assert store.stored == {}


def test_the_programme_end_event_stores_them_as_one_k_anonymous_batch() -> None:
    store = MemoryEvaluation()
    answer(store, K + 2, Role.MENTEE)
    answer(store, K - 1, Role.MENTOR)  # too few mentors to say they are mentors

    assert settle_at(store, OPENS - timedelta(hours=1), ended=True) == (2 * K + 1, 0, 0)

    groups = Counter(r.role for r in store.stored.values())
    assert min(groups.values()) >= K
    assert Role.MENTOR not in groups  # the mentors' role is not recorded
    assert all(r.eligible is None for r in store.stored.values())
    assert all(min(Counter(r.role for r in t).values()) >= K for t in store.writes)
    assert store.pending_records == {}


def test_fewer_than_k_wait_for_others_then_are_deleted_unread_when_the_evaluation_closes() -> None:
    store = MemoryEvaluation()
    answer(store, K - 1)
    assert settle_at(store, OPENS + timedelta(days=1)) == (0, K - 1, 0)
    assert settle_at(store, OPENS + EVALUATION_OPEN_FOR - timedelta(seconds=1)) == (0, K - 1, 0)
    assert settle_at(store, OPENS + EVALUATION_OPEN_FOR) == (0, 0, K - 1)
    assert store.stored == {}
    assert store.pending_records == {}


def test_the_sweep_settles_each_cohort_and_never_touches_monitoring_answers() -> None:
    store = MemoryEvaluation()
    answer(store, K, cohort_id="cohort-a")
    answer(store, 1, cohort_id="gone")
    cohorts = MemoryStore()
    cohorts.cohorts["cohort-a"] = cohort()

    results = sweep_evaluation(OPENS + timedelta(hours=1), cohorts, store, WrappingEvaluationSeal(), lease())

    assert {(r.cohort_id, r.stored, r.discarded) for r in results} == {("cohort-a", K, 0), ("gone", 0, 1)}
    assert cohorts.monitoring == []
    assert sorted(r.answers["confidence"] for r in store.stored.values()) == sorted(v for v, _ in AGREEMENT)


# ---------------------------------------------------------------- next year


def test_next_year_is_kept_with_identity_and_lists_those_who_said_yes_by_name() -> None:
    applications = MemoryStore()
    yes, no = application(role=Role.MENTEE), application(role=Role.MENTOR)
    for person in (yes, no):
        applications.applications[(person.cohort_id, person.application_id)] = person
    invitations = MemoryNextYear()

    record_next_year(yes.cohort_id, yes.application_id, True, applications, invitations, NOW)
    record_next_year(no.cohort_id, no.application_id, True, applications, invitations, NOW)
    record_next_year(no.cohort_id, no.application_id, False, applications, invitations, NOW)  # changed mind

    listed = invitation_list(yes.cohort_id, applications, invitations)
    assert [(i.application_id, i.email, i.role) for i in listed] == [
        (yes.application_id, yes.applicant.email, Role.MENTEE)
    ]
    with pytest.raises(NotAParticipantError):
        record_next_year(yes.cohort_id, "nobody", True, applications, invitations, NOW)


def test_a_question_answered_by_fewer_than_k_of_a_batch_is_not_kept() -> None:
    store = MemoryEvaluation()
    answer(store, K + 1, Role.MENTEE)
    for _ in range(K - 1):
        given = parse_answers(SCHEME, Role.MENTOR, {"confidence": "agree", "fulfilment": "strongly_agree"})
        receive_evaluation(cohort(), Role.MENTOR, given, WrappingEvaluationSeal(), store, OPENS)

    settle_at(store, OPENS)

    assert not any("fulfilment" in r.answers for r in store.stored.values())
    assert sum("confidence" in r.answers for r in store.stored.values()) == 2 * K


# ---------------------------------------------------------------- the report


def rows(n: int, role: Role | None, answers: dict[str, str]) -> list[EvaluationRow]:
    return [
        EvaluationRow.from_record(
            EvaluationRecord(cohort_id="c", scheme_id=SCHEME.id, role=role, answers=answers)
        )
        for _ in range(n)
    ]


def test_the_report_publishes_rounded_figures_the_same_at_every_reading() -> None:
    records = rows(13, Role.MENTEE, {"confidence": "agree"}) + rows(6, None, {"confidence": "disagree"})

    first = to_json(build_report("Cohort", SCHEME, records, K))
    again = to_json(build_report("Cohort", SCHEME, list(reversed(records)), K))

    assert first == again
    confidence = next(q for q in first["questions"] if q["question"] == "confidence")
    cells = [c["count"] for r in [*confidence["rows"], confidence["total"]] for c in r["cells"].values()]
    assert all(c % 5 == 0 for c in cells)
    disagree = next(r for r in confidence["rows"] if r["value"] == "disagree")["cells"]
    assert disagree["mentee_answered"]["count"] == disagree["mentor_answered"]["count"] == 0  # role unknown
    assert disagree["all_answered"]["count"] in {5, 10}  # 6, at most 4 away
    assert first["not_recorded"] == 6
    assert [c["label"] for c in first["columns"]] == ["Mentees", "Mentors", "All participants"]
    assert to_csv(build_report("Cohort", SCHEME, records, K)).startswith(
        "question,question_label,value,value_label,mentee_answered_count"
    )


def test_a_report_without_stored_answers_says_so() -> None:
    page = to_html(build_report("Cohort <1>", SCHEME, [], K))
    assert "No figures yet." in page
    assert "Cohort &lt;1&gt;" in page
