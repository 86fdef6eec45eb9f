"""The adversary: a coordinator (or a partner's EDI officer) who knows who applied, when, in which
role and with which outcome, reads every figure coordinators are given after each application, and
tries to recover each newcomer's monitoring answers.

The figures are the cohort's report and the scheme's report, each as JSON, CSV and HTML, and the
cohort's progress (``GET /cohorts/{id}``). The adversary's attacks:

- differencing: what changed between the reading before and the reading after one application is
  that applicant's (the attack that recovered 31 of 35 answers when pending answers were counted);
- singling out: a role's only applicant is whatever that role's column holds (a small cohort), and
  a role's only ineligible applicant is whatever the applied column holds that the eligible one
  does not (the applied/eligible split), unless the report says the column leaves people out.

An answer counts as recovered when the adversary pins it on one person and is right, and it is not
what the population's shares already say (the most common published answer). The protections under
test: pending answers never counted, answers stored only in batches of at least k (late ones too),
k-anonymous stored groups, and nothing stored for a cohort of fewer than k.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from mentoring.models import MonitoringAnswers

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.e2e import adversary
from tests.e2e.adversary import counts_of, html_counts, local_stack, read_reports, scanned
from tests.integration.helpers import applicant_submission

pytestmark = pytest.mark.e2e

SCHEME = "b-mentor-professional"
K = 5  # its monitoring_batch
GRACE = timedelta(days=14)  # the template's LateAnswersGraceDays
QUESTIONS = {name: get_args(f.annotation) for name, f in MonitoringAnswers.model_fields.items()}


# ---------------------------------------------------------------- what the adversary reads


@dataclass(frozen=True)
class Reading:
    """Every figure a coordinator is given, at one moment."""

    monitoring: dict[str, Any]  # "cohort.json", "cohort.csv", "cohort.html", "scheme.json", ...
    progress: dict[str, Any]

    def counts(self, scope: str = "cohort") -> dict[tuple[str, str, str], int]:
        return counts_of(self.monitoring[f"{scope}.json"])


def read(api: ApiClient, cohort_id: str) -> Reading:
    monitoring = read_reports(
        api,
        (
            ("cohort", f"/cohorts/{cohort_id}/monitoring-report"),
            ("scheme", f"/schemes/{SCHEME}/monitoring-report"),
        ),
    )
    progress = api.signed("GET", f"/cohorts/{cohort_id}")
    assert progress.status == 200
    return Reading(monitoring, progress.body)


# ---------------------------------------------------------------- the people and the timeline


@dataclass
class Person:
    role: str
    grade: int
    answers: dict[str, str]
    eligible: bool

    def submission(self, cohort_id: str) -> dict[str, Any]:
        body = applicant_submission(cohort_id, role=self.role, grade=self.grade)
        body["monitoring"] = dict(self.answers)
        return body


def people(rng: random.Random, mentees: tuple[int, int], mentors: tuple[int, int]) -> list[Person]:
    """(eligible, ineligible) mentees and mentors, each with random answers to every question."""
    made = []
    for role, (yes, no) in (("mentee", mentees), ("mentor", mentors)):
        eligible_grade, ineligible_grade = (6, 9) if role == "mentee" else (9, 7)
        for eligible, n in ((True, yes), (False, no)):
            for _ in range(n):
                answers = {q: rng.choice(values) for q, values in QUESTIONS.items()}
                made.append(Person(role, eligible_grade if eligible else ineligible_grade, answers, eligible))
    rng.shuffle(made)
    return made


@dataclass
class Step:
    """One thing that happened, and the reading after it: an application, or a scheduled event."""

    what: str
    applicant: Person | None
    reading: Reading
    stored: int  # stored (not pending) monitoring records of the cohort, read from the table
    pending: int


@dataclass
class Timeline:
    runtime: LocalRuntime
    api: ApiClient
    cohort_id: str
    deadline: datetime
    steps: list[Step] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return scanned(self.runtime, self.cohort_id)

    def observe(self, what: str, applicant: Person | None = None) -> None:
        self.runtime.wait_until_drained()
        records = self.records()
        pending = sum(1 for r in records if r["record_id"]["S"].startswith("PENDING#"))
        self.steps.append(
            Step(what, applicant, read(self.api, self.cohort_id), len(records) - pending, pending)
        )

    def apply(self, person: Person) -> None:
        """Applies through the form and confirms from the link emailed (it counts only then)."""
        submission = person.submission(self.cohort_id)
        reply = self.api.apply(submission)
        assert reply.status == 202, reply.body
        token = self.runtime.confirmation_link(submission["applicant"]["email"])
        assert self.api.confirm(token).status == 200

    def sweep(self, at: datetime) -> None:
        self.runtime.fire_rate_schedules(now=at)
        self.observe(f"sweep at {at:%Y-%m-%d %H:%M}")

    def fire_deadline(self) -> None:
        fired = self.runtime.fire_due(now=self.deadline)  # and other cohorts' matching-lease watches
        assert [name for name in fired if not name.startswith("lease-")] == [f"deadline-{self.cohort_id}"]
        self.observe("deadline")


def open_cohort(runtime: LocalRuntime, api: ApiClient, name: str, minutes: int) -> Timeline:
    deadline = (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)
    cohort_id = f"adv-{name}-{deadline:%H%M%S}"
    reply = api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": SCHEME, "name": f"Adversary {name}",
        "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
    })  # fmt: skip
    assert reply.status == 201, reply.body
    timeline = Timeline(runtime, api, cohort_id, deadline)
    timeline.observe("opened")
    return timeline


# ---------------------------------------------------------------- the attacks


def shares(reading: Reading) -> dict[str, str]:
    """What the population's published shares say: each question's most common published answer."""
    counts = reading.counts()
    return {
        q: max(values, key=lambda v: (counts[(q, v, "all_applied")], v == "prefer_not_to_say"))
        for q, values in QUESTIONS.items()
    }


def differencing(steps: list[Step]) -> Iterator[tuple[Person, str, str]]:
    """Newcomers' answers as the adversary reads them (``adversary.differencing``): when any figure
    changes and only one person applied since the last change, each question's only answer whose
    figures rose is theirs."""
    moments = [(step.applicant, step.reading.monitoring, step.reading.counts()) for step in steps]
    return adversary.differencing(moments, QUESTIONS)


def singled_out(reading: Reading, applicants: list[Person]) -> Iterator[tuple[Person, str, str]]:
    """Answers of someone the figures single out: a role's only applicant is whatever that role's
    column holds; a role's only ineligible applicant is whatever its applied column holds that its
    eligible column does not. A report that says a column leaves people out is believed."""
    columns = {c["key"]: c for c in reading.monitoring["cohort.json"]["columns"]}
    counts = reading.counts()
    for role in ("mentee", "mentor"):
        members = [p for p in applicants if p.role == role]
        ineligible = [p for p in members if not p.eligible]
        for person, shown in (
            (members, lambda q, v, r=role: counts[(q, v, f"{r}_applied")] > 0),
            (
                ineligible,
                lambda q, v, r=role: counts[(q, v, f"{r}_applied")] > counts[(q, v, f"{r}_eligible")],
            ),
        ):
            if len(person) != 1 or any(
                columns[f"{role}_{o}"]["not_recorded"] for o in ("applied", "eligible")
            ):
                continue
            for question, values in QUESTIONS.items():
                rows = [v for v in values if shown(question, v)]
                if len(rows) == 1:
                    yield person[0], question, rows[0]


def recovered(guesses: Iterator[tuple[Person, str, str]], final: Reading) -> list[tuple[str, str]]:
    """The guesses that are right and more than the population's shares say."""
    common = shares(final)
    return [
        (question, answer)
        for person, question, answer in guesses
        if person.answers[question] == answer and answer != common[question]
    ]


def monitoring_changes(steps: list[Step]) -> list[tuple[Step, Step]]:
    return [(b, a) for b, a in itertools.pairwise(steps) if b.reading.monitoring != a.reading.monitoring]


def stored_groups(records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        (str(r["role"]), str(r["eligible"]))
        for r in records
        if not r["record_id"]["S"].startswith("PENDING#")
    )


# ---------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, ApiClient]]:
    with local_stack(tmp_path_factory, "adversary") as running:
        yield running


def test_a_cohort_of_fewer_than_k_never_publishes_a_figure_and_keeps_no_answer(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, api = stack
    timeline = open_cohort(runtime, api, "small", minutes=10)
    applicants = people(random.Random(13), mentees=(2, 0), mentors=(1, 0))  # fewer than k
    for person in applicants:
        timeline.apply(person)
        timeline.observe("application", person)
    timeline.fire_deadline()
    timeline.sweep(timeline.deadline + timedelta(hours=1))
    timeline.sweep(timeline.deadline + GRACE + timedelta(hours=1))

    assert all(step.stored == 0 for step in timeline.steps)
    assert all(not step.reading.monitoring["cohort.json"]["has_figures"] for step in timeline.steps)
    assert {n for step in timeline.steps for n in step.reading.counts().values()} == {0}
    assert timeline.steps[-2].pending == len(applicants)  # waiting, sealed, within the grace period
    assert timeline.records() == []  # deleted after it, never stored
    assert recovered(differencing(timeline.steps), timeline.steps[-1].reading) == []
    for step in timeline.steps:
        assert recovered(singled_out(step.reading, applicants), timeline.steps[-1].reading) == []


def test_reading_every_figure_after_each_application_recovers_no_answer_on_time_or_late(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, api = stack
    timeline = open_cohort(runtime, api, "main", minutes=20)
    rng = random.Random(2027)
    on_time = people(rng, mentees=(5, 1), mentors=(5, 1))  # one ineligible applicant of each role
    late = people(rng, mentees=(5, 0), mentors=(2, 0))

    # Given applications read one by one while the cohort is open,
    for person in on_time:
        timeline.apply(person)
        timeline.observe("application", person)
    # and seven more accepted before the deadline but still queued when matching starts,
    runtime.hold("IntakeQueue")
    for person in late:
        timeline.apply(person)
    timeline.fire_deadline()
    # when they are taken in one at a time, each followed by the hourly sweep,
    for n, person in enumerate(late, start=1):
        assert runtime.step("IntakeQueue")
        timeline.observe("late application", person)
        timeline.sweep(timeline.deadline + timedelta(hours=n))
    runtime.release("IntakeQueue")
    # and the grace period for the last ones ends,
    timeline.sweep(timeline.deadline + GRACE + timedelta(hours=1))

    # then no figure ever changed because of one application,
    for before, after in monitoring_changes(timeline.steps):
        assert after.applicant is None, f"a figure changed after one {after.what}"
        assert after.stored - before.stored >= K, after.what  # only when k or more were stored
    assert [a.what for _, a in monitoring_changes(timeline.steps)] == [
        "deadline",
        f"sweep at {timeline.deadline + timedelta(hours=K):%Y-%m-%d %H:%M}",
    ]
    final = timeline.steps[-1]
    assert final.stored == len(on_time) + K
    assert final.pending == 0  # the last late answers, fewer than k, were deleted
    # no stored group is smaller than k (the lone ineligible mentor and mentee are among k),
    records = timeline.records()
    assert min(stored_groups(records).values()) >= K
    # every format published the same figures,
    json_counts = [str(n) for n in final.reading.counts().values()]
    assert html_counts(final.reading.monitoring["cohort.html"], 6) == json_counts
    csv_rows = list(csv.reader(io.StringIO(final.reading.monitoring["cohort.csv"])))[1:]
    assert [count for row in csv_rows for count in row[4:10]] == json_counts
    # and no attack recovers an answer beyond what the population's shares say.
    assert recovered(differencing(timeline.steps), final.reading) == []
    assert recovered(singled_out(final.reading, on_time), final.reading) == []
