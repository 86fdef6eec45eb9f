"""``make bench``: the matching engine on generated cohorts, in-process, timed and measured.

Cohorts of 100, 1,000, 10,000 and 50,000 mentees with half as many mentors (capacity 1-3), 5% of
pairs allowed with random scores, fixed seed. Pairs are generated block by block from the seed, so
a pass over them needs no memory for the whole set; generating and scoring them is in the time.
Each size runs in its own process, so the peak memory (ru_maxrss) is that size's own. Results go
to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
from mentoring.matching.engine import Pairs, greedy, solve

from bench.results import measured, write_section

SIZES = [100, 1_000, 10_000, 50_000]
DENSITY = 0.05
SEED = 2027
BLOCK_CELLS = 4_000_000  # mentee x mentor cells generated at once
CANDIDATES = 24


def capacities(n_mentors: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(1, 4, n_mentors)


def pair_source(n_mentees: int, n_mentors: int) -> Iterator[Pairs]:
    """Every allowed pair, block by block; each block from its own seed, so every pass is the same."""
    rows = max(1, BLOCK_CELLS // n_mentors)
    for block, start in enumerate(range(0, n_mentees, rows)):
        rng = np.random.default_rng([SEED, block])
        stop = min(n_mentees, start + rows)
        allowed = rng.random((stop - start, n_mentors), dtype=np.float32) < DENSITY
        mentee, mentor = np.nonzero(allowed)
        yield Pairs(mentee.astype(np.int64) + start, mentor.astype(np.int64), rng.random(mentee.size))


def run_one(n_mentees: int) -> dict[str, object]:
    n_mentors = n_mentees // 2
    capacity = capacities(n_mentors)
    started = time.perf_counter()
    solution = solve(
        n_mentees, capacity, source=lambda: pair_source(n_mentees, n_mentors), candidates=CANDIDATES
    )
    engine_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The greedy baseline needs every pair at once; it runs after the engine's peak is read.
    started = time.perf_counter()
    every = Pairs.concat(list(pair_source(n_mentees, n_mentors)))
    baseline = greedy(n_mentees, capacity, every)
    greedy_seconds = time.perf_counter() - started
    return {
        "mentees": n_mentees,
        "mentors": n_mentors,
        "allowed_pairs": solution.allowed_pairs,
        "candidate_pairs": solution.candidate_pairs,
        "rounds": solution.rounds,
        "seconds": round(engine_seconds, 2),
        "peak_mb": round(peak_mb),
        "certified": solution.certified_optimal,
        "matched": solution.matched,
        "score": round(solution.total_score, 3),
        "greedy_matched": baseline.matched,
        "greedy_score": round(baseline.total_score, 3),
        "greedy_seconds": round(greedy_seconds, 2),
    }


def write(rows: list[dict[str, object]], command: str) -> None:
    lines = [
        measured(command),
        "",
        "Generated cohorts: half as many mentors as mentees, capacity 1-3, 5% of pairs allowed,",
        f"random scores, seed {SEED}. The engine solves each mentee's best {CANDIDATES} pairs, then",
        "proves the result against every allowed pair with its dual prices (adding back any pair that",
        "could improve it, and solving again: the rounds). Time includes generating and scoring every",
        "pair on each pass over them. Peak memory is the process's maximum resident set (`ru_maxrss`),",
        "one process per size, read before the greedy baseline runs. The greedy baseline picks pairs",
        "best score first, as weighted-score tools do, in the same process.",
        "",
        "| mentees | mentors | allowed pairs | candidate pairs | rounds | time (s) | peak memory (MB) "
        "| certified optimal | matched | total score | greedy matched | greedy score |",
        "|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mentees']:,} | {r['mentors']:,} | {r['allowed_pairs']:,} | {r['candidate_pairs']:,} "
            f"| {r['rounds']} | {r['seconds']} | {r['peak_mb']:,} | {'yes' if r['certified'] else 'no'} "
            f"| {r['matched']:,} | {r['score']:,} | {r['greedy_matched']:,} | {r['greedy_score']:,} |"
        )
    lines += [
        "",
        "Target: 50,000 x 25,000 (62 million allowed pairs) certified optimal in under 60 s and 3 GB.",
    ]
    write_section("Matching engine", lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, help="run one size in this process and print its row as JSON")
    parser.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    args = parser.parse_args()
    if args.size:
        print(json.dumps(run_one(args.size)))
        return 0
    rows = []
    for size in args.sizes:
        command = [sys.executable, "-m", "bench.matching", "--size", str(size)]
        out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 - our own module
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(row, flush=True)
        rows.append(row)
    write(rows, "make bench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
