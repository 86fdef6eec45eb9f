"""``make smoke STACK=<name>``: the README's journey against a deployed stack, after ``sam deploy``.

It opens a cohort of B-MEntor Professional whose recruitment deadline is two minutes ahead (a
SigV4-signed coordinator's call, with your credentials), applies through both doors (a mentee
and a mentor through two partners' API keys; the form's JSON route answers and holds its
application for the emailed link), waits for the
deadline's matching run, checks the match and that no dead-letter queue gained a message, and
then deletes what it wrote (the cohort's items, its claims and its monitoring answers).

Emails go to the SES mailbox simulator (``success@simulator.amazonses.com``), which accepts
them even from an account still in the SES sandbox.

It needs nothing beyond boto3 and requests: ``python -m infrastructure.smoke --stack-name NAME``
(``--region``, ``--profile`` as for the AWS CLI). The same journey runs in ``make test`` against
the local stack (``tests/e2e/test_smoke.py``); only finding the stack's resources is AWS's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from mentoring.adapters.messaging import EventBridgeDeadlines

SCHEME = "b-mentor-professional"
DEAD_LETTER_QUEUES = ("IntakeDeadLetterQueue", "NotifyDeadLetterQueue", "DeadlineDeadLetterQueue")
PARTNER = "KCL"  # the mentor's partner
MENTEE_PARTNER = "UCL"
# The stack's outputs the journey reads (a test keeps them in template.yaml's Outputs).
OUTPUTS = (
    "ApiUrl",
    "ApplicationsTableName",
    "MonitoringTableName",
    "DeadlineScheduleGroupName",
    "PartnerApiKeyId",
    "MenteePartnerApiKeyId",
    *(f"{queue}Url" for queue in DEAD_LETTER_QUEUES),
)
# An API Gateway integration answers within 29 s; a read that waits longer has been lost.
REQUEST_TIMEOUT: tuple[float, float | None] = (10, 35)
Log = Callable[[str], None]


class SmokeFailedError(AssertionError):
    """The deployed stack did not do what the journey expects."""


@dataclass
class Target:
    """What the journey talks to: the API, and the resources it checks and cleans up."""

    api_url: str
    region: str
    credentials: ReadOnlyCredentials
    partner_key: str
    mentee_partner_key: str
    applications_table: str
    monitoring_table: str
    schedule_group: str
    dead_letter_queues: dict[str, str]
    session: boto3.session.Session
    endpoint_url: str | None = None
    request_timeout: tuple[float, float | None] = REQUEST_TIMEOUT

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


def from_stack(stack: str, session: boto3.session.Session, endpoint_url: str | None = None) -> Target:
    """Finds a deployed stack's API, a partner's key, its tables, schedule group and dead-letter
    queues from the stack's outputs."""
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    missing = [name for name in OUTPUTS if name not in outputs]
    if missing:
        raise SmokeFailedError(f"stack {stack} has no output {', '.join(missing)}: is it this template's?")
    apigateway = session.client("apigateway", endpoint_url=endpoint_url)
    key = apigateway.get_api_key(apiKey=outputs["PartnerApiKeyId"], includeValue=True)["value"]
    mentee_key = apigateway.get_api_key(apiKey=outputs["MenteePartnerApiKeyId"], includeValue=True)["value"]
    credentials = session.get_credentials()
    if credentials is None:
        raise SmokeFailedError("no AWS credentials: the coordinator's calls are signed with yours")
    return Target(
        api_url=outputs["ApiUrl"].rstrip("/"),
        region=session.region_name or "",
        credentials=credentials.get_frozen_credentials(),
        partner_key=key,
        mentee_partner_key=mentee_key,
        applications_table=outputs["ApplicationsTableName"],
        monitoring_table=outputs["MonitoringTableName"],
        schedule_group=outputs["DeadlineScheduleGroupName"],
        dead_letter_queues={name: outputs[f"{name}Url"] for name in DEAD_LETTER_QUEUES},
        session=session,
        endpoint_url=endpoint_url,
    )


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class Api:
    target: Target
    sent: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body)
        response = requests.request(
            method,
            self.target.api_url + path,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=self.target.request_timeout,
        )
        self.sent.append(f"{method} {path} -> {response.status_code}")
        try:
            return Reply(response.status_code, response.json())
        except ValueError:
            return Reply(response.status_code, response.text)

    def signed(self, method: str, path: str, body: Any = None) -> Reply:
        """A coordinator's call: SigV4 for execute-api, with the caller's credentials."""
        data = None if body is None else json.dumps(body)
        request = AWSRequest(
            method=method,
            url=self.target.api_url + path,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(self.target.credentials, "execute-api", self.target.region).add_auth(request)
        return self.call(method, path, body, dict(request.headers))


# The SES mailbox simulator's addresses, accepted (and dropped) by SES even from the sandbox: one
# mailbox a person, since one mailbox applies once to a cohort whatever its +label (the public
# door's rule). The mentor's is the simulator's out-of-office mailbox: delivered, then a reply.
MAILBOX = {"mentee": "success", "mentor": "ooto"}


def _applicant(cohort_id: str, role: str, institution: str, grade: int) -> dict[str, Any]:
    return {
        "given_name": "Smoke",
        "family_name": role.title(),
        "email": f"{MAILBOX[role]}+{cohort_id}-{role}@simulator.amazonses.com",
        "institution": institution,
        "department": "Smoke test",
        "job_title": "Smoke test",
        "grade": grade,
    }


def submissions(cohort_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An eligible mentee and an eligible mentor, each for a partner's door (the web form's
    applications count only once confirmed from the emailed link, which a script cannot read)."""
    mentee_applicant = _applicant(cohort_id, "mentee", MENTEE_PARTNER, 6)
    del mentee_applicant["institution"]  # a partner's institution comes from its key
    mentee = {
        "cohort_id": cohort_id,
        "role": "mentee",
        "consent": True,
        "reference": f"SMOKE-{cohort_id}-mentee",
        "applicant": mentee_applicant,
        "self_identification": {"minority_ethnic_background": "yes", "staff_group": "professional_services"},
        "profile": {"skills": ["budgeting"], "career_goals": ["leadership"]},
        "monitoring": {},
    }
    mentor_applicant = _applicant(cohort_id, "mentor", PARTNER, 8)
    del mentor_applicant["institution"]  # a partner's institution comes from its key
    mentor = {
        "cohort_id": cohort_id,
        "role": "mentor",
        "consent": True,
        "reference": f"SMOKE-{cohort_id}",
        "applicant": mentor_applicant,
        "self_identification": {"staff_group": "professional_services"},
        "profile": {"skills": ["budgeting"], "career_goals": ["leadership"], "capacity": 1},
        "monitoring": {},
    }
    return mentee, mentor


def dead_letters(target: Target) -> dict[str, int]:
    sqs = target.client("sqs")
    counts = {}
    for name, url in target.dead_letter_queues.items():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        counts[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return counts


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailedError(message)


def wait_until(moment: datetime) -> None:
    """The deployed stack's deadline comes with time."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def journey(
    target: Target,
    log: Log = print,
    lead: timedelta = timedelta(minutes=2),
    patience: timedelta = timedelta(minutes=15),
    deadline_passes: Callable[[datetime], None] = wait_until,
    poll: float = 10.0,
) -> str:
    """Runs the journey and cleans up after it; returns the cohort id. ``deadline_passes`` returns
    once the recruitment deadline has passed (the local stack fires its schedule instead of
    waiting); ``patience`` is how long the stack may then take to match and queue the results."""
    api = Api(target)
    before = dead_letters(target)
    now = datetime.now(UTC).replace(microsecond=0)
    cohort_id = f"smoke-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    deadline = now + lead
    try:
        reply = api.signed(
            "POST",
            "/cohorts",
            {
                "cohort_id": cohort_id,
                "scheme_id": SCHEME,
                "name": "Smoke test cohort",
                "recruitment_deadline": deadline.isoformat(),
                "coordinator_email": f"success+{cohort_id}-coordinator@simulator.amazonses.com",
            },
        )
        expect(reply.status == 201, f"opening the cohort: {reply.status} {reply.body}")
        log(f"opened cohort {cohort_id}, recruitment deadline {deadline:%H:%M:%S} UTC")
        mentee, mentor = submissions(cohort_id)
        reply = api.call(
            "POST",
            "/partners/applications",
            {"applications": [mentee]},
            {"x-api-key": target.mentee_partner_key},
        )
        expect(reply.status == 202, f"the mentee's partner's application: {reply.status} {reply.body}")
        reply = api.call(
            "POST", "/partners/applications", {"applications": [mentor]}, {"x-api-key": target.partner_key}
        )
        expect(reply.status == 202, f"the partner's application: {reply.status} {reply.body}")
        # The web form answers as always (202, a link emailed), and the application waits for it:
        # the same mailbox as the mentee's, so it would not count twice even if confirmed.
        form = {**mentee, "applicant": _applicant(cohort_id, "mentee", MENTEE_PARTNER, 6)}
        del form["reference"]
        reply = api.call("POST", "/applications", form)
        expect(reply.status == 202, f"the web form's application: {reply.status} {reply.body}")
        log("applied through two partners' keys (a mentee, a mentor) and the web form (held for its link)")
        log(f"waiting for the recruitment deadline, {deadline:%H:%M:%S} UTC")
        deadline_passes(deadline)
        status = _wait_for_matching(api, cohort_id, deadline + patience, poll, log)
        expect(status == "matched", f"the cohort ended {status!r}, not matched")
        progress = api.signed("GET", f"/cohorts/{cohort_id}").body
        expect(progress["applications"] == 2, f"2 applications sent, {progress['applications']} recorded")
        matches = api.signed("GET", f"/cohorts/{cohort_id}/matches").body["matches"]
        expect(len(matches) == 1, f"expected the mentee and the mentor to be matched, found {matches}")
        status_reply = api.call(
            "GET", f"/partners/applications/{mentor['reference']}", headers={"x-api-key": target.partner_key}
        )
        expect(status_reply.body.get("status") == "matched", f"the partner is told {status_reply.body}")
        log("matched: one pair, and the partner is told its mentor was matched")
        after = dead_letters(target)
        gained = {
            name: after[name] - before.get(name, 0) for name in after if after[name] > before.get(name, 0)
        }
        expect(not gained, f"dead-letter queues gained messages during the run: {gained}")
        log(f"dead-letter queues: nothing new ({after})")
    finally:
        removed = clean_up(target, cohort_id)
        log(f"cleaned up {removed} items of cohort {cohort_id}")
    return cohort_id


def _wait_for_matching(api: Api, cohort_id: str, until: datetime, poll: float, log: Log) -> str:
    """The cohort's status once matching has finished (or the last one seen when out of patience)."""
    status = ""
    while True:
        status = api.signed("GET", f"/cohorts/{cohort_id}").body["cohort"]["status"]
        if status in {"matched", "provisional"} or datetime.now(UTC) >= until:
            return str(status)
        log(f"cohort {cohort_id} is {status}; waiting")
        time.sleep(poll)


def _programme_dates(target: Target, cohort_id: str) -> list[str]:
    """The ids of the cohort's programme dates that have schedules (read from the schedules, so
    that none is left whatever the calendar)."""
    prefix = EventBridgeDeadlines.programme_prefix(cohort_id)
    found = []
    for page in (
        target.client("scheduler")
        .get_paginator("list_schedules")
        .paginate(GroupName=target.schedule_group, NamePrefix=prefix)
    ):
        found += [s["Name"].removeprefix(prefix) for s in page["Schedules"] if s["Name"].startswith(prefix)]
    return found


def clean_up(target: Target, cohort_id: str) -> int:
    """Deletes what the journey wrote: the cohort's deadline schedule if it has not fired and its
    programme dates' (a date of a cohort that no longer exists would end on the dead-letter queue),
    the cohort's items, its entry in the cohort list, its claims (found by their cohort), its
    participants' links and its monitoring answers."""
    scheduler = target.client("scheduler")
    # Its deadline, and its programme's dates (months ahead: each would otherwise fire for a cohort
    # that no longer exists, and end on the dead-letter queue).
    names = [EventBridgeDeadlines.name_for(cohort_id)] + [
        EventBridgeDeadlines.programme_name(cohort_id, moment_id)
        for moment_id in _programme_dates(target, cohort_id)
    ]
    for name in names:
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=name, GroupName=target.schedule_group)
    dynamodb = target.client("dynamodb")
    keys: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=target.applications_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}},
        ProjectionExpression="pk, sk",
    ):
        keys += page["Items"]
    keys.append({"pk": {"S": "COHORTS"}, "sk": {"S": f"COHORT#{cohort_id}"}})
    for prefix in ("CLAIM#", "HELD#"):  # claims, and applications held for their emailed link
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=target.applications_table,
            FilterExpression="begins_with(pk, :prefix) AND cohort_id = :cohort",
            ExpressionAttributeValues={":prefix": {"S": prefix}, ":cohort": {"S": cohort_id}},
            ProjectionExpression="pk, sk",
        ):
            keys += page["Items"]
    # The participants' personal links, each in a partition of its own (by its hash), kept by notify.
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=target.applications_table,
        FilterExpression="begins_with(pk, :prefix) AND contains(#data, :cohort)",
        ExpressionAttributeNames={"#data": "data"},
        ExpressionAttributeValues={":prefix": {"S": "LINK#"}, ":cohort": {"S": f'"cohort_id":"{cohort_id}"'}},
        ProjectionExpression="pk, sk",
    ):
        keys += page["Items"]
    removed = _delete(dynamodb, target.applications_table, keys)
    records = [
        {"record_id": item["record_id"]}
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=target.monitoring_table,
            FilterExpression="cohort_id = :cohort",
            ExpressionAttributeValues={":cohort": {"S": cohort_id}},
            ProjectionExpression="record_id",
        )
        for item in page["Items"]
    ]
    return removed + _delete(dynamodb, target.monitoring_table, records)


def _delete(dynamodb: Any, table: str, keys: list[dict[str, Any]]) -> int:
    for start in range(0, len(keys), 25):
        requests_: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
        while requests_:
            requests_ = dict(dynamodb.batch_write_item(RequestItems=requests_).get("UnprocessedItems", {}))
    return len(keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.smoke",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack-name", required=True, help="the stack sam deploy created")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="the AWS CLI profile to use")
    args = parser.parse_args(argv)
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    started = time.monotonic()
    try:
        cohort_id = journey(from_stack(args.stack_name, session), log=_say)
    except SmokeFailedError as failure:
        _say(f"FAILED: {failure}")
        return 1
    _say(f"OK: cohort {cohort_id} went from open to matched in {time.monotonic() - started:.0f} s")
    return 0


def _say(line: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S}  {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
