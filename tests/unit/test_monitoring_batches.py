"""Monitoring answers reach the store in batches of at least k, each k-anonymous, never one person
at a time; late answers wait for k-1 others or are deleted after the grace period."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentoring.models import MonitoringAnswers, MonitoringRecord, PendingAnswers, Role
from mentoring.monitoring import MAX_BATCH, generalise, pieces, settle, settle_alone, sweep, transactions
from mentoring.scheme import Scheme

from tests.unit.factories import NOW, cohort, lease
from tests.unit.fakes import MemoryStore, WrappingSeal

pytestmark = pytest.mark.unit

GRACE = timedelta(days=14)
DEADLINE = NOW + timedelta(days=7)  # factories.cohort's deadline


class MemoryMonitoring:
    """MonitoringStore in dicts; records the size and the groups of every transaction."""

    def __init__(self) -> None:
        self.pending_records: dict[str, PendingAnswers] = {}
        self.stored_records: dict[str, MonitoringRecord] = {}
        self.writes: list[list[MonitoringRecord]] = []
        self.fail_after: int | None = None  # transactions to let through before failing

    def add(
        self, n: int, role: Role = Role.MENTEE, eligible: bool = True, cohort_id: str = "cohort-a"
    ) -> None:
        for _ in range(n):
            sealed = WrappingSeal().seal(MonitoringAnswers(religion="sikh"), cohort_id)
            record = PendingAnswers(
                cohort_id=cohort_id,
                scheme_id="b-mentor-professional",
                role=role,
                eligible=eligible,
                sealed=sealed,
            )
            self.pending_records[record.record_id] = record

    def pending(self, cohort_id: str) -> list[PendingAnswers]:
        return [p for p in self.pending_records.values() if p.cohort_id == cohort_id]

    def pending_cohorts(self) -> list[str]:
        return sorted({p.cohort_id for p in self.pending_records.values()})

    def move_batch(self, cohort_id: str, retire: Sequence[str], write: Sequence[MonitoringRecord]) -> None:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise ConnectionError("the table is unavailable")
        for record_id in retire:
            del self.pending_records[record_id]
        for record in write:
            assert record.record_id not in self.stored_records
            self.stored_records[record.record_id] = record
        self.writes.append(list(write))

    def discard(self, pending: Sequence[str]) -> None:
        for record_id in pending:
            del self.pending_records[record_id]


def groups(records: Sequence[MonitoringRecord]) -> Counter[tuple[Role | None, bool | None]]:
    return Counter((r.role, r.eligible) for r in records)


def records(mentees: tuple[int, int], mentors: tuple[int, int]) -> list[MonitoringRecord]:
    """(eligible, not eligible) mentees and mentors."""
    made = []
    for role, (yes, no) in ((Role.MENTEE, mentees), (Role.MENTOR, mentors)):
        for eligible, n in ((True, yes), (False, no)):
            made += [
                MonitoringRecord(
                    cohort_id="c", scheme_id="s", role=role, eligible=eligible, answers=MonitoringAnswers()
                )
                for _ in range(n)
            ]
    return made


# ---------------------------------------------------------------- k-anonymity of a batch

counts = st.integers(0, 30)


@settings(max_examples=300)
@given(st.tuples(counts, counts), st.tuples(counts, counts), st.integers(2, 10), st.integers(0, 2**32))
def test_every_group_of_a_generalised_batch_holds_at_least_k(
    mentees: tuple[int, int], mentors: tuple[int, int], k: int, seed: int
) -> None:
    batch = records(mentees, mentors)
    if len(batch) < k:
        return  # never stored (settle waits or deletes)

    out = generalise(batch, k, random.Random(seed))

    assert len(out) == len(batch)
    assert all(n >= k for n in groups(out).values())
    # Nothing is made up: a recorded role or outcome is the person's own.
    by_id = {r.record_id: r for r in batch}
    for r in out:
        assert r.role in (None, by_id[r.record_id].role)
        assert r.eligible in (None, by_id[r.record_id].eligible)
        assert r.role is not None or r.eligible is None


def test_the_only_ineligible_mentor_is_hidden_among_k_mentors_whose_outcome_is_not_recorded() -> None:
    out = generalise(records(mentees=(12, 6), mentors=(9, 1)), k=5)

    assert groups(out) == {(Role.MENTEE, True): 12, (Role.MENTEE, False): 6, (Role.MENTOR, None): 5,
                           (Role.MENTOR, True): 5}  # fmt: skip


def test_a_role_with_fewer_than_k_people_is_not_recorded_and_hides_among_others() -> None:
    out = generalise(records(mentees=(20, 0), mentors=(2, 0)), k=5)

    assert groups(out) == {(Role.MENTEE, True): 17, (None, None): 5}


def test_groups_that_are_large_enough_are_kept_as_they_are() -> None:
    batch = records(mentees=(10, 5), mentors=(6, 0))

    assert groups(generalise(batch, k=5)) == groups(batch)


# ---------------------------------------------------------------- transactions


@given(st.integers(2, 400), st.integers(2, 10))
def test_pieces_cover_every_record_each_at_least_k_and_at_most_a_transaction(count: int, k: int) -> None:
    if count < k:
        with pytest.raises(ValueError, match="smaller than k"):
            pieces(count, k)
        return
    sizes = pieces(count, k)

    assert sum(sizes) == count
    assert all(k <= size <= MAX_BATCH for size in sizes)


@settings(max_examples=100)
@given(st.tuples(counts, counts), st.tuples(st.integers(0, 80), counts), st.integers(2, 10))
def test_every_transaction_holds_each_group_it_touches_at_least_k_times(
    mentees: tuple[int, int], mentors: tuple[int, int], k: int
) -> None:
    batch = records(mentees, mentors)
    if len(batch) < k:
        return
    written = transactions(generalise(batch, k), k)

    assert sorted(r.record_id for t in written for r in t) == sorted(r.record_id for r in batch)
    for transaction in written:
        assert len(transaction) <= MAX_BATCH
        assert all(n >= k for n in groups(transaction).values())


# ---------------------------------------------------------------- settling a cohort


def test_at_the_deadline_a_cohorts_answers_are_stored_as_one_k_anonymous_batch_under_new_keys() -> None:
    store = MemoryMonitoring()
    store.add(40)
    store.add(3, Role.MENTEE, eligible=False)
    store.add(12, Role.MENTOR)
    before = set(store.pending_records)

    result = settle(cohort(), 5, DEADLINE, GRACE, store, WrappingSeal(), deadline_reached=True)

    assert result.stored == 55
    assert store.pending_records == {}
    assert len(store.stored_records) == 55
    assert not before & set(store.stored_records)  # no pending key survives into the store
    assert all(n >= 5 for n in groups(list(store.stored_records.values())).values())
    assert all(len(t) >= 5 for t in store.writes)
    assert {r.answers.religion for r in store.stored_records.values()} == {"sikh"}  # opened
    assert len({r.record_key for r in store.stored_records.values()}) == 55  # a random key each


def test_nothing_is_stored_before_the_deadline() -> None:
    store = MemoryMonitoring()
    store.add(20)

    result = settle(cohort(), 5, DEADLINE - timedelta(minutes=1), GRACE, store, WrappingSeal())

    assert (result.stored, result.waiting) == (0, 20)
    assert store.writes == []


def test_late_answers_wait_for_k_then_are_stored_together() -> None:
    store = MemoryMonitoring()
    for late in range(1, 6):
        store.add(1)  # one more late answer, then the hourly sweep
        settle(cohort(), 5, DEADLINE + timedelta(hours=late), GRACE, store, WrappingSeal())
        assert len(store.stored_records) == (5 if late == 5 else 0)

    assert [len(t) for t in store.writes] == [5]


def test_fewer_than_k_are_deleted_after_the_grace_period_never_stored() -> None:
    store = MemoryMonitoring()
    store.add(4)  # a cohort with fewer than k applicants

    waiting = settle(cohort(), 5, DEADLINE, GRACE, store, WrappingSeal(), deadline_reached=True)
    still = settle(cohort(), 5, DEADLINE + GRACE - timedelta(seconds=1), GRACE, store, WrappingSeal())
    ended = settle(cohort(), 5, DEADLINE + GRACE, GRACE, store, WrappingSeal())

    assert (waiting.waiting, still.waiting, ended.discarded) == (4, 4, 4)
    assert store.pending_records == {}
    assert store.writes == []


def test_a_run_stopped_part_way_leaves_what_it_wrote_k_anonymous_and_the_rest_for_the_next() -> None:
    store = MemoryMonitoring()
    store.add(120)
    store.add(7, Role.MENTEE, eligible=False)
    store.add(30, Role.MENTOR)
    store.fail_after = 1

    with pytest.raises(ConnectionError):
        settle(cohort(), 5, DEADLINE, GRACE, store, WrappingSeal(), deadline_reached=True)
    first = list(store.stored_records.values())
    store.fail_after = None
    again = settle(cohort(), 5, DEADLINE, GRACE, store, WrappingSeal(), deadline_reached=True)

    assert all(n >= 5 for n in groups(first).values())
    assert again.stored == 157 - len(first)
    assert store.pending_records == {}
    assert all(n >= 5 for n in groups(list(store.stored_records.values())).values())


def test_the_sweep_settles_every_cohort_with_pending_answers_and_deletes_those_of_a_vanished_one() -> None:
    cohorts = MemoryStore()
    cohorts.create_cohort(cohort("cohort-a"))
    cohorts.create_cohort(cohort("cohort-b"))
    store = MemoryMonitoring()
    store.add(6, cohort_id="cohort-a")
    store.add(2, cohort_id="cohort-b")
    store.add(3, cohort_id="gone")

    results = sweep(DEADLINE + timedelta(hours=1), GRACE, cohorts, store, WrappingSeal(), lease())

    assert {(r.cohort_id, r.stored, r.waiting, r.discarded) for r in results} == {
        ("cohort-a", 6, 0, 0),
        ("cohort-b", 0, 2, 0),
        ("gone", 0, 0, 3),
    }
    assert store.pending_cohorts() == ["cohort-b"]


def test_every_piece_fits_one_transaction_for_any_k_a_scheme_may_set() -> None:
    """A transaction is a delete and a put a record, which DynamoDB caps at 100 items: a larger one
    would fail on every retry. Every k the scheme model accepts keeps each piece to 50 records."""
    largest_k = next(m.le for m in Scheme.model_fields["monitoring_batch"].metadata if hasattr(m, "le"))

    for k in range(2, largest_k + 1):
        for count in range(k, 4 * MAX_BATCH):
            sizes = pieces(count, k)
            assert sum(sizes) == count
            assert all(k <= size <= MAX_BATCH for size in sizes), (k, count, sizes)


def test_a_k_that_could_not_be_kept_within_a_transaction_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot always be kept"):
        pieces(60, MAX_BATCH // 2 + 1)


def test_one_run_at_a_time_settles_a_cohort_and_a_dead_runs_hold_runs_out() -> None:
    """A deadline and a sweep never split one cohort's answers between them (each holds the cohort
    first), and a run that died holds it only until its lease has run out."""
    cohorts = MemoryStore()
    cohorts.create_cohort(cohort("cohort-a"))
    store = MemoryMonitoring()
    store.add(6, cohort_id="cohort-a")
    dead = lease("dead-run", now=DEADLINE)
    assert cohorts.hold_for_settling("cohort-a", dead)  # then killed: it never lets go

    blocked = settle_alone(cohort("cohort-a"), 5, DEADLINE, GRACE, store, WrappingSeal(), cohorts,
                           lease("sweep", now=DEADLINE), deadline_reached=True)  # fmt: skip
    later = lease("sweep", now=dead.until + timedelta(seconds=1))
    settled = settle_alone(cohort("cohort-a"), 5, DEADLINE, GRACE, store, WrappingSeal(), cohorts, later,
                           deadline_reached=True)  # fmt: skip

    assert blocked.elsewhere
    assert blocked.stored == 0
    assert settled.stored == 6
    assert "cohort-a" not in cohorts.settling  # let go once done
