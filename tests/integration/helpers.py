"""The integration harness: handlers called in-process, as Lambda would, against a moto server
provisioned from template.yaml, through boto3 exactly as production code talks to AWS."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from mentoring.adapters.messaging import EventBridgeDeadlines

from infrastructure.local.calls import acting_as

EVENTS = Path(__file__).parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


class FakeContext:
    """The parts of the Lambda context that Powertools reads."""

    def __init__(self, name: str, remaining_ms: int = 30_000, request_id: str | None = None) -> None:
        self.function_name = name
        self.remaining_ms = remaining_ms
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-2:123456789012:function:{name}"
        self.aws_request_id = request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def api_event(
    method: str,
    path: str,
    body: Any,
    *,
    resource: str | None = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, from the real-shaped one in tests/events."""
    event = load_event("api_rest_proxy.json")
    resource = resource or path
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        body=body if body is None or isinstance(body, str) else json.dumps(body),
    )
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    names = [p.strip("{}") for p in resource.split("/") if p.startswith("{")]
    values = [v for p, v in zip(resource.split("/"), path.split("/"), strict=True) if p.startswith("{")]
    event["pathParameters"] = dict(zip(names, values, strict=True)) or None
    # On API Gateway's own domain the address holds the stage, which the event's path leaves out.
    event["requestContext"].update(
        resourcePath=resource, httpMethod=method, requestId=str(uuid.uuid4()), path=f"/dev{path}"
    )
    event["requestContext"]["identity"]["apiKeyId"] = api_key_id
    return event


def sqs_event(bodies: list[Any], message_id: str | None = None) -> dict[str, Any]:
    template = load_event("sqs_batch.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = message_id if message_id and i == 0 else str(uuid.uuid4())
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


_counter = iter(range(1_000_000))


def applicant_submission(
    cohort_id: str,
    *,
    role: str = "mentee",
    institution: str = "UCL",
    grade: int | str = 6,
    email: str | None = None,
    staff_number: str | None = None,
    capacity: int = 1,
) -> dict[str, Any]:
    n = next(_counter)
    return {
        "cohort_id": cohort_id,
        "role": role,
        "applicant": {
            "given_name": f"Given{n}",
            "family_name": f"Family{n}",
            "email": email or f"person{n}@example.ac.uk",
            **({"staff_number": staff_number} if staff_number else {}),
            "institution": institution,
            "department": f"Department {n}",
            "job_title": f"Job title {n}",
            "grade": grade,
        },
        "self_identification": (
            {"minority_ethnic_background": "yes", "staff_group": "professional_services"}
            if role == "mentee"
            else {"staff_group": "professional_services"}
        ),
        "profile": {
            "skills": ["budgeting", "data"],
            "career_goals": ["leadership"],
            **({"capacity": capacity} if role == "mentor" else {}),
        },
        "monitoring": {"ethnicity": "asian_indian", "gender": "woman", "age_band": "35-44"},
        "consent": True,
    }


def intake_message(submission: dict[str, Any]) -> dict[str, Any]:
    """The message submit queues for this submission: the monitoring answers sealed with the
    Monitoring key (KMS in moto), the rest as sent."""
    from mentoring.adapters.kms import KmsAnswers
    from mentoring.models import MonitoringAnswers

    details = {k: v for k, v in submission.items() if k not in {"monitoring", "reference"}}
    answers = MonitoringAnswers.model_validate(submission.get("monitoring", {}))
    sealed = KmsAnswers(os.environ["MONITORING_KEY_ID"]).seal(answers, submission["cohort_id"])
    return {
        "submission_id": str(uuid.uuid4()),
        "received_at": datetime.now(UTC).isoformat(),
        "channel": "web_form",
        "partner": None,
        "submission": details,
        "monitoring": sealed.model_dump(),
    }


def queued_bodies(stack: Stack, queue: str) -> list[dict[str, Any]]:
    """Takes every message off the queue (as a consumer would) and returns the bodies."""
    sqs = stack.client("sqs")
    url = stack.physical(queue, "Url")
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


FORM = "application/x-www-form-urlencoded"


def confirmation_tokens(stack: Stack) -> list[str]:
    """The tokens of the confirmation links waiting on the notify queue, taken off it (any other
    notification is put back)."""
    tokens, others = [], []
    for body in queued_bodies(stack, "NotifyQueue"):
        link = body.get("confirmation")
        if link:
            tokens.append(link["token"])
        else:
            others.append(body)
    sqs, url = stack.client("sqs"), stack.physical("NotifyQueue", "Url")
    for body in others:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    return tokens


def confirm(stack: Stack, token: str) -> dict[str, Any]:
    """The applicant presses the button on the page their emailed link opened."""
    event = api_event("POST", "/applications/confirm", f"token={token}", content_type=FORM)
    response: dict[str, Any] = stack.call("SubmitFunction", event)
    return response


def apply_and_confirm(
    stack: Stack, body: dict[str, Any] | str, content_type: str = "application/json"
) -> str:
    """A web-form application, confirmed from its emailed link: its submission id."""
    response = stack.call(
        "SubmitFunction", api_event("POST", "/applications", body, content_type=content_type)
    )
    assert response["statusCode"] == 202, response["body"]
    (token,) = confirmation_tokens(stack)
    confirmed = confirm(stack, token)
    assert confirmed["statusCode"] == 200, confirmed["body"]
    if content_type == FORM:
        found = re.search(r"reference is <strong>([0-9a-f-]{36})</strong>", response["body"])
        assert found is not None
        return found.group(1)
    submission_id: str = json.loads(response["body"])["submission_id"]
    return submission_id


@dataclass
class Stack:
    """The provisioned stack: physical resources, and the functions of the template to call."""

    endpoint: str
    physical_ids: dict[str, dict[str, str]]
    handler_modules: dict[str, str]
    api_key_ids: dict[str, str]
    sent: Callable[[], list[bytes]]
    _modules: dict[str, ModuleType] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="eu-west-2")  # type: ignore[call-overload]

    def physical(self, logical_id: str, attribute: str = "Ref") -> str:
        return self.physical_ids[logical_id][attribute]

    def key_id(self, institution: str) -> str:
        return self.api_key_ids[institution]

    def call(
        self, function: str, event: dict[str, Any], remaining_ms: int = 30_000, request_id: str | None = None
    ) -> Any:
        """Invokes the handler with ``remaining_ms`` of the invocation left (and ``request_id``, as
        Lambda keeps it when it retries an asynchronous invocation)."""
        with acting_as(function):  # its AWS calls are recorded as the function's
            if function not in self._modules:
                self._modules[function] = importlib.import_module(self.handler_modules[function])
            context = FakeContext(function, remaining_ms, request_id)
            return self._modules[function].handler(event, context)

    def purge(self, queue: str) -> None:
        queued_bodies(self, queue)

    # ------------------------------------------------------------ cohorts
    def cohort_request(
        self, deadline: datetime | None = None, scheme_id: str = "b-mentor-professional"
    ) -> dict[str, str]:
        deadline = deadline or datetime.now(UTC) + timedelta(hours=1)
        return {
            "cohort_id": f"it-{uuid.uuid4().hex[:12]}",
            "scheme_id": scheme_id,
            "name": "Integration cohort",
            "recruitment_deadline": deadline.isoformat(),
            "coordinator_email": "coordinator@example.ac.uk",
        }

    def open_cohort(self, deadline: datetime | None = None, scheme_id: str = "b-mentor-professional") -> str:
        request = self.cohort_request(deadline, scheme_id)
        response = self.call("AdminFunction", api_event("POST", "/cohorts", request))
        assert response["statusCode"] == 201, response["body"]
        return request["cohort_id"]

    def deliver_deadline(
        self, cohort_id: str, request_id: str | None = None, detail_type: str = "RecruitmentDeadlineReached"
    ) -> dict[str, Any]:
        event = load_event("deadline_event.json")
        event["id"] = str(uuid.uuid4())
        event["detail"] = {"cohort_id": cohort_id}
        if detail_type != "RecruitmentDeadlineReached":
            event.update({"detail-type": detail_type, "source": "mentoring.matching"})
        result: dict[str, Any] = self.call("MatchingFunction", event, request_id=request_id)
        return result

    def store_monitoring(self, cohort_id: str) -> dict[str, Any]:
        """The monitoring function's part of the deadline: the cohort's answers stored in batches."""
        event = load_event("deadline_event.json")
        event["id"] = str(uuid.uuid4())
        event["detail"] = {"cohort_id": cohort_id}
        result: dict[str, Any] = self.call("MonitoringFunction", event)
        return result

    def schedule_for(self, cohort_id: str) -> dict[str, Any]:
        schedule: dict[str, Any] = self.client("scheduler").get_schedule(
            Name=EventBridgeDeadlines.name_for(cohort_id), GroupName=self.physical("DeadlineScheduleGroup")
        )
        return schedule

    # ------------------------------------------------------------ stores
    def _items(self, cohort_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        response = self.client("dynamodb").query(
            TableName=self.physical("ApplicationsTable"),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": f"COHORT#{cohort_id}"}, ":p": {"S": prefix}},
        )
        for item in response["Items"]:
            yield json.loads(item["data"]["S"])

    def applications(self, cohort_id: str) -> list[dict[str, Any]]:
        return list(self._items(cohort_id, "APPLICATION#"))

    def matches(self, cohort_id: str) -> list[dict[str, Any]]:
        return list(self._items(cohort_id, "MATCH#"))

    def unmatched(self, cohort_id: str) -> list[dict[str, Any]]:
        return list(self._items(cohort_id, "UNMATCHED#"))

    def monitoring_records(self, cohort_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client("dynamodb").scan(
            TableName=self.physical("MonitoringTable")
        )["Items"]
        return [i for i in items if i["cohort_id"]["S"] == cohort_id]

    def sent_emails(self) -> list[bytes]:
        return self.sent()


@contextmanager
def failing(
    service: str, operation: str, code: str = "ThrottlingException", times: int = 1, after: int = 0
) -> Iterator[list[int]]:
    """After letting ``after`` calls through, the next ``times`` calls of ``operation`` by the
    handlers' own client fail with ``code``, as AWS answers them (the call never reaches moto).
    Yields the count of calls it failed."""
    from botocore.awsrequest import AWSResponse
    from mentoring.adapters import client

    failed = [0]
    passed = [0]

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if passed[0] < after:
            passed[0] += 1
            return None
        if failed[0] >= times:
            return None
        failed[0] += 1
        error = {
            "Error": {"Code": code, "Message": "injected by the test"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://injected", 400, {}, None), error

    events = client(service).meta.events
    event = f"before-call.{client(service).meta.service_model.service_id.hyphenize()}.{operation}"
    events.register(event, refuse, unique_id=f"fault-{event}")
    try:
        yield failed
    finally:
        events.unregister(event, unique_id=f"fault-{event}")
