"""The adversary of tests/e2e/test_anonymity.py, against the evaluation survey: a coordinator who
knows who answered the survey, when, and in which role (the participant page keeps "answered" on
the identity side, and the coordinator can ask people), reads every figure of the evaluation
reports after each answer, and tries to recover each person's answers.

The figures are the cohort's evaluation report and the scheme's, each as JSON, CSV and HTML. The
attacks:

- differencing: what changed between the reading before and the reading after one answer (or the
  scheduled run after it) is that person's;
- singling out: a role's only participant is whatever that role's column holds; and the few people
  of a role who answered a question asked of that role only (fewer than k of them) answered
  whatever that question's table holds, when it holds one answer only.

An answer counts as recovered when the adversary pins it on one person and is right, and it is not
what the population's shares already say (the most common published answer). The protections under
test: pending answers never counted, answers stored only in batches of at least k (late ones too),
k-anonymous role groups, no question kept for fewer than k of a batch, nothing stored for a cohort
where fewer than k answered. Without the batches of k (``monitoring_batch: 1``), differencing
recovers answers of the late ones, and the test fails.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mentoring.adapters.dynamodb import DynamoApplications, DynamoEvaluation
from mentoring.adapters.kms import KmsEvaluationAnswers
from mentoring.evaluation import EVALUATION_OPEN_FOR, evaluation_opens, questions, receive_evaluation
from mentoring.models import Cohort, EvaluationAnswers, Role
from mentoring.scheme import get_scheme

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.e2e import adversary
from tests.e2e.adversary import counts_of, html_counts, local_stack, read_reports, scanned

pytestmark = pytest.mark.e2e

SCHEME = get_scheme("b-mentor-professional")
K = SCHEME.monitoring_batch
ASKED = {q.id: q for q in SCHEME.evaluation}


# ---------------------------------------------------------------- what the adversary reads


@dataclass(frozen=True)
class Reading:
    reports: dict[str, Any]  # "cohort.json", "cohort.csv", "cohort.html", "scheme.json", ...

    def counts(self, scope: str = "cohort") -> dict[tuple[str, str, str], int]:
        return counts_of(self.reports[f"{scope}.json"])


def read(api: ApiClient, cohort_id: str) -> Reading:
    return Reading(
        read_reports(
            api,
            (
                ("cohort", f"/cohorts/{cohort_id}/evaluation-report"),
                ("scheme", f"/schemes/{SCHEME.id}/evaluation-report"),
            ),
        )
    )


# ---------------------------------------------------------------- the people and the timeline


@dataclass
class Person:
    role: Role
    answers: dict[str, str]


def people(rng: random.Random, mentees: int, mentors: int) -> list[Person]:
    """Participants answering every question of their role at random."""
    made = [
        Person(role, {q.id: rng.choice(q.options).value for q in questions(SCHEME, role)})
        for role, n in ((Role.MENTEE, mentees), (Role.MENTOR, mentors))
        for _ in range(n)
    ]
    rng.shuffle(made)
    return made


@dataclass
class Step:
    what: str
    person: Person | None
    reading: Reading
    stored: int
    pending: int


@dataclass
class Timeline:
    runtime: LocalRuntime
    api: ApiClient
    cohort: Cohort
    steps: list[Step] = field(default_factory=list)
    answered: list[Person] = field(default_factory=list)

    @property
    def opens(self) -> datetime:
        return evaluation_opens(self.cohort)

    def records(self) -> list[dict[str, Any]]:
        return scanned(self.runtime, self.cohort.cohort_id)

    def observe(self, what: str, person: Person | None = None) -> None:
        self.runtime.wait_until_drained()
        records = self.records()
        pending = sum(1 for r in records if r["record_id"]["S"].startswith("EVALUATION-PENDING#"))
        self.steps.append(
            Step(what, person, read(self.api, self.cohort.cohort_id), len(records) - pending, pending)
        )

    def answer(self, person: Person, at: datetime) -> None:
        """What the participant page does with one person's answers, at ``at``."""
        receive_evaluation(
            self.cohort,
            person.role,
            EvaluationAnswers(answers=person.answers),
            KmsEvaluationAnswers(
                self.runtime.physical["MonitoringKey"]["Arn"], kms=self.runtime.client("kms")
            ),
            DynamoEvaluation(
                self.runtime.physical["MonitoringTable"]["Ref"], dynamodb=self.runtime.client("dynamodb")
            ),
            at,
        )
        self.answered.append(person)
        self.observe("answer", person)

    def sweep(self, at: datetime) -> None:
        self.runtime.fire_rate_schedules(now=at)
        self.observe(f"sweep at {at:%Y-%m-%d %H:%M}")


def open_cohort(runtime: LocalRuntime, api: ApiClient, name: str) -> Timeline:
    deadline = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    cohort_id = f"eval-{name}-{deadline:%H%M%S}"
    reply = api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": SCHEME.id, "name": f"Evaluation adversary {name}",
        "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
    })  # fmt: skip
    assert reply.status == 201, reply.body
    cohort = DynamoApplications(
        runtime.physical["ApplicationsTable"]["Ref"], dynamodb=runtime.client("dynamodb")
    ).get_cohort(cohort_id)
    assert cohort is not None
    timeline = Timeline(runtime, api, cohort)
    timeline.observe("opened")
    return timeline


# ---------------------------------------------------------------- the attacks


def shares(reading: Reading) -> dict[str, str]:
    """Each question's most common published answer: what the population's shares already say."""
    counts = reading.counts()
    return {
        q.id: max((o.value for o in q.options), key=lambda v, q=q.id: counts[(q, v, "all_answered")])
        for q in SCHEME.evaluation
    }


def differencing(steps: list[Step]) -> Iterator[tuple[Person, str, str]]:
    """When any figure changes and only one person answered since the last change (with the answer,
    or before the sweep after it), each question's only answer whose figures rose is theirs."""
    moments = [(step.person, step.reading.reports, step.reading.counts()) for step in steps]
    return adversary.differencing(moments, ASKED)


def singled_out(reading: Reading, answered: list[Person]) -> Iterator[tuple[Person, str, str]]:
    """A role's only participant is whatever the role's column holds; the few (fewer than k) of a
    role who could answer a question asked of that role only answered whatever its table holds,
    when it holds one answer only. A report that says roles are left out is believed for the first."""
    body = reading.reports["cohort.json"]
    counts = reading.counts()
    for role in Role:
        members = [p for p in answered if p.role == role]
        if len(members) == 1 and not body["not_recorded"]:
            for question in ASKED:
                shown = [v for (q, v, c), n in counts.items() if q == question and v != "total"
                         and c == f"{role.value}_answered" and n > 0]  # fmt: skip
                if len(shown) == 1:
                    yield members[0], question, shown[0]
        for question in (q for q in SCHEME.evaluation if q.roles == (role,)):
            if 0 < len(members) < K:
                shown = [
                    o.value for o in question.options if counts[(question.id, o.value, "all_answered")] > 0
                ]
                if len(shown) == 1:
                    for person in members:
                        yield person, question.id, shown[0]


def recovered(guesses: Iterator[tuple[Person, str, str]], final: Reading) -> list[tuple[str, str]]:
    common = shares(final)
    return [
        (question, answer)
        for person, question, answer in guesses
        if person.answers.get(question) == answer and answer != common[question]
    ]


def changes(steps: list[Step]) -> list[tuple[Step, Step]]:
    return [(b, a) for b, a in itertools.pairwise(steps) if b.reading.reports != a.reading.reports]


# ---------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, ApiClient]]:
    with local_stack(tmp_path_factory, "evaluation-adversary") as running:
        yield running


def test_a_cohort_where_fewer_than_k_answered_never_publishes_a_figure_and_keeps_no_answer(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, api = stack
    timeline = open_cohort(runtime, api, "small")
    for person in people(random.Random(7), mentees=2, mentors=1):  # fewer than k
        timeline.answer(person, timeline.opens)
    timeline.sweep(timeline.opens + timedelta(hours=1))
    timeline.sweep(timeline.opens + EVALUATION_OPEN_FOR + timedelta(hours=1))

    final = timeline.steps[-1].reading
    assert recovered(differencing(timeline.steps), final) == []
    for step in timeline.steps:
        assert recovered(singled_out(step.reading, timeline.answered), final) == []
    assert all(step.stored == 0 for step in timeline.steps)
    assert all(not step.reading.reports["cohort.json"]["has_figures"] for step in timeline.steps)
    assert {n for step in timeline.steps for n in step.reading.counts().values()} == {0}
    assert timeline.steps[-2].pending == len(timeline.answered)  # waiting, sealed, while it is open
    assert timeline.records() == []  # deleted once it closed, never stored


def test_reading_every_figure_after_each_answer_recovers_no_one_s_answers_on_time_or_late(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, api = stack
    timeline = open_cohort(runtime, api, "main")
    rng = random.Random(2028)
    on_time = people(rng, mentees=8, mentors=2)  # too few mentors to be told apart
    late = people(rng, mentees=2 * K + 1, mentors=0)

    # Given answers read one by one on the programme's last day, before the sweep,
    for person in on_time:
        timeline.answer(person, timeline.opens)
    # when the hourly sweep runs on that day, then each late answer is followed by the sweep,
    timeline.sweep(timeline.opens + timedelta(hours=1))
    for n, person in enumerate(late, start=2):
        timeline.answer(person, timeline.opens + timedelta(hours=n, minutes=-30))
        timeline.sweep(timeline.opens + timedelta(hours=n))
    # and the evaluation closes with the last late answer still waiting for others,
    timeline.sweep(timeline.opens + EVALUATION_OPEN_FOR + timedelta(hours=1))

    # then no attack recovers an answer beyond what the population's shares say,
    final = timeline.steps[-1]
    assert recovered(differencing(timeline.steps), final.reading) == []
    assert recovered(singled_out(final.reading, on_time), final.reading) == []
    # because no figure ever changed because of one answer,
    for before, after in changes(timeline.steps):
        assert after.person is None, f"a figure changed after one {after.what}"
        assert after.stored - before.stored >= K, after.what
    assert [a.what for _, a in changes(timeline.steps)] == [
        f"sweep at {timeline.opens + timedelta(hours=1):%Y-%m-%d %H:%M}",
        f"sweep at {timeline.opens + timedelta(hours=1 + K):%Y-%m-%d %H:%M}",
        f"sweep at {timeline.opens + timedelta(hours=1 + 2 * K):%Y-%m-%d %H:%M}",
    ]
    assert final.stored == len(on_time) + 2 * K
    assert final.pending == 0  # the last late answer, alone, was deleted
    # no stored role group is smaller than k, and the mentors' own question was not kept,
    records = timeline.records()
    roles = [str(r["role"]) for r in records]
    assert min(roles.count(role) for role in set(roles)) >= K
    assert not any("fulfilment" in r["answers"]["M"] for r in records)
    # and every format published the same figures.
    json_counts = [str(n) for n in final.reading.counts().values()]
    assert html_counts(final.reading.reports["cohort.html"], 3) == json_counts
