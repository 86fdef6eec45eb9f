"""The equal-opportunities monitoring report, published so that no reading of it, however often,
in whatever format, beside whatever else, gives away one person's answers.

Pure domain code: stored monitoring records in, a publishable report out, with three renderers
(:func:`to_json`, :func:`to_csv`, :func:`to_html`). No storage, no AWS.

Input
    One :class:`ReportRow` per *stored* monitoring record (pending answers are never counted): the
    role and the outcome (either may be unrecorded, ``None``, where recording it would have left a
    group smaller than k: ``mentoring.monitoring.generalise``), the answers, and the record's key.

Tables
    One table per monitoring question (``mentoring.web.MONITORING_QUESTIONS``, same order and
    labels as the form), one row per answer value (every value, ``prefer_not_to_say`` included,
    even when nobody chose it) and a total row. The columns are mentees and mentors, each as
    applied and eligible, then all applicants as applied and eligible. A record whose role is not
    recorded counts in the "all applicants" columns only; one whose outcome is not recorded counts
    as applied only. Each column says how many such records it leaves out (``not_recorded``).

Publication: cell-key random rounding (after the ONS's and ABS's cell-key perturbation)
    Every record carries a random 32-bit *record key*, drawn once when it is stored and never
    changed. A cell's key is the sum of the keys of the records it counts, modulo 2^32: uniformly
    random, and the same whenever the cell counts the same people. A cell of ``n`` people is
    published as ``n`` rounded to a multiple of 5: down to ``5 * (n // 5)``, or up to the next
    multiple of 5 when ``key / 2^32 < (n % 5) / 5``. So:

    - every published count is a multiple of 5 and at most 4 away from the true count (a true 0
      stays 0: an empty cell has no records and nothing to round); the rounding is unbiased, so
      sums over many cells stay close to the truth;
    - the same cell always gives the same figure: reading again, at another time, in another
      format, in the cohort's report or the scheme's (a scheme with one cohort publishes that
      cohort's very figures), cannot average the rounding away;
    - a cell that counts other people (a batch added, the other columns, another breakdown) gets
      a key independent of the first, so subtracting two figures gives the difference of the
      true counts plus rounding noise of up to 8, never an exact small count;
    - percentages are worked out from the published counts, so they add nothing to them, and are
      shown only where the column's published total is at least 25.

    Together with how records are stored (only in batches of at least k after the recruitment
    deadline, each batch k-anonymous), a figure can only change when at least k people's answers
    are added at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Final, Literal, Protocol, TypeVar

from mentoring.models import RECORD_KEY_BITS, MonitoringAnswers, MonitoringRecord, Role
from mentoring.web import MONITORING_QUESTIONS, _label

Outcome = Literal["applied", "eligible"]
Group = Literal["mentee", "mentor", "all"]

ROUNDING_BASE: Final = 5
MAX_ERROR: Final = ROUNDING_BASE - 1  # the documented bound: |published - true| <= 4
KEY_SPACE: Final = 1 << RECORD_KEY_BITS
MIN_PERCENT_TOTAL: Final = 25  # percentages need a published total of at least 25
TOTAL: Final = "total"


def protection(k: int) -> str:
    """The one plain sentence on how the figures are protected, shown above the report."""
    return (
        "To protect the people who answered, every figure is rounded to a multiple of 5, the same way "
        f"each time (so it is at most {MAX_ERROR} away from the true number), and answers are added "
        f"only in groups of at least {k} people after the recruitment deadline."
    )


def rules(k: int) -> tuple[str, ...]:
    return (
        "Each count is rounded to a multiple of 5, up or down, so it is at most 4 away from the true "
        "count. The rounding is decided by the group of people counted, so the same group gives the "
        "same figure every time: reading the report again, or another format of it, cannot undo it. "
        "A true 0 is always shown as 0; a 0 can also stand for 1 to 4 people.",
        "Totals are rounded on their own, so they may differ from the sum of the figures above them.",
        f"Answers are added only after the recruitment deadline, in groups of at least {k} people. "
        f"Answers that arrive late wait for {k - 1} others; a cohort with fewer than {k} applicants "
        "has no figures.",
        "Percentages are worked out from the rounded counts, and not shown where the total is under "
        f"{MIN_PERCENT_TOTAL}.",
        f"Where fewer than {k} people of a role, or of an outcome within a role, were added together, "
        "their role or outcome is not recorded: they count only under all applicants, or as applied. "
        "Each column says how many people it leaves out for this reason.",
    )


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class ReportRow:
    """One stored record as the report sees it: role and outcome (None: not recorded), answers, key."""

    role: Role | None
    eligible: bool | None
    answers: MonitoringAnswers
    record_key: int

    @classmethod
    def from_record(cls, record: MonitoringRecord) -> ReportRow:
        return cls(record.role, record.eligible, record.answers, record.record_key)


# ---------------------------------------------------------------- the published report


@dataclass(frozen=True)
class Column:
    group: Group
    outcome: Outcome

    @property
    def key(self) -> str:
        return f"{self.group}_{self.outcome}"

    @property
    def label(self) -> str:
        who = {"mentee": "Mentees", "mentor": "Mentors", "all": "All applicants"}[self.group]
        return f"{who}: {self.outcome}"

    def counts(self, row: ReportRow) -> bool:
        if self.group != "all" and (row.role is None or row.role.value != self.group):
            return False
        return self.outcome == "applied" or row.eligible is True

    def leaves_out(self, row: ReportRow) -> bool:
        """A record that may belong in this column, but whose role or outcome is not recorded."""
        role_unknown = self.group != "all" and row.role is None
        in_role = self.group == "all" or (row.role is not None and row.role.value == self.group)
        outcome_unknown = self.outcome == "eligible" and in_role and row.eligible is None
        return role_unknown or outcome_unknown


COLUMNS: Final[tuple[Column, ...]] = (
    Column("mentee", "applied"),
    Column("mentee", "eligible"),
    Column("mentor", "applied"),
    Column("mentor", "eligible"),
    Column("all", "applied"),
    Column("all", "eligible"),
)
_ROLE_COLUMNS: Final = COLUMNS[:4]


@dataclass(frozen=True)
class Cell:
    """A published figure: ``count`` is rounded (a multiple of 5); ``percent`` comes from it."""

    count: int
    percent: float | None


@dataclass(frozen=True)
class TableRow:
    value: str  # the answer value, or "total"
    label: str
    cells: tuple[Cell, ...]  # in the order of ``columns``
    columns: tuple[str, ...] = ()  # the columns' keys (the monitoring report's COLUMNS when empty)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.columns or tuple(c.key for c in COLUMNS)

    def cell(self, column_key: str) -> Cell:
        return self.cells[self.keys.index(column_key)]


@dataclass(frozen=True)
class QuestionTable:
    question: str
    caption: str
    rows: tuple[TableRow, ...]  # every answer value, in the Literal's order
    total: TableRow


@dataclass(frozen=True)
class PublishedReport:
    """What every published report holds: a title, its k, a table a question, whether it has figures."""

    title: str
    k: int
    tables: tuple[QuestionTable, ...]
    has_figures: bool
    protection: str  # the one plain sentence on how the figures are protected
    rules: tuple[str, ...]  # how to read them


@dataclass(frozen=True)
class MonitoringReport(PublishedReport):
    not_recorded: tuple[int, ...]  # in COLUMNS order: records a column leaves out (role/outcome unknown)

    def notes(self) -> list[str]:
        """Plain sentences for the columns that leave people out."""
        return [
            f"{column.label}: {n} {'person' if n == 1 else 'people'} not counted here, because their "
            f"{'role' if column.outcome == 'applied' else 'role or outcome'} is not recorded."
            for column, n in zip(COLUMNS, self.not_recorded, strict=True)
            if n
        ]


# ---------------------------------------------------------------- the rule


def rounded(count: int, cell_key: int) -> int:
    """``count`` rounded to a multiple of 5, up with probability (count mod 5)/5 as ``cell_key``
    (uniform in [0, 2^32)) decides: unbiased, at most 4 away, the same for the same cell."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    low = count - count % ROUNDING_BASE
    return low + ROUNDING_BASE if cell_key * ROUNDING_BASE < (count % ROUNDING_BASE) * KEY_SPACE else low


class Keyed(Protocol):
    """A stored record as a cell counts it: by its random record key."""

    @property
    def record_key(self) -> int: ...


K_ = TypeVar("K_", bound=Keyed)


def cell_key(rows: Iterable[Keyed]) -> int:
    """The key of the cell that counts these records: the sum of their record keys, mod 2^32."""
    return sum(row.record_key for row in rows) % KEY_SPACE


def percentage(count: int, total: int) -> float | None:
    """A published count as a percentage of its published total; None under 25."""
    if total < MIN_PERCENT_TOTAL:
        return None
    return round(100 * count / total, 1)


def _publish(rows: Sequence[Keyed]) -> int:
    return rounded(len(rows), cell_key(rows))


def publish_table(
    question: str,
    caption: str,
    choices: Sequence[tuple[str, str]],
    members: Sequence[Sequence[K_]],
    keys: tuple[str, ...],
    chose: Callable[[K_, str], bool],
) -> QuestionTable:
    """One question's published table: a row per choice (value, label) and a total row, a cell per
    column (``members``: the records each column counts), each figure rounded by its own cell key
    and its percentage worked out from the published figures."""
    totals = [_publish(column_rows) for column_rows in members]

    def published(value: str | None) -> tuple[Cell, ...]:
        cells = []
        for c, column_rows in enumerate(members):
            chosen = [r for r in column_rows if value is None or chose(r, value)]
            count = _publish(chosen)
            cells.append(Cell(count, percentage(count, totals[c])))
        return tuple(cells)

    return QuestionTable(
        question=question,
        caption=caption,
        rows=tuple(TableRow(value, label, published(value), keys) for value, label in choices),
        total=TableRow(TOTAL, "Total", published(None), keys),
    )


def _question_table(
    question: str, caption: str, values: Sequence[str], rows: Sequence[ReportRow]
) -> QuestionTable:
    return publish_table(
        question,
        caption,
        [(value, _label(value, question)) for value in values],
        [[row for row in rows if column.counts(row)] for column in COLUMNS],
        tuple(c.key for c in COLUMNS),
        lambda row, value: bool(getattr(row.answers, question) == value),
    )


def build_report(title: str, rows: Iterable[ReportRow], k: int) -> MonitoringReport:
    """The publishable report: one table per monitoring question, every figure cell-key rounded."""
    listed = list(rows)
    return MonitoringReport(
        title=title,
        k=k,
        protection=protection(k),
        rules=rules(k),
        tables=tuple(
            _question_table(question, caption, values, listed)
            for question, caption, values in MONITORING_QUESTIONS
        ),
        not_recorded=tuple(sum(1 for row in listed if column.leaves_out(row)) for column in COLUMNS),
        has_figures=bool(listed),
    )


# ---------------------------------------------------------------- renderers


def _row_json(row: TableRow) -> dict[str, Any]:
    return {
        "value": row.value,
        "label": row.label,
        "cells": {
            key: {"count": cell.count, "percent": cell.percent}
            for key, cell in zip(row.keys, row.cells, strict=True)
        },
    }


def tables_json(tables: Iterable[QuestionTable]) -> list[dict[str, Any]]:
    return [
        {
            "question": table.question,
            "caption": table.caption,
            "rows": [_row_json(row) for row in table.rows],
            "total": _row_json(table.total),
        }
        for table in tables
    ]


def published_json(report: PublishedReport, columns: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """A published report as JSON-serialisable data, with its ``columns`` (and ``more``)."""
    return {
        "title": report.title,
        "protection": report.protection,
        "rules": list(report.rules),
        "k": report.k,
        "has_figures": report.has_figures,
        "max_error": MAX_ERROR,
        **more,
        "columns": columns,
        "questions": tables_json(report.tables),
    }


def to_json(report: MonitoringReport) -> dict[str, Any]:
    """The report as JSON-serialisable data."""
    columns = [
        {"key": c.key, "group": c.group, "outcome": c.outcome, "label": c.label, "not_recorded": n}
        for c, n in zip(COLUMNS, report.not_recorded, strict=True)
    ]
    return published_json(report, columns)


def csv_percent(cell: Cell) -> str:
    """Empty when the total is too small for a percentage, else one decimal."""
    return "" if cell.percent is None else f"{cell.percent:.1f}"


def to_csv(report: MonitoringReport) -> str:
    """One line per question and value (and each question's total): counts, then percentages."""
    return tables_csv(report.tables, tuple(c.key for c in COLUMNS))


def tables_csv(tables: Iterable[QuestionTable], keys: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["question", "question_label", "value", "value_label"]
        + [f"{key}_count" for key in keys]
        + [f"{key}_percent" for key in keys]
    )
    for table in tables:
        for row in (*table.rows, table.total):
            writer.writerow(
                [table.question, table.caption, row.value, row.label]
                + [str(cell.count) for cell in row.cells]
                + [csv_percent(cell) for cell in row.cells]
            )
    return out.getvalue()


_STYLE = """
body{font-family:Arial,sans-serif;line-height:1.5;max-width:60rem;margin:0 auto;padding:1rem;color:#0b0c0c}
h1{font-size:1.8rem}h2{font-size:1.4rem;margin-top:2.5rem}
.protection{border-left:5px solid #1d70b8;padding:.5rem 1rem;background:#f3f2f1}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;min-width:100%}
caption{text-align:left;font-weight:bold;padding:.3rem 0}
th,td{border-bottom:1px solid #b1b4b6;padding:.3rem .4rem;text-align:right;vertical-align:top}
th[scope=row],thead th:first-child{text-align:left}
tfoot th,tfoot td{font-weight:bold;border-top:2px solid #0b0c0c}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.chart{margin:1rem 0;padding:0}
.chart figcaption{font-weight:bold}
.chart ul{list-style:none;padding:0;margin:0}
.chart li.value{margin:.6rem 0 0;font-weight:bold}
.bar{display:flex;align-items:center;gap:.4rem;font-weight:normal;font-size:.85rem}
.bar .name{flex:0 0 8.5rem}
.bar .track{flex:1 1 auto;min-width:3rem}
.bar .fill{display:block;height:.9rem;background:#1d70b8}
.bar.mentor .fill{background:#00703c}
.bar .figure{flex:0 0 auto}
"""


def _html_percent(cell: Cell) -> str:
    if cell.percent is None:
        return '<span aria-hidden="true">—</span><span class="vh">not shown</span>'
    return escape(f"{cell.percent:.1f}%")


def html_table(table: QuestionTable, n: int, labels: Sequence[str] = ()) -> str:
    """A question's table: a count and a percentage column for each of ``labels`` (the monitoring
    report's columns when empty)."""
    labels = labels or [c.label for c in COLUMNS]
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in labels) + "".join(
        f'<th scope="col">{escape(label)} (%)</th>' for label in labels
    )

    def line(row: TableRow) -> str:
        counts = "".join(f"<td>{cell.count}</td>" for cell in row.cells)
        percents = "".join(f"<td>{_html_percent(cell)}</td>" for cell in row.cells)
        return f'<tr><th scope="row">{escape(row.label)}</th>{counts}{percents}</tr>'

    return (
        f'<div class="scroll" role="region" aria-labelledby="caption-{n}" tabindex="0">'
        f'<table><caption id="caption-{n}">{escape(table.caption)}</caption>'
        f'<thead><tr><th scope="col">Answer</th>{head}</tr></thead>'
        f"<tbody>{''.join(line(row) for row in table.rows)}</tbody>"
        f"<tfoot>{line(table.total)}</tfoot></table></div>"
    )


def html_chart(table: QuestionTable, bars_of: Sequence[tuple[str, str, str]] = ()) -> str:
    """Horizontal bars of the rounded counts of ``bars_of`` (column key, group, label): the monitoring
    report's mentees and mentors, applied and eligible, when empty."""
    bars_of = bars_of or [(c.key, c.group, c.label) for c in _ROLE_COLUMNS]
    top = max((row.cell(key).count for row in table.rows for key, _, _ in bars_of), default=0)
    items = []
    for row in table.rows:
        bars = []
        for key, group, label in bars_of:
            cell = row.cell(key)
            width = 0.0 if top == 0 else 100 * cell.count / top
            fill = f'<span class="fill" style="width:{width:.1f}%"></span>' if cell.count else ""
            bars.append(
                f'<li class="bar {escape(group)}"><span class="name">{escape(label)}</span>'
                f'<span class="track" aria-hidden="true">{fill}</span>'
                f'<span class="figure">{cell.count}</span></li>'
            )
        items.append(f'<li class="value">{escape(row.label)}<ul>{"".join(bars)}</ul></li>')
    return (
        f'<figure class="chart"><figcaption>{escape(table.caption)}: rounded counts</figcaption>'
        f"<ul>{''.join(items)}</ul></figure>"
    )


def to_html(report: MonitoringReport) -> str:
    """A standalone, accessible HTML page: how the figures are protected, then a table and a chart
    per question."""
    return html_page(
        f"Equal-opportunities monitoring: {report.title}",
        report,
        "Who applied to the scheme and who was found eligible, from the optional monitoring questions, "
        'which every applicant could answer "Prefer not to say".',
        "the recruitment deadline",
        report.notes(),
    )


def html_page(
    title: str,
    report: PublishedReport,
    intro: str,
    after: str,
    notes: Sequence[str],
    labels: Sequence[str] = (),
    bars: Sequence[tuple[str, str, str]] = (),
) -> str:
    """A standalone, accessible HTML report page: the title, how the figures are protected, how to
    read them, then a table (columns ``labels``) and a chart (``bars``) a question; the monitoring
    report's columns when these are empty. ``after`` says when figures first appear."""
    rules_html = "".join(f"<li>{escape(text)}</li>" for text in report.rules)
    notes_html = "".join(f"<li>{escape(note)}</li>" for note in notes)
    sections = "".join(
        f'<section aria-labelledby="q-{n}"><h2 id="q-{n}">{escape(table.caption)}</h2>'
        f"{html_table(table, n, labels)}{html_chart(table, bars)}</section>"
        for n, table in enumerate(report.tables, start=1)
    )
    empty = (
        ""
        if report.has_figures
        else "<p><strong>No figures yet.</strong> "
        f"Answers are added after {escape(after)}, once at least {report.k} people's answers can be "
        "added together.</p>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="protection">{escape(report.protection)}</p>'
        f"<p>{escape(intro)}</p>"
        + empty
        + f'<h2 id="rules">How to read these figures</h2><ul>{rules_html}</ul>'
        + (f"<ul>{notes_html}</ul>" if notes_html else "")
        + "<p>In the tables, — means the total is too small for a percentage.</p>"
        f"{sections}</main></body></html>"
    )
