"""Monitoring answers reach the store in shuffled batches, never one person at a time.

Intake holds each person's answers as a *pending* record: no identifier, a random key, in the
same transaction as the application (so a retry never adds a second one). At the cohort's
deadline they are moved to the store in shuffled batches of at least k records (k per scheme,
default 5), each batch in one transaction that writes the records under new random keys and
deletes the pending ones: so the time a stored record was written narrows it down to no fewer
than k people, and a failure part-way moves nothing. When fewer than k are pending (answers that
arrived late), they are shuffled together with stored records of the same cohort, which are
written again under new keys, to make up a batch of k.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mentoring.models import MonitoringRecord, new_record_id
from mentoring.ports import MonitoringStore

MAX_BATCH = 50  # records a batch: a transaction holds 100 items, a write and a delete each


@dataclass(frozen=True)
class Flush:
    cohort_id: str
    moved: int
    batches: list[int]


def batches(count: int, k: int, largest: int = MAX_BATCH) -> list[int]:
    """Batch sizes that add up to ``count``, each at least ``k`` (when ``count`` allows) and at
    most ``largest``."""
    if count <= 0:
        return []
    if count < k:
        return [count]
    sizes = [largest] * (count // largest)
    rest = count - sum(sizes)
    if rest:
        if rest >= k or not sizes:
            sizes.append(rest)
        else:
            # Too few left for a batch of their own: share out with the last full batch.
            last = sizes.pop() + rest
            sizes += [last - last // 2, last // 2] if last // 2 >= k else [last]
    return sizes


def flush(cohort_id: str, k: int, store: MonitoringStore) -> Flush:
    """Moves the cohort's pending answers to the store in shuffled batches of at least ``k``."""
    pending = store.pending(cohort_id)
    if not pending:
        return Flush(cohort_id, 0, [])
    topping_up: list[MonitoringRecord] = []
    if len(pending) < k:
        stored = store.stored(cohort_id)
        topping_up = secrets.SystemRandom().sample(stored, min(len(stored), k - len(pending)))
    # Each record with its copy under a new random key, in a uniformly random order.
    moves = [(r, r.model_copy(update={"record_id": new_record_id()})) for r in [*pending, *topping_up]]
    secrets.SystemRandom().shuffle(moves)
    sizes = batches(len(moves), k)
    start = 0
    for size in sizes:
        batch = moves[start : start + size]
        start += size
        store.move_batch(cohort_id, [old.record_id for old, _ in batch], [new for _, new in batch])
    return Flush(cohort_id, len(pending), sizes)
