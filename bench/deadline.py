"""The deadline run on the local stack: a cohort of 40 mentees (and 20 mentors) through the HTTP
API, then the recruitment deadline, timed from the event to matching done with its emails queued,
and to the last email sent. Results go to bench/RESULTS.md."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.results import measured, write_section
from infrastructure.local import demo_data
from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

MENTEES, MENTORS, RUNS = 40, 20, 3


def one_run(runtime: LocalRuntime, api: ApiClient, n: int) -> tuple[float, float, int]:
    deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    cohort_id = f"bench-{n}-{deadline:%H%M%S}"
    api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": "b-mentor-professional", "name": "Bench cohort",
        "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
    })  # fmt: skip
    intake = demo_data.intake(cohort_id, mentees=MENTEES, mentors=MENTORS, seed=n)
    for submission in intake.web_form:
        api.apply(submission)
    keys = {code: key["value"] for code, key in runtime.partner_keys().items()}
    for institution, batch in intake.partner_batches.items():
        api.partner_batch(keys[institution], batch)
    runtime.wait_until_drained()
    started = time.perf_counter()
    runtime.put_event(
        "mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": cohort_id}, wait=True
    )
    queued = time.perf_counter() - started
    runtime.wait_until_drained()
    sent = time.perf_counter() - started
    matches = len(api.signed("GET", f"/cohorts/{cohort_id}/matches").body["matches"])
    return queued, sent, matches


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalRuntime(
            api_port=free_port(),
            aws_port=free_port(),
            outbox=None,
            logs=Path(folder) / "logs",
            log=lambda _: None,
            rate_limits=False,
        ) as runtime,
    ):
        api = ApiClient(runtime.api_url)
        rows = [one_run(runtime, api, n) for n in range(RUNS)]
    lines = [
        measured("make bench"),
        "",
        f"A B-MEntor Professional cohort of {MENTEES} mentees and {MENTORS} mentors (some of them",
        "ineligible, as in the demo) submitted through the local API and processed by intake; then the",
        "RecruitmentDeadlineReached event. *Queued*: from the event to the matching function's return,",
        "matches stored and every result email on the notify queue. *Sent*: until the notify queue is",
        "drained and every email has gone through SES (moto). Each run is a new cohort on one stack.",
        "",
        "| run | queued (s) | sent (s) | pairs |",
        "|---:|---:|---:|---:|",
        *[f"| {n + 1} | {q:.2f} | {s:.2f} | {m} |" for n, (q, s, m) in enumerate(rows)],
        "",
        "Target: the deadline run for 40 mentees finishes, emails queued, in under 5 seconds.",
    ]
    write_section("Deadline run on the local stack", lines)
    for n, (q, s, m) in enumerate(rows):
        print(f"run {n + 1}: queued {q:.2f}s, sent {s:.2f}s, {m} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
