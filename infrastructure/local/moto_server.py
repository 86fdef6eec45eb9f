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
- An SQS receive looks up the queue's retention period by computing every attribute of the
  queue, which counts every message, twice for each message it returns; it reads the one
  attribute instead. moto's clock for message visibility builds two datetimes per message per
  look; it reads the time once. Without these a receive costs time in proportion to the backlog,
  times ten.
- A DynamoDB query on a table's key sorts every item of the table to find the partition's; it
  looks at the partition only (the requests are serialised, so the table can be narrowed for
  the call).
- moto lists its own package folder on every request to route it; the list is read once.
- moto keeps every DynamoDB item and table object it ever made (each read and each transaction's
  copies too) for its state dump, ``/moto-api/data.json``, which is where sent emails are read:
  the dump took longer with every request (8 s after the integration suite's console tests).
  Items and tables are no longer kept for it; they are still stored as ever.

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
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from moto import backends
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs import models as sqs_models
from moto.sqs.models import SQSBackend

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


def _one_partition(query: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(query)

    @functools.wraps(query)
    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if index_name is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        everything = self.items
        narrowed: defaultdict[Any, Any] = defaultdict(dict)
        if hash_key in everything:
            narrowed[hash_key] = everything[hash_key]
        self.items = narrowed
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    return partition_query


def _listed_once(list_modules: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    modules = tuple(list_modules())
    return lambda: modules


def _retention_period_read(backend: SQSBackend, queue_name: str, message: Any) -> bool:
    retention_period = int(backend.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > time.time())


_original_unix_time: Callable[..., float] = vars(sqs_models)["unix_time"]


def _unix_time(dt: Any = None) -> float:
    return time.time() if dt is None else _original_unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


def _replace(owner: object, name: str, value: object) -> None:
    setattr(owner, name, value)


def adjust() -> None:
    """Applies the adjustments to moto in this process (idempotent)."""
    if getattr(DynamoDBBackend.transact_write_items, "_item_backup", False):
        return
    _replace(
        dynamodb_models, "copy", types.SimpleNamespace(deepcopy=_deepcopy_all_but_tables, copy=copy.copy)
    )
    wrapped = _with_item_backup(DynamoDBBackend.transact_write_items)
    _replace(wrapped, "_item_backup", True)
    _replace(DynamoDBBackend, "transact_write_items", wrapped)
    _replace(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action))
    _replace(Table, "query", _one_partition(Table.query))
    _replace(SQSBackend, "is_message_valid_based_on_retention_period", _retention_period_read)
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
