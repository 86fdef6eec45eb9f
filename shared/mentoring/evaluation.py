"""The evaluation survey at the end of the programme: asked through each participant's personal
link, answered anonymously, counted only in groups of at least k, exactly as monitoring answers are.

For the participant page (which renders the questions and calls these, once per person):

1. ``questions(scheme, role)``: what to ask a participant of that role, in order: each
   :class:`~mentoring.scheme.EvaluationQuestion` has ``id`` (the form field's name), ``text_for(role)``,
   ``kind`` (``agreement`` or ``choice``), ``options`` (each a ``value`` and its ``label``: radio
   buttons) and ``required``. There is no free-text question: a sentence can say who wrote it.
2. ``parse_answers(scheme, role, form)``: ``form`` holds the survey's fields only (question id ->
   the value chosen; an empty value is no answer). Wrong input raises :class:`EvaluationAnswersError`
   whose ``errors`` name each wrong field: a question the survey does not ask this role, an answer
   not among the options, a required question left unanswered.
3. ``receive_evaluation(cohort, role, answers, sealer, store, now)``: seals the answers (the
   Monitoring KMS key, purpose ``programme-evaluation``) and holds them as one pending record in the
   Monitoring table: a random key, the cohort, the role, no identifier, no time. Raises
   :class:`EvaluationNotOpenError` outside ``evaluation_open(cohort, now)`` (from the programme's
   last day, 00:00 London, for 28 days; ``closed`` says which side). Given the person's
   ``application_id``, it also records, in the same write, that they answered (identity's side, in
   the Applications table; never what), once: a second answer raises
   :class:`~mentoring.ports.AlreadyAnsweredError` and stores nothing. ``store.answered(cohort_id,
   application_id)`` tells the page whether to show the survey or a thank-you.
4. ``record_next_year(cohort_id, application_id, would_mentor, applications, invitations, now)``:
   "Would you like to be a mentor next year?" (``scheme.next_year.text``; its form field is
   :data:`NEXT_YEAR_FIELD`, "yes" or "no", read by ``parse_next_year``) is *not* an evaluation
   answer: keep it out of the form given to ``parse_answers``. It is kept with the person's
   identity, as the next cohort's invitation list, with the cohort's retention.

Pending answers are settled by the monitoring function with the same code as monitoring answers
(``mentoring.monitoring``): nothing moves before the programme's last day (London), then the
cohort's answers are stored as one k-anonymous batch once at least k are pending (on the hourly
sweep, or the programme-end event), in shuffled transactions of whole groups of at least k; fewer
than k left when the evaluation closes are deleted unread. The report counts stored records only
(``mentoring.evaluation_report``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from mentoring.institutions import institution_name
from mentoring.models import (
    LONDON,
    Cohort,
    EvaluationAnswers,
    EvaluationRecord,
    FieldError,
    NextYearChoice,
    PendingEvaluation,
    Role,
)
from mentoring.monitoring import Batching, Settled, settle_batch_alone, sweep_batches
from mentoring.ports import (
    AnswerOpener,
    AnswerSealer,
    ApplicationStore,
    CohortStore,
    EvaluationStore,
    Lease,
    NextYearList,
)
from mentoring.programme import calendar_of
from mentoring.scheme import EvaluationQuestion, Scheme, get_scheme
from mentoring.text import csv_cell

# How long the survey stays open after the programme's last day begins: answers after it are
# refused, and fewer than k still pending then are deleted. The project's default.
EVALUATION_OPEN_FOR = timedelta(days=28)


class EvaluationAnswersError(ValueError):
    """Wrong answers to the survey: ``errors`` names each wrong field and why (never the value)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class EvaluationNotOpenError(RuntimeError):
    """The cohort's evaluation is not open: the programme's last day has not begun (``closed`` is
    False) or the survey has closed (``closed`` is True: answers now could never be counted)."""

    def __init__(self, message: str, closed: bool) -> None:
        super().__init__(message)
        self.closed = closed


class EvaluationClosedError(EvaluationNotOpenError):
    def __init__(self, message: str) -> None:
        super().__init__(message, closed=True)


def questions(scheme: Scheme, role: Role | None = None) -> list[EvaluationQuestion]:
    """The survey's questions, in order: those asked of ``role``, or every one."""
    return [q for q in scheme.evaluation if role is None or role in q.roles]


def parse_answers(scheme: Scheme, role: Role, form: Mapping[str, str]) -> EvaluationAnswers:
    """The answers a participant of ``role`` sent, checked against the scheme's survey."""
    asked = {q.id: q for q in questions(scheme, role)}
    label = scheme.roles[role].label.lower() if role in scheme.roles else role.value
    errors: list[FieldError] = []
    answers: dict[str, str] = {}
    for field, value in form.items():
        question = asked.get(field)
        if question is None:
            known = any(q.id == field for q in scheme.evaluation)
            errors.append(
                FieldError(
                    field=field,
                    message=f"this question is not asked of a {label}"
                    if known
                    else "the survey has no such question",
                )
            )
        elif value.strip() == "":
            continue
        elif value not in {option.value for option in question.options}:
            errors.append(FieldError(field=field, message="choose one of the answers listed"))
        else:
            answers[field] = value
    wrong = {error.field for error in errors}
    for question in asked.values():
        if question.required and question.id not in answers and question.id not in wrong:
            errors.append(FieldError(field=question.id, message="this question needs an answer"))
    if errors:
        raise EvaluationAnswersError(errors)
    return EvaluationAnswers(answers=answers)


NEXT_YEAR_FIELD = "next_year"


def parse_next_year(value: str | None) -> bool | None:
    """The answer to "would you like to be a mentor next year?": True, False, or None (no answer)."""
    if value is None or not value.strip():
        return None
    if value not in {"yes", "no"}:
        raise EvaluationAnswersError([FieldError(field=NEXT_YEAR_FIELD, message="choose yes or no")])
    return value == "yes"


def evaluation_opens(cohort: Cohort) -> datetime:
    """When the cohort's answers may first be stored: the programme's last day, 00:00 London."""
    return datetime.combine(calendar_of(cohort).programme_ends, time(0), tzinfo=LONDON)


def evaluation_closes(cohort: Cohort) -> datetime:
    return evaluation_opens(cohort) + EVALUATION_OPEN_FOR


def evaluation_open(cohort: Cohort, now: datetime) -> bool:
    """Whether the page should offer the survey now: from the programme's last day, for 28 days."""
    return evaluation_opens(cohort) <= now < evaluation_closes(cohort)


def receive_evaluation(
    cohort: Cohort,
    role: Role,
    answers: EvaluationAnswers,
    sealer: AnswerSealer[EvaluationAnswers],
    store: EvaluationStore,
    now: datetime,
    application_id: str | None = None,
) -> None:
    """Seals one person's answers and holds them as pending (see the module's account). With the
    person's ``application_id``, that they answered is kept on identity's side in the same write,
    once (``AlreadyAnsweredError`` the second time: nothing is counted twice, and a retry after a
    failure is never lost)."""
    if now >= evaluation_closes(cohort):
        raise EvaluationClosedError(f"the evaluation of cohort {cohort.cohort_id!r} has closed")
    if now < evaluation_opens(cohort):
        raise EvaluationNotOpenError(f"the evaluation of cohort {cohort.cohort_id!r} is not open yet", False)
    store.hold(
        PendingEvaluation(
            cohort_id=cohort.cohort_id,
            scheme_id=cohort.scheme_id,
            role=role,
            sealed=sealer.seal(answers, cohort.cohort_id),
        ),
        answered_by=application_id,
    )


# ---------------------------------------------------------------- settling (the monitoring function)


def thin(records: Sequence[EvaluationRecord], k: int) -> list[EvaluationRecord]:
    """A batch with each question's answers kept only where at least ``k`` of the batch answered it:
    fewer could be the few people of a role whom a reader knows took part."""
    answered: dict[str, int] = {}
    for record in records:
        for question in record.answers:
            answered[question] = answered.get(question, 0) + 1
    small = {question for question, n in answered.items() if n < k}
    if not small:
        return list(records)
    return [
        record.model_copy(update={"answers": {q: v for q, v in record.answers.items() if q not in small}})
        for record in records
    ]


def evaluation_batching(
    store: EvaluationStore, opener: AnswerOpener[EvaluationAnswers]
) -> Batching[PendingEvaluation, EvaluationRecord]:
    """Evaluation answers as ``mentoring.monitoring`` settles them: grouped by role alone, stored
    from the programme's last day, deleted when fewer than k are left once the evaluation closes."""

    def open_one(p: PendingEvaluation) -> EvaluationRecord:
        opened = opener.open(p.sealed, p.cohort_id)
        return EvaluationRecord(
            cohort_id=p.cohort_id, scheme_id=p.scheme_id, role=p.role, answers=opened.answers
        )

    return Batching(store, open_one, evaluation_opens, thin)


def settle_evaluation(
    cohort: Cohort,
    now: datetime,
    store: EvaluationStore,
    opener: AnswerOpener[EvaluationAnswers],
    cohorts: CohortStore,
    lease: Lease,
    programme_ended: bool = False,
) -> Settled:
    """Settles one cohort's pending evaluation answers (the programme-end event), one run at a time."""
    k = get_scheme(cohort.scheme_id).monitoring_batch
    batching = evaluation_batching(store, opener)
    return settle_batch_alone(cohort, k, now, EVALUATION_OPEN_FOR, batching, cohorts, lease, programme_ended)


def sweep_evaluation(
    now: datetime,
    cohorts: CohortStore,
    store: EvaluationStore,
    opener: AnswerOpener[EvaluationAnswers],
    lease: Lease,
) -> list[Settled]:
    """Settles every cohort with pending evaluation answers (the monitoring function's hourly sweep)."""
    return sweep_batches(now, EVALUATION_OPEN_FOR, cohorts, evaluation_batching(store, opener), lease)


# ---------------------------------------------------------------- next year's invitation list


class NotAParticipantError(LookupError):
    """No application of the cohort has this id."""


def record_next_year(
    cohort_id: str,
    application_id: str,
    would_mentor: bool,
    applications: ApplicationStore,
    invitations: NextYearList,
    now: datetime,
) -> NextYearChoice:
    """Keeps a participant's answer to "would you like to be a mentor next year?" with their
    identity (a later answer replaces an earlier one)."""
    if applications.get_application(cohort_id, application_id) is None:
        raise NotAParticipantError(f"cohort {cohort_id!r} has no application {application_id!r}")
    choice = NextYearChoice(
        cohort_id=cohort_id, application_id=application_id, would_mentor=would_mentor, recorded_at=now
    )
    invitations.record_next_year(choice)
    return choice


@dataclass(frozen=True)
class Invitee:
    """One person of the next cohort's invitation list, as the coordinator reads it."""

    application_id: str
    given_name: str
    family_name: str
    email: str
    institution: str
    department: str
    role: Role  # this year's
    answered_at: datetime


def invitation_list(
    cohort_id: str, applications: ApplicationStore, invitations: NextYearList
) -> list[Invitee]:
    """Everyone of the cohort who would like to be a mentor next year, by name."""
    found = []
    for choice in invitations.next_year(cohort_id):
        application = applications.get_application(cohort_id, choice.application_id)
        if not choice.would_mentor or application is None or application.withdrawn is not None:
            continue
        person = application.applicant
        found.append(
            Invitee(
                application_id=application.application_id,
                given_name=person.given_name,
                family_name=person.family_name,
                email=str(person.email),
                institution=person.institution or "",
                department=person.department,
                role=application.role,
                answered_at=choice.recorded_at,
            )
        )
    return sorted(found, key=lambda i: (i.family_name.casefold(), i.given_name.casefold()))


def invitation_csv(invitees: Iterable[Invitee]) -> str:
    """The invitation list for the coordinator's spreadsheet, in cells it will not run as formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["application_id", "given_name", "family_name", "email", "institution", "department",
                     "role_this_year", "answered_at"])  # fmt: skip
    for person in invitees:
        row = [
            person.application_id,
            person.given_name,
            person.family_name,
            person.email,
            institution_name(person.institution),
            person.department,
            person.role.value,
            person.answered_at.isoformat(),
        ]
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
