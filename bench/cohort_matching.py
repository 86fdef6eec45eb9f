"""The matching step as the matching function runs it, at national scale, against the engine alone.

Generated B-MEntor Professional cohorts (its real hard rule and scores: a mentor at another
partner university, points for skills and career goals shared), half as many mentors as mentees.
In one process per size, so that its peak memory is its own:

1. the applications are built (not timed); the process's resident memory then is *applications*;
2. ``match_cohort``, as the function calls it: the pairs built block by block from the scheme's
   rules and scores, solved and certified by the engine, each match explained and each unmatched
   mentee's reason found. Its time, and the peak memory of the process until then;
3. the engine alone on the same pairs: they are written once into a compact matrix (a byte a pair:
   the score, or "not allowed"), then timed as the engine streams them from it. Both must reach
   the same certified optimum.

The template's memory and timeout for the matching function are printed beside the figures:
the 50,000-mentee run must fit both. Results go to bench/RESULTS.md.

    python -m bench.cohort_matching [--sizes 4000 20000 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from mentoring.eligibility import decide
from mentoring.institutions import common_grade
from mentoring.matching import Cohort, match_cohort
from mentoring.matching.engine import FORBIDDEN, SCALE, Dense, solve
from mentoring.matching.pairs import CohortPairs
from mentoring.models import Applicant, Application, MatchingProfile, Role, SelfIdentification
from mentoring.scheme import get_scheme

from bench.results import load_average, measured, write_section
from infrastructure.local import template as tpl
from infrastructure.local.demo_data import GOALS, SKILLS

SIZES = [4_000, 20_000, 50_000]
SCHEME = "b-mentor-professional"


def application(rng: random.Random, n: int, role: Role) -> Application:
    scheme = get_scheme(SCHEME)
    institution = rng.choice(scheme.institutions)
    grade = str(rng.choice([5, 6, 7])) if role is Role.MENTEE else str(rng.choice([8, 9, 10]))
    if institution == "SGUL":
        grade = f"Band {grade if grade != '8' else '8a'}"
    person = Applicant(
        given_name=f"P{n}", family_name="Bench", email=f"p{n}@example.ac.uk", institution=institution,
        department=rng.choice(["Finance", "Registry", "Estates"]), job_title="Officer", grade=grade,
    )  # fmt: skip
    answers = SelfIdentification(minority_ethnic_background="yes", staff_group="professional_services")
    profile = MatchingProfile(
        skills=rng.sample(SKILLS, 3), career_goals=rng.sample(GOALS, 2),
        **({"capacity": rng.choice([1, 2])} if role is Role.MENTOR else {}),
    )  # fmt: skip
    return Application(
        application_id=f"{role.value}-{n:06d}", cohort_id="bench", scheme_id=scheme.id, role=role,
        channel="web_form", applicant=person, self_identification=answers, profile=profile,
        eligibility=decide(scheme, role, person, answers.answers | profile.answers),
        common_grade=common_grade(institution, grade), received_at=datetime.now(UTC),
    )  # fmt: skip


def _rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_one(n: int) -> dict[str, Any]:
    rng = random.Random(n)  # noqa: S311 - synthetic data
    mentees = [application(rng, k, Role.MENTEE) for k in range(n)]
    mentors = [application(rng, n + k, Role.MENTOR) for k in range(n // 2)]
    scheme = get_scheme(SCHEME)
    applications_mb = _rss_mb()
    load = load_average()
    started = time.perf_counter()
    result = match_cohort(scheme, "bench", mentees, mentors)
    step_seconds = time.perf_counter() - started
    step_peak = _peak_mb()

    # The engine alone, on the same pairs, written once into a byte a pair.
    cohort = Cohort.of(scheme, mentees, mentors)
    pairs = CohortPairs(scheme, cohort.mentee_views, cohort.mentor_views)
    unit = pairs.unit or 1
    stored = np.empty((pairs.n_mentees, pairs.n_mentors), dtype=np.uint8)
    allowed = 0
    for block in pairs.blocks():
        rows = block.value.shape[0]
        units = np.where(block.allowed, block.value / unit, 255)
        if units.max(initial=0) > 255 or (units[block.allowed] >= 255).any():
            raise SystemExit("scores too large for a byte each")
        stored[block.first : block.first + rows] = units
        allowed += int(block.allowed.sum())
    rows_per_block = pairs.rows

    def source() -> Any:
        for start in range(0, stored.shape[0], rows_per_block):
            part = stored[start : start + rows_per_block]
            yield Dense(start, np.where(part == 255, FORBIDDEN * 2, part * float(unit)))

    engine_load = load_average()
    started = time.perf_counter()
    alone = solve(len(cohort.mentees), cohort.capacity, source=source, unit=pairs.unit)
    engine_seconds = time.perf_counter() - started
    matched_score = round(sum(m.score for m in result.matches), 6)
    return {
        "mentees": n,
        "mentors": n // 2,
        "allowed": allowed,
        "applications_mb": applications_mb,
        "seconds": round(step_seconds, 1),
        "peak_mb": step_peak,
        "matched": len(result.matches),
        "score": matched_score,
        "certified": result.certified_optimal,
        "engine_seconds": round(engine_seconds, 1),
        "engine_matched": alone.matched,
        "engine_score": round(alone.total_score, 6),
        "engine_certified": alone.certified_optimal,
        "rounds": alone.rounds,
        "load": load,
        "engine_load": engine_load,
        "scale": SCALE,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, help="run one size in this process and print its row as JSON")
    parser.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    args = parser.parse_args()
    if args.size:
        print(json.dumps(run_one(args.size)))
        return 0
    rows = []
    for size in args.sizes:
        command = [sys.executable, "-m", "bench.cohort_matching", "--size", str(size)]
        out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 - our own module
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    memory, timeout = function_limits("MatchingFunction")
    lines = [
        measured("make bench"),
        "",
        "`match_cohort` as the matching function runs it, on generated B-MEntor Professional cohorts",
        "with the scheme's real hard rule (a mentor at another of the five partners) and scores",
        "(2 x skills shared + career goals shared), half as many mentors as mentees (capacity 1-2).",
        "*Step*: building the pairs block by block, solving and certifying, explaining each match",
        "and finding each unmatched mentee's reason; peak memory is the process's, the applications",
        "included (*applications*: resident memory once they were built). *Engine alone*: the same",
        "pairs, stored a byte each beforehand, streamed to the engine. *Same optimum*: the same",
        "mentees matched with the same total score, both certified. *Load*: the 1-minute load",
        "average when each started (2 cores shared with other work).",
        "",
        f"The matching function has {memory:,} MB and {timeout} s (`template.yaml`).",
        "",
        "| mentees | mentors | allowed pairs | step (s) | peak memory (MB) | applications (MB) "
        "| engine alone (s) | step / engine | rounds | matched | total score | same optimum, certified "
        "| load (step, engine) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|",
        *[
            f"| {r['mentees']:,} | {r['mentors']:,} | {r['allowed']:,} | {r['seconds']} | {r['peak_mb']:,} "
            f"| {r['applications_mb']:,} | {r['engine_seconds']} | {r['seconds'] / r['engine_seconds']:.1f} "
            f"| {r['rounds']} | {r['matched']:,} | {r['score']:,} "
            f"| {_same(r)} | {r['load']}, {r['engine_load']} |"
            for r in rows
        ],
    ]
    write_section("Matching step in the matching function", lines)
    return 0


def function_limits(name: str) -> tuple[int, int]:
    """A function's memory (MB) and timeout (s) as the template gives them."""
    template = tpl.read(tpl.TEMPLATE).template
    defaults = template.get("Globals", {}).get("Function", {})
    properties = template["Resources"][name]["Properties"]
    return (
        int(properties.get("MemorySize", defaults.get("MemorySize", 128))),
        int(properties.get("Timeout", defaults.get("Timeout", 3))),
    )


def _same(row: dict[str, Any]) -> str:
    same = (row["matched"], row["score"]) == (row["engine_matched"], row["engine_score"])
    return "yes" if same and row["certified"] and row["engine_certified"] else "**no**"


if __name__ == "__main__":
    raise SystemExit(main())
