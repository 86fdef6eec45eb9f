"""Monitoring answers reach the store in shuffled batches of at least k, under new random keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mentoring.models import MonitoringAnswers, MonitoringRecord, PendingAnswers, Role
from mentoring.monitoring import MAX_BATCH, batches, flush

from tests.unit.fakes import WrappingSeal

pytestmark = pytest.mark.unit


class MemoryMonitoring:
    def __init__(self) -> None:
        self.pending_records: dict[str, PendingAnswers] = {}
        self.stored_records: dict[str, MonitoringRecord] = {}
        self.writes: list[int] = []  # the size of each batch written, in order

    def add(self, n: int) -> None:
        for _ in range(n):
            record = PendingAnswers(cohort_id="c", scheme_id="s", role=Role.MENTEE, eligible=True,
                                    sealed=WrappingSeal().seal(MonitoringAnswers(), "c"))  # fmt: skip
            self.pending_records[record.record_id] = record

    def pending(self, cohort_id: str) -> list[PendingAnswers]:
        return list(self.pending_records.values())

    def stored(self, cohort_id: str) -> list[MonitoringRecord]:
        return list(self.stored_records.values())

    def move_batch(self, cohort_id: str, retire: list[str], write: list[MonitoringRecord]) -> None:
        for record_id in retire:
            (self.pending_records.pop(record_id, None) or self.stored_records.pop(record_id))
        for record in write:
            assert record.record_id not in self.stored_records
            self.stored_records[record.record_id] = record
        self.writes.append(len(write))


@given(st.integers(0, 400), st.integers(2, 10))
def test_batches_cover_every_record_and_each_holds_at_least_k(count: int, k: int) -> None:
    sizes = batches(count, k)

    assert sum(sizes) == count
    assert all(size <= MAX_BATCH for size in sizes)
    if count >= k:
        assert all(size >= k for size in sizes)


def test_a_cohorts_answers_move_in_batches_of_at_least_k_under_new_keys() -> None:
    store = MemoryMonitoring()
    store.add(123)
    before = set(store.pending_records)

    result = flush("c", 5, store, WrappingSeal())

    assert result.moved == 123
    assert store.pending_records == {}
    assert len(store.stored_records) == 123
    assert not before & set(store.stored_records)  # no pending key survives into the store
    assert all(size >= 5 for size in store.writes)


def test_fewer_than_k_answers_wait_sealed() -> None:
    store = MemoryMonitoring()
    store.add(4)

    result = flush("c", 5, store, WrappingSeal())

    assert result.moved == 0
    assert store.writes == []
    assert len(store.pending_records) == 4


def test_flushing_again_moves_nothing() -> None:
    store = MemoryMonitoring()
    store.add(7)
    flush("c", 5, store, WrappingSeal())

    again = flush("c", 5, store, WrappingSeal())

    assert again.moved == 0
    assert len(store.stored_records) == 7
