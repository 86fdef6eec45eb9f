"""OR-Tools' min-cost flow on an instance written by ``bench.matching`` (run by the benchmark-only
virtualenv's Python, ``make bench-env``: OR-Tools is not a dependency of the project).

Source -> each mentee (capacity 1), mentee -> mentor (capacity 1, the pair's integer cost),
mentor -> sink (the mentor's capacity), and mentee -> sink directly at the "unmatched" cost, as
in the engine's model: the most mentees matched, then the largest total score. Prints one JSON
row: time from the arrays in memory to the answer, peak memory, mentees matched, total score.

    build/bench-env/bin/python bench/ortools_flow.py INSTANCE.npz
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
from ortools.graph.python import min_cost_flow


def main(path: str) -> int:
    data = np.load(path)
    mentee, mentor, cost = data["mentee"].astype(np.int64), data["mentor"].astype(np.int64), data["cost"]
    capacity, unmatched = data["capacity"].astype(np.int64), int(data["unmatched"])
    n, m = int(data["mentees"]), capacity.size
    before = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    started = time.perf_counter()
    source, sink = n + m, n + m + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    people = np.arange(n, dtype=np.int64)
    tails = np.concatenate([np.full(n, source), mentee, n + np.arange(m), people])
    heads = np.concatenate([people, n + mentor, np.full(m, sink), np.full(n, sink)])
    capacities = np.concatenate(
        [np.ones(n + mentee.size, dtype=np.int64), capacity, np.ones(n, dtype=np.int64)]
    )
    costs = np.concatenate(
        [np.zeros(n, dtype=np.int64), cost, np.zeros(m, dtype=np.int64), np.full(n, unmatched)]
    )
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    flow.set_nodes_supplies(np.array([source, sink]), np.array([n, -n]))
    status = flow.solve()
    seconds = time.perf_counter() - started
    if status != flow.OPTIMAL:
        print(json.dumps({"error": f"min-cost flow status {status}"}))
        return 1
    used = flow.flows(arcs[n : n + mentee.size]) > 0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "list_mb": before,
                "mentors": m,
                "allowed": int(mentee.size),
                "matched": int(used.sum()),
                "score": round(float(data["score"][used].sum()) / 1_000_000, 6),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
