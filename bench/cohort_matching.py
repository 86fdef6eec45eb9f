"""The matching step as the matching function runs it: hard rules and scoring in Python for every
mentee-mentor pair, then the engine. Generated B-MEntor Professional cohorts; each size in its own
process for its peak memory. It tells up to what cohort size matching fits in the function's
timeout and memory (template.yaml). Results go to bench/RESULTS.md."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime

from mentoring.eligibility import decide
from mentoring.institutions import common_grade
from mentoring.matching import match_cohort
from mentoring.models import Applicant, Application, MatchingProfile, Role, SelfIdentification
from mentoring.scheme import get_scheme

from bench.results import measured, write_section
from infrastructure.local.demo_data import GOALS, INSTITUTIONS, SKILLS

SIZES = [250, 1_000, 2_000, 4_000]


def application(rng: random.Random, n: int, role: Role) -> Application:
    institution = rng.choice(INSTITUTIONS)
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
    scheme = get_scheme("b-mentor-professional")
    return Application(
        application_id=f"{role.value}-{n:06d}", cohort_id="bench", scheme_id=scheme.id, role=role,
        channel="web_form", applicant=person, self_identification=answers, profile=profile,
        eligibility=decide(scheme, role, person, answers.answers | profile.answers),
        common_grade=common_grade(institution, grade), received_at=datetime.now(UTC),
    )  # fmt: skip


def run_one(n: int) -> dict[str, object]:
    rng = random.Random(n)  # noqa: S311 - synthetic data
    mentees = [application(rng, k, Role.MENTEE) for k in range(n)]
    mentors = [application(rng, n + k, Role.MENTOR) for k in range(n // 2)]
    started = time.perf_counter()
    result = match_cohort(get_scheme("b-mentor-professional"), "bench", mentees, mentors)
    seconds = time.perf_counter() - started
    return {
        "mentees": n,
        "mentors": n // 2,
        "seconds": round(seconds, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "matched": len(result.matches),
        "certified": result.certified_optimal,
    }


def main() -> int:
    if len(sys.argv) > 1:
        print(json.dumps(run_one(int(sys.argv[1]))))
        return 0
    rows = []
    for size in SIZES:
        command = [sys.executable, "-m", "bench.cohort_matching", str(size)]
        out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 - our own module
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    lines = [
        measured("make bench"),
        "",
        "`match_cohort` on generated B-MEntor Professional cohorts (half as many mentors as mentees):",
        "every pair checked against the hard rules and scored in Python, then solved and certified.",
        "Applications are built before the clock starts; reading them from DynamoDB is not included.",
        "",
        "| mentees | mentors | time (s) | peak memory (MB) | matched | certified optimal |",
        "|---:|---:|---:|---:|---:|:---:|",
        *[
            f"| {r['mentees']:,} | {r['mentors']:,} | {r['seconds']} | {r['peak_mb']:,} | {r['matched']:,} "
            f"| {'yes' if r['certified'] else 'no'} |"
            for r in rows
        ],
    ]
    write_section("Matching step in the matching function", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
