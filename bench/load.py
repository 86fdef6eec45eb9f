"""The load run: ten thousand submissions through the local API, then the recruitment deadline.

Web-form posts and partner batches arrive mixed, from several clients at once, a few percent
malformed and a few sent twice (a double click, a partner's retry); the runtime's pollers run
intake and notify all the while, two execution environments each. Web-form applicants then
confirm from the links emailed to them (read from moto's SES), a few twice, and a few never (an
application nobody confirms must not count). Then each cohort's deadline schedule fires. The run
times each stage and checks the two promises an EDI team relies on: every accepted (and, from the
form, confirmed) submission is in the Applications table or on a dead-letter queue, none twice
and none unconfirmed, and every person has exactly the emails they should, none twice. After the
grace period for late monitoring answers (the hourly sweep, fired with the clock moved on), no
monitoring answer is left pending and no stored group is smaller than k.

    python -m bench.load [--submissions 10000] [--cohorts 25]

Results go to bench/RESULTS.md; the exit status is 1 when anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from mentoring.scheme import get_scheme

from bench.results import measured, write_section
from infrastructure.local import demo_data
from infrastructure.local.__main__ import email_kind
from infrastructure.local.client import ApiClient, Reply, confirmation_tokens
from infrastructure.local.provision import sent_emails
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port

SCHEME = "b-mentor-professional"
COORDINATOR = "edi-load@example.ac.uk"
PARTNER_BATCH = 20
CLIENTS = 8
MALFORMED_ONE_IN = 33  # about 3 %
REPEATED_ONE_IN = 50  # about 2 % of requests are sent a second time
UNCONFIRMED_ONE_IN = 40  # about 2.5 % of web-form applicants never confirm (invented, or lost interest)
CONFIRMED_TWICE_ONE_IN = 30  # about 3 % press the button again
CONCURRENCY = 2
LOGS = Path("build/load")  # the runtime's events and each function's log, kept for a look after


@dataclass
class Request:
    """One HTTP request of the load: a web-form post (one application) or a partner batch."""

    cohort_id: str
    institution: str | None  # the partner, for a batch
    applications: list[dict[str, Any]]
    malformed: list[bool]
    repeat: bool = False

    @property
    def channel(self) -> str:
        return "web_form" if self.institution is None else "partner"


@dataclass
class Tally:
    """What the clients were told, item by item."""

    accepted: dict[str, str] = field(default_factory=dict)  # submission id -> cohort id
    accepted_emails: dict[str, str] = field(default_factory=dict)  # submission id -> applicant email
    ids: dict[str, set[str]] = field(default_factory=dict)  # item identity -> every id it was given
    refused_malformed: int = 0
    wrong: list[str] = field(default_factory=list)  # answers a client should not have had
    repeated: set[str] = field(default_factory=set)  # identities of the items sent twice
    retried_5xx: int = 0
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # web form: id -> (cohort, email)
    held_posts: Counter[str] = field(default_factory=Counter)  # applicant email -> form posts held
    confirmed: set[str] = field(default_factory=set)  # web-form submission ids confirmed
    unconfirmed: set[str] = field(default_factory=set)  # held, never confirmed: must not be stored
    confirmations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


# ---------------------------------------------------------------- the load


def _break(person: dict[str, Any], n: int) -> None:
    """Makes one application malformed, in one of the ways clients get it wrong."""
    match n % 5:
        case 0:
            person["applicant"]["email"] = "not-an-email"
        case 1:
            person["consent"] = False
        case 2:
            person["applicant"]["grade"] = 12
        case 3:
            person["monitoring"]["religion"] = "jedi"
        case _:
            person["role"] = "sponsor"


def build_load(submissions: int, cohorts: int, seed: int = 2027) -> tuple[list[Request], list[str]]:
    """The requests, shuffled, and the cohort ids; ``submissions`` counts applications sent once."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    per_cohort = submissions // cohorts
    stamp = datetime.now(UTC).strftime("%H%M%S")
    requests: list[Request] = []
    cohort_ids = []
    count = 0
    for c in range(cohorts):
        cohort_id = f"load-{stamp}-{c:02d}"
        cohort_ids.append(cohort_id)
        size = per_cohort + (1 if c < submissions % cohorts else 0)
        mentors = size // 3
        intake = demo_data.intake(cohort_id, mentees=size - mentors, mentors=mentors, seed=seed + c)
        people = [(None, p) for p in intake.web_form] + [
            (institution, p) for institution, batch in intake.partner_batches.items() for p in batch
        ]
        batches: dict[str, list[tuple[dict[str, Any], bool]]] = {}
        for institution, person in people:
            # Unique per cohort: the same people apply to each cohort in the synthetic intake.
            local, domain = person["applicant"]["email"].split("@")
            person["applicant"]["email"] = f"{local}.c{c}@{domain}"
            if "reference" in person:
                person["reference"] = f"{person['reference']}-C{c}"
            count += 1
            malformed = count % MALFORMED_ONE_IN == 0
            if malformed:
                _break(person, count // MALFORMED_ONE_IN)
            if institution is None:
                requests.append(Request(cohort_id, None, [person], [malformed]))
            else:
                batches.setdefault(institution, []).append((person, malformed))
        for institution, items in batches.items():
            for start in range(0, len(items), PARTNER_BATCH):
                chunk = items[start : start + PARTNER_BATCH]
                requests.append(Request(cohort_id, institution, [p for p, _ in chunk], [m for _, m in chunk]))
    rng.shuffle(requests)
    repeats = [
        Request(r.cohort_id, r.institution, r.applications, r.malformed, repeat=True)
        for r in requests[::REPEATED_ONE_IN]
    ]
    for repeat in repeats:  # each after its first sending, somewhere later in the load
        first = requests.index(next(r for r in requests if r.applications is repeat.applications))
        requests.insert(rng.randint(first + 1, len(requests)), repeat)
    return requests, cohort_ids


def _identity(request: Request, application: dict[str, Any]) -> str:
    if request.institution is not None:
        return f"{request.institution}#{application.get('reference')}"
    return f"{request.cohort_id}#{application['applicant']['email']}"


def send(api: ApiClient, keys: dict[str, str], request: Request, tally: Tally) -> None:
    """Sends one request as a well-behaved client does (retrying a 5xx after its Retry-After)."""
    for attempt in range(5):
        reply: Reply = (
            api.apply(request.applications[0])
            if request.institution is None
            else api.partner_batch(keys[request.institution], request.applications)
        )
        if reply.status < 500:
            break
        with tally.lock:
            tally.retried_5xx += 1
        time.sleep(0.5 * 2**attempt)
    results = (
        [{"status": reply.status, "submission_id": (reply.body or {}).get("submission_id")}]
        if request.institution is None
        else (reply.body or {}).get("results", [])
    )
    with tally.lock:
        if len(results) != len(request.applications):
            tally.wrong.append(f"{request.channel} request answered {reply.status}: {reply.body}")
            return
        for application, malformed, result in zip(
            request.applications, request.malformed, results, strict=True
        ):
            status, submission_id = result["status"], result.get("submission_id")
            if malformed:
                if status == 422:
                    tally.refused_malformed += not request.repeat
                else:
                    tally.wrong.append(f"a malformed application was answered {status}")
                continue
            if status != 202 or not submission_id:
                tally.wrong.append(f"a valid application was answered {status}: {result}")
                continue
            identity = _identity(request, application)
            if request.repeat:
                tally.repeated.add(identity)
            # Counted once both answers are in: a repeat may be answered before its first sending.
            tally.ids.setdefault(identity, set()).add(submission_id)
            if request.institution is None:  # held until its applicant confirms it
                tally.held[submission_id] = (request.cohort_id, application["applicant"]["email"])
                tally.held_posts[application["applicant"]["email"]] += 1
                continue
            tally.accepted[submission_id] = request.cohort_id
            tally.accepted_emails[submission_id] = application["applicant"]["email"]


def confirm(api: ApiClient, tally: Tally, submission_id: str, tokens: list[str], n: int) -> None:
    """One web-form applicant opens their email and confirms (from each link, if it came twice);
    one in ``UNCONFIRMED_ONE_IN`` never does, and some press the button a second time."""
    if n % UNCONFIRMED_ONE_IN == 0:
        with tally.lock:
            tally.unconfirmed.add(submission_id)
        return
    presses = tokens + (tokens[:1] if n % CONFIRMED_TWICE_ONE_IN == 0 else [])
    for token in presses:
        for attempt in range(5):
            reply = api.confirm(token)
            if reply.status < 500:
                break
            with tally.lock:
                tally.retried_5xx += 1
            time.sleep(0.5 * 2**attempt)
        with tally.lock:
            tally.confirmations += 1
            if reply.status != 200:
                tally.wrong.append(f"a confirmation was answered {reply.status}")
    with tally.lock:
        tally.confirmed.add(submission_id)
        tally.accepted[submission_id], tally.accepted_emails[submission_id] = tally.held[submission_id]


def confirm_all(runtime: LocalRuntime, api: ApiClient, tally: Tally, start: float) -> tuple[float, float]:
    """Once the links are emailed, the web-form applicants read them (moto's SES) and confirm, at
    once; returns when the links were all sent and when the confirmations were done."""
    runtime.wait_until_drained()
    emailed = time.perf_counter() - start
    links = confirmation_tokens(raw for _, raw in sent_emails(runtime.aws_endpoint, timeout=600))
    with ThreadPoolExecutor(CLIENTS) as clients:
        presses = [
            clients.submit(confirm, api, tally, submission_id, links.get(email, []), n)
            for n, (submission_id, (_, email)) in enumerate(sorted(tally.held.items()))
        ]
        for future in presses:
            future.result()
    tally.wrong += [f"no link reached {email}" for _, email in tally.held.values() if email not in links]
    return emailed, time.perf_counter() - start


# ---------------------------------------------------------------- watching the stages


@dataclass
class Timeline:
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def first_empty_after(self, queue: str, after: float) -> float | None:
        return next((t for t, depths in self.samples if t >= after and depths[queue] == 0), None)

    def peak(self, queue: str) -> int:
        return max((depths[queue] for _, depths in self.samples), default=0)


def watch(runtime: LocalRuntime, timeline: Timeline, start: float, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            timeline.samples.append((time.perf_counter() - start, runtime.queue_depths()))
        except Exception:  # noqa: BLE001, S112 - a missed sample only blurs the timeline
            continue


# ---------------------------------------------------------------- what the stores hold


def _scan(runtime: LocalRuntime, table: str, prefix: str) -> Iterator[dict[str, Any]]:
    paginator = runtime.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=runtime.physical[table]["Ref"],
        FilterExpression="begins_with(sk, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": prefix}},
        ConsistentRead=True,
    ):
        yield from page.get("Items", [])


def _dead_letters(runtime: LocalRuntime) -> list[str]:
    """The bodies on every dead-letter queue (read, then made visible again)."""
    sqs = runtime.client("sqs")
    bodies = []
    for name, parked in runtime.dead_letter_counts().items():
        url, depth = runtime.physical[name]["Ref"], parked
        while depth > 0:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not messages:
                break
            bodies += [m["Body"] for m in messages]
            depth -= len(messages)
    return bodies


@dataclass
class MonitoringFindings:
    """The Monitoring table after every deadline plus the grace period for late answers."""

    stored: int
    pending: int
    smallest_group: int  # of stored records sharing cohort, scheme, role and outcome
    k: int

    @property
    def ok(self) -> bool:
        return self.pending == 0 and (self.stored == 0 or self.smallest_group >= self.k)


def check_monitoring(runtime: LocalRuntime, k: int) -> MonitoringFindings:
    groups: Counter[tuple[str, ...]] = Counter()
    pending = 0
    paginator = runtime.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=runtime.physical["MonitoringTable"]["Ref"], ConsistentRead=True):
        for item in page.get("Items", []):
            if item["record_id"]["S"].startswith("PENDING#"):
                pending += 1
                continue
            group = (item["cohort_id"]["S"], item["scheme_id"]["S"], str(item["role"]), str(item["eligible"]))
            groups[group] += 1
    return MonitoringFindings(sum(groups.values()), pending, min(groups.values(), default=0), k)


@dataclass
class Findings:
    stored: int
    on_dead_letter_queues: int
    lost: int
    duplicated: int
    unexpected: int
    unconfirmed_stored: int
    eligible: int
    expected_emails: int
    emails_sent: int
    emails_duplicated: int
    emails_missing: int
    duplicate_flags: int
    outbox_sent: int
    outbox_uncertain: int
    cohorts_matched: int

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.unexpected
            or self.unconfirmed_stored
            or self.emails_duplicated
            or self.emails_missing
        )


def check(runtime: LocalRuntime, tally: Tally, cohort_ids: list[str], api: ApiClient) -> Findings:
    stored: dict[str, dict[str, Any]] = {}
    for item in _scan(runtime, "ApplicationsTable", "APPLICATION#"):
        application = json.loads(item["data"]["S"])
        stored[application["application_id"]] = application
    people = Counter((a["cohort_id"], a["applicant"]["email"].casefold()) for a in stored.values())
    dead = _dead_letters(runtime)
    parked = {i for i in tally.accepted if any(i in body for body in dead)}
    accepted = set(tally.accepted)

    # Expected emails, by (recipient, subject): an acknowledgement for each application stored, a
    # result for each eligible one, and the coordinator's results for each cohort.
    names = {c: api.signed("GET", f"/cohorts/{c}").body for c in cohort_ids}
    expected: Counter[tuple[str, str]] = Counter()
    for email, posts in tally.held_posts.items():  # each form post held is emailed its link
        expected[(email, "confirmation")] += posts
    for application in stored.values():
        expected[(application["applicant"]["email"], "acknowledgement")] += 1
        if application["eligibility"]["eligible"]:
            expected[(application["applicant"]["email"], "result")] += 1
    for c in cohort_ids:
        expected[(COORDINATOR, f"coordinator {names[c]['cohort']['name']}")] += 1
    # A possible duplicate (one name at one institution under n addresses) is flagged to the
    # coordinator by each application after the first, or by all n when they arrive together.
    flags = {
        names[c]["cohort"]["name"]: (
            sum(len(group) - 1 for group in names[c]["possible_duplicates"]),
            sum(len(group) for group in names[c]["possible_duplicates"]),
        )
        for c in cohort_ids
    }
    flagged: Counter[str] = Counter()
    sent: Counter[tuple[str, str]] = Counter()
    for _, raw in sent_emails(runtime.aws_endpoint, timeout=600):
        message = message_from_bytes(raw)
        subject, to = str(message["Subject"]), str(message["To"])
        kind = email_kind(subject)
        if kind == "coordinator":
            sent[(to, f"coordinator {subject.removesuffix(': matching results')}")] += 1
        elif kind == "possible_duplicate" and to == COORDINATOR:
            flagged[subject.removesuffix(": a possible duplicate application")] += 1
        elif kind in {"acknowledgement", "confirmation"}:
            sent[(to, kind)] += 1
        else:
            sent[(to, "result")] += 1
    outbox = {i["sk"]["S"]: i["status"]["S"] for i in _scan(runtime, "ApplicationsTable", "OUTBOX#")}
    outbox_sent = sum(1 for status in outbox.values() if status == "sent")
    for (to, kind), _ in list((expected - sent).items())[:20]:
        found = [a for a in stored.values() if a["applicant"]["email"] == to]
        records = {sk: st for sk, st in outbox.items() for a in found if a["application_id"] in sk}
        print(f"missing: {kind} to {to}: {[(a['cohort_id'], a['application_id']) for a in found]} {records}")
    for (to, kind), n in (sent - expected).items():
        print(f"duplicated: {kind} to {to}, {n} more than expected")
    flags_missing = sum(max(0, least - flagged[name]) for name, (least, _) in flags.items())
    flags_duplicated = sum(max(0, flagged[name] - most) for name, (_, most) in flags.items())
    if flags_missing or flags_duplicated:
        print(f"possible-duplicate flags: {dict(flagged)} sent, {flags} (least, most) expected")
    return Findings(
        stored=len(stored),
        on_dead_letter_queues=len(parked),
        lost=len(accepted - set(stored) - parked),
        duplicated=sum(n - 1 for n in people.values() if n > 1),
        unexpected=len(set(stored) - accepted),
        unconfirmed_stored=len(tally.unconfirmed & set(stored)),
        eligible=sum(1 for a in stored.values() if a["eligibility"]["eligible"]),
        expected_emails=sum(expected.values()),
        emails_sent=sum(sent.values()) + sum(flagged.values()),
        emails_duplicated=sum((sent - expected).values()) + flags_duplicated,
        emails_missing=sum((expected - sent).values()) + flags_missing,
        duplicate_flags=sum(flagged.values()),
        outbox_sent=outbox_sent,
        outbox_uncertain=sum(1 for status in outbox.values() if status == "sending"),
        cohorts_matched=sum(1 for c in names.values() if c["cohort"]["status"] == "matched"),
    )


# ---------------------------------------------------------------- the run


def open_cohorts(api: ApiClient, cohort_ids: list[str]) -> datetime:
    deadline = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    for n, cohort_id in enumerate(cohort_ids):
        reply = api.signed("POST", "/cohorts", {
            "cohort_id": cohort_id, "scheme_id": SCHEME, "name": f"Load cohort {n:02d}",
            "recruitment_deadline": deadline.isoformat(), "coordinator_email": COORDINATOR,
        })  # fmt: skip
        if reply.status != 201:
            raise SystemExit(f"could not open {cohort_id}: {reply.status} {reply.body}")
    return deadline


def rate(count: int, seconds: float | None) -> str:
    return f"{count / seconds:,.1f}" if seconds else "-"


def _counts(requests: list[Request]) -> tuple[int, int, int, int, int]:
    """Applications, malformed ones, web-form posts, partner batches (each sent once), and repeats."""
    first = [r for r in requests if not r.repeat]
    return (
        sum(len(r.applications) for r in first),
        sum(sum(r.malformed) for r in first),
        sum(1 for r in first if r.institution is None),
        sum(1 for r in first if r.institution is not None),
        len(requests) - len(first),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--cohorts", type=int, default=25)
    args = parser.parse_args(argv)
    requests, cohort_ids = build_load(args.submissions, args.cohorts)
    items, malformed, web, batches, repeated = _counts(requests)
    print(
        f"{items} applications ({malformed} malformed) in {web} web-form posts and {batches} partner "
        f"batches, {repeated} requests sent twice, {len(cohort_ids)} cohorts",
        flush=True,
    )
    tally, timeline, stop = Tally(), Timeline(), threading.Event()
    LOGS.mkdir(parents=True, exist_ok=True)
    events = (LOGS / "runtime.log").open("w", buffering=1, encoding="utf-8")
    with (
        events,
        LocalRuntime(
            api_port=free_port(),
            aws_port=free_port(),
            outbox=None,
            logs=LOGS,
            log=lambda line: print(f"{datetime.now(UTC):%H:%M:%S} {line}", file=events),
            concurrency=CONCURRENCY,
            rate_limits=False,  # ten thousand requests from one address: WAF would block them, by design
        ) as runtime,
    ):
        api = ApiClient(runtime.api_url)
        deadline = open_cohorts(api, cohort_ids)
        keys = {code: key["value"] for code, key in runtime.partner_keys().items()}
        start = time.perf_counter()
        watcher = threading.Thread(target=watch, args=(runtime, timeline, start, stop), daemon=True)
        watcher.start()
        with ThreadPoolExecutor(CLIENTS) as clients:
            for future in [clients.submit(send, api, keys, r, tally) for r in requests]:
                future.result()
        submitted = time.perf_counter() - start
        print(f"submitted in {submitted:.0f} s; waiting for the confirmation links to be emailed", flush=True)
        emailed, confirmed = confirm_all(runtime, api, tally, start)
        print(f"confirmed at {confirmed:.0f} s; waiting for intake and acknowledgements", flush=True)
        runtime.wait_until_drained()
        drained = time.perf_counter() - start
        print(f"intake and acknowledgements done at {drained:.0f} s; the deadlines", flush=True)
        fire = time.perf_counter()
        fired = runtime.fire_due(now=deadline + timedelta(minutes=1))
        runtime.wait_until_drained()
        deadline_run = time.perf_counter() - fire
        # Then the hourly sweep, once the grace period for late monitoring answers is over.
        grace = timedelta(days=int(runtime.stack.parameter_defaults()["LateAnswersGraceDays"]))
        runtime.fire_rate_schedules(now=deadline + grace + timedelta(hours=1))
        runtime.wait_until_drained()
        monitoring = check_monitoring(runtime, get_scheme(SCHEME).monitoring_batch)
        stop.set()
        watcher.join()
        intake_done = timeline.first_empty_after("IntakeQueue", confirmed) or drained
        print(f"deadline run done in {deadline_run:.0f} s; checking the stores", flush=True)
        findings = check(runtime, tally, cohort_ids, api)
    timed_out = (LOGS / "runtime.log").read_text(encoding="utf-8").count(" timed out after ")
    ok = findings.ok and not tally.wrong and monitoring.ok
    accepted = len(tally.accepted)
    acknowledgements = findings.stored
    results = findings.eligible + len(cohort_ids)
    lines = [
        measured(
            "make bench", f"python -m bench.load --submissions {args.submissions} --cohorts {args.cohorts}"
        ),
        "",
        f"{items:,} applications to {len(cohort_ids)} B-MEntor Professional cohorts through the local API: "
        f"{web:,} web-form posts and {batches:,} partner batches (up to {PARTNER_BATCH} each, the five "
        f"partners' keys), from {CLIENTS} clients at once, in random order. "
        f"{malformed} ({malformed / items:.1%}) are malformed (bad email, no consent, unknown grade, "
        f"religion or role), and {repeated} requests are sent a second time later (a double click, "
        "a partner's retry). Intake and notify poll "
        f"throughout, {CONCURRENCY} execution environments each. Web-form applicants then confirm from "
        f"the links emailed to them, one in {CONFIRMED_TWICE_ONE_IN} pressing twice and one in "
        f"{UNCONFIRMED_ONE_IN} never confirming; then each cohort's deadline schedule fires. moto serves "
        "every AWS call (`infrastructure/local/moto_server.py`).",
        "",
        "| stage | items | ends at (s) | throughput (per s) |",
        "|---|---:|---:|---:|",
        f"| submit: HTTP answers | {items:,} applications | {submitted:.0f} | {rate(items, submitted)} |",
        f"| confirmation links emailed | {sum(tally.held_posts.values()):,} | {emailed:.0f} | - |",
        f"| confirmations: HTTP answers | {tally.confirmations:,} presses | {confirmed:.0f} | "
        f"{rate(tally.confirmations, confirmed - emailed)} |",
        f"| intake: applications recorded | {findings.stored:,} | {intake_done:.0f} | "
        f"{rate(findings.stored, intake_done)} |",
        f"| acknowledgement emails sent | {acknowledgements:,} | {drained:.0f} | "
        f"{rate(acknowledgements, drained)} |",
        f"| deadline: {len(fired)} cohorts matched, result emails sent | {results:,} emails | "
        f"{deadline_run:.0f} after the schedules fire | {rate(results, deadline_run)} |",
        "",
        f"Peak backlog: {timeline.peak('IntakeQueue'):,} on the intake queue, "
        f"{timeline.peak('NotifyQueue'):,} on the notify queue. "
        f"Clients retried {tally.retried_5xx} 5xx answers.",
        "",
        "| check | count |",
        "|---|---:|",
        f"| web-form applications held for confirmation (202) | {len(tally.held):,} |",
        f"| confirmed from the emailed link | {len(tally.confirmed):,} |",
        f"| **never confirmed, yet stored** (must be 0; {len(tally.unconfirmed)} never confirmed) | "
        f"**{findings.unconfirmed_stored}** |",
        f"| applications accepted (partners' 202s and confirmed forms, one id each) | {accepted:,} |",
        f"| malformed applications refused with 422 | {tally.refused_malformed:,} of {malformed:,} |",
        f"| repeated applications given their first id | "
        f"{sum(len(tally.ids[i]) == 1 for i in tally.repeated):,} of {len(tally.repeated):,} |",
        f"| answers a client should not have had | {len(tally.wrong)} |",
        f"| in the Applications table | {findings.stored:,} |",
        f"| on a dead-letter queue | {findings.on_dead_letter_queues} |",
        f"| **lost** (accepted, in neither) | **{findings.lost}** |",
        f"| **duplicated** (one applicant stored twice) | **{findings.duplicated}** |",
        f"| stored but never accepted | {findings.unexpected} |",
        f"| cohorts matched | {findings.cohorts_matched} of {len(cohort_ids)} |",
        f"| emails expected (a link per form post held, an acknowledgement per application, a result per "
        f"eligible one, the coordinator's per cohort) | {findings.expected_emails:,} |",
        f"| emails SES accepted | {findings.emails_sent:,} |",
        f"| of them, possible duplicates flagged to the coordinator (one per application after the "
        f"first under a name and institution) | {findings.duplicate_flags:,} |",
        f"| outbox records marked sent | {findings.outbox_sent:,} |",
        f"| outbox records left `sending` (uncertain: a sender stopped between SES and the outbox) "
        f"| {findings.outbox_uncertain} |",
        f"| invocations stopped at their timeout | {timed_out} |",
        f"| **emails duplicated** (same person, same email, twice) | **{findings.emails_duplicated}** |",
        f"| **emails missing** | **{findings.emails_missing}** |",
        f"| monitoring answers stored (after every deadline plus the {grace.days}-day grace period) "
        f"| {monitoring.stored:,} |",
        f"| **monitoring answers left pending** | **{monitoring.pending}** |",
        f"| **smallest stored group** (cohort, scheme, role, outcome; k = {monitoring.k}) "
        f"| **{monitoring.smallest_group}** |",
        "",
        "Result: " + ("**zero lost, zero duplicated.**" if ok else "**PROBLEMS.**"),
    ]
    write_section("Load run: submissions to emails", lines)
    print("\n".join(lines[4:]))
    for line in tally.wrong[:20]:
        print("  wrong:", line)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
