"""Monitoring answers reach the store in batches of at least k people, never one person at a time,
and no stored group is smaller than k.

Intake holds each person's answers as a *pending* record, still sealed by submit: no identifier, a
random key, in the same transaction as the application (so a retry never adds a second one). The
report never counts a pending record. Pending answers are *settled*:

- at the cohort's recruitment deadline (its deadline event), and again by a sweep that runs every
  hour (for answers that arrive late: accepted before the deadline, processed after matching
  started);
- when at least k are pending, all of them are opened and stored together as one batch: each
  gets a new random key and a random record key (``MonitoringRecord.record_key``), the batch is
  made k-anonymous (:func:`generalise`) and written in shuffled transactions of at most
  ``MAX_BATCH`` records that delete the pending records they replace, each transaction holding
  every group it touches at least k times (:func:`transactions`). So a figure of the report can
  only change by at least k people at once, and the time a stored record was written narrows it
  down to no fewer than k people, even if a run stops part-way;
- when fewer than k are pending, they wait, sealed, for others; once the deadline plus the grace
  period has passed, they are deleted instead, never stored as a group smaller than k. A cohort
  with fewer than k applicants is therefore never stored at all.

Nothing here is timed by a clock of its own: the caller passes ``now`` (the event's time), so
tests move time instead of waiting for it.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, Self, TypeVar

from mentoring.models import Cohort, MonitoringAnswers, MonitoringRecord, PendingAnswers, Role
from mentoring.ports import AnswerOpener, BatchStore, CohortStore, Lease, MonitoringStore
from mentoring.scheme import get_scheme

MAX_BATCH = 50  # records a transaction: a transaction holds 100 items, a write and a delete each

Group = tuple[Role | None, bool | None]


class Grouped(Protocol):
    """A stored record as batching sees it: its key and the group it is reported in (role and
    outcome, either None where not recorded). Monitoring and evaluation records are both."""

    @property
    def record_id(self) -> str: ...

    @property
    def role(self) -> Role | None: ...

    @property
    def eligible(self) -> bool | None: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


class Held(Protocol):
    """A pending answer as batching sees it: its random key (the answers are sealed)."""

    @property
    def record_id(self) -> str: ...


R = TypeVar("R", bound=Grouped)
P = TypeVar("P", bound=Held)


@dataclass(frozen=True)
class Batching(Generic[P, R]):
    """One kind of answers settled in batches of at least k: where they wait and are stored
    (``store``), how a pending answer is opened into the record that replaces it (``open_one``,
    with a new random key), and from when a cohort's answers may be stored (``opens``: before it,
    nothing moves; after it plus the grace period, fewer than k are deleted)."""

    store: BatchStore[P, R]
    open_one: Callable[[P], R]
    opens: Callable[[Cohort], datetime]
    # What the batch may hold before it is generalised (the evaluation's: no question answered by
    # fewer than k of the batch); every record is kept.
    thin: Callable[[Sequence[R], int], list[R]] | None = None


@dataclass(frozen=True)
class Settled:
    """What one settling of a cohort did (counts only: nothing here says who or what)."""

    cohort_id: str
    stored: int = 0
    transactions: list[int] = field(default_factory=list)
    discarded: int = 0
    waiting: int = 0
    elsewhere: bool = False  # another run holds the cohort: it settles these answers


def pieces(count: int, k: int, largest: int = MAX_BATCH) -> list[int]:
    """Sizes that split ``count`` records (``count`` >= ``k``) into pieces of at least ``k`` and at
    most ``largest``, adding up to ``count``."""
    if k > (largest + 1) // 2:
        # A count between largest and 2k - 1 could not be split so, and a piece over largest is a
        # transaction over 100 items, which DynamoDB refuses on every retry.
        raise ValueError(f"pieces of at least {k} cannot always be kept to {largest}")
    if count <= 0:
        return []
    if count < k:
        raise ValueError(f"a batch of {count} is smaller than k={k}: it is never written")
    sizes = [largest] * (count // largest)
    rest = count - sum(sizes)
    if rest:
        if rest >= k or not sizes:
            sizes.append(rest)
        else:
            # Too few left for a transaction of their own: share out with the last full one.
            last = sizes.pop() + rest
            sizes += [last - last // 2, last // 2] if last // 2 >= k else [last]
    return sizes


def generalise(records: Sequence[R], k: int, rng: random.Random | None = None) -> list[R]:
    """The batch with every (role, outcome) group at least ``k`` strong (the batch holds >= k).

    A group smaller than k loses the attribute that makes it small, and is made up to k with
    records drawn at random from the groups that can spare them:

    1. within a role with at least k people, an outcome (eligible or not) held by fewer than k
       loses its outcome (``eligible=None``), joined by others of the role drawn at random;
    2. a role with fewer than k people loses role and outcome (``role=None``), joined by records
       drawn at random from the other groups.

    A record drawn keeps only what the group it joins records, so the group cannot tell the
    small group's members from those drawn. Groups are the combinations a stored record carries
    besides the answers (the cohort and scheme are the same for the whole batch).
    """
    rng = rng or secrets.SystemRandom()
    groups: dict[Group, list[R]] = defaultdict(list)
    for record in records:
        groups[(record.role, record.eligible)].append(record)
    for role in Role:
        outcomes: list[Group] = [(role, True), (role, False)]
        people = sum(len(groups[g]) for g in outcomes) + len(groups[(role, None)])
        if 0 < people < k:
            for group in [*outcomes, (role, None)]:
                _merge(groups, group, (None, None))
            continue
        for group in outcomes:
            if 0 < len(groups[group]) < k:
                _merge(groups, group, (role, None))
        _fill(groups, (role, None), outcomes, k, rng)
    _fill(groups, (None, None), [g for g in list(groups) if g != (None, None)], k, rng)
    return [
        record.model_copy(update={"role": role, "eligible": eligible})
        for (role, eligible), members in groups.items()
        for record in members
    ]


def _merge(groups: dict[Group, list[R]], source: Group, target: Group) -> None:
    groups[target].extend(groups[source])
    groups[source] = []


def _fill(
    groups: dict[Group, list[R]],
    pool: Group,
    donors: Sequence[Group],
    k: int,
    rng: random.Random,
) -> None:
    """Makes a pool smaller than k up to k with records drawn at random from a donor that keeps at
    least k; when no donor can spare enough, the smallest donor joins the pool whole."""
    while 0 < len(groups[pool]) < k:
        need = k - len(groups[pool])
        spare = [d for d in donors if len(groups[d]) - need >= k]
        if spare:
            donor = max(spare, key=lambda d: len(groups[d]))
            drawn = rng.sample(groups[donor], need)
            groups[donor] = [r for r in groups[donor] if r not in drawn]
            groups[pool].extend(drawn)
            return
        left = [d for d in donors if groups[d]]
        if not left:
            return  # the whole batch is smaller than k: the caller never writes it
        _merge(groups, min(left, key=lambda d: len(groups[d])), pool)


OPENING_THREADS = 8  # KMS decrypts in parallel: a national cohort's thousands within the timeout


def _opened(pending: Iterable[P], open_one: Callable[[P], R]) -> list[tuple[str, R]]:
    """Each pending answer with the record that replaces it: opened, under a new random key."""

    def replace(p: P) -> tuple[str, R]:
        return p.record_id, open_one(p)

    with ThreadPoolExecutor(OPENING_THREADS) as pool:
        return list(pool.map(replace, pending))


def monitoring_batching(
    store: MonitoringStore, opener: AnswerOpener[MonitoringAnswers]
) -> Batching[PendingAnswers, MonitoringRecord]:
    """Monitoring answers: opened into records of their group, stored from the recruitment deadline."""

    def open_one(p: PendingAnswers) -> MonitoringRecord:
        return MonitoringRecord(
            cohort_id=p.cohort_id,
            scheme_id=p.scheme_id,
            role=p.role,
            eligible=p.eligible,
            answers=opener.open(p.sealed, p.cohort_id),
        )

    return Batching(store, open_one, lambda cohort: cohort.recruitment_deadline)


def settle(
    cohort: Cohort,
    k: int,
    now: datetime,
    grace: timedelta,
    store: MonitoringStore,
    opener: AnswerOpener[MonitoringAnswers],
    deadline_reached: bool = False,
) -> Settled:
    """Stores the cohort's pending monitoring answers as one batch when there are at least ``k``,
    deletes them when fewer are left after the deadline plus ``grace``, and otherwise leaves them
    waiting.

    Before the deadline nothing moves (unless ``deadline_reached``: the deadline event itself), so
    the report of an open cohort shows no figure at all.
    """
    return settle_batch(cohort, k, now, grace, monitoring_batching(store, opener), deadline_reached)


def settle_batch(
    cohort: Cohort, k: int, now: datetime, grace: timedelta, batching: Batching[P, R], reached: bool = False
) -> Settled:
    """``settle`` for any kind of answers: nothing moves before ``batching.opens`` (unless
    ``reached``: the event of that moment itself); then at least ``k`` are stored as one batch,
    fewer wait, and fewer are deleted once the grace period after it is over."""
    store = batching.store
    pending = store.pending(cohort.cohort_id)
    if not pending:
        return Settled(cohort.cohort_id)
    opens = batching.opens(cohort)
    if not reached and now < opens:
        return Settled(cohort.cohort_id, waiting=len(pending))
    if len(pending) < k:
        if now >= opens + grace:
            store.discard([p.record_id for p in pending])
            return Settled(cohort.cohort_id, discarded=len(pending))
        return Settled(cohort.cohort_id, waiting=len(pending))
    return _store_batch(cohort.cohort_id, pending, k, batching)


def transactions(records: Sequence[R], k: int, rng: random.Random | None = None) -> list[list[R]]:
    """A generalised batch as the transactions that write it, in a random order.

    Each (role, outcome) group is shuffled and cut into pieces of at least k; the pieces are packed
    into transactions of at most ``MAX_BATCH`` records. So every transaction holds each group it
    touches at least k times, and if the run stops part-way, what was written is k-anonymous on its
    own and what is left (whole pieces, so at least k) is stored by the next run.
    """
    rng = rng or secrets.SystemRandom()
    groups: dict[Group, list[R]] = defaultdict(list)
    for record in records:
        groups[(record.role, record.eligible)].append(record)
    cut: list[list[R]] = []
    for members in groups.values():
        rng.shuffle(members)
        start = 0
        for size in pieces(len(members), k):
            cut.append(members[start : start + size])
            start += size
    rng.shuffle(cut)
    packed: list[list[R]] = []
    for piece in sorted(cut, key=len, reverse=True):  # first fit, largest piece first
        home = next((t for t in packed if len(t) + len(piece) <= MAX_BATCH), None)
        if home is None:
            packed.append(list(piece))
        else:
            home.extend(piece)
    for transaction in packed:
        rng.shuffle(transaction)
    rng.shuffle(packed)
    return packed


def _store_batch(cohort_id: str, pending: Sequence[P], k: int, batching: Batching[P, R]) -> Settled:
    moves = _opened(pending, batching.open_one)
    retire_for = {record.record_id: old for old, record in moves}
    opened = [record for _, record in moves]
    if batching.thin is not None:
        opened = batching.thin(opened, k)
    written = transactions(generalise(opened, k), k)
    for batch in written:
        batching.store.move_batch(cohort_id, [retire_for[r.record_id] for r in batch], batch)
    return Settled(cohort_id, stored=len(moves), transactions=[len(t) for t in written])


def settle_alone(
    cohort: Cohort,
    k: int,
    now: datetime,
    grace: timedelta,
    store: MonitoringStore,
    opener: AnswerOpener[MonitoringAnswers],
    cohorts: CohortStore,
    lease: Lease,
    deadline_reached: bool = False,
) -> Settled:
    """``settle``, one run at a time for a cohort (see :func:`settle_batch_alone`)."""
    batching = monitoring_batching(store, opener)
    return settle_batch_alone(cohort, k, now, grace, batching, cohorts, lease, deadline_reached)


def settle_batch_alone(
    cohort: Cohort,
    k: int,
    now: datetime,
    grace: timedelta,
    batching: Batching[P, R],
    cohorts: CohortStore,
    lease: Lease,
    reached: bool = False,
) -> Settled:
    """``settle_batch``, one run at a time for a cohort: the run holds the cohort under ``lease``
    first, so a deadline and a sweep never split one cohort's answers between them. A run that died
    keeps the cohort only until its lease runs out; the next sweep then settles what it left."""
    if not cohorts.hold_for_settling(cohort.cohort_id, lease):
        return Settled(cohort.cohort_id, elsewhere=True)
    try:
        return settle_batch(cohort, k, now, grace, batching, reached)
    finally:
        cohorts.let_go_of_settling(cohort.cohort_id, lease.owner)


def sweep(
    now: datetime,
    grace: timedelta,
    cohorts: CohortStore,
    store: MonitoringStore,
    opener: AnswerOpener[MonitoringAnswers],
    lease: Lease,
) -> list[Settled]:
    """Settles every cohort that has pending monitoring answers (the hourly sweep)."""
    return sweep_batches(now, grace, cohorts, monitoring_batching(store, opener), lease)


def sweep_batches(
    now: datetime, grace: timedelta, cohorts: CohortStore, batching: Batching[P, R], lease: Lease
) -> list[Settled]:
    """Settles every cohort that has pending answers of this kind, each with its scheme's k.
    Answers of a cohort that no longer exists are deleted: nothing says when they may be stored."""
    settled = []
    store = batching.store
    for cohort_id in store.pending_cohorts():
        cohort = cohorts.get_cohort(cohort_id)
        if cohort is None:
            pending = store.pending(cohort_id)
            store.discard([p.record_id for p in pending])
            settled.append(Settled(cohort_id, discarded=len(pending)))
            continue
        k = get_scheme(cohort.scheme_id).monitoring_batch
        settled.append(settle_batch_alone(cohort, k, now, grace, batching, cohorts, lease))
    return settled
