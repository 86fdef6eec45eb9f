"""The matching engine: the best assignment of mentees to mentors, and a proof that it is the best.

The objective, in order: the most mentees matched, then the largest total score. It is solved as a
sparse assignment problem with scipy (``min_weight_full_bipartite_matching``, LAPJVsp) over the
allowed pairs only: each mentor becomes as many columns as their capacity, and each mentee has a
private "unmatched" column whose cost is larger than any score could repay, so that one more match
always beats any gain in score. Scores are compared as integers (millionths) so the objective is exact.

At national scale the engine first solves over each mentee's best few candidate pairs, then proves
the result: it computes dual prices from the residual network of the solution (shortest paths, so
no solver internals are trusted), checks that they certify the solution on the candidate pairs
(every reduced cost non-negative, and the dual objective equal to the primal cost), then streams
through every allowed pair. A pair that the prices do not cover could improve the result: it is
added to the candidates and the problem solved again, until no pair is left. Only then is the
result ``certified_optimal``.

Pairs come as lists (``Pairs``: three arrays) or as dense blocks (``Dense``: some mentees against
every mentor), in chunks that a ``PairSource`` streams, so that memory stays bounded whatever the
number of allowed pairs. No AWS here, and no pydantic: numpy arrays in, numpy arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SCALE = 1_000_000  # scores are compared in millionths: exact integers, whatever the weights
UNMATCHED = -1
CANDIDATES = 24  # each mentee's pairs solved first; the proof adds back any other that matters
MENTOR_SEED = 1 << 40  # mentors' own orders of mentees are seeded apart from mentees' orders of mentors
SLICE = 1 << 20  # pairs of a list handled at once: bounded temporaries, sorts that fit the cache
FORBIDDEN = -1e200  # in a dense block, a cell below this is a pair the hard rules do not allow


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

    def take(self, keep: BoolArray | IntArray) -> Pairs:
        return Pairs(self.mentee[keep], self.mentor[keep], self.score[keep])

    def slice(self, start: int, stop: int) -> Pairs:
        """A view: no copy."""
        return Pairs(self.mentee[start:stop], self.mentor[start:stop], self.score[start:stop])

    @staticmethod
    def concat(parts: Sequence[Pairs]) -> Pairs:
        if not parts:
            return Pairs.of([], [], [])
        return Pairs(
            np.concatenate([p.mentee for p in parts]),
            np.concatenate([p.mentor for p in parts]),
            np.concatenate([p.score for p in parts]),
        )

    # ------------------------------------------------------------ as a chunk of a source
    def check(self, n_mentees: int, n_mentors: int) -> None:
        if len(self) == 0:
            return
        if self.mentee.min() < 0 or self.mentee.max() >= n_mentees:
            raise InstanceError("a pair names a mentee that is not in the instance")
        if self.mentor.min() < 0 or self.mentor.max() >= n_mentors:
            raise InstanceError("a pair names a mentor that is not in the instance")

    @property
    def millionths(self) -> IntArray:
        return _millionths(self.score)

    def summary(self, unit: int, given: bool) -> _Summary:
        if len(self) == 0:
            return _Summary(0, 0, 0, unit)
        if not np.isfinite(self.score).all():
            raise InstanceError("a pair's score is not a finite number")
        value = self.millionths
        if given and (value % unit).any():
            raise InstanceError(f"a pair's score is not a whole number of {unit / SCALE:g}")
        low, high = min(0, int(value.min())), int(value.max())
        return _Summary(len(self), low, high, unit if given else _unit(value, unit))

    def best(self, choice: _Choice) -> Pairs:
        """Each mentee's ``choice.per_mentee`` best pairs in the chunk."""
        return self.take(
            _best(self.mentee, self.mentor, self.millionths, choice.per_mentee, choice.n_mentors)
        )

    def pairs(self) -> Pairs:
        return self

    def improving(self, prices: _Prices, costs: _Costs) -> Pairs:
        return self.take(prices.reduced(self, costs) < 0)


@dataclass(frozen=True)
class Dense:
    """Mentees ``first`` to ``first + rows - 1`` against every mentor: each cell the pair's score in
    millionths (a whole number), or, where the pair is not allowed, anything below ``FORBIDDEN``
    (``-inf``, or the large penalty a hard rule adds inside a matrix product).

    What the matching function builds, block by block: the engine reads it without ever listing
    the allowed pairs, except the few it keeps.
    """

    first: int
    value: FloatArray  # rows x mentors

    @cached_property
    def allowed(self) -> BoolArray:
        return np.asarray(self.value > FORBIDDEN)

    def check(self, n_mentees: int, n_mentors: int) -> None:
        rows, mentors = self.value.shape
        if mentors != n_mentors:
            raise InstanceError("a block of pairs does not have one column for each mentor")
        if self.first < 0 or self.first + rows > n_mentees:
            raise InstanceError("a block of pairs names a mentee that is not in the instance")

    def summary(self, unit: int, given: bool) -> _Summary:
        """The count and range of the block's scores, and their unit; ``given``: the producer of
        the block vouches that every score is a whole number of ``unit`` (no need to look)."""
        count = int(np.count_nonzero(self.allowed))
        if count == 0:
            return _Summary(0, 0, 0, unit)
        high = float(self.value.max())
        low = 0.0
        # Below zero: the forbidden cells, and any allowed pair with a negative score.
        if np.count_nonzero(self.value < 0) > self.value.size - count:
            low = float(np.min(self.value, where=self.allowed, initial=np.inf))
        if not (np.isfinite(high) and np.isfinite(low)):
            raise InstanceError("a pair's score is not a finite number")
        while not given:
            rest = np.fmod(self.value, unit, where=self.allowed, out=np.zeros_like(self.value))
            if not rest.any():
                break
            if unit == 1:
                raise InstanceError("a block's scores are not whole millionths")
            unit //= 10
        return _Summary(count, int(low), int(high), unit)

    def pairs(self) -> Pairs:
        return self._at(self.allowed)

    def _at(self, mask: BoolArray) -> Pairs:
        """The pairs of the cells ``mask`` marks (flatnonzero: far quicker than a 2-D nonzero)."""
        return self._cells(np.flatnonzero(mask))

    def _cells(self, cells: IntArray) -> Pairs:
        rows, mentors = np.divmod(cells, self.value.shape[1])
        return Pairs(rows + self.first, mentors, self.value.ravel()[cells] / SCALE)

    def best(self, choice: _Choice) -> Pairs:
        """Each mentee's ``choice.per_mentee`` best pairs in the block: every cell above the row's
        k-th highest value, and ties at it broken as ``_best`` breaks them, so that a list of the
        same pairs, in any chunks, gives the same candidates."""
        k, mentors = choice.per_mentee, self.value.shape[1]
        if k >= mentors:
            return self.pairs()
        kth = np.partition(self.value, mentors - k, axis=1)[:, mentors - k]
        # One comparison over the block; the few cells it finds are sorted out one by one.
        found = self._cells(np.flatnonzero(self.value >= np.maximum(kth, FORBIDDEN)[:, None]))
        row = found.mentee - self.first
        value = found.score * SCALE
        above = value > kth[row]
        need = k - np.bincount(row[above], minlength=kth.size)
        tied = ~above
        chosen = _first_in_turn(row[tied], found.mentor[tied], need, self.first, choice.n_mentors)
        keep = above.copy()
        keep[np.flatnonzero(tied)[chosen]] = True
        return found.take(keep)

    def beating(self, bar: FloatArray) -> Pairs:
        """The allowed pairs whose value is at least the mentor's ``bar``."""
        return self._at(self.value >= np.maximum(bar, FORBIDDEN)[None, :])

    def improving(self, prices: _Prices, costs: _Costs) -> Pairs:
        # reduced = top - (units - low) - u - w < 0, i.e. units + w > top + low - u. Counted in
        # millionths when every term stays a whole number below 2^53 (one operation fewer a cell).
        rows = self.value.shape[0]
        bar = (costs.top + costs.low - prices.mentee[self.first : self.first + rows]).astype(np.float64)
        w = prices.mentor.astype(np.float64)
        if costs.unit == 1 or costs.unmatched * costs.unit < 2**52:
            return self._at((self.value + w[None, :] * costs.unit) > (bar * costs.unit)[:, None])
        return self._at((self.value / costs.unit + w[None, :]) > bar[:, None])


class _MentorBest:
    """Each mentor's ``per_mentor`` best pairs (ties: in the mentor's own order of mentees), kept
    as the chunks stream past. A chunk is only looked at where it beats the worst pair held for
    the mentor, so after the first blocks it costs one comparison a cell."""

    def __init__(self, choice: _Choice) -> None:
        self.choice = choice
        self.held = Pairs.of([], [], [])
        m = choice.n_mentors
        self.bar = np.full(m, -np.inf)  # the worst value held, while a mentor's places are full
        self.bar_turn = np.zeros(m, dtype=np.int64)

    def add(self, chunk: Chunk) -> None:
        found = chunk.beating(self.bar) if isinstance(chunk, Dense) else chunk
        if len(found) == 0:
            return
        value = found.millionths
        bar = self.bar[found.mentor]
        # Equal to the worst held: in only if earlier in the mentor's own order.
        level = value == bar
        later = np.zeros(len(found), dtype=bool)
        if level.any():
            turn = _turn(found.mentor[level] + MENTOR_SEED, found.mentee[level], self.choice.n_mentees)
            later[np.flatnonzero(level)] = turn > self.bar_turn[found.mentor[level]]
        found = found.take((value >= bar) & ~later)
        if len(found) == 0:
            return
        held = Pairs.concat([self.held, found])
        keep = _best(
            held.mentor,
            held.mentee,
            held.millionths,
            self.choice.per_mentor,
            self.choice.n_mentees,
            MENTOR_SEED,
        )
        self.held = held.take(keep)
        touched = np.zeros(self.bar.size, dtype=bool)
        touched[found.mentor] = True
        self._bars(touched)

    def _bars(self, touched: BoolArray) -> None:
        """The worst held pair of each mentor ``touched`` whose places are all taken."""
        mine = touched[self.held.mentor]
        mentor, mentee, value = self.held.mentor[mine], self.held.mentee[mine], self.held.millionths[mine]
        turn = _turn(mentor + MENTOR_SEED, mentee, self.choice.n_mentees)
        order = np.lexsort((-turn, value, mentor))  # per mentor: lowest value, then latest turn, first
        mentor, value, turn = mentor[order], value[order], turn[order]
        first = np.ones(mentor.size, dtype=bool)
        first[1:] = mentor[1:] != mentor[:-1]
        full = np.bincount(mentor, minlength=self.bar.size)[mentor[first]] >= self.choice.per_mentor
        self.bar[mentor[first][full]] = value[first][full]
        self.bar_turn[mentor[first][full]] = turn[first][full]


Chunk = Pairs | Dense
PairSource = Callable[[], Iterator[Chunk]]
"""Every allowed pair, in chunks; called once per pass, and must give the same pairs each time."""


@dataclass(frozen=True)
class _Summary:
    count: int
    low: int  # millionths: the lowest score, or 0 if that is lower
    high: int  # the highest score
    unit: int


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
    def for_millionths(cls, low: int, high: int, mentees: int, unit: int = 1) -> _Costs:
        lo, hi = low // unit, high // unit
        top = hi - lo + 1
        unmatched = top + mentees * top + 1
        if unmatched * max(mentees, 1) >= 2**53:
            raise InstanceError("scores too large or too many mentees for exact costs; scale the scores down")
        return cls(lo, top, unmatched, unit)

    @classmethod
    def for_scores(cls, low: float, high: float, mentees: int, unit: int = 1) -> _Costs:
        return cls.for_millionths(round(low * SCALE), round(high * SCALE), mentees, unit)

    def of(self, score: FloatArray) -> IntArray:
        return self.top - (_millionths(score) // self.unit - self.low)


def _millionths(score: FloatArray) -> IntArray:
    return np.rint(score * SCALE).astype(np.int64)


def _unit(millionths: IntArray, coarsest: int = SCALE) -> int:
    """The coarsest power of ten of millionths, at most ``coarsest``, dividing every score."""
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
    changed = np.flatnonzero(np.diff(indptr))  # every node with an arc out
    mark = np.zeros(nodes, dtype=bool)
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
        # The nodes reached, once each (a mask, not np.unique: that hashes, and is far slower).
        mark[targets] = True
        changed = np.flatnonzero(mark)
        mark[changed] = False
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


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: a fixed pseudo-random bijection of 64-bit numbers."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _bits(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


def _turn(mentee: IntArray, mentor: IntArray, n_mentors: int) -> IntArray:
    """A mentor's place in the mentee's own order of mentors, which breaks ties between equal scores.

    Each mentee's order is a different pseudo-random permutation of the mentors (a bijection of
    ``bits``-bit numbers seeded by the mentee), so that tied mentees neither all pick the lowest-
    numbered mentors nor neighbouring ones, and crowd none of them: crowded mentors cost rounds
    of the proof. Being a bijection, it never ties, so the choice never depends on input order.
    """
    bits = _bits(n_mentors)
    mask, shift = np.uint64((1 << bits) - 1), np.uint64((bits + 1) // 2)
    seed = _mix(mentee.astype(np.uint64))
    x = (mentor.astype(np.uint64) ^ seed) & mask
    for multiplier in (0xBF58476D1CE4E5B9, 0x94D049BB133111EB):
        x = (x * np.uint64(multiplier)) & mask
        x ^= x >> shift
        x = (x + (seed >> np.uint64(32))) & mask
    return x.astype(np.int64)


def _first_in_turn(group: IntArray, other: IntArray, need: IntArray, seed: int, n_others: int) -> BoolArray:
    """Of tied pairs, the first ``need[group]`` of each group in its own order of the others (the
    order of mentors of the mentee ``seed + group``, or of mentees of a mentor)."""
    if group.size == 0:
        return np.zeros(0, dtype=bool)
    key = group * (1 << _bits(n_others)) + _turn(group + seed, other, n_others)
    order = np.argsort(key, kind="stable")
    sorted_group = group[order]
    rank = np.arange(group.size) - np.searchsorted(sorted_group, sorted_group, side="left")
    keep = np.zeros(group.size, dtype=bool)
    keep[order[rank < need[sorted_group]]] = True
    return keep


def _best(
    group: IntArray, other: IntArray, value: IntArray, k: int, n_others: int, seed: int = 0
) -> BoolArray:
    """A mask of each group's ``k`` pairs of highest ``value`` (ties: in the group's own order of
    the others, ``_turn``). The same pairs in any order or chunking give the same choice."""
    keep = np.full(group.size, k > 0)
    if group.size == 0 or k <= 0:
        return keep
    low = int(group.min())
    local = group - low
    crowded = np.bincount(local)[local] > k
    if not crowded.any():
        return keep
    where = np.flatnonzero(crowded)
    local, value = local[where], value[where]
    order = _by_group_then_value(local, value)
    sorted_local = local[order]
    rank = np.arange(order.size) - np.searchsorted(sorted_local, sorted_local, side="left")
    kth = np.zeros(int(sorted_local[-1]) + 1, dtype=np.int64)
    at_k = rank == k - 1
    kth[sorted_local[at_k]] = value[order[at_k]]
    above = value > kth[local]
    tied = value == kth[local]
    need = k - np.bincount(local[above], minlength=kth.size)
    keep[where] = above
    tie_at = where[tied]
    keep[tie_at[_first_in_turn(local[tied], other[tie_at], need, seed + low, n_others)]] = True
    return keep


@dataclass(frozen=True)
class _Choice:
    """Which pairs are solved first: each mentee's ``per_mentee`` best and each mentor's
    ``per_mentor`` best, so that no mentor is left with too few mentees to choose from (an
    unpopular mentor the optimum needs would otherwise cost a round of the proof)."""

    per_mentee: int
    per_mentor: int
    n_mentees: int
    n_mentors: int

    @property
    def bound(self) -> int:
        """Candidates held before they are thinned out (four times as many as are kept)."""
        return 4 * self.per_mentee * self.n_mentees + SLICE

    def mask(self, mentee: IntArray, mentor: IntArray, value: IntArray) -> BoolArray:
        return _best(mentee, mentor, value, self.per_mentee, self.n_mentors) | _best(
            mentor, mentee, value, self.per_mentor, self.n_mentees, MENTOR_SEED
        )


def _by_group_then_value(group: IntArray, value: IntArray) -> npt.NDArray[np.intp]:
    """An order by group, then by value from the highest: one sort of a packed key where it fits."""
    high, low = int(value.max()), int(value.min())
    span = int(group.max()) + 1
    if span * (high - low + 1) < 2**62:
        return np.argsort(group * (high - low + 1) + (high - value), kind="stable")
    return np.lexsort((-value, group))


def _canonical(pairs: Pairs, n_mentors: int) -> Pairs:
    """Sorted by mentee then mentor, each pair once: the solver sees the same input, however the
    pairs were found."""
    key = pairs.mentee * max(n_mentors, 1) + pairs.mentor
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    return pairs.take(order[first])


def _listed_twice(pairs: Pairs, n_mentors: int) -> bool:
    """Sort and compare (numpy's hashing np.unique is far slower); a list already in order needs
    neither."""
    key = pairs.mentee * max(n_mentors, 1) + pairs.mentor
    if key.size < 2 or bool((key[1:] > key[:-1]).all()):
        return False
    key.sort()
    return bool((key[1:] == key[:-1]).any())


def solve(
    n_mentees: int,
    capacity: Sequence[int] | IntArray,
    pairs: Pairs | None = None,
    *,
    source: PairSource | None = None,
    candidates: int | None = CANDIDATES,
    unit: int | None = None,
    max_rounds: int = 20,
) -> Solution:
    """The best matching: most mentees matched, then the largest total score.

    Give the allowed pairs either as ``pairs`` or as a ``source`` that streams them in chunks.
    With ``candidates`` (the default), each mentee's best ``candidates`` pairs are solved first,
    and the rest are added back only where the dual prices say they could help; with None, every
    pair is solved at once. Either way the result is certified (or says it is not).

    ``unit``: every score is a whole number of this many millionths (a power of ten), as the
    producer of the pairs knows from its weights; found from the scores when not given.
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    n_mentors = capacity.size
    if (capacity < 0).any():
        raise InstanceError("a mentor's capacity is negative")
    if candidates is not None and candidates < 1:
        raise InstanceError("candidates: at least one pair a mentee, or None for every pair")
    # Each mentor's best pairs too: twice the largest capacity (capacity counts in slots).
    choice = (
        None
        if candidates is None
        else _Choice(candidates, 2 * max(1, int(capacity.max(initial=1))), n_mentees, n_mentors)
    )
    if source is None:
        every = pairs if pairs is not None else Pairs.of([], [], [])
        every.check(n_mentees, n_mentors)
        if _listed_twice(every, n_mentors):
            raise InstanceError("a pair is listed twice")

        def source() -> Iterator[Chunk]:
            for start in range(0, len(every), SLICE):
                yield every.slice(start, start + SLICE)

    if unit is not None and (unit < 1 or SCALE % unit):
        raise InstanceError("unit: a power of ten of millionths, from 1 to 1,000,000")
    given, unit = unit is not None, unit or SCALE
    found = _first_pass(source, n_mentees, n_mentors, choice, unit, given)
    if found.allowed == 0:
        empty = np.full(n_mentees, UNMATCHED, dtype=np.int64)
        return Solution(
            empty, np.zeros(n_mentees), certified_optimal=True, candidate_pairs=0, allowed_pairs=0
        )
    costs = _Costs.for_millionths(found.low, found.high, n_mentees, found.unit)
    pool, allowed = found.pool, found.allowed
    notes: list[str] = []
    for round_number in range(1, max_rounds + 1):
        mentor_of = _assign(n_mentees, capacity, pool, costs)
        prices = _prices(n_mentees, capacity, pool, mentor_of, costs)
        if prices is None or not _certifies(prices, capacity, pool, mentor_of, costs):
            notes.append("the dual prices did not certify the solution over the candidate pairs")
            return _solution(mentor_of, pool, False, round_number, allowed, notes)
        if candidates is None:
            return _solution(mentor_of, pool, True, round_number, allowed, notes)
        missing = _uncovered(source, prices, costs, n_mentors, candidates)
        if len(missing) == 0:
            return _solution(mentor_of, pool, True, round_number, allowed, notes)
        notes.append(f"round {round_number}: {len(missing)} left-out pairs could improve the result; added")
        pool = _canonical(Pairs.concat([pool, missing]), n_mentors)
    notes.append(f"not certified within {max_rounds} rounds")
    return _solution(mentor_of, pool, False, max_rounds, allowed, notes)


@dataclass(frozen=True)
class _Found:
    """What the first pass over every pair finds: their count, range and unit, and the candidates."""

    allowed: int
    low: int
    high: int
    unit: int
    pool: Pairs


def _first_pass(
    source: PairSource, n_mentees: int, n_mentors: int, choice: _Choice | None, unit: int, given: bool
) -> _Found:
    # Costs are counted from the lowest score or 0, whichever is lower: the bound is found without
    # looking at every score of a block of non-negative ones.
    low, high, allowed = 0, -(2**62), 0
    chosen: list[Pairs] = []
    mentor_best = _MentorBest(choice) if choice is not None else None
    for chunk in source():
        chunk.check(n_mentees, n_mentors)
        summary = chunk.summary(unit, given)
        if summary.count == 0:
            continue
        low, high = min(low, summary.low), max(high, summary.high)
        allowed += summary.count
        unit = summary.unit
        if choice is None or mentor_best is None:
            chosen.append(chunk.pairs())
            continue
        chosen.append(chunk.best(choice))
        mentor_best.add(chunk)
        if sum(len(c) for c in chosen) > choice.bound:
            # A mentee's pairs split over many chunks: keep only their best so far.
            pool = _canonical(Pairs.concat(chosen), n_mentors)
            chosen = [
                pool.take(_best(pool.mentee, pool.mentor, pool.millionths, choice.per_mentee, n_mentors))
            ]
    if mentor_best is not None:
        chosen.append(mentor_best.held)
    pool = _canonical(Pairs.concat(chosen), n_mentors)
    if choice is not None:
        # A mentee's pairs may come in several chunks: keep their best overall. A mentor wanted by
        # more mentees than these candidates serve is found by the proof and added in a new round.
        pool = pool.take(choice.mask(pool.mentee, pool.mentor, pool.millionths))
    return _Found(allowed, low, high, unit, pool)


def _solution(
    mentor_of: IntArray, pool: Pairs, certified: bool, rounds: int, allowed: int, notes: list[str]
) -> Solution:
    return Solution(mentor_of, _scores_of(pool, mentor_of), certified, rounds, len(pool), allowed, notes)


def _uncovered(source: PairSource, prices: _Prices, costs: _Costs, n_mentors: int, per_mentee: int) -> Pairs:
    """Pairs with a negative reduced cost (never one of the pool's: the prices certify those), each
    mentee's ``per_mentee`` most negative at most."""
    found = []
    for chunk in source():
        negative = chunk.improving(prices, costs)
        if len(negative):
            reduced = prices.reduced(negative, costs)
            found.append(
                negative.take(_best(negative.mentee, negative.mentor, -reduced, per_mentee, n_mentors))
            )
    if not found:
        return Pairs.of([], [], [])
    every = Pairs.concat(found)
    reduced = prices.reduced(every, costs)
    return every.take(_best(every.mentee, every.mentor, -reduced, per_mentee, n_mentors))


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
