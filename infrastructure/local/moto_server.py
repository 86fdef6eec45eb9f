"""moto's server as the local runtime runs it: ``python -m infrastructure.local.moto_server -p PORT``.

moto is exact enough for a handful of applications but was not written for the load run's ten
thousand, nor for requests that arrive on several threads at once. The adjustments below each
keep the behaviour the pipeline relies on, and are tested in
``tests/integration/test_local_moto_server.py``:

- A DynamoDB transaction backs up the items it touches, not each whole table it touches: moto
  deep-copies the tables to roll back a cancelled transaction, which makes every intake write cost
  time in proportion to every application already stored (quadratic over an intake).
- DynamoDB requests are served one at a time. moto's server answers on threads without a lock,
  so a condition check and its write could interleave with another request's; DynamoDB makes a
  conditional write, and a transaction, atomic.
- An SQS send reads the queue's ContentBasedDeduplication through the property that computes
  every attribute of the queue, counting every message; during a send it gives that one
  attribute. Without this a send costs time in proportion to the backlog (the national deadline
  queues seventeen thousand notifications).
- An SQS delete finds its message by looking at every message of the queue, twice; it looks the
  receipt handle up instead (moto's own delete still answers a handle it does not know).
- An SQS receive looks up the queue's retention period by computing every attribute of the
  queue, which counts every message, twice for each message it returns; it reads the one
  attribute instead. moto's clock for message visibility builds two datetimes per message per
  look; it reads the time once. Without these a receive costs time in proportion to the backlog,
  times ten.
- A DynamoDB query on a table's key sorts every item of the table and tests each against the key
  condition, for every page (a national cohort's read is tens of pages over a partition of tens of
  thousands of items); it is given only the key condition's range of the partition, found by
  bisection, with the items after it that can end moto's page, so it returns moto's pages exactly
  (the requests are serialised, so the table can be narrowed for the call). Tested against moto's
  own query in ``tests/unit/test_local_moto_query.py``.
- moto writes a DynamoDB response's attribute values member by member through the service model,
  about a second for a page of a thousand items; strings, numbers, booleans, nulls and string and
  number sets are written as they are, as moto writes them (the same test file).
- moto lists its own package folder on every request to route it; the list is read once.
- moto keeps every DynamoDB item and table object it ever made (each read and each transaction's
  copies too) for its state dump, ``/moto-api/data.json``, which is where sent emails are read:
  the dump took longer with every request (8 s after the integration suite's console tests).
  Items and tables are no longer kept for it; they are still stored as ever.

- Cognito issues its tokens at the local runtime's time (the file ``MENTORING_LOCAL_CLOCK`` names
  holds its offset from real time, in seconds): a test that moves the runtime's clock months
  ahead signs in to the console then, and the console, which runs at the moved time, would find a
  token issued at real time long expired.

SIGTERM ends the process at once, without unwinding: the state is in memory only.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import sys
import threading
import time
import types
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from moto import backends
from moto.core.serialize import JSONSerializer
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_models
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs import models as sqs_models
from moto.sqs.models import Message, Queue, SQSBackend

_dynamodb_lock = threading.RLock()


def _deepcopy_all_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """The transaction's whole-table backup made free; the items it touches are backed up instead."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched_keys(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    touched = []
    for item in transact_items:
        for operation in item.values():
            name = operation.get("TableName")
            if name not in backend.tables:
                continue
            table = backend.tables[name]
            if "Key" in operation:
                key = operation["Key"]
            else:
                attributes = operation.get("Item", {})
                names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                if not all(n in attributes for n in names):
                    continue  # moto refuses such a Put before it writes anything
                key = {n: attributes[n] for n in names}
            touched.append((name, key))
    return touched


def _with_item_backup(transact: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(transact)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backup = []
        for name, key in _touched_keys(self, transact_items):
            try:
                stored = self.get_item(name, key)
            except Exception:  # noqa: BLE001, S112 - a malformed key: moto refuses the transaction itself
                continue
            attributes = None if stored is None else copy.deepcopy(stored.to_json()["Attributes"])
            backup.append((name, key, attributes))
        try:
            transact(self, transact_items)
        except Exception:
            for name, key, attributes in reversed(backup):
                if attributes is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            raise

    return transact_write_items


def _serialised(call_action: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(call_action)
    def serialised(self: DynamoHandler) -> Any:
        with _dynamodb_lock:
            return call_action(self)

    return serialised


MOTO_TABLE_QUERY: Callable[..., Any] = Table.query  # moto's own, kept for the narrowed query to call
MOTO_SERIALIZE_STRUCTURE: Callable[..., None] = JSONSerializer._serialize_type_structure
# moto refuses an item whose attributes measure more than this (moto.dynamodb.models.dynamo_type),
# so an item can end a page only when the page is within this much of moto's 1 MB limit.
_LARGEST_ITEM = 405_000
_PAGE_LIMIT: int = table_models.RESULT_SIZE_LIMIT
_BOUNDS: dict[str, Callable[[list[Any], list[Any]], tuple[int, int]]] = {
    "=": lambda keys, v: (bisect_left(keys, v[0]), bisect_right(keys, v[0])),
    "<": lambda keys, v: (0, bisect_left(keys, v[0])),
    "<=": lambda keys, v: (0, bisect_right(keys, v[0])),
    ">": lambda keys, v: (bisect_right(keys, v[0]), len(keys)),
    ">=": lambda keys, v: (bisect_left(keys, v[0]), len(keys)),
    "BETWEEN": lambda keys, v: (
        bisect_left(keys, v[0]),
        max(bisect_left(keys, v[0]), bisect_right(keys, v[1])),
    ),
    "BEGINS_WITH": lambda keys, v: _prefixed(keys, v[0]),
}


def _prefixed(keys: list[Any], prefix: Any) -> tuple[int, int]:
    if not isinstance(prefix, str | bytes):
        raise TypeError(prefix)
    low = high = bisect_left(keys, prefix)
    while high < len(keys) and keys[high].startswith(prefix):
        high += 1
    return low, high


def _sort_value(key: Any) -> Any:
    """A range key's value as moto compares it (``DynamoType.cast_value`` of an S, N or B key)."""
    return Decimal(key.value) if key.type == "N" else key.value


def _in_key_range(  # moto's query loop, followed step by step
    table: Table, hash_key: Any, arguments: dict[str, Any]
) -> dict[Any, Any] | None:
    """The items of the partition moto's query can reach, or None when moto should look at all.

    moto goes through every item of the partition, in key order, for each page: it skips the items
    up to ExclusiveStartKey, appends those the key condition accepts, and stops at the first item
    (accepted or not) that finds the page full (Limit, or 1 MB). The items the key condition
    accepts are one run of the sorted keys (found by bisection); the items after the run can only
    end the page: the first one does if the page is full by number, and one that would take the
    page over 1 MB does. Those are kept beside the run, so moto returns the same items and the same
    LastEvaluatedKey as over the whole partition.
    """
    comparison = arguments.get("range_comparison")
    conditions = arguments.get("range_key_conditions") or []
    if (
        arguments.get("filter_kwargs")
        or not table.range_key_attr
        or (comparison is not None and comparison not in _BOUNDS)
        or any(name != table.range_key_attr for name, _, _ in conditions)
    ):
        return None
    partition = table.items.get(hash_key, {})
    ordered = sorted(partition.items(), key=lambda entry: _sort_value(entry[0]))
    keys = [_sort_value(key) for key, _ in ordered]
    operands = [value.cast_value for value in arguments.get("range_objs") or []]
    try:
        low, high = (0, len(keys)) if comparison is None else _BOUNDS[comparison](keys, operands)
    except (TypeError, IndexError):
        return None
    forward = arguments.get("scan_index_forward", True) is not False
    accepted = [item for _, item in ordered[low:high]]
    after = [item for _, item in (ordered[high:] if forward else reversed(ordered[:low]))]
    if not forward:
        accepted.reverse()
    start = arguments.get("exclusive_start_key")
    if start is not None:
        attributes: tuple[list[str], list[str | None]] = ([table.hash_key_attr], [table.range_key_attr])
        skipped = 0
        while skipped < len(accepted) and table._item_comes_before_dct(
            accepted[skipped], start, *attributes, forward
        ):
            skipped += 1
        accepted = accepted[skipped:]
    kept = list(accepted)
    limit = arguments.get("limit")
    full, size = False, 0
    for count, item in enumerate(accepted):
        item_size = item.size()
        if count == limit or size + item_size > _PAGE_LIMIT:
            full = True
            break
        size += item_size
    if after:
        kept.append(after[0])  # ends the page when it is full by number
        if not full and len(accepted) != limit and size > _PAGE_LIMIT - _LARGEST_ITEM:
            kept += [next((item for item in after[1:] if size + item.size() > _PAGE_LIMIT), after[0])]
    return {hash_key: {item.range_key: item for item in kept}} if kept else {}


def _key_range(query: Callable[..., Any]) -> Callable[..., Any]:
    """A query on a table's key reads the key condition's range of the partition, not every item of
    the table (moto sorts all of them, for every page). The requests are serialised, so the
    table's items can be narrowed for the call."""
    signature = inspect.signature(query)

    @functools.wraps(query)
    def key_range_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, hash_key, *args, **kwargs).arguments
        if arguments.get("index_name") is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        narrowed = _in_key_range(self, hash_key, arguments)
        if narrowed is None:
            narrowed = {hash_key: self.items[hash_key]} if hash_key in self.items else {}
        everything = self.items
        self.items = defaultdict(dict, narrowed)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    return key_range_query


_SCALARS: dict[str, type] = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_SETS = frozenset({"SS", "NS"})


def _plain_attribute_value(value: Any) -> dict[str, Any] | None:
    """An AttributeValue as moto's serializer would write it, when it is a string, number, boolean,
    null, or string or number set; None for the rest (binary, maps, lists), which moto writes."""
    if type(value) is not dict or len(value) != 1:
        return None
    [(kind, inner)] = value.items()
    if _SCALARS.get(kind) is type(inner):
        return {kind: inner}
    if kind in _SETS and type(inner) is list and all(type(member) is str for member in inner):
        return {kind: list(inner)}
    return None


def _attribute_values_written_directly(
    serialize_structure: Callable[..., None],
) -> Callable[..., None]:
    """moto writes each DynamoDB attribute value member by member through the service model (ten
    look-ups of aliases for each attribute): a page of a thousand items took a second or more, under
    the lock that serialises DynamoDB, so sixteen queries at once waited past a client's timeout.
    The common attribute values are written as they are, which is what moto writes for them."""

    @functools.wraps(serialize_structure)
    def serialize(self: JSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            plain = _plain_attribute_value(value)
            if plain is not None:
                serialized[self.get_serialized_name(shape, key)] = plain
                return
        serialize_structure(self, serialized, value, shape, key)

    return serialize


def _listed_once(list_modules: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    modules = tuple(list_modules())
    return lambda: modules


def _retention_period_read(backend: SQSBackend, queue_name: str, message: Any) -> bool:
    retention_period = int(backend.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > time.time())


_sending = threading.local()


def _attributes_read_by_a_send(attributes: property) -> property:
    """A send reads one attribute of its queue, ContentBasedDeduplication, through the property that
    computes every attribute, counting every message three times: each of the national deadline's
    seventeen thousand notifications cost time in proportion to the notifications queued before it.
    During a send the property gives that one attribute, as the whole property gives it."""
    every = attributes.fget
    assert every is not None

    def read(queue: Any) -> dict[str, Any]:
        if not getattr(_sending, "active", False):
            return every(queue)  # type: ignore[no-any-return]
        if not queue.fifo_queue:
            return {}
        value = queue.content_based_deduplication
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    return property(read)


def _a_send(send: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send)
    def sending(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        already = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.active = already

    return sending


MOTO_QUEUE_ATTRIBUTES: property = vars(Queue)["attributes"]
MOTO_SEND_MESSAGE: Callable[..., Any] = SQSBackend.send_message
MOTO_SEND_MESSAGE_BATCH: Callable[..., Any] = SQSBackend.send_message_batch
MOTO_MARK_RECEIVED: Callable[..., None] = Message.mark_received
MOTO_DELETE_MESSAGE: Callable[..., None] = Queue.delete_message
_received: dict[str, Message] = {}  # each receipt handle moto gave, to the message it was given for


def _mark_received(message: Message, *args: Any, **kwargs: Any) -> None:
    MOTO_MARK_RECEIVED(message, *args, **kwargs)
    if message.receipt_handle is not None:
        _received[message.receipt_handle] = message


def _delete_message(queue: Queue, receipt_handle: str) -> None:
    """moto finds the message a receipt handle was given for by looking at every message of the
    queue, twice, for each delete: the deadline's emails cost time in proportion to the backlog.
    The message is looked up by its handle (handles are unique to a message); a handle moto did not
    give in this process, already deleted, or of a message no longer on this queue, is left to
    moto's own delete."""
    message = _received.get(receipt_handle)
    if message is None or receipt_handle in queue.deleted_messages:
        return MOTO_DELETE_MESSAGE(queue, receipt_handle)
    try:
        position = queue._messages.index(message)  # identity: a Message has no __eq__
    except ValueError:
        return MOTO_DELETE_MESSAGE(queue, receipt_handle)
    queue.pending_messages.discard(message)
    queue.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
    queue._messages = queue._messages[:position] + queue._messages[position + 1 :]
    for handle in message.all_receipt_handles:
        if handle is not None:
            _received.pop(handle, None)
    return None


_original_unix_time: Callable[..., float] = vars(sqs_models)["unix_time"]


def _unix_time(dt: Any = None) -> float:
    return time.time() if dt is None else _original_unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


def _replace(owner: object, name: str, value: object) -> None:
    setattr(owner, name, value)


CLOCK_FILE = "MENTORING_LOCAL_CLOCK"


class _RuntimeTime:
    """``time`` as moto's Cognito reads it: real time plus the runtime's offset (read again only
    when its file changes)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._seen: tuple[int, float] = (-1, 0.0)

    def _offset(self) -> float:
        file = Path(self.file)
        try:
            changed = file.stat().st_mtime_ns
            if changed != self._seen[0]:
                self._seen = (changed, float(file.read_text(encoding="utf-8") or 0))
        except (OSError, ValueError):  # being written: the offset read last stands
            pass
        return self._seen[1]

    def time(self) -> float:
        return time.time() + self._offset()


def adjust() -> None:
    """Applies the adjustments to moto in this process (idempotent)."""
    if os.environ.get(CLOCK_FILE):
        from moto.cognitoidp import models as cognito_models

        _replace(cognito_models, "time", _RuntimeTime(os.environ[CLOCK_FILE]))
    if getattr(DynamoDBBackend.transact_write_items, "_item_backup", False):
        return
    _replace(
        dynamodb_models, "copy", types.SimpleNamespace(deepcopy=_deepcopy_all_but_tables, copy=copy.copy)
    )
    wrapped = _with_item_backup(DynamoDBBackend.transact_write_items)
    _replace(wrapped, "_item_backup", True)
    _replace(DynamoDBBackend, "transact_write_items", wrapped)
    _replace(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action))
    _replace(Table, "query", _key_range(MOTO_TABLE_QUERY))
    _replace(
        JSONSerializer,
        "_serialize_type_structure",
        _attribute_values_written_directly(MOTO_SERIALIZE_STRUCTURE),
    )
    _replace(SQSBackend, "is_message_valid_based_on_retention_period", _retention_period_read)
    _replace(Queue, "attributes", _attributes_read_by_a_send(MOTO_QUEUE_ATTRIBUTES))
    _replace(SQSBackend, "send_message", _a_send(MOTO_SEND_MESSAGE))
    _replace(SQSBackend, "send_message_batch", _a_send(MOTO_SEND_MESSAGE_BATCH))
    _replace(Message, "mark_received", _mark_received)
    _replace(Queue, "delete_message", _delete_message)
    _replace(sqs_models, "unix_time", _unix_time)
    _replace(sqs_models, "unix_time_millis", _unix_time_millis)
    _replace(backends, "list_of_moto_modules", _listed_once(backends.list_of_moto_modules))
    untrack_stored_items()


class _NotKept(list[Any]):
    """A model's list of instances for the state dump that keeps none."""

    def append(self, _: Any) -> None:
        return


def untrack_stored_items() -> None:
    """DynamoDB's items and tables leave the state dump (idempotent)."""
    from moto.dynamodb.models.dynamo_type import Item

    for model in (Item, Table):
        if not isinstance(getattr(model, "instances_tracked", None), _NotKept):
            _replace(model, "instances_tracked", _NotKept())


def _exit_now(*_: object) -> None:
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    adjust()
    import moto.server

    _replace(moto.server, "signal_handler", _exit_now)  # installed by moto's main for SIGINT and SIGTERM
    moto.server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
