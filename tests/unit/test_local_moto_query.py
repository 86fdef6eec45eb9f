"""The local runtime's moto answers a query as moto does, only without reading every item.

The narrowed query (``infrastructure.local.moto_server``) and moto's own are run side by side on
the same table, page by page (Limit, ExclusiveStartKey, both directions, items big enough to end
a page at moto's 1 MB), for every key condition; and a page is written by the fast path for
attribute values exactly as moto's serializer writes it. In process, no server.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto.core.responses import ActionResult
from moto.core.serialize import JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from infrastructure.local.moto_server import (
    MOTO_SERIALIZE_STRUCTURE,
    MOTO_TABLE_QUERY,
    _attribute_values_written_directly,
    _key_range,
)

pytestmark = pytest.mark.unit

NARROWED = _key_range(MOTO_TABLE_QUERY)
LETTERS = "AB#1"
# Small items, and items of 150 and 300 kB: four of those end a page at moto's 1 MB limit.
SIZES = (10, 10, 10, 150_000, 300_000)


def _table(kind: str, keys: list[Any], sizes: list[int]) -> Table:
    table = Table(  # type: ignore[abstract]
        "Items",
        account_id="123456789012",
        region="eu-west-2",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": kind}],
    )
    for n, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        for pk in ("cohort", "other") if n % 3 == 0 else ("cohort",):
            table.put_item({"pk": {"S": pk}, "sk": {kind: str(key)}, "data": {"S": "x" * size}})
    return table


def _pages(query: Any, table: Table, condition: tuple[str | None, list[str]], kind: str,
           limit: int | None, forward: bool) -> list[tuple[list[Any], int, Any]]:  # fmt: skip
    comparison, operands = condition
    pages: list[tuple[list[Any], int, Any]] = []
    start = None
    while len(pages) < 50:
        items, scanned, last = query(
            table, DynamoType({"S": "cohort"}), comparison, [DynamoType({kind: o}) for o in operands],
            limit, start, forward, None,
        )  # fmt: skip
        last_key = None if last is None else {k: v.to_json() for k, v in last.items()}
        pages.append(([i.to_json() for i in items], scanned, last_key))
        if last_key is None:
            break
        start = last_key
    return pages


def _conditions(kind: str) -> st.SearchStrategy[tuple[str | None, list[str]]]:
    value = st.text(LETTERS, min_size=1, max_size=3) if kind == "S" else st.integers(-3, 30).map(str)
    single = st.sampled_from(["=", "<", "<=", ">", ">="]).flatmap(lambda op: value.map(lambda v: (op, [v])))
    between = st.tuples(value, value).map(lambda pair: ("BETWEEN", sorted(pair, key=_order(kind))))
    choices = [st.just((None, [])), single, between]
    if kind == "S":
        choices.append(st.text(LETTERS, max_size=2).map(lambda p: ("BEGINS_WITH", [p])))
    return st.one_of(*choices)


def _order(kind: str) -> Any:
    return (lambda v: v) if kind == "S" else int


@st.composite
def _cases(
    draw: st.DrawFn,
) -> tuple[str, list[Any], list[int], tuple[str | None, list[str]], int | None, bool]:
    kind = draw(st.sampled_from(["S", "N"]))
    key = st.text(LETTERS, min_size=1, max_size=4) if kind == "S" else st.integers(-5, 40)
    keys = draw(st.lists(key, max_size=24, unique=True))
    sizes = draw(st.lists(st.sampled_from(SIZES), min_size=len(keys), max_size=len(keys)))
    return (kind, keys, sizes, draw(_conditions(kind)), draw(st.sampled_from([None, 1, 2, 5])),
            draw(st.booleans()))  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
# A page ended by an item beyond the range, a small one between: moto stops at the item that would
# take the page over 1 MB, whether or not the key condition accepts it.
@example(("S", ["A1", "A2", "A3", "B", "C"], [300_000, 300_000, 150_000, 10, 300_000], ("BEGINS_WITH", ["A"]),
          None, True))  # fmt: skip
@example(("S", ["A", "B", "C1", "C2", "C3"], [300_000, 10, 300_000, 300_000, 150_000], ("BEGINS_WITH", ["C"]),
          None, False))  # fmt: skip
def test_a_narrowed_query_gives_moto_s_pages_for_every_key_condition(
    case: tuple[str, list[Any], list[int], tuple[str | None, list[str]], int | None, bool],
) -> None:
    kind, keys, sizes, condition, limit, forward = case
    table = _table(kind, keys, sizes)

    expected = _pages(MOTO_TABLE_QUERY, table, condition, kind, limit, forward)
    found = _pages(NARROWED, table, condition, kind, limit, forward)

    assert found == expected
    assert len(table.items[DynamoType({"S": "cohort"})]) == len(keys)  # the table is as it was


def test_a_narrowed_query_reads_only_the_key_range() -> None:
    table = _table("S", [f"APPLICATION#{n:03d}" for n in range(300)], [10] * 300)
    table.put_item({"pk": {"S": "cohort"}, "sk": {"S": "MATCH#1"}, "data": {"S": "x"}})
    seen: list[int] = []

    @functools.wraps(MOTO_TABLE_QUERY)
    def counting(self: Table, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(self.all_items()))
        return MOTO_TABLE_QUERY(self, *args, **kwargs)

    items, _, _ = _key_range(counting)(
        table, DynamoType({"S": "cohort"}), "BETWEEN",
        [DynamoType({"S": "APPLICATION#010"}), DynamoType({"S": "APPLICATION#019"})], None, None, True, None,
    )  # fmt: skip

    assert [i.attrs["sk"].value for i in items] == [f"APPLICATION#{n:03d}" for n in range(10, 20)]
    assert seen == [11]  # the range, and the next item (which may end a page)


_SCALAR = st.one_of(
    st.text(max_size=5).map(lambda s: {"S": s}),
    st.integers(-(10**6), 10**6).map(lambda n: {"N": str(n)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=3), min_size=1, max_size=3, unique=True).map(lambda s: {"SS": s}),
    st.lists(st.integers(0, 99).map(str), min_size=1, max_size=3, unique=True).map(lambda s: {"NS": s}),
    st.binary(max_size=4).map(lambda b: {"B": b}),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)


def _written(serializer: type[JSONSerializer], items: list[dict[str, Any]]) -> Any:
    operation = get_service_model("dynamodb").operation_model("Query")
    writer = serializer(operation_model=operation, value_picker=XFormedAttributePicker())
    body = writer.serialize(
        ActionResult({"Count": len(items), "ScannedCount": len(items), "Items": items}).result
    )
    return json.loads(body["body"])


class _Moto(JSONSerializer):
    _serialize_type_structure = MOTO_SERIALIZE_STRUCTURE


class _Direct(JSONSerializer):
    _serialize_type_structure = _attribute_values_written_directly(MOTO_SERIALIZE_STRUCTURE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1, max_size=4), _VALUE, max_size=5), max_size=4))
def test_attribute_values_are_written_as_moto_writes_them(items: list[dict[str, Any]]) -> None:
    assert _written(_Direct, items) == _written(_Moto, items)
