"""``make bench``: the engine against what a user would pick instead, on the same instances.

Generated instances: half as many mentors as mentees, capacity 1-3, 5% of pairs allowed, fixed
seed, block by block (so a pass over them needs no memory for the whole set). Scores are whole
numbers like the schemes' (two criteria of weights 2 and 1 counting shared answers: 0 to 8, most
pairs low, many ties) or continuous (uniform in [0, 1)). On each instance, each in a process of its
own so that its peak memory (``ru_maxrss``) is its own:

- the engine streaming the pairs in dense blocks (the matching function's way), generating them
  on every pass (that time is in);
- the engine given every pair as a list in memory (``python -m mentoring.matching``'s way);
- scipy's ``min_weight_full_bipartite_matching`` over every pair (the engine's own assignment
  matrix: a column per unit of capacity and an "unmatched" column per mentee);
- OR-Tools' ``SimpleMinCostFlow`` over every pair (source -> mentee -> mentor -> sink, plus an
  "unmatched" arc per mentee), in a benchmark-only virtualenv (``make bench-env``; it is not a
  project dependency), reading the instance from a file.

The three given a list are timed from the list in memory to the answer; every exact solver must
reach the same optimum (mentees matched, total score). A greedy best-score-first pick (what
weighted-score tools do) runs on the list after the engine, for comparison. Results go to
bench/RESULTS.md.

    python -m bench.matching [--sizes 2000 20000 50000] [--kinds whole continuous]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from mentoring.matching.engine import SCALE, Dense, Pairs, _assign, _Costs, greedy, solve

from bench.results import load_average, measured, write_section

SIZES = [2_000, 20_000, 50_000]
KINDS = ["whole", "continuous"]
DENSITY = 0.05
SEED = 2027
BLOCK_CELLS = 1 << 20
ORTOOLS_PYTHON = Path("build/bench-env/bin/python")
INSTANCES = Path("build/bench-instances")
MEMORY_CAP = 12 * 2**30  # address space a solver may take before it is called out of memory

# Scores like a scheme's: 2 x (skills shared, 0-3) + 1 x (goals shared, 0-2), as binomials.
_SKILLS = np.array([0.343, 0.441, 0.189, 0.027])  # 3 draws at 0.3
_GOALS = np.array([0.49, 0.42, 0.09])  # 2 draws at 0.3
_WHOLE = np.add.outer(2 * np.arange(4), np.arange(3)).ravel()
_WHOLE_P = np.outer(_SKILLS, _GOALS).ravel()
_TABLE = _WHOLE[np.minimum(np.searchsorted(np.cumsum(_WHOLE_P), (np.arange(256) + 0.5) / 256), 11)]


def capacities(n_mentors: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(1, 4, n_mentors)


def _blocks(n_mentees: int, n_mentors: int, kind: str) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first mentee, allowed cells, their scores), block by block, each from its own seed."""
    rows = max(1, BLOCK_CELLS // n_mentors)
    for block, start in enumerate(range(0, n_mentees, rows)):
        rng = np.random.default_rng([SEED, block])
        stop = min(n_mentees, start + rows)
        allowed = rng.random((stop - start, n_mentors), dtype=np.float32) < DENSITY
        count = int(allowed.sum())
        if kind == "whole":
            score = _TABLE[rng.integers(0, 256, count, dtype=np.uint8)].astype(np.float64)
        else:
            score = np.round(rng.random(count), 6)
        yield start, allowed, score


def dense_source(n_mentees: int, n_mentors: int, kind: str) -> Iterator[Dense]:
    for start, allowed, score in _blocks(n_mentees, n_mentors, kind):
        value = np.full(allowed.shape, -np.inf)
        value[allowed] = np.rint(score * SCALE)
        yield Dense(start, value)


def pair_list(n_mentees: int, n_mentors: int, kind: str) -> Pairs:
    parts = []
    for start, allowed, score in _blocks(n_mentees, n_mentors, kind):
        mentee, mentor = np.nonzero(allowed)
        parts.append(Pairs(mentee.astype(np.int64) + start, mentor.astype(np.int64), score))
    return Pairs.concat(parts)


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _costs(n: int, pairs: Pairs) -> _Costs:
    """The engine's exact integer costs, for the solvers given every pair."""
    unit = SCALE if (pairs.millionths % SCALE == 0).all() else 1
    return _Costs.for_millionths(min(0, int(pairs.millionths.min())), int(pairs.millionths.max()), n, unit)


def run(solver: str, n: int, kind: str) -> dict[str, Any]:
    m = n // 2
    capacity = capacities(m)
    row: dict[str, Any] = {"solver": solver, "mentees": n, "mentors": m, "kind": kind}
    if solver == "engine, streaming":
        started = time.perf_counter()
        solution = solve(n, capacity, source=lambda: dense_source(n, m, kind))
        row |= {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rounds": solution.rounds}
        row |= {"allowed": solution.allowed_pairs, "certified": solution.certified_optimal}
        return row | {"matched": solution.matched, "score": round(solution.total_score, 6)}
    pairs = pair_list(n, m, kind)
    row["allowed"] = len(pairs)
    before = _peak_mb()
    if solver == "engine, list":
        started = time.perf_counter()
        solution = solve(n, capacity, pairs)
        row |= {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rounds": solution.rounds}
        row |= {"certified": solution.certified_optimal, "list_mb": before}
        row |= {"matched": solution.matched, "score": round(solution.total_score, 6)}
        baseline = greedy(n, capacity, pairs)
        return row | {"greedy_matched": baseline.matched, "greedy_score": round(baseline.total_score, 6)}
    if solver == "scipy, every pair":
        started = time.perf_counter()
        mentor_of = _assign(n, capacity, pairs, _costs(n, pairs))
        row |= {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "list_mb": before}
        chosen = mentor_of[pairs.mentee] == pairs.mentor
        return row | {
            "matched": int((mentor_of >= 0).sum()),
            "score": round(float(pairs.score[chosen].sum()), 6),
        }
    raise ValueError(solver)


def write_instance(n: int, kind: str) -> Path:
    """The instance as OR-Tools' runner reads it: integer costs, capacities, the unmatched cost."""
    m = n // 2
    pairs = pair_list(n, m, kind)
    costs = _costs(n, pairs)
    INSTANCES.mkdir(parents=True, exist_ok=True)
    path = INSTANCES / f"{kind}-{n}.npz"
    np.savez(
        path,
        mentee=pairs.mentee.astype(np.int32),
        mentor=pairs.mentor.astype(np.int32),
        cost=costs.of(pairs.score),
        score=pairs.millionths,
        capacity=capacities(m),
        mentees=np.int64(n),
        unmatched=np.int64(costs.unmatched),
    )
    return path


def _child(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """One solver in a process of its own, its address space capped; its row, or why not."""
    load = load_average()

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    done = subprocess.run(  # noqa: S603 - our own modules; the cap is set in the child only
        command, capture_output=True, text=True, check=False, env=env, preexec_fn=cap
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = "out of memory" if "MemoryError" in done.stderr or "bad_alloc" in done.stderr else "failed"
        return {
            "error": f"{reason} (cap {MEMORY_CAP / 2**30:.0f} GB)",
            "stderr": done.stderr[-500:],
            "load": load,
        }
    row: dict[str, Any] = json.loads(lines[-1])
    return row | {"load": load}


def compare(n: int, kind: str) -> list[dict[str, Any]]:
    rows = []
    for solver in ("engine, streaming", "engine, list", "scipy, every pair"):
        row = _child(
            [sys.executable, "-m", "bench.matching", "--run", solver, "--size", str(n), "--kind", kind]
        )
        rows.append({"solver": solver, "mentees": n, "kind": kind} | row)
        print(rows[-1], flush=True)
    if ORTOOLS_PYTHON.exists():
        path = write_instance(n, kind)
        row = _child([str(ORTOOLS_PYTHON), "bench/ortools_flow.py", str(path)], env={**os.environ})
        rows.append({"solver": "OR-Tools, min-cost flow", "mentees": n, "kind": kind} | row)
        path.unlink()
    else:
        rows.append(
            {
                "solver": "OR-Tools, min-cost flow",
                "mentees": n,
                "kind": kind,
                "error": "not run: make bench-env",
            }
        )
    print(rows[-1], flush=True)
    return rows


def write(rows: list[dict[str, Any]], command: str) -> None:
    lines = [
        measured(command),
        "",
        "Generated instances: half as many mentors as mentees, capacity 1-3, 5% of pairs allowed, seed",
        f"{SEED}. *Whole*: scores like the schemes' (2 x shared skills + shared goals, 0-8, mostly low:",
        "many ties); *continuous*: uniform in [0, 1). Each solver in a process of its own: peak memory",
        "is its maximum resident set. *Engine, streaming*: dense blocks generated on every pass (that",
        "time is in); the others are timed from every pair in memory (*list* is that list's size) to",
        "the answer. scipy is `min_weight_full_bipartite_matching` on the engine's own assignment",
        "matrix over every pair; OR-Tools is `SimpleMinCostFlow` (benchmark-only virtualenv). The",
        "engine solves each mentee's best 24 pairs and each mentor's best few, then proves the result",
        "against every pair (*rounds*: solves until nothing could improve it). *Same optimum*: the",
        "mentees matched and the total score equal the engine's. *Load*: the machine's 1-minute load",
        "average when the solver started (2 cores shared with other work).",
        "",
        "| scores | mentees | mentors | allowed pairs | solver | time (s) | peak memory (MB) | list (MB) "
        "| rounds | matched | total score | same optimum | load |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|:---:|---:|",
    ]
    reference: dict[tuple[str, int], tuple[int, float]] = {}
    for r in rows:
        key = (r["kind"], r["mentees"])
        if r["solver"] == "engine, streaming" and "matched" in r:
            reference[key] = (r["matched"], r["score"])
        if "error" in r:
            lines.append(
                f"| {r['kind']} | {r['mentees']:,} | {r['mentees'] // 2:,} | | {r['solver']} "
                f"| {r['error']} | | | | | | | {r.get('load', '')} |"
            )
            continue
        same = reference.get(key) == (r["matched"], r["score"])
        lines.append(
            f"| {r['kind']} | {r['mentees']:,} | {r['mentors']:,} | {r['allowed']:,} | {r['solver']} "
            f"| {r['seconds']:.2f} | {r['peak_mb']:,} | {_mb(r.get('list_mb'))} "
            f"| {r.get('rounds', '')} | {r['matched']:,} | {r['score']:,} | {'yes' if same else '**no**'} "
            f"| {r['load']} |"
        )
    greedy_rows = [r for r in rows if "greedy_matched" in r]
    if greedy_rows:
        lines += ["", "Greedy best-score-first on the same lists (what weighted-score tools do):", ""]
        lines += ["| scores | mentees | engine matched | engine score | greedy matched | greedy score |"]
        lines += ["|---|---:|---:|---:|---:|---:|"]
        lines += [
            f"| {r['kind']} | {r['mentees']:,} | {r['matched']:,} | {r['score']:,} | {r['greedy_matched']:,} "
            f"| {r['greedy_score']:,} |"
            for r in greedy_rows
        ]
    write_section("Matching engine against scipy and OR-Tools", lines)


def _mb(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", help="run one solver in this process and print its row as JSON")
    parser.add_argument("--size", type=int)
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    parser.add_argument("--kinds", nargs="*", default=KINDS, choices=KINDS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.size, args.kind)))
        return 0
    rows = [row for n in args.sizes for kind in args.kinds for row in compare(n, kind)]
    write(rows, "make bench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
