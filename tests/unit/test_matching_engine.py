"""The engine, property by property (hypothesis): rules and capacities always hold; the result is a
brute-force optimum (count first, then score) and certified; pruning changes nothing; the stable
mode leaves no blocking pair; the command line reads and writes the documented format."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mentoring.matching import broken_rules, match_cohort
from mentoring.matching.__main__ import main
from mentoring.matching.engine import (
    SCALE,
    UNMATCHED,
    Dense,
    InstanceError,
    Pairs,
    Solution,
    _best,
    greedy,
    solve,
    stable,
)
from mentoring.scheme import get_scheme

from tests.unit.factories import application, mentor

pytestmark = pytest.mark.unit

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw: st.DrawFn) -> tuple[int, list[int], Pairs]:
    n = draw(st.integers(0, 6))
    m = draw(st.integers(0, 4))
    capacity = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    # Scores from a small set, so that ties are common.
    cells = draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0, 2.5, 3.0])), min_size=n * m, max_size=n * m
        )
    )
    allowed = [
        (i, j, s)
        for (i, j), s in zip(itertools.product(range(n), range(m)), cells, strict=True)
        if s is not None
    ]
    return (
        n,
        capacity,
        Pairs.of([a for a, _, _ in allowed], [b for _, b, _ in allowed], [c for *_, c in allowed]),
    )


def brute_force(n: int, capacity: list[int], pairs: Pairs) -> tuple[int, float]:
    score = {
        (int(i), int(j)): float(s) for i, j, s in zip(pairs.mentee, pairs.mentor, pairs.score, strict=True)
    }
    options = [[None, *[j for j in range(len(capacity)) if (i, j) in score]] for i in range(n)]
    best = (0, 0.0)
    for choice in itertools.product(*options):
        load = [0] * len(capacity)
        for j in choice:
            if j is not None:
                load[j] += 1
        if any(load[j] > capacity[j] for j in range(len(capacity))):
            continue
        value = (
            sum(j is not None for j in choice),
            sum(score[(i, j)] for i, j in enumerate(choice) if j is not None),
        )
        best = max(best, (value[0], round(value[1], 9)))
    return best


def check_feasible(n: int, capacity: list[int], pairs: Pairs, solution: Solution) -> None:
    allowed = set(zip(pairs.mentee.tolist(), pairs.mentor.tolist(), strict=True))
    assert solution.mentor_of.shape == (n,)  # one mentor at most for each mentee, by construction
    for i, j in enumerate(solution.mentor_of.tolist()):
        assert j == UNMATCHED or (i, j) in allowed  # only pairs the hard rules allow
    load = np.bincount(solution.mentor_of[solution.mentor_of != UNMATCHED], minlength=len(capacity))
    assert (load <= np.asarray(capacity, dtype=np.int64)).all()


@given(instances())
@SETTINGS
def test_the_engine_finds_the_brute_force_optimum_and_proves_it(
    instance: tuple[int, list[int], Pairs],
) -> None:
    n, capacity, pairs = instance

    solution = solve(n, capacity, pairs)

    check_feasible(n, capacity, pairs, solution)
    assert (solution.matched, round(solution.total_score, 9)) == brute_force(n, capacity, pairs)
    assert solution.certified_optimal


@given(instances(), st.integers(1, 3))
@SETTINGS
def test_solving_best_candidates_first_then_proving_gives_the_same_optimum(
    instance: tuple[int, list[int], Pairs], candidates: int
) -> None:
    n, capacity, pairs = instance

    full = solve(n, capacity, pairs, candidates=None)
    pruned = solve(n, capacity, pairs, candidates=candidates)

    check_feasible(n, capacity, pairs, pruned)
    assert (pruned.matched, round(pruned.total_score, 9)) == (full.matched, round(full.total_score, 9))
    assert pruned.certified_optimal


@given(instances())
@SETTINGS
def test_the_stable_mode_leaves_no_blocking_pair(instance: tuple[int, list[int], Pairs]) -> None:
    n, capacity, pairs = instance
    score = {
        (int(i), int(j)): float(s) for i, j, s in zip(pairs.mentee, pairs.mentor, pairs.score, strict=True)
    }

    solution = stable(n, capacity, pairs)

    check_feasible(n, capacity, pairs, solution)
    held: dict[int, list[int]] = {j: [] for j in range(len(capacity))}
    for i, j in enumerate(solution.mentor_of.tolist()):
        if j != UNMATCHED:
            held[j].append(i)
    for (i, j), s in score.items():
        mine = int(solution.mentor_of[i])
        if mine == j:
            continue
        mentee_would = mine == UNMATCHED or (s, -j) > (score[(i, mine)], -mine)
        mentor_would = len(held[j]) < capacity[j] or any((s, -i) > (score[(k, j)], -k) for k in held[j])
        assert not (mentee_would and mentor_would), f"mentee {i} and mentor {j} block"


@given(instances())
@SETTINGS
def test_the_engine_is_never_worse_than_greedy(instance: tuple[int, list[int], Pairs]) -> None:
    n, capacity, pairs = instance

    best, baseline = solve(n, capacity, pairs), greedy(n, capacity, pairs)

    check_feasible(n, capacity, pairs, baseline)
    assert (best.matched, best.total_score + 1e-9) >= (baseline.matched, baseline.total_score)


def test_the_same_input_gives_the_same_output() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((60, 30)) < 0.3
    mentee, mentor_ = np.nonzero(mask)
    pairs = Pairs(
        mentee.astype(np.int64), mentor_.astype(np.int64), rng.integers(0, 3, mentee.size).astype(float)
    )
    capacity = rng.integers(1, 3, 30)

    runs = {tuple(solve(60, capacity, pairs, candidates=4).mentor_of.tolist()) for _ in range(3)}

    assert len(runs) == 1


def test_a_pair_listed_twice_is_refused() -> None:
    with pytest.raises(InstanceError, match="listed twice"):
        solve(1, [1], Pairs.of([0, 0], [0, 0], [1.0, 2.0]))
    # Out of order too: a list in order is checked without sorting, any other by sorting.
    with pytest.raises(InstanceError, match="listed twice"):
        solve(3, [1, 1], Pairs.of([2, 0, 1, 2], [1, 0, 0, 1], [1.0, 2.0, 3.0, 4.0]))
    assert solve(3, [1, 1], Pairs.of([2, 0, 1], [1, 0, 0], [1.0, 2.0, 3.0])).matched == 2


def dense_blocks(n: int, m: int, pairs: Pairs, cuts: list[int]) -> list[Dense]:
    """The same pairs as blocks of mentees against every mentor (millionths; -inf: not allowed)."""
    value = np.full((n, m), -np.inf)
    value[pairs.mentee, pairs.mentor] = np.rint(pairs.score * SCALE)
    edges = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return [Dense(a, value[a:b]) for a, b in itertools.pairwise(edges)]


@given(instances(), st.integers(1, 3), st.lists(st.integers(0, 6), max_size=3), st.randoms())
@SETTINGS
def test_blocks_lists_and_any_chunking_of_the_same_pairs_give_the_same_matching(
    instance: tuple[int, list[int], Pairs], candidates: int, cuts: list[int], rng: Any
) -> None:
    n, capacity, pairs = instance
    m = len(capacity)
    shuffled = pairs.take(np.asarray(rng.sample(range(len(pairs)), len(pairs)), dtype=np.int64))
    halves = [shuffled.slice(0, len(pairs) // 2), shuffled.slice(len(pairs) // 2, len(pairs))]

    as_list = solve(n, capacity, pairs, candidates=candidates)
    as_blocks = solve(
        n, capacity, source=lambda: iter(dense_blocks(n, m, pairs, cuts)), candidates=candidates
    )
    as_chunks = solve(n, capacity, source=lambda: iter(halves), candidates=candidates)

    assert as_list.certified_optimal
    for other in (as_blocks, as_chunks):
        assert other.mentor_of.tolist() == as_list.mentor_of.tolist()
        assert other.score_of.tolist() == as_list.score_of.tolist()
        assert (other.rounds, other.candidate_pairs, other.allowed_pairs) == (
            as_list.rounds,
            as_list.candidate_pairs,
            as_list.allowed_pairs,
        )


def test_tied_scores_spread_each_mentees_candidates_over_the_mentors_they_tie_on() -> None:
    # Every pair allowed and worth the same, as whole-number scores often are: if ties went to the
    # lowest-numbered mentors, every mentee's 4 candidates would be mentors 0-3, who can take 4
    # mentees in all, and the proof would need round after round to add the others back.
    n, m = 400, 200
    mentee, mentor = np.divmod(np.arange(n * m), m)
    pairs = Pairs.of(mentee, mentor, np.ones(n * m))

    solution = solve(n, [2] * m, pairs, candidates=4)

    chosen_by = np.bincount(_candidates(n, [2] * m, pairs, 4).mentor, minlength=m)
    assert chosen_by.min() > 0
    assert chosen_by.max() <= 4 * 4 * n // m
    assert solution.certified_optimal
    assert solution.matched == n
    assert solution.rounds == 1


def _candidates(n: int, capacity: list[int], pairs: Pairs, k: int) -> Pairs:
    """Each mentee's k best pairs, as the engine chooses them first."""
    return pairs.take(_best(pairs.mentee, pairs.mentor, pairs.millionths, k, len(capacity)))


def test_candidates_must_be_at_least_one() -> None:
    with pytest.raises(InstanceError, match="candidates"):
        solve(1, [1], Pairs.of([0], [0], [1.0]), candidates=0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["UCL", "KCL", "QMUL"]), st.integers(5, 7), st.sampled_from(["data", "law"])
        ),
        max_size=6,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["UCL", "KCL", "QMUL"]), st.integers(1, 3), st.sampled_from(["data", "law"])
        ),
        max_size=4,
    ),
)
@settings(max_examples=60, deadline=None)
def test_a_cohort_never_breaks_a_hard_rule_or_a_capacity(
    mentee_specs: list[tuple[str, int, str]], mentor_specs: list[tuple[str, int, str]]
) -> None:
    scheme = get_scheme("b-mentor-professional")
    mentees = [application(institution=i, grade=g, skills=(s,)) for i, g, s in mentee_specs]
    mentors = [mentor(institution=i, capacity=c, skills=(s,)) for i, c, s in mentor_specs]

    result = match_cohort(scheme, "c", mentees, mentors)

    by_id = {a.application_id: a for a in mentees + mentors}
    assert len({m.mentee_id for m in result.matches}) == len(result.matches)
    for match in result.matches:
        assert broken_rules(scheme.pairing_rules, by_id[match.mentee_id], by_id[match.mentor_id]) == []
    for m in mentors:
        taken = sum(1 for match in result.matches if match.mentor_id == m.application_id)
        assert taken <= min(m.profile.capacity, scheme.mentor_capacity_max)
    assert len(result.matches) + len(result.unmatched_mentees) == len(mentees)
    assert result.certified_optimal is True


# ---------------------------------------------------------------- the command line

INSTANCE: dict[str, Any] = {
    "mentees": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
    "mentors": [{"id": "x", "capacity": 1}, {"id": "y", "capacity": 1}],
    "pairs": [
        {"mentee": "a", "mentor": "x", "score": 5},
        {"mentee": "a", "mentor": "y", "score": 4},
        {"mentee": "b", "mentor": "x", "score": 3},
    ],
}


def test_the_command_prints_the_documented_result(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(INSTANCE))

    done = subprocess.run(
        [sys.executable, "-m", "mentoring.matching", str(path)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Greedy would give a->x (5) and leave b; the optimum matches both: a->y, b->x.
    assert result["matches"] == [
        {"mentee": "a", "mentor": "y", "score": 4.0},
        {"mentee": "b", "mentor": "x", "score": 3.0},
    ]
    assert result["unmatched"] == ["c"]
    assert result["total_score"] == 7.0
    assert result["certified_optimal"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"pairs": [{"mentee": "zz", "mentor": "x", "score": 1}]},
            "pairs.0.mentee: 'zz' is not one of the mentees",
        ),
        ({"mentors": [{"id": "x", "capacity": -1}]}, "mentors.0.capacity"),
        ({"pairs": [{"mentee": "a", "mentor": "x", "score": "high"}]}, "pairs.0.score"),
        ({"pairs": None}, "give either pairs, or a scheme"),
        (
            {
                "pairs": [
                    {"mentee": "a", "mentor": "x", "score": 1},
                    {"mentee": "a", "mentor": "x", "score": 2},
                ]
            },
            "pairs.1: this pair is listed twice",
        ),
        (
            {"pairs": [{"mentee": "a", "mentor": "x", "score": 1, "weight": 2}]},
            "pairs.0.weight: Extra inputs",
        ),
        ({"pairs": [{"mentee": "a", "mentor": "x"}]}, "pairs.0.score: Field required"),
        (
            {"pairs": [{"mentee": "a", "mentor": 7, "score": 1}]},
            "pairs.0.mentor: Input should be a valid string",
        ),
        (
            {"pairs": [{"mentee": "a", "mentor": "x", "score": True}]},
            "pairs.0.score: Input should be a valid",
        ),
        ({"pairs": [["a", "x", 1]]}, "pairs.0: a pair is an object"),
        ({"pairs": "every pair"}, "pairs: a list of pairs"),
    ],
)
def test_a_bad_instance_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(INSTANCE | change))

    assert main([str(path)]) == 2
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"mentees": [')

    assert main([str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_whole_number_scores_stay_exact_for_large_cohorts() -> None:
    # Whole-number scores are counted in ones, not millionths: 3,000 mentees with scores up to
    # 2,000 would overflow the integers floating point holds exactly if counted in millionths.
    n, m = 3_000, 1_000
    mentee = np.repeat(np.arange(n), 2)
    mentor = (mentee * 7 + np.tile([0, 1], n) * 3) % m
    score = ((mentee * 13 + mentor) % 2_001).astype(float)
    solution = solve(n, [2] * m, Pairs.of(mentee, mentor, score))
    assert solution.certified_optimal
    assert solution.matched == min(n, 2 * m)
