"""Is the published monitoring report still useful? Each figure against the true count of the
people it describes, with the bound the README documents: at most 4 away, and a column that leaves
n people out (their role or outcome not recorded, to keep every stored group at least k) short by
at most n more. The demo prints it; the integration suite asserts it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mentoring.monitoring_report import MAX_ERROR


@dataclass(frozen=True)
class Applicant:
    role: str
    eligible: bool
    answers: dict[str, str]  # a question left out was answered "prefer not to say"


def true_count(people: Sequence[Applicant], question: str, value: str, column: str) -> int:
    group, outcome = column.split("_")
    return sum(
        1
        for person in people
        if group in (person.role, "all")
        and (outcome == "applied" or person.eligible)
        and (value == "total" or person.answers.get(question, "prefer_not_to_say") == value)
    )


def figures(report: dict[str, Any]) -> Iterator[tuple[str, str, str, int]]:
    """(question, value, column, published count) of every figure of a report as JSON."""
    for table in report["questions"]:
        for row in [*table["rows"], table["total"]]:
            for column, cell in row["cells"].items():
                yield table["question"], row["value"], column, cell["count"]


def outside_error(report: dict[str, Any], people: Sequence[Applicant]) -> list[str]:
    """The figures further from the truth than the documented bound (none, when all is well)."""
    left_out = {c["key"]: c["not_recorded"] for c in report["columns"]}
    problems = []
    for question, value, column, count in figures(report):
        error = count - true_count(people, question, value, column)
        if not -MAX_ERROR - left_out[column] <= error <= MAX_ERROR:
            problems.append(f"{question}={value} {column}: published {count}, {error:+d} from the truth")
    return problems
