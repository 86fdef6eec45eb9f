"""The report's bar charts for the console page: drawn from the published (rounded) figures only,
as SVG rectangles whose widths are attributes, so the page needs no inline style."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mentoring.monitoring_report import QuestionTable

BAR_SPACE = 220  # of the chart's 400 units: labels to the left, the figure to the right


@dataclass(frozen=True)
class Bar:
    label: str
    group: str
    y: int
    width: int
    figure: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int


def charts(tables: Iterable[QuestionTable], outcome: str = "applied") -> list[Chart]:
    """One chart a question: for each answer, the mentees and the mentors who applied (the
    monitoring report), or answered (the evaluation report)."""
    found = []
    for table in tables:
        cells = [
            (row.label, group, row.cell(f"{group}_{outcome}"))
            for row in table.rows
            for group in ("mentee", "mentor")
        ]
        top = max((cell.count for _, _, cell in cells), default=0)
        bars = []
        for n, (label, group, cell) in enumerate(cells):
            count = cell.count
            width = 0 if not count or top == 0 else max(1, round(BAR_SPACE * count / top))
            figure = str(count)
            bars.append(Bar(label if group == "mentee" else "", group, 4 + n * 16, width, figure))
        found.append(Chart(bars, 8 + len(cells) * 16))
    return found
