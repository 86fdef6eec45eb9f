"""Monitoring answers reach the store in shuffled batches, never one person at a time.

Intake holds each person's answers as a *pending* record, still sealed by submit: no identifier,
a random key, in the same transaction as the application (so a retry never adds a second one).
At the cohort's deadline they are opened and moved to the store in shuffled batches of at least k
records (k per scheme, default 5), each batch in one transaction that writes the records under new
random keys and deletes the pending ones: so the time a stored record was written narrows it down
to no fewer than k people, and a failure part-way moves nothing. Fewer than k pending answers
wait, still sealed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mentoring.models import MonitoringRecord
from mentoring.ports import AnswerOpener, MonitoringStore

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


def flush(cohort_id: str, k: int, store: MonitoringStore, opener: AnswerOpener) -> Flush:
    """Moves the cohort's pending answers to the store in shuffled batches of at least ``k``,
    opening each sealed answer only as its batch is written. Fewer than ``k`` wait."""
    pending = store.pending(cohort_id)
    if len(pending) < k:
        return Flush(cohort_id, 0, [])
    # Each pending answer with its stored record under a new random key, in a uniformly random order.
    moves = [
        (
            p.record_id,
            MonitoringRecord(
                cohort_id=p.cohort_id,
                scheme_id=p.scheme_id,
                role=p.role,
                eligible=p.eligible,
                answers=opener.open(p.sealed, p.cohort_id),
            ),
        )
        for p in pending
    ]
    secrets.SystemRandom().shuffle(moves)
    sizes = batches(len(moves), k)
    start = 0
    for size in sizes:
        batch = moves[start : start + size]
        start += size
        store.move_batch(cohort_id, [old for old, _ in batch], [new for _, new in batch])
    return Flush(cohort_id, len(pending), sizes)
