"""The equal-opportunities monitoring report, as UK higher education publishes equality data.

Pure domain code: anonymised monitoring answers in, a publishable report out, with three
renderers (:func:`to_json`, :func:`to_csv`, :func:`to_html`). No storage, no AWS.

Input
    One :class:`ReportRow` per monitoring record: the role (mentee or mentor), whether the
    application was found eligible, and the answers. Every row counts as "applied"; eligible
    rows also count as "eligible". The report has a title (a cohort's or a scheme's name).

Tables
    One table per monitoring question (``mentoring.web.MONITORING_QUESTIONS``, same order and
    labels as the form), one row per answer value (every value of the question's ``Literal``,
    in order, ``prefer_not_to_say`` included, even when nobody chose it) and a total row. The
    columns are mentees and mentors, each as applied and eligible, then all applicants
    (mentees and mentors together) as applied and eligible. Each cell has a count and the
    percentage of its column.

Publication rules (after HESA's rounding and suppression methodology,
https://www.hesa.ac.uk/about/regulation/data-protection/rounding-and-suppression-anonymise-statistics)
    1. Rounding. Every count, totals included, is rounded to the nearest multiple of 5:
       0, 1 and 2 become 0; 3 to 7 become 5; 8 to 12 become 10; and so on (a half cannot occur
       with whole counts). Each total is rounded from its own unrounded value, so a rounded
       total need not equal the sum of the rounded cells above it; that is expected.
    2. Percentages are worked out from the unrounded counts (to one decimal place) and are not
       shown when the column's population (its unrounded total) is under 22.5, that is, fewer
       than 23 people.
    3. Small cells. A cell of 1 or 2 people would be published as 0 by rounding, but its
       percentage, or a total minus the other cells of its row or column, could give it away.
       So such a cell is suppressed: neither its count nor its percentage is published (``*``
       in CSV and HTML, ``null`` in JSON). Genuine zeros are published as 0.
    4. Secondary suppression. A suppressed cell must not be recoverable by subtraction: in every
       row (mentees + mentors = all applicants, for applied and for eligible separately) and
       every column (the answers of a question add up to its total), whenever exactly one cell
       is suppressed, the next smallest non-zero cell of that row or column is suppressed too
       (a total only when nothing else is left). This is repeated until no row or column has a
       single suppressed cell. A published ``*`` therefore never says which cells are small.

The report object holds only the published figures (rounded counts, permitted percentages,
suppression marks); the unrounded counts never leave :func:`build_report`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Final, Literal

from mentoring.models import MonitoringAnswers, MonitoringRecord, Role
from mentoring.web import MONITORING_QUESTIONS, _label

Outcome = Literal["applied", "eligible"]
Group = Literal["mentee", "mentor", "all"]

ROUNDING_BASE: Final = 5
SMALL_CELL_MAX: Final = 2  # raw counts 1..2 are small cells
MIN_PERCENT_POPULATION: Final = 22.5  # percentages need a population of 23 or more
SUPPRESSED: Final = "*"
TOTAL: Final = "total"

RULES_TEXT: Final = (
    "Counts are rounded to the nearest multiple of 5 (0, 1 and 2 are rounded to 0), and each total "
    "is rounded on its own, so totals may differ from the sum of the rounded figures above them.",
    "Percentages are worked out before rounding, and are not shown where the group they are a "
    "percentage of has fewer than 23 people.",
    "Groups of 1 or 2 people are not shown (marked *), and where a hidden figure could be worked out "
    "by subtraction from a total, the next smallest figure is hidden too. A * does not say which "
    "figure is the small one.",
)


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class ReportRow:
    """One anonymised applicant as the report sees it: role, outcome, monitoring answers."""

    role: Role
    eligible: bool
    answers: MonitoringAnswers

    @classmethod
    def from_record(cls, record: MonitoringRecord) -> ReportRow:
        return cls(role=record.role, eligible=record.eligible, answers=record.answers)


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
    """A published figure: ``count`` is rounded; both are None when the cell is suppressed."""

    count: int | None
    percent: float | None
    suppressed: bool


@dataclass(frozen=True)
class TableRow:
    value: str  # the answer value, or "total"
    label: str
    cells: tuple[Cell, ...]  # in COLUMNS order

    def cell(self, column_key: str) -> Cell:
        return self.cells[[c.key for c in COLUMNS].index(column_key)]


@dataclass(frozen=True)
class QuestionTable:
    question: str
    caption: str
    rows: tuple[TableRow, ...]  # every answer value, in the Literal's order
    total: TableRow


@dataclass(frozen=True)
class MonitoringReport:
    title: str
    tables: tuple[QuestionTable, ...]


# ---------------------------------------------------------------- the rules


def hesa_round(count: int) -> int:
    """Round a count to the nearest multiple of 5, as HESA does: 0-2 -> 0, 3-7 -> 5, 8-12 -> 10."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    return (count + ROUNDING_BASE // 2) // ROUNDING_BASE * ROUNDING_BASE


def is_small(count: int) -> bool:
    """A cell of 1 or 2 people: suppressed in publication."""
    return 0 < count <= SMALL_CELL_MAX


def percentage(count: int, population: int) -> float | None:
    """The percentage of a population from unrounded counts; None under 23 people (22.5, HESA)."""
    if population < MIN_PERCENT_POPULATION:
        return None
    return round(100 * count / population, 1)


Grid = list[list[int]]  # raw counts: rows are answer values then the total row, columns are COLUMNS


def _lines(n_rows: int) -> list[list[tuple[int, int]]]:
    """Every set of cells bound by a sum that is published: rows by role, and columns."""
    applied = (0, 2, 4)  # mentee_applied + mentor_applied = all_applied
    eligible = (1, 3, 5)
    lines = [[(r, c) for c in cols] for r in range(n_rows) for cols in (applied, eligible)]
    lines += [[(r, c) for r in range(n_rows)] for c in range(len(COLUMNS))]
    return lines


def suppression(raw: Grid) -> set[tuple[int, int]]:
    """Cells to suppress: small cells, then secondary cells until no line has a lone suppression.

    ``raw`` holds unrounded counts with the total row last and the columns in :data:`COLUMNS`
    order. In a line with exactly one suppressed cell, the smallest non-zero other cell is
    suppressed, preferring a non-total cell (the total row, or the "all" columns in a row line).
    """
    n_rows = len(raw)
    hidden = {(r, c) for r in range(n_rows) for c in range(len(COLUMNS)) if is_small(raw[r][c])}
    lines = _lines(n_rows)
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(cell in hidden for cell in line) != 1:
                continue
            candidates = [cell for cell in line if cell not in hidden and raw[cell[0]][cell[1]] > 0]
            if not candidates:
                continue
            total = line[-1]  # the last cell of every line is its total
            parts = [cell for cell in candidates if cell != total] or candidates
            hidden.add(min(parts, key=lambda cell: (raw[cell[0]][cell[1]], cell)))
            changed = True
    return hidden


def _question_table(
    question: str, caption: str, values: Sequence[str], rows: Sequence[ReportRow]
) -> QuestionTable:
    index = {value: i for i, value in enumerate(values)}
    raw: Grid = [[0] * len(COLUMNS) for _ in range(len(values) + 1)]
    for row in rows:
        r = index[getattr(row.answers, question)]
        outcomes: list[Outcome] = ["applied", "eligible"] if row.eligible else ["applied"]
        for c, column in enumerate(COLUMNS):
            if column.outcome in outcomes and column.group in (row.role.value, "all"):
                raw[r][c] += 1
                raw[-1][c] += 1
    hidden = suppression(raw)
    populations = raw[-1]

    def published(r: int, label_value: str, label: str) -> TableRow:
        cells = tuple(
            Cell(None, None, True)
            if (r, c) in hidden
            else Cell(hesa_round(raw[r][c]), percentage(raw[r][c], populations[c]), False)
            for c in range(len(COLUMNS))
        )
        return TableRow(label_value, label, cells)

    return QuestionTable(
        question=question,
        caption=caption,
        rows=tuple(published(i, value, _label(value, question)) for i, value in enumerate(values)),
        total=published(len(values), TOTAL, "Total"),
    )


def build_report(title: str, rows: Iterable[ReportRow]) -> MonitoringReport:
    """The publishable report: one table per monitoring question, rounded and suppressed."""
    listed = list(rows)
    return MonitoringReport(
        title=title,
        tables=tuple(
            _question_table(question, caption, values, listed)
            for question, caption, values in MONITORING_QUESTIONS
        ),
    )


# ---------------------------------------------------------------- renderers


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {"count": cell.count, "percent": cell.percent, "suppressed": cell.suppressed}


def _row_json(row: TableRow) -> dict[str, Any]:
    return {
        "value": row.value,
        "label": row.label,
        "cells": {column.key: _cell_json(cell) for column, cell in zip(COLUMNS, row.cells, strict=True)},
    }


def to_json(report: MonitoringReport) -> dict[str, Any]:
    """The report as JSON-serialisable data; suppressed counts and percentages are null."""
    return {
        "title": report.title,
        "rules": list(RULES_TEXT),
        "columns": [
            {"key": c.key, "group": c.group, "outcome": c.outcome, "label": c.label} for c in COLUMNS
        ],
        "questions": [
            {
                "question": table.question,
                "caption": table.caption,
                "rows": [_row_json(row) for row in table.rows],
                "total": _row_json(table.total),
            }
            for table in report.tables
        ],
    }


def csv_count(cell: Cell) -> str:
    return SUPPRESSED if cell.count is None else str(cell.count)


def csv_percent(cell: Cell) -> str:
    """``*`` for a suppressed cell, empty when the population is too small, else one decimal."""
    if cell.suppressed:
        return SUPPRESSED
    return "" if cell.percent is None else f"{cell.percent:.1f}"


def to_csv(report: MonitoringReport) -> str:
    """One line per question and value (and each question's total): counts, then percentages."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["question", "question_label", "value", "value_label"]
        + [f"{c.key}_count" for c in COLUMNS]
        + [f"{c.key}_percent" for c in COLUMNS]
    )
    for table in report.tables:
        for row in (*table.rows, table.total):
            writer.writerow(
                [table.question, table.caption, row.value, row.label]
                + [csv_count(cell) for cell in row.cells]
                + [csv_percent(cell) for cell in row.cells]
            )
    return out.getvalue()


_STYLE = """
body{font-family:Arial,sans-serif;line-height:1.5;max-width:60rem;margin:0 auto;padding:1rem;color:#0b0c0c}
h1{font-size:1.8rem}h2{font-size:1.4rem;margin-top:2.5rem}
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


def _html_count(cell: Cell) -> str:
    if cell.suppressed:
        return '<span aria-hidden="true">*</span><span class="vh">suppressed</span>'
    return escape(str(cell.count))


def _html_percent(cell: Cell) -> str:
    if cell.suppressed:
        return '<span aria-hidden="true">*</span><span class="vh">suppressed</span>'
    if cell.percent is None:
        return '<span aria-hidden="true">—</span><span class="vh">not shown</span>'
    return escape(f"{cell.percent:.1f}%")


def _html_table(table: QuestionTable, n: int) -> str:
    head = "".join(f'<th scope="col">{escape(c.label)}</th>' for c in COLUMNS) + "".join(
        f'<th scope="col">{escape(c.label)} (%)</th>' for c in COLUMNS
    )

    def line(row: TableRow) -> str:
        counts = "".join(f"<td>{_html_count(cell)}</td>" for cell in row.cells)
        percents = "".join(f"<td>{_html_percent(cell)}</td>" for cell in row.cells)
        return f'<tr><th scope="row">{escape(row.label)}</th>{counts}{percents}</tr>'

    return (
        f'<div class="scroll" role="region" aria-labelledby="caption-{n}" tabindex="0">'
        f'<table><caption id="caption-{n}">{escape(table.caption)}</caption>'
        f'<thead><tr><th scope="col">Answer</th>{head}</tr></thead>'
        f"<tbody>{''.join(line(row) for row in table.rows)}</tbody>"
        f"<tfoot>{line(table.total)}</tfoot></table></div>"
    )


def _html_chart(table: QuestionTable) -> str:
    """Horizontal bars of the rounded counts of mentees and mentors, applied and eligible."""
    keys = [c.key for c in COLUMNS]
    top = max(
        (cell.count or 0 for row in table.rows for cell in row.cells[: len(_ROLE_COLUMNS)]),
        default=0,
    )
    items = []
    for row in table.rows:
        bars = []
        for column in _ROLE_COLUMNS:
            cell = row.cells[keys.index(column.key)]
            if cell.count is None:
                fill, figure = "", "suppressed"
            else:
                width = 0.0 if top == 0 else 100 * cell.count / top
                fill = f'<span class="fill" style="width:{width:.1f}%"></span>' if cell.count else ""
                figure = str(cell.count)
            bars.append(
                f'<li class="bar {escape(column.group)}"><span class="name">{escape(column.label)}</span>'
                f'<span class="track" aria-hidden="true">{fill}</span>'
                f'<span class="figure">{escape(figure)}</span></li>'
            )
        items.append(f'<li class="value">{escape(row.label)}<ul>{"".join(bars)}</ul></li>')
    return (
        f'<figure class="chart"><figcaption>{escape(table.caption)}: rounded counts</figcaption>'
        f"<ul>{''.join(items)}</ul></figure>"
    )


def to_html(report: MonitoringReport) -> str:
    """A standalone, accessible HTML page: rules for readers, then a table and a chart per question."""
    rules = "".join(f"<li>{escape(text)}</li>" for text in RULES_TEXT)
    sections = "".join(
        f'<section aria-labelledby="q-{n}"><h2 id="q-{n}">{escape(table.caption)}</h2>'
        f"{_html_table(table, n)}{_html_chart(table)}</section>"
        for n, table in enumerate(report.tables, start=1)
    )
    title = f"Equal-opportunities monitoring: {report.title}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        "<p>Who applied to the scheme and who was found eligible, from the optional monitoring "
        "questions, which every applicant could answer &quot;Prefer not to say&quot;.</p>"
        f'<h2 id="rules">How to read these figures</h2><ul>{rules}</ul>'
        "<p>In the tables, * means not shown to protect small numbers, and — means the group is too "
        "small for a percentage.</p>"
        f"{sections}</main></body></html>"
    )
