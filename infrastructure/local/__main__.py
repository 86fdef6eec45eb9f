"""``python -m infrastructure.local run|demo``: the whole stack on this machine.

run   starts the stack, opens a demo cohort whose deadline is a few minutes ahead, and serves until Ctrl-C.
demo  the same stack, scripted: a synthetic intake through the HTTP API, the deadline, a summary; exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from mentoring.console.actions import temporary_password
from mentoring.models import StaffRole
from mentoring.programme import when
from mentoring.scheme import get_scheme

from infrastructure.local import demo_data, usefulness
from infrastructure.local.client import ApiClient
from infrastructure.local.runtime import LocalRuntime
from infrastructure.staff import add_staff_member

SCHEME = "b-mentor-professional"
# The demo runs these schemes' cohorts beside the main one, from their example intakes.
SIDE_SCHEMES = ["reverse-mentoring", "womens-mentoring-pilot", "more-than-mentoring"]
COORDINATOR = "edi-coordinator@example.ac.uk"


def say(line: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S}  {line}", flush=True)


def open_demo_cohort(api: ApiClient, minutes: float, scheme: str = SCHEME) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    deadline = (now + timedelta(minutes=minutes)).replace(microsecond=0)
    cohort_id = f"demo-{now:%Y%m%d-%H%M%S}" if scheme == SCHEME else f"demo-{scheme}-{now:%H%M%S}"
    reply = api.signed(
        "POST",
        "/cohorts",
        {
            "cohort_id": cohort_id,
            "scheme_id": scheme,
            "name": f"{get_scheme(scheme).name} demo cohort",
            "recruitment_deadline": deadline.isoformat(),
            "coordinator_email": COORDINATOR,
        },
    )
    if reply.status != 201:
        raise SystemExit(f"could not open the demo cohort: {reply.status} {reply.body}")
    return cohort_id, deadline


# The demo's console accounts: one of each role (the coordinator runs the demo cohort's scheme).
DEMO_STAFF = [
    (
        "coordinator",
        "edi-coordinator@example.ac.uk",
        "Demo Coordinator",
        StaffRole.COORDINATOR,
        (SCHEME,),
        None,
    ),
    (
        "administrator",
        "edi-administrator@example.ac.uk",
        "Demo Administrator",
        StaffRole.ADMINISTRATOR,
        (),
        None,
    ),
    ("UCL partner lead", "edi-lead@ucl.example.ac.uk", "Demo UCL Lead", StaffRole.PARTNER_LEAD, (), "UCL"),
]


def seed_console(idp: Any, dynamodb: Any, pool_id: str, table: str) -> list[tuple[str, str, str]]:
    """The demo's people in the local user pool and staff directory: (role, email, password)."""
    accounts = []
    for label, email, name, role, schemes, institution in DEMO_STAFF:
        password = temporary_password()
        add_staff_member(
            idp,
            dynamodb,
            pool_id,
            table,
            email=email,
            name=name,
            role=role,
            password=password,
            schemes=schemes,
            institution=institution,
        )
        accounts.append((label, email, password))
    return accounts


def console_url(runtime: LocalRuntime) -> str:
    """localhost rather than 127.0.0.1: browsers keep the console's Secure cookies for it over http."""
    return f"http://localhost:{runtime.api_port}/console"


def console_lines(url: str, accounts: list[tuple[str, str, str]]) -> list[str]:
    """What ``make run`` prints first: the console's address and a sign-in for each demo role."""
    return [
        f"  console           {url}   (the EDI team's pages; sign in as:)",
        *(f"    {label:17} {email}   password {password}" for label, email, password in accounts),
    ]


def serve(runtime: LocalRuntime, minutes: float) -> None:
    api = ApiClient(runtime.api_url)
    cohort_id, deadline = open_demo_cohort(api, minutes)
    accounts = seed_console(
        runtime.client("cognito-idp"),
        runtime.client("dynamodb"),
        runtime.physical["ConsoleUserPool"]["Ref"],
        runtime.physical["ApplicationsTable"]["Ref"],
    )
    print()
    print("\n".join(console_lines(console_url(runtime), accounts)))
    print(f"  API               {runtime.api_url}")
    print(f"  applicant form    {runtime.api_url}/?cohort={cohort_id}")
    print(
        f"  AWS (moto)        {runtime.aws_endpoint}   "
        f"(e.g. aws --endpoint-url {runtime.aws_endpoint} sqs list-queues)"
    )
    print(f"  demo cohort       {cohort_id}, recruitment deadline {when(deadline)}")
    print(f"  emails            written to {runtime.outbox}/ as .eml files")
    print("                    (an applicant confirms from the link in their email: open it from there)")
    print("  partner API keys  (header x-api-key on POST /partners/applications)")
    for institution, key in sorted(runtime.partner_keys().items()):
        print(f"    {institution:5} {key['value']}")
    print("\nWatching; Ctrl-C to stop.\n", flush=True)
    while True:
        time.sleep(3600)


def confirm_from_outbox(runtime: LocalRuntime, api: ApiClient, held: list[tuple[str, str]]) -> list[str]:
    """Each web-form applicant opens the links emailed to them and confirms: ``held`` pairs their
    address with the submission id they were given; returns the ids confirmed."""
    runtime.wait_until_drained()
    links = runtime.confirmation_tokens()
    for address in dict.fromkeys(address for address, _ in held):
        for token in links.get(address, []):
            reply = api.confirm(token)
            if reply.status != 200:
                raise SystemExit(f"confirming the application from {address} failed: {reply.status}")
    return [submission_id for _, submission_id in held]


def submit_intake(
    runtime: LocalRuntime,
    api: ApiClient,
    intake: demo_data.Intake,
    keys: dict[str, str],
    answers: dict[str, dict[str, str]],
) -> tuple[list[str], list[str]]:
    """The synthetic intake through both front doors (web-form applicants confirming from their
    email); returns the accepted ids and the refusals, and notes in ``answers`` what each accepted
    applicant answered (to check the report against)."""
    accepted: list[str] = []
    rejected: list[str] = []
    held: dict[str, str] = {}
    for submission in intake.web_form:
        reply = api.apply(submission)
        if reply.status == 202:
            held[submission["applicant"]["email"]] = reply.body["submission_id"]
            answers[reply.body["submission_id"]] = submission["monitoring"]
        else:
            rejected.append(f"web form {reply.status}: {reply.body}")
    accepted += confirm_from_outbox(runtime, api, list(held.items()))
    say(f"{len(held)} web-form applicants confirmed from the link emailed to them")
    for institution, batch in sorted(intake.partner_batches.items()):
        reply = api.partner_batch(keys[institution], batch)
        if reply.status != 202:
            raise SystemExit(f"partner batch of {institution} refused: {reply.status} {reply.body}")
        accepted += [r["submission_id"] for r in reply.body["results"]]
        answers.update(
            (r["submission_id"], person["monitoring"])
            for r, person in zip(reply.body["results"], batch, strict=True)
        )
    say(
        f"submitted {len(accepted)} applications (web form and {len(intake.partner_batches)} partner batches)"
    )
    return accepted, rejected


def misuse_front_doors(
    api: ApiClient, intake: demo_data.Intake, keys: dict[str, str], accepted: list[str]
) -> list[str]:
    """What clients get wrong, and what they are told: each must be refused, none lost."""
    rejected = []
    # A stranger sends the form under an applicant's address: the same 202 as anyone gets (the
    # owner is emailed that they have applied already), and nothing is counted unless confirmed.
    first = intake.web_form[0]
    known = dict(first, profile={**first["profile"], "about": "sent by someone else"})
    reply = api.apply(known)
    say(f"a stranger applies under an applicant's address: {reply.status} {reply.body.get('status')}")
    for submission in intake.malformed:
        reply = api.apply(submission)
        fields = ", ".join(f"{e['field']} ({e['message']})" for e in reply.body.get("errors", []))
        rejected.append(f"{reply.status}: {fields}")
    reply = api.partner_batch("not-a-real-key", intake.partner_batches["UCL"][:1])
    rejected.append(f"{reply.status}: partner call with an unknown API key: {reply.body}")
    first = intake.partner_batches["KCL"][0]
    reply = api.partner_batch(
        keys["KCL"], [dict(first, applicant={**first["applicant"], "institution": "UCL"})]
    )
    rejected.append(f"{reply.status}: KCL's key submitting for UCL: {_first_error(reply.body)}")
    retry = api.partner_batch(keys["UCL"], intake.partner_batches["UCL"])
    repeated = {r["submission_id"] for r in retry.body["results"]} <= set(accepted)
    say(f"UCL sent its batch again: {retry.status}, the same submission ids: {repeated}")
    changed = dict(intake.partner_batches["UCL"][0])
    changed["profile"] = {**changed["profile"], "about": "a different application"}
    reply = api.partner_batch(keys["UCL"], [changed])
    rejected.append(
        f"{reply.status}: UCL reused a reference for a different application: {_first_error(reply.body)}"
    )
    return rejected


def open_side_cohorts(
    runtime: LocalRuntime, api: ApiClient, deadlines: list[datetime]
) -> dict[str, list[str]]:
    """Cohorts of other schemes beside the main one, each with its example intake."""
    held: dict[str, list[tuple[str, str]]] = {}
    for scheme in SIDE_SCHEMES:
        side_id, deadline = open_demo_cohort(api, minutes=10, scheme=scheme)
        deadlines.append(deadline)
        held[side_id] = []
        for submission in demo_data.example_intake(scheme, side_id):
            reply = api.apply(submission)
            if reply.status != 202:
                raise SystemExit(f"{scheme}: example refused: {reply.status} {reply.body}")
            held[side_id].append((submission["applicant"]["email"], reply.body["submission_id"]))
        say(f"opened cohort {side_id} of {scheme} and submitted {len(held[side_id])} applications")
    # Every side cohort's applicants confirm once their links have come (one wait for them all).
    confirm_from_outbox(runtime, api, [pair for each in held.values() for pair in each])
    return {side_id: [submission_id for _, submission_id in each] for side_id, each in held.items()}


def demo(runtime: LocalRuntime) -> int:
    api = ApiClient(runtime.api_url)
    cohort_id, deadline = open_demo_cohort(api, minutes=10)
    say(f"opened cohort {cohort_id} of {SCHEME}")
    intake = demo_data.intake(cohort_id)
    keys = {code: key["value"] for code, key in runtime.partner_keys().items()}
    answers: dict[str, dict[str, str]] = {}
    accepted, rejected = submit_intake(runtime, api, intake, keys, answers)
    rejected += misuse_front_doors(api, intake, keys, accepted)
    deadlines = [deadline]
    side = open_side_cohorts(runtime, api, deadlines)

    runtime.wait_until_drained()
    say("intake drained; firing the recruitment deadlines (their schedules, made due now)")
    # The last deadline, however long the intake took on a busy machine.
    fired = runtime.fire_due(now=max(deadlines) + timedelta(minutes=1))
    if len(fired) != 1 + len(side):
        raise SystemExit(f"expected {1 + len(side)} deadline schedules, found {len(fired)}")
    runtime.wait_until_drained()
    for side_id in side:
        if api.signed("GET", f"/cohorts/{side_id}").body["cohort"]["status"] == "provisional":
            pairs = len(api.signed("GET", f"/cohorts/{side_id}/matches").body["matches"])
            say(
                f"{side_id}: its scheme holds matches for review; the coordinator reads {pairs} and publishes"
            )
            reply = api.signed("POST", f"/cohorts/{side_id}/publish")
            if reply.status != 200:
                raise SystemExit(f"publishing {side_id} failed: {reply.status} {reply.body}")
    runtime.wait_until_drained()
    export = Path("build") / f"{cohort_id}-matches.csv"
    export.parent.mkdir(exist_ok=True)
    export.write_text(api.signed("GET", f"/cohorts/{cohort_id}/matches?format=csv").body)
    say(f"the coordinator's CSV export of {cohort_id}: {export}")
    report = Path("build") / f"{cohort_id}-monitoring-report.html"
    report.write_text(api.signed("GET", f"/cohorts/{cohort_id}/monitoring-report?format=html").body)
    say(f"the equal-opportunities report of {cohort_id} (cell-key rounded): {report}")
    useful = report_usefulness(runtime, api, cohort_id, answers)
    say("delivering the deadline event a second time: matching must not run again")
    runtime.put_event(
        "mentoring.deadlines", "RecruitmentDeadlineReached", {"cohort_id": cohort_id}, wait=True
    )
    runtime.wait_until_drained()
    emails = runtime.sync_outbox()

    reference = intake.partner_batches["UCL"][0]["reference"]
    status = api.partner_status(keys["UCL"], reference).body
    say(f"UCL asks after its application {reference}: {status.get('status')}")
    progress = api.signed("GET", f"/cohorts/{cohort_id}").body
    results = api.signed("GET", f"/cohorts/{cohort_id}/matches").body
    side_results = {
        side_id: (
            side_accepted,
            api.signed("GET", f"/cohorts/{side_id}").body,
            api.signed("GET", f"/cohorts/{side_id}/matches").body,
        )
        for side_id, side_accepted in side.items()
    }
    return summarise(runtime, cohort_id, accepted, rejected, progress, results, emails, side_results, useful)


def report_usefulness(
    runtime: LocalRuntime, api: ApiClient, cohort_id: str, answers: dict[str, dict[str, str]]
) -> tuple[int, list[str]]:
    """The figures of the cohort's report, and those further from the truth than documented."""
    items = runtime.client("dynamodb").query(
        TableName=runtime.physical["ApplicationsTable"]["Ref"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}, ":p": {"S": "APPLICATION#"}},
    )["Items"]
    people = []
    for item in items:
        application = json.loads(item["data"]["S"])
        person = usefulness.Applicant(
            application["role"],
            application["eligibility"]["eligible"],
            answers[application["application_id"]],
        )
        people.append(person)
    body = api.signed("GET", f"/cohorts/{cohort_id}/monitoring-report?format=json").body
    return len(list(usefulness.figures(body))), usefulness.outside_error(body, people)


def _first_error(body: dict[str, Any]) -> str:
    errors = body.get("results", [{}])[0].get("errors") or body.get("errors") or [{}]
    return f"{errors[0].get('field')}: {errors[0].get('message')}"


def summarise(
    runtime: LocalRuntime,
    cohort_id: str,
    accepted: list[str],
    rejected: list[str],
    progress: dict[str, Any],
    results: dict[str, Any],
    emails: int,
    side: dict[str, tuple[list[str], dict[str, Any], dict[str, Any]]],
    useful: tuple[int, list[str]],
) -> int:
    eligible = sum(progress["eligible"].values())
    kinds = (
        Counter(_kind(path) for path in sorted(runtime.outbox.glob("*.eml"))) if runtime.outbox else Counter()
    )
    print("\n================ demo summary ================")
    print(f"cohort                {cohort_id} ({progress['cohort']['status']})")
    print(f"accepted (202)        {len(accepted)}")
    print(f"rejected              {len(rejected)}")
    for line in rejected:
        print(f"   - {line}")
    print(f"eligible              {progress['eligible']}   ineligible {progress['ineligible']}")
    print(f"matched pairs         {len(results['matches'])}")
    for match in results["matches"][:5]:
        print(
            f"   - mentee {match['mentee_id'][:8]} with mentor {match['mentor_id'][:8]}: "
            f"{'; '.join(match['explanation'][:2])}"
        )
    print(f"unmatched mentees     {len(results['unmatched'])}")
    for unmatched in results["unmatched"]:
        print(f"   - {unmatched['application_id'][:8]}: {unmatched['reason']}")
    problems = []
    for side_id, (side_accepted, side_progress, side_results) in side.items():
        print(
            f"cohort                {side_id} ({side_progress['cohort']['status']}): "
            f"{len(side_accepted)} accepted, eligible {side_progress['eligible']}, "
            f"{len(side_results['matches'])} pairs, {len(side_results['unmatched'])} unmatched"
        )
        for match in side_results["matches"]:
            print(f"   - pair: {'; '.join(match['explanation'][:2])}")
        eligible += sum(side_progress["eligible"].values())
        accepted = accepted + side_accepted
        if side_progress["applications"] != len(side_accepted):
            problems.append(
                f"{side_id}: {len(side_accepted)} accepted, {side_progress['applications']} recorded"
            )
        if not side_results["matches"]:
            problems.append(f"{side_id}: no pairs")
    checked, outside = useful
    print(
        f"monitoring report     {checked} figures of {cohort_id}, "
        + (
            "all within the documented error of the true counts"
            if not outside
            else f"{len(outside)} outside it"
        )
    )
    print(f"emails sent           {emails}: {dict(kinds)}")
    dead = {k: v for k, v in runtime.dead_letter_counts().items() if v}
    print(f"dead-letter queues    {dead or 'empty'}")

    recorded = progress["applications"] + sum(p["applications"] for _, p, _ in side.values())
    if recorded != len(accepted):
        problems.append(f"{len(accepted)} accepted but {recorded} recorded")
    if kinds["acknowledgement"] != len(accepted):
        problems.append(
            f"{kinds['acknowledgement']} acknowledgements for {len(accepted)} accepted applicants"
        )
    before = {"confirmation", "already_applied", "acknowledgement", "coordinator", "review"}
    results_sent = sum(n for k, n in kinds.items() if k not in before)
    if kinds["already_applied"] != 1:
        problems.append(f"{kinds['already_applied']} 'already applied' emails for the one stranger's form")
    if results_sent != eligible:
        problems.append(f"{results_sent} result emails for {eligible} eligible applicants")
    reviewed = sum(1 for _, p, _ in side.values() if p["cohort"]["status"] == "matched")
    if kinds["coordinator"] != 1 + reviewed or kinds["review"] != 1:
        problems.append(f"{kinds['coordinator']} coordinator emails")
    if len(results["matches"]) + len(results["unmatched"]) != progress["eligible"]["mentee"]:
        problems.append("some eligible mentees are neither matched nor reported unmatched")
    if dead:
        problems.append(f"messages on dead-letter queues: {dead}")
    if outside:
        problems.append(f"report figures outside the documented error: {outside[:3]}")
    print("result                " + ("OK" if not problems else "PROBLEMS: " + "; ".join(problems)))
    return 1 if problems else 0


def _kind(path: Path) -> str:
    return email_kind(str(message_from_bytes(path.read_bytes())["Subject"] or ""))


def email_kind(subject: str) -> str:
    """Which of the pipeline's emails a subject line belongs to."""
    if subject.endswith("matching results"):
        return "coordinator"
    if subject.endswith("provisional matches to review"):
        return "review"
    for marker, kind in [
        ("a possible duplicate application", "possible_duplicate"),
        ("please confirm your application", "confirmation"),
        ("you have already applied", "already_applied"),
        ("received your application", "acknowledgement"),
        ("meet your mentor", "matched_mentee"),
        ("meet your mentee", "matched_mentor"),
        ("outcome of matching", "unmatched"),
        # The programme's dates (mentoring.programme_dates).
        ("have you met yet?", "meeting_nudge"),
        ("halfway through the programme", "check_in"),
        ("the programme ends", "programme_end"),
        ("you are invited to", "event_invitation"),
        ("reminder of your", "training_reminder"),
    ]:
        if marker in subject:
            return kind
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["run", "demo"])
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--outbox", type=Path, default=Path("outbox"))
    parser.add_argument(
        "--logs", type=Path, default=Path("build/logs"), help="where function logs are written"
    )
    parser.add_argument(
        "--deadline-minutes", type=float, default=5.0, help="run: minutes until the demo deadline"
    )
    parser.add_argument("--quiet", action="store_true", help="demo: print the summary only")
    args = parser.parse_args(argv)
    log = None if args.quiet else say
    say(
        f"starting: moto on 127.0.0.1:{args.aws_port}, API on 127.0.0.1:{args.api_port}, "
        "resources from template.yaml"
    )
    with LocalRuntime(
        api_port=args.api_port,
        aws_port=args.aws_port,
        outbox=args.outbox,
        logs=args.logs,
        log=log,
        # make run plays the WAF limits; the scripted demo sends its whole intake from this address.
        rate_limits=args.command != "demo",
    ) as runtime:
        say(
            f"provisioned {len(runtime.physical)} resources; {len(runtime.functions)} functions ready "
            f"(their logs: {args.logs}/)"
        )
        if args.command == "demo":
            return demo(runtime)
        try:
            serve(runtime, args.deadline_minutes)
        except KeyboardInterrupt:
            say("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
