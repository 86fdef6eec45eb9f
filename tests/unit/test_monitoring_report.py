"""The monitoring report: HESA rounding, percentages, small-cell and secondary suppression, renderers."""

from __future__ import annotations

import csv
import io
import json
import re
from itertools import product
from typing import Any

import pytest
from mentoring.models import MonitoringAnswers, Role
from mentoring.monitoring_report import (
    COLUMNS,
    MonitoringReport,
    QuestionTable,
    ReportRow,
    build_report,
    hesa_round,
    percentage,
    suppression,
    to_csv,
    to_html,
    to_json,
)
from mentoring.web import MONITORING_QUESTIONS

pytestmark = pytest.mark.unit

KEYS = [c.key for c in COLUMNS]


def people(n: int, role: Role = Role.MENTEE, eligible: bool = True, **answers: str) -> list[ReportRow]:
    return [ReportRow(role, eligible, MonitoringAnswers.model_validate(answers)) for _ in range(n)]


def gender(report: MonitoringReport) -> QuestionTable:
    return next(t for t in report.tables if t.question == "gender")


def row(table: QuestionTable, value: str) -> dict[str, Any]:
    found = next(r for r in (*table.rows, table.total) if r.value == value)
    return {k: (None if c.suppressed else c.count) for k, c in zip(KEYS, found.cells, strict=True)}


def percents(table: QuestionTable, value: str) -> dict[str, float | None]:
    found = next(r for r in (*table.rows, table.total) if r.value == value)
    return {k: c.percent for k, c in zip(KEYS, found.cells, strict=True)}


def cohort_of_40() -> list[ReportRow]:
    """40 applicants with several answers given by only 1 or 2 people."""
    return (
        people(14, Role.MENTEE, True, gender="woman", ethnicity="white_british", age_band="25-34")
        + people(6, Role.MENTEE, False, gender="woman", ethnicity="asian_indian", age_band="35-44")
        + people(8, Role.MENTEE, True, gender="man", ethnicity="white_british", disability="no")
        + people(1, Role.MENTEE, True, gender="non_binary", ethnicity="black_african", trans_history="yes")
        + people(2, Role.MENTEE, False, gender="other", religion="sikh", sexual_orientation="bisexual")
        + people(6, Role.MENTOR, True, gender="woman", ethnicity="white_irish", religion="christian")
        + people(2, Role.MENTOR, True, gender="man", ethnicity="arab", age_band="65+")
        + people(1, Role.MENTOR, False, gender="man", disability="yes", religion="jewish")
    )


# ---------------------------------------------------------------- rounding and percentages


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [(0, 0), (1, 0), (2, 0), (3, 5), (5, 5), (7, 5), (8, 10), (12, 10), (13, 15), (17, 15), (102, 100)],
)
def test_counts_round_to_the_nearest_five_with_0_to_2_as_0(raw: int, rounded: int) -> None:
    assert hesa_round(raw) == rounded


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        hesa_round(-1)


def test_percentages_need_23_people_and_use_unrounded_counts() -> None:
    assert percentage(7, 22) is None
    assert percentage(7, 23) == 30.4  # 7/23, not 5/25
    assert percentage(0, 40) == 0.0


def test_percentages_are_withheld_for_a_column_of_22_and_shown_for_23() -> None:
    report = build_report("c", people(11, gender="woman") + people(11, gender="man") + people(5, Role.MENTOR))
    table = gender(report)
    assert percents(table, "woman")["mentee_applied"] is None  # 22 mentees
    assert row(table, "woman")["mentee_applied"] == 10  # the count is still published, rounded
    assert percents(table, "woman")["all_applied"] == pytest.approx(40.7)  # 11 of 27

    report = build_report("c", people(12, gender="woman") + people(11, gender="man"))
    assert percents(gender(report), "woman")["mentee_applied"] == pytest.approx(52.2)  # 12 of 23
    assert percents(gender(report), "total")["mentee_applied"] == 100.0


def test_totals_are_rounded_from_their_own_unrounded_values() -> None:
    # 13 + 13 = 26: cells publish 15 and 15, the total 25, not 30.
    table = gender(build_report("c", people(13, gender="woman") + people(13, gender="man")))
    assert row(table, "woman")["mentee_applied"] == 15
    assert row(table, "man")["mentee_applied"] == 15
    assert row(table, "total")["mentee_applied"] == 25


# ---------------------------------------------------------------- suppression


def mixed_cohort() -> list[ReportRow]:
    """Women: 30 mentees and 1 mentor; men: 20 and 12; other: 5 and 6."""
    return (
        people(30, Role.MENTEE, gender="woman")
        + people(1, Role.MENTOR, gender="woman")
        + people(20, Role.MENTEE, gender="man")
        + people(12, Role.MENTOR, gender="man")
        + people(5, Role.MENTEE, gender="other")
        + people(6, Role.MENTOR, gender="other")
    )


def test_a_lone_small_cell_in_a_row_takes_the_next_smallest_with_it() -> None:
    # Row "woman", applied: 1 mentor against 30 mentees; without secondary suppression the
    # all-applicants count (31, shown as a percentage 41.9% of 74) less the mentees (30) would
    # give the 1 away.
    table = gender(build_report("c", mixed_cohort()))
    woman = row(table, "woman")
    assert woman["mentor_applied"] is None  # the small cell
    assert woman["mentee_applied"] is None  # the next smallest non-zero cell of the row
    assert woman["all_applied"] == 30  # the row total stays, rounded (31 -> 30)
    assert percents(table, "woman")["mentee_applied"] is None
    assert percents(table, "woman")["all_applied"] == pytest.approx(41.9)
    # Each column now has one suppressed cell, so the next smallest of each goes too ("other"),
    # and no column total less the published cells gives either away.
    other = row(table, "other")
    assert other["mentee_applied"] is None
    assert other["mentor_applied"] is None
    assert other["all_applied"] == 10
    assert row(table, "man") == dict(zip(KEYS, [20, 20, 10, 10, 30, 30], strict=True))
    assert row(table, "total")["mentor_applied"] == 20  # 19 mentors


def test_no_line_is_left_with_a_single_suppressed_cell() -> None:
    raw = [
        [1, 1, 9, 9, 10, 10],
        [20, 20, 0, 0, 20, 20],
        [0, 0, 6, 6, 6, 6],
        [21, 21, 15, 15, 36, 36],
    ]
    hidden = suppression(raw)
    assert {(0, 0), (0, 1)} <= hidden
    rows = [[(r, c) for c in cols] for r in range(4) for cols in ((0, 2, 4), (1, 3, 5))]
    cols = [[(r, c) for r in range(4)] for c in range(6)]
    for line in rows + cols:
        assert sum(cell in hidden for cell in line) != 1, line


def test_every_published_count_is_a_multiple_of_5_and_no_small_cell_is_shown() -> None:
    report = build_report("c", cohort_of_40())
    for table in report.tables:
        for r, column in product((*table.rows, table.total), range(len(COLUMNS))):
            cell = r.cells[column]
            if cell.suppressed:
                assert cell.count is None
                assert cell.percent is None
            else:
                assert cell.count is not None
                assert cell.count % 5 == 0


def test_prefer_not_to_say_is_in_every_table_in_order() -> None:
    report = build_report("c", people(3, gender="woman"))
    for table, (question, caption, values) in zip(report.tables, MONITORING_QUESTIONS, strict=True):
        assert (table.question, table.caption) == (question, caption)
        assert tuple(r.value for r in table.rows) == values
        assert table.rows[-1].value == "prefer_not_to_say"
        assert table.rows[-1].label == "Prefer not to say"


# ---------------------------------------------------------------- renderers


def test_html_has_every_caption_and_no_raw_small_number() -> None:
    page = to_html(build_report("Cohort <2027> & co", cohort_of_40()))
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "http" not in page.split("</style>")[0]  # no external assets
    assert "Cohort &lt;2027&gt; &amp; co" in page
    assert "<2027>" not in page
    for _, caption, _ in MONITORING_QUESTIONS:
        assert f">{caption}</caption>" in page.replace("&#x27;", "'")
    assert page.count('<th scope="col">') == len(MONITORING_QUESTIONS) * (1 + 2 * len(COLUMNS))
    counts = re.findall(r"<td>(\d+)</td>", page)
    figures = re.findall(r'<span class="figure">(\d+)</span>', page)
    assert counts
    assert figures
    assert all(int(n) % 5 == 0 for n in counts + figures)
    assert "suppressed" in page


def test_html_bars_follow_the_rounded_counts_and_suppressed_cells_have_none() -> None:
    page = to_html(build_report("c", mixed_cohort()))
    section = page.split('<h2 id="q-2">')[1].split("</section>")[0]
    chart = section.split('<figure class="chart">')[1]
    bars: dict[tuple[str, str], tuple[str, str]] = {}
    for item in chart.split('<li class="value">')[1:]:
        value = item.split("<ul>")[0]
        for name, width, figure in re.findall(
            r'<span class="name">([^<]+)</span><span class="track" aria-hidden="true">'
            r'(?:<span class="fill" style="width:([\d.]+)%"></span>)?</span>'
            r'<span class="figure">([^<]+)</span>',
            item,
        ):
            bars[(value, name)] = (width, figure)
    assert bars[("Man", "Mentees: applied")] == ("100.0", "20")  # the largest rounded count
    assert bars[("Man", "Mentors: applied")] == ("50.0", "10")  # 12, rounded to 10: half the bar
    assert bars[("Woman", "Mentors: applied")] == ("", "suppressed")
    assert bars[("Woman", "Mentees: applied")] == ("", "suppressed")
    assert bars[("Non-binary", "Mentees: applied")] == ("", "0")


def parsed_csv(report: MonitoringReport) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(report))))


def test_json_and_csv_agree() -> None:
    report = build_report("c", cohort_of_40())
    data = json.loads(json.dumps(to_json(report)))  # serialisable as it is
    lines = parsed_csv(report)
    expected_lines = sum(len(q["rows"]) + 1 for q in data["questions"])
    assert len(lines) == expected_lines
    by_key = {(line["question"], line["value"]): line for line in lines}
    suppressed = 0
    for question in data["questions"]:
        for r in (*question["rows"], question["total"]):
            line = by_key[(question["question"], r["value"])]
            assert line["value_label"] == r["label"]
            for key, cell in r["cells"].items():
                if cell["suppressed"]:
                    suppressed += 1
                    assert cell["count"] is None
                    assert line[f"{key}_count"] == "*"
                    assert line[f"{key}_percent"] == "*"
                else:
                    assert line[f"{key}_count"] == str(cell["count"])
                    expected = "" if cell["percent"] is None else f"{cell['percent']:.1f}"
                    assert line[f"{key}_percent"] == expected
    assert suppressed > 0


def test_csv_shows_prefer_not_to_say_for_every_question() -> None:
    lines = parsed_csv(build_report("c", people(30)))
    for question, _, _ in MONITORING_QUESTIONS:
        prefer = next(x for x in lines if x["question"] == question and x["value"] == "prefer_not_to_say")
        assert prefer["mentee_applied_count"] == "30"
        assert prefer["mentee_applied_percent"] == "100.0"
        assert prefer["mentor_applied_count"] == "0"
        assert prefer["mentor_applied_percent"] == ""  # no mentors: no percentage


def test_from_record_keeps_role_outcome_and_answers() -> None:
    from mentoring.models import MonitoringRecord

    record = MonitoringRecord(
        cohort_id="c-2027",
        scheme_id="s",
        role=Role.MENTOR,
        eligible=False,
        answers=MonitoringAnswers(gender="man"),
    )
    assert ReportRow.from_record(record) == ReportRow(Role.MENTOR, False, record.answers)
