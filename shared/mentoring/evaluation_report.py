"""The evaluation report: what a cohort's (or a scheme's) participants said at the end of the
programme, published with the monitoring report's protection (``mentoring.monitoring_report``).

Input is the *stored* evaluation records only (pending answers are never counted): each with its
role (None where fewer than k of its batch had it), its answers and its random record key. Stored
records only ever arrive in k-anonymous batches of at least k, and within a batch a question's
answers are kept only when at least k of the batch answered it (``mentoring.evaluation.thin``), so
a question asked of one role only cannot single out the few of that role.

One table per question of the scheme's survey, one row per answer and a total (those who answered
the question); columns for mentees, mentors (in the scheme's words) and all participants. Every
figure is cell-key rounded to a multiple of 5 exactly as the monitoring report's are (the same rule,
the same code), percentages come from the published figures and need a published total of 25.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mentoring.models import EvaluationRecord, Role
from mentoring.monitoring_report import (
    MAX_ERROR,
    MIN_PERCENT_TOTAL,
    PublishedReport,
    cell_key,
    html_page,
    publish_table,
    published_json,
    rounded,
    tables_csv,
)
from mentoring.scheme import Scheme

GROUPS: Final = ("mentee", "mentor", "all")
KEYS: Final = tuple(f"{group}_answered" for group in GROUPS)


def protection(k: int) -> str:
    return (
        "To protect the people who answered, every figure is rounded to a multiple of 5, the same way "
        f"each time (so it is at most {MAX_ERROR} away from the true number), and answers are added "
        f"only in groups of at least {k} people, from the programme's last day. Nobody's answers are "
        "kept with their name."
    )


def rules(k: int) -> tuple[str, ...]:
    return (
        "Each count is rounded to a multiple of 5, up or down, so it is at most 4 away from the true "
        "count. The same group of people always gives the same figure: reading the report again, or "
        "another format of it, cannot undo it. A true 0 is always shown as 0; a 0 can also stand for "
        "1 to 4 people.",
        "Totals (the people who answered the question) are rounded on their own, so they may differ "
        "from the sum of the figures above them.",
        f"Answers are added from the programme's last day, in groups of at least {k} people. Answers "
        f"that arrive late wait for {k - 1} others; a cohort where fewer than {k} answered has no "
        "figures.",
        f"Where fewer than {k} people added together answered a question, their answers to it are not "
        f"counted; where fewer than {k} of a role were added together, their role is not recorded and "
        "they count only under all participants.",
        f"Percentages are worked out from the rounded counts, and not shown where the total is under "
        f"{MIN_PERCENT_TOTAL}.",
    )


@dataclass(frozen=True)
class EvaluationRow:
    """One stored record as the report sees it: the role (None: not recorded), answers, key."""

    role: Role | None
    answers: Mapping[str, str]
    record_key: int

    @classmethod
    def from_record(cls, record: EvaluationRecord) -> EvaluationRow:
        return cls(record.role, record.answers, record.record_key)


@dataclass(frozen=True)
class EvaluationReport(PublishedReport):
    labels: tuple[str, ...]  # the columns' labels, in KEYS order
    respondents: int  # published (rounded) count of everyone counted
    not_recorded: int  # records whose role is not recorded (counted under all participants only)

    def notes(self) -> list[str]:
        if not self.not_recorded:
            return []
        n = self.not_recorded
        return [
            f"{n} {'person is' if n == 1 else 'people are'} counted under all participants only, "
            "because their role is not recorded."
        ]


def _counts(group: str, row: EvaluationRow) -> bool:
    return group == "all" or (row.role is not None and row.role.value == group)


def build_report(title: str, scheme: Scheme, rows: Iterable[EvaluationRow], k: int) -> EvaluationReport:
    """The publishable evaluation report: one table per question of ``scheme``'s survey."""
    listed = list(rows)
    labels = tuple(
        f"{scheme.roles[Role(g)].label}s" if g != "all" and Role(g) in scheme.roles else "All participants"
        for g in GROUPS
    )
    tables = []
    for question in scheme.evaluation:
        answered = [row for row in listed if question.id in row.answers]

        def chose(row: EvaluationRow, value: str, asked: str = question.id) -> bool:
            return row.answers.get(asked) == value

        tables.append(
            publish_table(
                question.id,
                question.text,
                [(option.value, option.label) for option in question.options],
                [[row for row in answered if _counts(group, row)] for group in GROUPS],
                KEYS,
                chose,
            )
        )
    return EvaluationReport(
        title=title,
        k=k,
        protection=protection(k),
        rules=rules(k),
        labels=labels,
        tables=tuple(tables),
        respondents=rounded(len(listed), cell_key(listed)),
        not_recorded=sum(1 for row in listed if row.role is None),
        has_figures=bool(listed),
    )


# ---------------------------------------------------------------- renderers


def to_json(report: EvaluationReport) -> dict[str, Any]:
    """The report as JSON-serialisable data."""
    columns = [
        {"key": key, "group": group, "label": label}
        for key, group, label in zip(KEYS, GROUPS, report.labels, strict=True)
    ]
    return published_json(report, columns, respondents=report.respondents, not_recorded=report.not_recorded)


def to_csv(report: EvaluationReport) -> str:
    """One line per question and answer (and each question's total): counts, then percentages."""
    return tables_csv(report.tables, KEYS)


def to_html(report: EvaluationReport) -> str:
    """A standalone, accessible HTML page, as the monitoring report's."""
    return html_page(
        f"Programme evaluation: {report.title}",
        report,
        "What the participants said at the end of the programme, in the anonymous evaluation survey. "
        f"People counted: {report.respondents} (rounded).",
        "the programme's last day",
        report.notes(),
        report.labels,
        list(zip(KEYS, GROUPS, report.labels, strict=True))[:2],
    )
