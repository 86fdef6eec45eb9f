"""The monitoring report: cell-key random rounding, percentages from published counts, unrecorded
roles and outcomes, and the three renderers."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentoring.models import MonitoringAnswers, MonitoringRecord, Role
from mentoring.monitoring_report import (
    COLUMNS,
    KEY_SPACE,
    MAX_ERROR,
    MonitoringReport,
    QuestionTable,
    ReportRow,
    build_report,
    cell_key,
    percentage,
    rounded,
    to_csv,
    to_html,
    to_json,
)
from mentoring.web import MONITORING_QUESTIONS

pytestmark = pytest.mark.unit

KEYS = [c.key for c in COLUMNS]
K = 5


def people(
    n: int, role: Role | None = Role.MENTEE, eligible: bool | None = True, **answers: str
) -> list[ReportRow]:
    return [
        ReportRow(role, eligible, MonitoringAnswers.model_validate(answers), secrets.randbits(32))
        for _ in range(n)
    ]


def gender(report: MonitoringReport) -> QuestionTable:
    return next(t for t in report.tables if t.question == "gender")


def row(table: QuestionTable, value: str) -> dict[str, int]:
    found = next(r for r in (*table.rows, table.total) if r.value == value)
    return {k: c.count for k, c in zip(KEYS, found.cells, strict=True)}


def cohort_of_40() -> list[ReportRow]:
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


def true_count(rows: list[ReportRow], question: str, value: str | None, column_key: str) -> int:
    column = COLUMNS[KEYS.index(column_key)]
    return sum(
        1 for r in rows if column.counts(r) and (value is None or getattr(r.answers, question) == value)
    )


# ---------------------------------------------------------------- the rounding


@settings(max_examples=500)
@given(st.integers(0, 10_000), st.integers(0, KEY_SPACE - 1))
def test_a_published_count_is_a_multiple_of_5_at_most_4_from_the_truth(count: int, key: int) -> None:
    published = rounded(count, key)

    assert published % 5 == 0
    assert abs(published - count) <= MAX_ERROR
    assert published >= 0


def test_a_true_zero_is_always_zero_and_a_multiple_of_5_is_exact() -> None:
    assert {rounded(0, key) for key in (0, 1, KEY_SPACE // 2, KEY_SPACE - 1)} == {0}
    assert {rounded(35, key) for key in (0, KEY_SPACE // 3, KEY_SPACE - 1)} == {35}


def test_the_rounding_is_unbiased_over_cell_keys() -> None:
    """Up with probability (n mod 5)/5: over every key, the average published figure is the truth."""
    keys = range(0, KEY_SPACE, KEY_SPACE // 1000)
    for count in (1, 2, 3, 4, 6, 13):
        average = sum(rounded(count, key) for key in keys) / len(keys)
        assert average == pytest.approx(count, abs=0.01)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        rounded(-1, 0)


def test_the_same_people_always_give_the_same_figure() -> None:
    rows = cohort_of_40()

    first = to_json(build_report("c", rows, K))
    again = to_json(build_report("c", list(reversed(rows)), K))

    assert first == again  # read again, in any order: nothing to average away


def test_a_cell_key_is_the_sum_of_its_records_keys() -> None:
    rows = people(3)
    assert cell_key(rows) == sum(r.record_key for r in rows) % KEY_SPACE
    assert cell_key([]) == 0


def test_one_more_person_redraws_the_rounding_of_every_cell_they_join() -> None:
    """Differencing before and after one more record gives the change plus independent noise: over
    many draws of the newcomer's key, a cell of 2 going to 3 is published every way it can be."""
    base = people(2, gender="woman")
    seen = set()
    for _ in range(200):
        newcomer = people(1, gender="woman")
        before = row(gender(build_report("c", base, K)), "woman")["mentee_applied"]
        after = row(gender(build_report("c", base + newcomer, K)), "woman")["mentee_applied"]
        seen.add((before, after))
    assert {after for _, after in seen} == {0, 5}  # 3 people: shown as 0 or as 5


# ---------------------------------------------------------------- the report


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["woman", "man", "non_binary"]), st.booleans()), max_size=60))
def test_every_figure_is_within_4_of_the_true_count(answers: list[tuple[str, bool]]) -> None:
    rows = [people(1, Role.MENTEE if mentee else Role.MENTOR, gender=g)[0] for g, mentee in answers]
    report = build_report("c", rows, K)

    for table in report.tables:
        for published in (*table.rows, table.total):
            value = None if published.value == "total" else published.value
            for key, cell in zip(KEYS, published.cells, strict=True):
                assert abs(cell.count - true_count(rows, table.question, value, key)) <= MAX_ERROR


def test_percentages_come_from_the_published_counts_and_need_a_total_of_25() -> None:
    assert percentage(5, 20) is None
    assert percentage(10, 25) == 40.0
    report = build_report("c", cohort_of_40(), K)
    for table in report.tables:
        for published in table.rows:
            for c, cell in enumerate(published.cells):
                assert cell.percent == percentage(cell.count, table.total.cells[c].count)


def test_unrecorded_roles_and_outcomes_count_where_they_are_known_and_are_said() -> None:
    rows = people(10, Role.MENTEE, True) + people(5, Role.MENTEE, None) + people(5, None, None)
    report = build_report("c", rows, K)

    not_recorded = dict(zip(KEYS, report.not_recorded, strict=True))
    assert not_recorded == {
        "mentee_applied": 5,
        "mentee_eligible": 10,
        "mentor_applied": 5,
        "mentor_eligible": 5,
        "all_applied": 0,
        "all_eligible": 10,
    }
    total = row(gender(report), "total")
    assert total["mentee_applied"] == 15
    assert total["mentee_eligible"] == 10
    assert total["all_applied"] == 20
    assert "Mentees: eligible: 10 people not counted here" in " ".join(report.notes())


def test_prefer_not_to_say_is_in_every_table_in_order() -> None:
    report = build_report("c", people(3, gender="woman"), K)
    for table, (question, caption, values) in zip(report.tables, MONITORING_QUESTIONS, strict=True):
        assert (table.question, table.caption) == (question, caption)
        assert tuple(r.value for r in table.rows) == values
        assert table.rows[-1].value == "prefer_not_to_say"


def test_from_record_keeps_role_outcome_answers_and_key() -> None:
    record = MonitoringRecord(
        cohort_id="c", scheme_id="s", role=None, eligible=None, answers=MonitoringAnswers(gender="man")
    )
    assert ReportRow.from_record(record) == ReportRow(None, None, record.answers, record.record_key)


# ---------------------------------------------------------------- renderers


def test_html_says_in_one_sentence_how_the_figures_are_protected() -> None:
    page = to_html(build_report("Cohort <2027> & co", cohort_of_40(), K))

    (sentence,) = re.findall(r'<p class="protection">([^<]+)</p>', page)
    assert sentence.count(". ") == 0
    assert sentence.endswith(".")
    assert "rounded to a multiple of 5" in sentence
    assert "at most 4" in sentence
    assert "at least 5 people" in sentence
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "Cohort &lt;2027&gt; &amp; co" in page
    for _, caption, _ in MONITORING_QUESTIONS:
        assert f">{caption}</caption>" in page.replace("&#x27;", "'")
    counts = re.findall(r"<td>(\d+)</td>", page) + re.findall(r'<span class="figure">(\d+)</span>', page)
    assert counts
    assert all(int(n) % 5 == 0 for n in counts)


def test_a_report_with_nothing_stored_says_so() -> None:
    page = to_html(build_report("c", [], K))

    assert "No figures yet" in page
    assert set(re.findall(r"<td>(\d+)</td>", page)) == {"0"}


def parsed_csv(report: MonitoringReport) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(report))))


def test_json_csv_and_html_publish_the_same_figures() -> None:
    report = build_report("c", cohort_of_40(), K)
    data = json.loads(json.dumps(to_json(report)))  # serialisable as it is
    lines = {(line["question"], line["value"]): line for line in parsed_csv(report)}
    page = to_html(report)
    html_counts: list[str] = []
    for table in page.split("<table>")[1:]:
        for tr in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table):
            html_counts += re.findall(r"<td>(\d+)</td>", tr)

    json_counts = []
    assert data["max_error"] == 4
    assert data["protection"] == report.protection
    for question in data["questions"]:
        for r in (*question["rows"], question["total"]):
            line = lines[(question["question"], r["value"])]
            for key, cell in r["cells"].items():
                assert line[f"{key}_count"] == str(cell["count"])
                assert line[f"{key}_percent"] == ("" if cell["percent"] is None else f"{cell['percent']:.1f}")
                json_counts.append(str(cell["count"]))
    assert html_counts == json_counts
    assert Counter(c["not_recorded"] for c in data["columns"]) == Counter([0] * 6)


def test_json_columns_say_what_they_leave_out() -> None:
    data = to_json(build_report("c", people(5, None, None), K))
    columns: dict[str, Any] = {c["key"]: c for c in data["columns"]}

    assert columns["mentee_applied"]["not_recorded"] == 5
    assert columns["all_applied"]["not_recorded"] == 0
