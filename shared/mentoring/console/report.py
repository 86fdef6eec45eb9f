"""The report's bar charts for the console page: drawn from the published (rounded) figures only,
as SVG rectangles whose widths are attributes, so the page needs no inline style."""

from __future__ import annotations

from dataclasses import dataclass

from mentoring.monitoring_report import MonitoringReport

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


def charts(report: MonitoringReport) -> list[Chart]:
    """One chart a question: for each answer, the mentees and the mentors who applied."""
    found = []
    for table in report.tables:
        cells = [
            (row.label, group, row.cell(f"{group}_applied"))
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
