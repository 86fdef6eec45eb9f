"""A matching run holds its cohort under a lease: a dead run's cohort is taken over by Lambda's
retry (the same request id) at once and by anyone once the lease has run out; a cohort left
matching is seen; a coordinator may run matching again, but not over a live run or a finished one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mentoring.deadline import RerunRefusedError, request_rerun, run_deadline, stuck_in_matching
from mentoring.models import CohortStatus, Notification
from mentoring.ports import CohortNotFoundError

from tests.unit.factories import NOW, application, cohort, lease, mentor
from tests.unit.fakes import MemoryAnnouncer, MemoryQueue, MemoryStore, MemoryWatch

pytestmark = pytest.mark.unit
DEADLINE = NOW - timedelta(minutes=5)


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.create_cohort(cohort("cohort-a", deadline=DEADLINE))
    for app in [application(institution="UCL"), mentor(institution="KCL", grade=9)]:
        memory.applications[(app.cohort_id, app.application_id)] = app
    return memory


def killed_while_holding(store: MemoryStore, owner: str = "run-1") -> None:
    """A run that claimed the cohort and was then killed (a timeout, out of memory): nothing given back."""
    assert store.claim_for_matching("cohort-a", lease(owner))


def emails(queue: MemoryQueue) -> list[str]:
    return sorted(n.kind.value for n in queue.messages if isinstance(n, Notification))


def test_lambdas_retry_of_the_killed_invocation_takes_the_cohort_over_at_once(store: MemoryStore) -> None:
    killed_while_holding(store, owner="request-1")
    queue = MemoryQueue()

    retry = run_deadline(
        "cohort-a", lease("request-1", now=NOW + timedelta(minutes=1)), store, store, queue, MemoryWatch()
    )

    assert retry.ran
    assert store.cohorts["cohort-a"].status is CohortStatus.MATCHED
    assert emails(queue) == ["coordinator_summary", "matched_mentee", "matched_mentor"]


def test_another_delivery_waits_for_the_dead_runs_lease_to_run_out(store: MemoryStore) -> None:
    killed_while_holding(store, owner="request-1")
    held_until = store.cohorts["cohort-a"].matching_until
    assert held_until is not None

    during = run_deadline("cohort-a", lease("request-2", now=held_until - timedelta(seconds=1)), store, store,
                          MemoryQueue(), MemoryWatch())  # fmt: skip
    after = run_deadline("cohort-a", lease("request-3", now=held_until + timedelta(seconds=1)), store, store,
                         MemoryQueue(), MemoryWatch())  # fmt: skip

    assert not during.ran
    assert after.ran


def test_every_run_watches_its_lease_and_a_cohort_left_matching_is_seen_once_it_ran_out(
    store: MemoryStore,
) -> None:
    watch = MemoryWatch()
    run_deadline("cohort-a", lease("request-1"), store, store, MemoryQueue(), watch)
    other = MemoryStore()
    other.create_cohort(cohort("cohort-a", deadline=DEADLINE))
    killed_while_holding(other)
    until = other.cohorts["cohort-a"].matching_until
    assert until is not None

    assert [(c, held.owner) for c, held in watch.watched] == [("cohort-a", "request-1")]
    assert stuck_in_matching("cohort-a", until + timedelta(seconds=1), store) is None  # it finished
    assert stuck_in_matching("cohort-a", until - timedelta(seconds=1), other) is None  # still held
    assert stuck_in_matching("cohort-a", until + timedelta(seconds=1), other) is not None


def test_a_run_overtaken_by_another_does_not_end_the_other_runs_hold(store: MemoryStore) -> None:
    killed_while_holding(store, owner="slow-run")
    until = store.cohorts["cohort-a"].matching_until
    assert until is not None
    assert store.claim_for_matching("cohort-a", lease("new-run", now=until + timedelta(seconds=1)))

    assert not store.finish_matching("cohort-a", NOW, "slow-run")
    store.release_matching("cohort-a", "slow-run")
    assert store.cohorts["cohort-a"].status is CohortStatus.MATCHING  # still the new run's


def test_a_coordinator_reruns_a_failed_or_dead_run_and_nothing_else(store: MemoryStore) -> None:
    announcer = MemoryAnnouncer()
    store.create_cohort(cohort("cohort-b", deadline=NOW + timedelta(days=1)))
    killed_while_holding(store)
    until = store.cohorts["cohort-a"].matching_until
    assert until is not None

    with pytest.raises(RerunRefusedError, match="holds this cohort until"):
        request_rerun("cohort-a", until - timedelta(seconds=1), store, announcer)
    with pytest.raises(RerunRefusedError, match="has not passed"):
        request_rerun("cohort-b", NOW, store, announcer)
    with pytest.raises(CohortNotFoundError):
        request_rerun("no-cohort", NOW, store, announcer)
    request_rerun("cohort-a", until + timedelta(seconds=1), store, announcer)
    run_deadline(
        "cohort-a",
        lease("rerun", now=until + timedelta(seconds=2)),
        store,
        store,
        MemoryQueue(),
        MemoryWatch(),
    )
    with pytest.raises(RerunRefusedError, match="finished"):
        request_rerun("cohort-a", until + timedelta(seconds=3), store, announcer)

    assert announcer.announced == ["cohort-a"]
