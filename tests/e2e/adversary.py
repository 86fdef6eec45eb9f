"""The adversary's tools, shared by the attacks on the monitoring report (test_anonymity.py) and on
the evaluation report (test_evaluation_anonymity.py): reading the published counts, differencing
readings, and the stack the adversary reads from."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

Person = TypeVar("Person")
Counts = dict[tuple[str, str, str], int]


def counts_of(body: dict[str, Any]) -> Counts:
    """Every published count of a report's JSON: (question, answer or "total", column) -> count."""
    return {
        (q["question"], r["value"], key): cell["count"]
        for q in body["questions"]
        for r in [*q["rows"], q["total"]]
        for key, cell in r["cells"].items()
    }


def html_counts(page: str, columns: int) -> list[str]:
    """The counts of every table row of an HTML report, in order (the first ``columns`` cells)."""
    return [
        count
        for tr in re.findall(r'<tr><th scope="row">.*?</tr>', page)
        for count in re.findall(r"<td>(.*?)</td>", tr)[:columns]
    ]


def differencing(
    moments: Sequence[tuple[Person | None, object, Counts]], questions: Iterable[str]
) -> Iterator[tuple[Person, str, str]]:
    """Newcomers' answers as the adversary reads them from ``moments`` (who came, if anyone; every
    figure read then; its counts): when any figure changes and only one person came since the last
    change (with the change, or before a later scheduled event), each question's only answer whose
    figures rose is theirs."""
    asked = list(questions)
    newcomers: list[Person] = []
    for (_, before, old), (person, after, new) in itertools.pairwise(moments):
        if person is not None:
            newcomers.append(person)
        if before == after:
            continue
        if len(newcomers) == 1:
            for question in asked:
                rose = {v for (q, v, column), n in new.items() if q == question and n > old[(q, v, column)]}
                rose.discard("total")
                if len(rose) == 1:
                    yield newcomers[0], question, rose.pop()
        newcomers = []


def read_reports(api: ApiClient, paths: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Every format of each report: "<scope>.json" (parsed), "<scope>.csv", "<scope>.html"."""
    reports: dict[str, Any] = {}
    for scope, path in paths:
        for kind in ("json", "csv", "html"):
            reply = api.signed("GET", f"{path}?format={kind}")
            assert reply.status == 200, reply.body
            reports[f"{scope}.{kind}"] = reply.body
    return reports


def scanned(runtime: LocalRuntime, cohort_id: str) -> list[dict[str, Any]]:
    """Every item of the Monitoring table for the cohort, as the table holds it."""
    items: list[dict[str, Any]] = []
    for page in (
        runtime.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=runtime.physical["MonitoringTable"]["Ref"])
    ):
        items += page["Items"]
    return [i for i in items if i["cohort_id"]["S"] == cohort_id]


@contextmanager
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[tuple[LocalRuntime, ApiClient]]:
    folder = tmp_path_factory.mktemp(name)
    with LocalRuntime(
        api_port=free_port(), aws_port=free_port(), outbox=None, logs=folder / "logs"
    ) as runtime:
        yield runtime, ApiClient(runtime.api_url)
