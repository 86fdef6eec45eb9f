"""The matching engine: the best assignment of mentees to mentors, and a proof that it is the best.

The objective, in order: the most mentees matched, then the largest total score. It is solved as a
sparse assignment problem with scipy (``min_weight_full_bipartite_matching``, LAPJVsp) over the
allowed pairs only: each mentor becomes as many columns as their capacity, and each mentee has a
private "unmatched" column whose cost is larger than any score could repay, so that one more match
always beats any gain in score. Scores are compared as integers (millionths) so the objective is exact.

At national scale the engine first solves over each person's best few candidate pairs, then proves
the result: it computes dual prices from the residual network of the solution (shortest paths, so
no solver internals are trusted), checks that they certify the solution on the candidate pairs
(every reduced cost non-negative, and the dual objective equal to the primal cost), then streams
through every allowed pair. A pair that the prices do not cover could improve the result: it is
added to the candidates and the problem solved again, until no pair is left. Only then is the
result ``certified_optimal``.

No AWS here, and no pydantic: numpy arrays in, numpy arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SCALE = 1_000_000  # scores are compared in millionths: exact integers, whatever the weights
UNMATCHED = -1


@dataclass(frozen=True)
class Pairs:
    """Allowed pairs, as three arrays of one length: mentee index, mentor index, score."""

    mentee: IntArray
    mentor: IntArray
    score: FloatArray

    @classmethod
    def of(cls, mentee: Iterable[int], mentor: Iterable[int], score: Iterable[float]) -> Pairs:
        return cls(
            np.asarray(list(mentee) if not isinstance(mentee, np.ndarray) else mentee, dtype=np.int64),
            np.asarray(list(mentor) if not isinstance(mentor, np.ndarray) else mentor, dtype=np.int64),
            np.asarray(list(score) if not isinstance(score, np.ndarray) else score, dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.mentee.size)

    def take(self, keep: npt.NDArray[np.bool_] | IntArray) -> Pairs:
        return Pairs(self.mentee[keep], self.mentor[keep], self.score[keep])

    @staticmethod
    def concat(parts: Sequence[Pairs]) -> Pairs:
        if not parts:
            return Pairs.of([], [], [])
        return Pairs(
            np.concatenate([p.mentee for p in parts]),
            np.concatenate([p.mentor for p in parts]),
            np.concatenate([p.score for p in parts]),
        )


PairSource = Callable[[], Iterator[Pairs]]
"""Every allowed pair, in chunks; called once per pass, and must give the same pairs each time."""


@dataclass(frozen=True)
class Solution:
    mentor_of: IntArray  # for each mentee, the mentor's index, or UNMATCHED
    score_of: FloatArray  # for each mentee, the score of their pair (0 when unmatched)
    certified_optimal: bool
    rounds: int = 1
    candidate_pairs: int = 0
    allowed_pairs: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return int(np.count_nonzero(self.mentor_of != UNMATCHED))

    @property
    def total_score(self) -> float:
        return float(self.score_of[self.mentor_of != UNMATCHED].sum())


class InstanceError(ValueError):
    """An instance the engine cannot solve; the message names the problem."""


# ---------------------------------------------------------------- costs


@dataclass(frozen=True)
class _Costs:
    """Integer costs: a pair costs ``top - score``; staying unmatched costs more than any score repays.

    Scores are read in millionths, then counted in the coarsest unit (a power of ten of millionths)
    in which every score is still a whole number: whole-number weights give costs in ones, so that
    national cohorts stay within the integers that floating point (scipy's solver) holds exactly.
    """

    low: int  # the smallest score, in units
    top: int  # one more than the largest score above ``low``
    unmatched: int
    unit: int = 1  # millionths per unit

    @classmethod
    def for_scores(cls, low: float, high: float, mentees: int, unit: int = 1) -> _Costs:
        lo, hi = round(low * SCALE) // unit, round(high * SCALE) // unit
        top = hi - lo + 1
        unmatched = top + mentees * top + 1
        if unmatched * max(mentees, 1) >= 2**53:
            raise InstanceError("scores too large or too many mentees for exact costs; scale the scores down")
        return cls(lo, top, unmatched, unit)

    def of(self, score: FloatArray) -> IntArray:
        return self.top - (_millionths(score) // self.unit - self.low)


def _millionths(score: FloatArray) -> IntArray:
    return np.rint(score * SCALE).astype(np.int64)


def _unit(score: FloatArray, coarsest: int = SCALE) -> int:
    """The coarsest power of ten of millionths, at most ``coarsest``, dividing every score."""
    millionths = _millionths(score)
    while coarsest > 1 and (millionths % coarsest).any():
        coarsest //= 10
    return coarsest


# ---------------------------------------------------------------- the exact solve


def _assign(n_mentees: int, capacity: IntArray, pairs: Pairs, costs: _Costs) -> IntArray:
    """Each mentee's mentor (or UNMATCHED), optimal over ``pairs``: scipy's sparse assignment."""
    if n_mentees == 0:
        return np.zeros(0, dtype=np.int64)
    slots = np.maximum(capacity, 0)
    first_slot = np.concatenate([[0], np.cumsum(slots)[:-1]]).astype(np.int64)
    total_slots = int(slots.sum())
    edge_cost = costs.of(pairs.score)
    reps = slots[pairs.mentor]
    rows = np.repeat(pairs.mentee, reps)
    cols = np.repeat(first_slot[pairs.mentor], reps) + _ranges(reps)
    data = np.repeat(edge_cost, reps).astype(np.float64)
    # Each mentee's own "unmatched" column.
    rows = np.concatenate([rows, np.arange(n_mentees)])
    cols = np.concatenate([cols, total_slots + np.arange(n_mentees)])
    data = np.concatenate([data, np.full(n_mentees, costs.unmatched, dtype=np.float64)])
    matrix = csr_matrix((data, (rows, cols)), shape=(n_mentees, total_slots + n_mentees))
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    slot_owner = np.repeat(np.arange(capacity.size), slots)
    mentor_of = np.full(n_mentees, UNMATCHED, dtype=np.int64)
    real = col_ind < total_slots
    mentor_of[row_ind[real]] = slot_owner[col_ind[real]]
    return mentor_of


def _ranges(lengths: IntArray) -> IntArray:
    """0..n-1 for each n in ``lengths``, concatenated."""
    if lengths.size == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = np.repeat(ends - lengths, lengths)
    return np.arange(int(ends[-1]), dtype=np.int64) - starts


# ---------------------------------------------------------------- the proof


@dataclass(frozen=True)
class _Prices:
    mentee: IntArray  # u_i
    mentor: IntArray  # w_j (never positive)

    def reduced(self, pairs: Pairs, costs: _Costs) -> IntArray:
        return costs.of(pairs.score) - self.mentee[pairs.mentee] - self.mentor[pairs.mentor]


def _prices(
    n_mentees: int, capacity: IntArray, pairs: Pairs, mentor_of: IntArray, costs: _Costs
) -> _Prices | None:
    """Dual prices from shortest paths in the residual network of the solution, or None when the
    network has a negative cycle (the solution is not optimal over ``pairs``).

    Nodes: mentees, mentors, and one sink T for "unmatched" and spare capacity.
    """
    m = capacity.size
    sink = n_mentees + m
    edge_cost = costs.of(pairs.score)
    matched_edge = mentor_of[pairs.mentee] == pairs.mentor
    load = np.bincount(mentor_of[mentor_of != UNMATCHED], minlength=m)
    mentees = np.arange(n_mentees)
    mentors = np.arange(m)
    unmatched = mentor_of == UNMATCHED
    src = [pairs.mentee[~matched_edge], n_mentees + pairs.mentor[matched_edge]]
    dst = [n_mentees + pairs.mentor[~matched_edge], pairs.mentee[matched_edge]]
    cost = [edge_cost[~matched_edge], -edge_cost[matched_edge]]
    src += [mentees[~unmatched], np.full(int(unmatched.sum()), sink)]
    dst += [np.full(int((~unmatched).sum()), sink), mentees[unmatched]]
    cost += [
        np.full(int((~unmatched).sum()), costs.unmatched),
        np.full(int(unmatched.sum()), -costs.unmatched),
    ]
    spare, busy = load < capacity, load > 0
    src += [n_mentees + mentors[spare], np.full(int(busy.sum()), sink)]
    dst += [np.full(int(spare.sum()), sink), n_mentees + mentors[busy]]
    cost += [np.zeros(int(spare.sum()), dtype=np.int64), np.zeros(int(busy.sum()), dtype=np.int64)]
    distance = _shortest_from_everywhere(
        sink + 1, np.concatenate(src), np.concatenate(dst), np.concatenate(cost).astype(np.int64)
    )
    if distance is None:
        return None
    u = distance[sink] - distance[:n_mentees]
    w = np.minimum(0, distance[n_mentees:sink] - distance[sink])
    return _Prices(u.astype(np.int64), w.astype(np.int64))


def _shortest_from_everywhere(nodes: int, src: IntArray, dst: IntArray, cost: IntArray) -> IntArray | None:
    """Bellman-Ford from a virtual root joined to every node at cost 0, relaxing only the arcs out
    of nodes whose distance changed in the last pass; None on a negative cycle."""
    order = np.argsort(src, kind="stable")
    src, dst, cost = src[order], dst[order], cost[order]
    indptr = np.searchsorted(src, np.arange(nodes + 1))
    distance = np.zeros(nodes, dtype=np.int64)
    changed = np.unique(src)
    for _ in range(nodes + 1):
        if changed.size == 0:
            return distance
        lengths = indptr[changed + 1] - indptr[changed]
        arcs = np.repeat(indptr[changed], lengths) + _ranges(lengths)
        candidate = distance[src[arcs]] + cost[arcs]
        better = candidate < distance[dst[arcs]]
        if not better.any():
            return distance
        targets, values = dst[arcs][better], candidate[better]
        np.minimum.at(distance, targets, values)
        changed = np.unique(targets)
    return None


def _certifies(prices: _Prices, capacity: IntArray, pairs: Pairs, mentor_of: IntArray, costs: _Costs) -> bool:
    """Weak duality, checked in integers: feasible prices whose value equals the solution's cost."""
    if (prices.mentee > costs.unmatched).any() or (prices.mentor > 0).any():
        return False
    if (prices.reduced(pairs, costs) < 0).any():
        return False
    matched = mentor_of != UNMATCHED
    primal = (
        int(costs.of(_scores_of(pairs, mentor_of)[matched]).sum()) + int((~matched).sum()) * costs.unmatched
    )
    dual = int(prices.mentee.sum()) + int((capacity * prices.mentor).sum())
    return primal == dual


def _scores_of(pairs: Pairs, mentor_of: IntArray) -> FloatArray:
    """Each mentee's score with their mentor (0 when unmatched)."""
    score = np.zeros(mentor_of.size, dtype=np.float64)
    chosen = mentor_of[pairs.mentee] == pairs.mentor
    score[pairs.mentee[chosen]] = pairs.score[chosen]
    return score


# ---------------------------------------------------------------- candidates


def _best_per(key: IntArray, score: FloatArray, other: IntArray, k: int) -> npt.NDArray[np.bool_]:
    """A mask of each ``key``'s ``k`` best pairs (ties: the lower ``other`` index first)."""
    order = np.lexsort((other, -score, key))
    sorted_key = key[order]
    group_start = np.searchsorted(sorted_key, sorted_key, side="left")
    rank = np.arange(sorted_key.size) - group_start
    keep = np.zeros(key.size, dtype=bool)
    keep[order[rank < k]] = True
    return keep


def _check(pairs: Pairs, n_mentees: int, n_mentors: int) -> None:
    if len(pairs) == 0:
        return
    if pairs.mentee.min() < 0 or pairs.mentee.max() >= n_mentees:
        raise InstanceError("a pair names a mentee that is not in the instance")
    if pairs.mentor.min() < 0 or pairs.mentor.max() >= n_mentors:
        raise InstanceError("a pair names a mentor that is not in the instance")
    if not np.isfinite(pairs.score).all():
        raise InstanceError("a pair's score is not a finite number")


def solve(
    n_mentees: int,
    capacity: Sequence[int] | IntArray,
    pairs: Pairs | None = None,
    *,
    source: PairSource | None = None,
    candidates: int | None = None,
    max_rounds: int = 20,
) -> Solution:
    """The best matching: most mentees matched, then the largest total score.

    Give the allowed pairs either as ``pairs`` or as a ``source`` that streams them in chunks.
    With ``candidates`` set, each mentee's best ``candidates`` pairs are solved first, and the rest
    are added back only where the dual prices say they could help; without it, every pair is
    solved at once. Either way the result is certified (or says it is not).
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    if (capacity < 0).any():
        raise InstanceError("a mentor's capacity is negative")
    if source is None:
        every = pairs if pairs is not None else Pairs.of([], [], [])
        _check(every, n_mentees, capacity.size)
        if np.unique(every.mentee * max(capacity.size, 1) + every.mentor).size != len(every):
            raise InstanceError("a pair is listed twice")

        def source() -> Iterator[Pairs]:
            yield every

    low, high, allowed, unit = np.inf, -np.inf, 0, SCALE
    chosen: list[Pairs] = []
    for chunk in source():
        _check(chunk, n_mentees, capacity.size)
        if len(chunk) == 0:
            continue
        allowed += len(chunk)
        low, high = min(low, float(chunk.score.min())), max(high, float(chunk.score.max()))
        unit = _unit(chunk.score, unit)
        if candidates is None:
            chosen.append(chunk)
        else:
            chosen.append(chunk.take(_best_per(chunk.mentee, chunk.score, chunk.mentor, candidates)))
    if allowed == 0:
        empty = np.full(n_mentees, UNMATCHED, dtype=np.int64)
        return Solution(
            empty, np.zeros(n_mentees), certified_optimal=True, candidate_pairs=0, allowed_pairs=0
        )
    costs = _Costs.for_scores(low, high, n_mentees, unit)
    pool = _unique(Pairs.concat(chosen), capacity.size)
    if candidates is not None:
        # A mentee's pairs may come in several chunks: keep their best overall. A mentor wanted by
        # more mentees than these candidates serve is found by the proof and added in a new round.
        pool = pool.take(_best_per(pool.mentee, pool.score, pool.mentor, candidates))
    notes: list[str] = []
    for round_number in range(1, max_rounds + 1):
        mentor_of = _assign(n_mentees, capacity, pool, costs)
        prices = _prices(n_mentees, capacity, pool, mentor_of, costs)
        if prices is None or not _certifies(prices, capacity, pool, mentor_of, costs):
            notes.append("the dual prices did not certify the solution over the candidate pairs")
            return _solution(mentor_of, pool, False, round_number, allowed, notes)
        if candidates is None:
            return _solution(mentor_of, pool, True, round_number, allowed, notes)
        missing = _uncovered(source, prices, costs, pool, capacity.size, candidates)
        if len(missing) == 0:
            return _solution(mentor_of, pool, True, round_number, allowed, notes)
        notes.append(f"round {round_number}: {len(missing)} left-out pairs could improve the result; added")
        pool = _unique(Pairs.concat([pool, missing]), capacity.size)
    notes.append(f"not certified within {max_rounds} rounds")
    return _solution(mentor_of, pool, False, max_rounds, allowed, notes)


def _solution(
    mentor_of: IntArray, pool: Pairs, certified: bool, rounds: int, allowed: int, notes: list[str]
) -> Solution:
    return Solution(mentor_of, _scores_of(pool, mentor_of), certified, rounds, len(pool), allowed, notes)


def _unique(pairs: Pairs, n_mentors: int) -> Pairs:
    key = pairs.mentee * max(n_mentors, 1) + pairs.mentor
    _, first = np.unique(key, return_index=True)
    return pairs.take(np.sort(first))


def _uncovered(
    source: PairSource, prices: _Prices, costs: _Costs, pool: Pairs, n_mentors: int, per_mentee: int
) -> Pairs:
    """Pairs outside the pool with a negative reduced cost: each mentee's worst few, at most."""
    in_pool = np.sort(pool.mentee * max(n_mentors, 1) + pool.mentor)
    found = []
    for chunk in source():
        if len(chunk) == 0:
            continue
        negative = prices.reduced(chunk, costs) < 0
        if not negative.any():
            continue
        candidates = chunk.take(negative)
        key = candidates.mentee * max(n_mentors, 1) + candidates.mentor
        position = np.searchsorted(in_pool, key)
        known = (position < in_pool.size) & (in_pool[np.minimum(position, in_pool.size - 1)] == key)
        candidates = candidates.take(~known)
        if len(candidates):
            reduced = prices.reduced(candidates, costs).astype(np.float64)
            found.append(
                candidates.take(_best_per(candidates.mentee, -reduced, candidates.mentor, per_mentee))
            )
    return Pairs.concat(found)


# ---------------------------------------------------------------- other policies


def greedy(n_mentees: int, capacity: Sequence[int] | IntArray, pairs: Pairs) -> Solution:
    """Best score first, as commercial tools do; a baseline for the benchmark, never used to match."""
    capacity = np.asarray(capacity, dtype=np.int64)
    left = capacity.tolist()
    room = int(capacity.sum())
    mentor_of = [UNMATCHED] * n_mentees
    unmatched = n_mentees
    order = np.lexsort((pairs.mentor, pairs.mentee, -pairs.score))
    mentees, mentors = pairs.mentee[order].tolist(), pairs.mentor[order].tolist()
    for i, j in zip(mentees, mentors, strict=True):
        if mentor_of[i] == UNMATCHED and left[j] > 0:
            mentor_of[i] = j
            left[j] -= 1
            unmatched -= 1
            room -= 1
            if unmatched == 0 or room == 0:
                break
    return _baseline(np.asarray(mentor_of, dtype=np.int64), pairs)


def _baseline(mentor_of: IntArray, pairs: Pairs) -> Solution:
    return Solution(
        mentor_of, _scores_of(pairs, mentor_of), certified_optimal=False, allowed_pairs=len(pairs)
    )


def stable(n_mentees: int, capacity: Sequence[int] | IntArray, pairs: Pairs) -> Solution:
    """A mentee-optimal stable matching (deferred acceptance, mentors with capacities).

    Both sides rank by the pair's score, ties broken by index: no mentee and mentor would both
    rather be together than with whom they have.
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    score = {
        (int(i), int(j)): float(s) for i, j, s in zip(pairs.mentee, pairs.mentor, pairs.score, strict=True)
    }
    choices: dict[int, list[int]] = {i: [] for i in range(n_mentees)}
    for i, j in sorted(score, key=lambda p: (p[0], -score[p], p[1])):
        choices[i].append(j)
    held: dict[int, list[int]] = {j: [] for j in range(capacity.size)}
    next_choice = dict.fromkeys(range(n_mentees), 0)
    free = list(range(n_mentees - 1, -1, -1))
    while free:
        i = free.pop()
        if next_choice[i] >= len(choices[i]):
            continue
        j = choices[i][next_choice[i]]
        next_choice[i] += 1
        held[j].append(i)
        held[j].sort(key=lambda m: (-score[(m, j)], m))
        if len(held[j]) > capacity[j]:
            free.append(held[j].pop())
    mentor_of = np.full(n_mentees, UNMATCHED, dtype=np.int64)
    for j, mentees in held.items():
        mentor_of[mentees] = j
    return _baseline(mentor_of, pairs)
