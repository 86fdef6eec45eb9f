"""The deadline run of a national cohort on the local stack, stage by stage.

A B-MEntor Professional cohort is opened through the admin API; its applicants (20,000 by default:
two mentees for each mentor, a few of them ineligible) are put in the Applications table as intake
stores them (the load run, ``make bench-load``, sends applications through the API; this one is
about the deadline). Then the RecruitmentDeadlineReached event, and the pipeline runs as deployed:
the matching function reads the cohort, matches it, stores every match and reason, and queues every
notification; notify sends the emails through SES (moto). The run is timed stage by stage (the
matching function's own timings of reading, matching, storing and queueing; then until the last
email is sent), the matching function's peak memory is read from its execution environment, and
everything is checked: every match stored, every eligible person emailed once, nothing on a
dead-letter queue. Results go to bench/RESULTS.md; exit status 1 when a check fails.

    python -m bench.deadline [--applicants 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from mentoring.adapters.dynamodb import application_item
from mentoring.models import Application, Role

from bench.cohort_matching import application, function_limits
from bench.results import load_average, measured, write_section
from infrastructure.local.__main__ import email_kind
from infrastructure.local.client import ApiClient
from infrastructure.local.provision import sent_emails
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

SCHEME = "b-mentor-professional"
COORDINATOR = "edi-national@example.ac.uk"
CONCURRENCY = 2  # execution environments a function may have on this machine, as in the load run


def applicants(cohort_id: str, count: int) -> list[Application]:
    rng = random.Random(count)  # noqa: S311 - synthetic data
    mentors = count // 3
    people = [application(rng, k, Role.MENTEE) for k in range(count - mentors)]
    people += [application(rng, count + k, Role.MENTOR) for k in range(mentors)]
    # Ids as intake gives them (hexadecimal digests), which the cohort's read splits into ranges.
    return [
        a.model_copy(
            update={
                "cohort_id": cohort_id,
                "application_id": hashlib.sha256(a.application_id.encode()).hexdigest(),
            }
        )
        for a in people
    ]


def seed(runtime: LocalRuntime, table: str, people: list[Application]) -> None:
    """The applications as intake stores them, 25 to a batch write."""
    dynamodb = runtime.client("dynamodb")
    items = [application_item(a) for a in people]
    for start in range(0, len(items), 25):
        requests: dict[str, Any] = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems", {})


def count_items(runtime: LocalRuntime, table: str, cohort_id: str, prefix: str) -> list[dict[str, Any]]:
    paginator = runtime.client("dynamodb").get_paginator("query")
    return [
        item
        for page in paginator.paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}, ":p": {"S": prefix}},
        )
        for item in page["Items"]
    ]


def result_emails_sent(runtime: LocalRuntime) -> Counter[str]:
    """How many emails (other than acknowledgements) SES accepted for each address."""
    sent: Counter[str] = Counter()
    for _, raw in sent_emails(runtime.aws_endpoint, timeout=600):
        message = message_from_bytes(raw)
        if email_kind(str(message["Subject"])) != "acknowledgement":
            sent[str(message["To"])] += 1
    return sent


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - the run's steps, then its report
    parser = argparse.ArgumentParser(prog="python -m bench.deadline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=20_000)
    parser.add_argument(
        "--logs", type=Path, default=Path("build/logs/bench-deadline"), help="functions' logs"
    )
    args = parser.parse_args(argv)
    returns: list[dict[str, Any]] = []

    def log(line: str) -> None:
        if line.startswith("MatchingFunction: {"):
            returns.append(json.loads(line.split(": ", 1)[1]))
        elif any(word in line for word in ("failed", "dead-letter", "timed out", "crashed")):
            print(line, flush=True)

    with (
        LocalRuntime(
            api_port=free_port(),
            aws_port=free_port(),
            outbox=None,
            logs=args.logs,
            log=log,
            concurrency=CONCURRENCY,
            rate_limits=False,  # the WAF's limits are not what is measured
        ) as runtime,
    ):
        api = ApiClient(runtime.api_url)
        deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        cohort_id = f"national-{deadline:%H%M%S}"
        reply = api.signed("POST", "/cohorts", {
            "cohort_id": cohort_id, "scheme_id": SCHEME, "name": "National cohort",
            "recruitment_deadline": deadline.isoformat(), "coordinator_email": COORDINATOR,
        })  # fmt: skip
        if reply.status != 201:
            raise SystemExit(f"could not open the cohort: {reply.status} {reply.body}")
        table = runtime.physical["ApplicationsTable"]["Ref"]
        people = applicants(cohort_id, args.applicants)
        started = time.perf_counter()
        seed(runtime, table, people)
        seeded = time.perf_counter() - started
        print(f"{len(people):,} applications stored in {seeded:.0f} s; the deadline", flush=True)

        load_at_event = load_average()
        started = time.perf_counter()
        runtime.put_event(
            "mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": cohort_id}, wait=True
        )
        returned = time.perf_counter() - started
        peak_mb = runtime.functions["MatchingFunction"].peak_memory_mb()
        print(
            f"matching returned after {returned:.0f} s: {returns[-1] if returns else 'nothing'}", flush=True
        )
        try:
            runtime.wait_until_drained()
            drained = True
        except TimeoutError:
            drained = False
        sent_at = time.perf_counter() - started
        load_at_end = load_average()
        still_queued = runtime.queue_depths()["NotifyQueue"]
        print(f"{'every' if drained else 'not every'} email sent {sent_at:.0f} s after the event", flush=True)

        matches = count_items(runtime, table, cohort_id, "MATCH#")
        unmatched = count_items(runtime, table, cohort_id, "UNMATCHED#")
        outbox = Counter(i["status"]["S"] for i in count_items(runtime, table, cohort_id, "OUTBOX#"))
        eligible = [a for a in people if a.eligibility.eligible]
        expected = Counter({a.applicant.email: 1 for a in eligible}) + Counter({COORDINATOR: 1})
        sent = result_emails_sent(runtime)
        dead_letters = sum(runtime.dead_letter_counts().values())
    # The run's own answer: the cohort's schedule may fire again at its deadline during a long run,
    # and that invocation answers "already ran", without the stages.
    result = next((r for r in returns if r.get("ran")), returns[-1] if returns else {})
    stages = result.get("stages", {})
    memory, timeout = function_limits("MatchingFunction")
    checks = {
        "matches stored": (len(matches), result.get("matches")),
        "unmatched mentees stored with a reason": (
            len(unmatched),
            sum(1 for a in eligible if a.role is Role.MENTEE) - len(matches),
        ),
        "result emails expected (each eligible person, and the coordinator)": (
            sum(expected.values()),
            sum(expected.values()),
        ),
        "result emails SES accepted": (sum(sent.values()), sum(expected.values()) if drained else None),
        "people emailed twice": (sum(1 for n in sent.values() if n > 1), 0),
        "people not emailed": (sum((expected - sent).values()), 0 if drained else None),
        "notifications still on the notify queue": (still_queued, 0 if drained else None),
        "outbox records marked sent (one for each email SES accepted)": (
            outbox.get("sent", 0),
            sum(sent.values()),
        ),
        "outbox records left `sending`": (outbox.get("sending", 0), 0 if drained else None),
        "messages on a dead-letter queue": (dead_letters, 0),
    }
    ok = all(found == wanted for found, wanted in checks.values() if wanted is not None)
    mentees = sum(1 for a in people if a.role is Role.MENTEE)
    emails = sum(expected.values())
    accepted = sum(sent.values())
    if drained:
        last = f"| event to the last email sent | {sent_at:.0f} |"
        verdict = "**every match stored, every email sent once.**" if ok else "**PROBLEMS.**"
    else:
        last = (
            f"| event to when the pipeline stuck (nothing moved for a while): {accepted:,} of {emails:,} "
            f"emails sent, {accepted / sent_at:.1f} a second | {sent_at:.0f} |"
        )
        verdict = (
            f"**every match stored; {accepted:,} of {emails:,} emails sent, none twice, none on a "
            f"dead-letter queue; the other {still_queued:,} still queued when the benchmark stopped.**"
            if ok
            else "**PROBLEMS.**"
        )
    lines = [
        measured("make bench", " ".join(["python -m bench.deadline", *(argv or sys.argv[1:])])),
        "",
        f"A national B-MEntor Professional cohort: {len(people):,} applicants ({len(eligible):,} eligible; "
        f"{mentees:,} mentees, {len(people) - mentees:,} mentors), put in the Applications table as "
        f"intake stores them ({seeded:.0f} s), then the RecruitmentDeadlineReached event on the local "
        f"stack (moto, {CONCURRENCY} execution environments a function at most). Load average "
        f"{load_at_event} at the event, {load_at_end} at the end (2 cores shared with other work).",
        "",
        "| stage | seconds |",
        "|---|---:|",
        f"| matching function: read the cohort ({len(people):,} applications, 16 range queries at once) "
        f"| {stages.get('read', '-')} |",
        f"| matching function: match ({len(matches):,} pairs) | {stages.get('match', '-')} |",
        f"| matching function: store every match and reason ({len(matches) + len(unmatched):,} items) "
        f"| {stages.get('store', '-')} |",
        f"| matching function: queue every notification ({emails:,}) | {stages.get('queue', '-')} |",
        f"| event to the matching function's return (both deadline functions, cold) | {returned:.1f} |",
        last,
        "",
        f"The matching function's execution environment peaked at {peak_mb:,} MB resident "
        f"(the template gives it {memory:,} MB and {timeout} s).",
        "",
        "| check | found | expected |",
        "|---|---:|---:|",
        *[
            f"| {name} | {found:,} | {'-' if wanted is None else format(wanted, ',')} |"
            for name, (found, wanted) in checks.items()
        ],
        "",
        "Result: " + verdict,
    ]
    write_section("Deadline run of a national cohort on the local stack", lines)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
