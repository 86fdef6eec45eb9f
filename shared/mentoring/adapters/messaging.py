"""SQS queues, SES email and the EventBridge Scheduler deadline."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from pydantic import BaseModel

from mentoring.adapters import client, in_parallel
from mentoring.models import ProgrammeMoment
from mentoring.ports import EmailNotSentError, Lease, OutgoingEmail

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient

LONDON = ZoneInfo("Europe/London")
DEADLINE_SOURCE = "mentoring.deadlines"
SCHEDULE_NAME_LIMIT = 64  # EventBridge Scheduler refuses a longer name (ValidationException)
MOMENT_ID_LIMIT = 24  # mentoring.models.MomentId
DEADLINE_DETAIL_TYPE = "RecruitmentDeadlineReached"
PROGRAMME_SOURCE = "mentoring.programme"
PROGRAMME_DETAIL_TYPE = "ProgrammeDateReached"
LEASE_SOURCE = "mentoring.matching"
LEASE_EXPIRED = "MatchingLeaseExpired"


class QueueSendError(RuntimeError):
    pass


class SqsQueue:
    def __init__(self, url: str, sqs: SQSClient | None = None) -> None:
        self.url = url
        self._client = sqs

    @property
    def sqs(self) -> SQSClient:
        if self._client is None:
            self._client = client("sqs")
        return self._client

    def send_all(self, messages: Iterable[BaseModel]) -> None:
        """Sends in batches of ten, several batches at once (a national cohort's results are tens
        of thousands of messages); raises unless every message is on the queue."""
        every = list(messages)
        in_parallel(self._send_batch, [every[start : start + 10] for start in range(0, len(every), 10)])

    def _send_batch(self, batch: list[BaseModel]) -> None:
        entries: list[Any] = [{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(batch)]
        for _ in range(5):
            failed = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
            if not failed:
                return
            retry = {f["Id"] for f in failed if not f.get("SenderFault")}
            if len(retry) < len(failed):
                raise QueueSendError(f"queue refused messages: {[f.get('Message') for f in failed]}")
            entries = [e for e in entries if e["Id"] in retry]
        raise QueueSendError(f"queue kept refusing {len(entries)} messages")


SES_THROTTLING = {"TooManyRequestsException", "ThrottlingException", "LimitExceededException"}


class SesMailer:
    """Sends raw MIME (text and HTML alternatives), which every SESv2 endpoint keeps whole.

    SES throttling is retried here with jittered exponential backoff (``attempts`` in all), and
    nothing else is: the client makes one attempt, because a request whose answer was lost may
    have been accepted, and resending it would send the email twice.

    With ``rate`` (emails a second), attempts are spaced so that this mailer never asks SES faster
    than that: notify gives each of its invocations its share of the account's sending rate.
    """

    def __init__(
        self,
        sender: str,
        ses: SESV2Client | None = None,
        attempts: int = 3,
        backoff: float = 0.5,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sender = sender
        self._client = ses
        self.attempts = attempts
        self.backoff = backoff
        self.interval = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next_attempt = 0.0

    def _wait_for_turn(self) -> None:
        """Holds the attempt back until ``interval`` has passed since the last one."""
        wait = self._next_attempt - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._next_attempt = max(self._clock(), self._next_attempt) + self.interval

    @property
    def ses(self) -> SESV2Client:
        if self._client is None:
            self._client = client("sesv2")
        return self._client

    def build(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        for attachment in email.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            # A calendar invitation says it is one to add (PUBLISH), so mail clients offer "Add to calendar".
            params = {"method": "PUBLISH"} if attachment.content_type == "text/calendar" else {}
            message.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                params=params,
            )
        return message

    def send(self, email: OutgoingEmail) -> str:
        raw = self.build(email).as_bytes()
        attempt = 1
        while True:
            self._wait_for_turn()
            try:
                response = self.ses.send_email(
                    FromEmailAddress=self.sender,
                    Destination={"ToAddresses": [email.to]},
                    Content={"Raw": {"Data": raw}},
                )
                return response.get("MessageId", "")
            except ClientError as error:  # SES answered, and did not accept the email
                code = error.response.get("Error", {}).get("Code", "")
                if code not in SES_THROTTLING or attempt >= self.attempts:
                    raise EmailNotSentError(f"SES refused the email: {code}") from error
            except (ConnectTimeoutError, EndpointConnectionError) as error:  # the request never went
                raise EmailNotSentError(f"SES was not reached: {error}") from error
            self._sleep(random.uniform(0, self.backoff * 2 ** (attempt - 1)))  # noqa: S311 (jitter)
            attempt += 1


class EventBridgeDeadlines:
    """A one-time schedule per cohort that puts RecruitmentDeadlineReached on the bus at the deadline."""

    def __init__(
        self,
        group: str,
        bus_arn: str,
        role_arn: str,
        dead_letter_arn: str,
        scheduler: EventBridgeSchedulerClient | None = None,
    ) -> None:
        self.group = group
        self.bus_arn = bus_arn
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn
        self._client = scheduler

    @property
    def scheduler(self) -> EventBridgeSchedulerClient:
        if self._client is None:
            self._client = client("scheduler")
        return self._client

    @staticmethod
    def name_for(cohort_id: str) -> str:
        """``deadline-<cohort id>``, within Scheduler's 64 characters: a longer one keeps the start
        of the id and ends with a digest of all of it, so that each cohort has its own."""
        name = f"deadline-{cohort_id}"
        if len(name) <= SCHEDULE_NAME_LIMIT:
            return name
        digest = hashlib.sha256(cohort_id.encode()).hexdigest()[:12]
        return f"{name[: SCHEDULE_NAME_LIMIT - len(digest) - 1]}-{digest}"

    def one_time(
        self, name: str, at: datetime, source: str, detail_type: str, detail: dict[str, Any], description: str
    ) -> dict[str, Any]:
        """A one-time schedule's full parameters: it puts one event on the bus at ``at``, with retries
        and the deadline's dead-letter queue, and deletes itself once it has fired."""
        # Europe/London wall-clock time: what coordinators mean by "5pm on the 31st".
        local = at.astimezone(LONDON).replace(tzinfo=None, microsecond=0)
        return {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": f"at({local.isoformat()})",
            "ScheduleExpressionTimezone": "Europe/London",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Description": description,
            "Target": {
                "Arn": self.bus_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(detail),
                "EventBridgeParameters": {"DetailType": detail_type, "Source": source},
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": self.dead_letter_arn},
            },
        }

    def schedule_deadline(self, cohort_id: str, at: datetime) -> str:
        name = self.name_for(cohort_id)
        params: Any = self.one_time(
            name,
            at,
            DEADLINE_SOURCE,
            DEADLINE_DETAIL_TYPE,
            {"cohort_id": cohort_id},
            f"Recruitment deadline of cohort {cohort_id}",
        )
        # One left by an earlier attempt that did not store its cohort is made to say this deadline.
        self._create_or_update(params)
        return name

    def _create_or_update(self, params: Any) -> None:
        """Creates the schedule; one of that name already there (an earlier attempt's, or a date
        that moved) takes these parameters: an update replaces them all, so all are sent again."""
        try:
            self.scheduler.create_schedule(**params)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            self.scheduler.update_schedule(**params)

    @staticmethod
    def programme_prefix(cohort_id: str) -> str:
        """``programme-<cohort id>-``, which each of the cohort's programme schedules is named by
        with its date's id (at most 24 characters) after it, within Scheduler's 64: for a longer id,
        the start of the id and a digest of all of it."""
        prefix = f"programme-{cohort_id}-"
        if len(prefix) + MOMENT_ID_LIMIT <= SCHEDULE_NAME_LIMIT:
            return prefix
        digest = hashlib.sha256(cohort_id.encode()).hexdigest()[:8]
        room = SCHEDULE_NAME_LIMIT - MOMENT_ID_LIMIT - len(f"programme---{digest}")
        return f"programme-{cohort_id[:room]}-{digest}-"

    @classmethod
    def programme_name(cls, cohort_id: str, moment_id: str) -> str:
        return cls.programme_prefix(cohort_id) + moment_id

    def schedule_programme(
        self, cohort_id: str, moments: Sequence[ProgrammeMoment], cancel: Sequence[str] = ()
    ) -> list[str]:
        """Several at once (a calendar of many sessions has many dates), each safe to repeat."""
        names = in_parallel(lambda moment: self._schedule_moment(cohort_id, moment), list(moments))
        in_parallel(lambda moment_id: self._cancel_moment(cohort_id, moment_id), list(cancel))
        return names

    def _schedule_moment(self, cohort_id: str, moment: ProgrammeMoment) -> str:
        name = self.programme_name(cohort_id, moment.moment_id)
        params: Any = self.one_time(
            name,
            moment.at,
            PROGRAMME_SOURCE,
            PROGRAMME_DETAIL_TYPE,
            {"cohort_id": cohort_id, "moment_id": moment.moment_id},
            f"Programme date {moment.moment_id} of cohort {cohort_id}",
        )
        self._create_or_update(params)  # scheduled before (a retry, a date that moved): it takes this time
        return name

    def _cancel_moment(self, cohort_id: str, moment_id: str) -> None:
        try:
            self.scheduler.delete_schedule(
                Name=self.programme_name(cohort_id, moment_id), GroupName=self.group
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise  # gone already: fired (and deleted itself), or an earlier attempt deleted it


class SchedulerLeaseWatch:
    """LeaseWatch: a one-time schedule, a minute after a matching run's lease runs out, that puts
    MatchingLeaseExpired on the bus; the matching function then raises the alarm if the cohort is
    still matching (its run died and no retry took over)."""

    def __init__(self, schedules: EventBridgeDeadlines) -> None:
        self.schedules = schedules

    @staticmethod
    def name_for(cohort_id: str, lease: Lease) -> str:
        """``lease-<start of the id>-<digest of the id>-<epoch>``: one a lease, within 64 characters."""
        digest = hashlib.sha256(cohort_id.encode()).hexdigest()[:8]
        return f"lease-{cohort_id[:30]}-{digest}-{int(lease.until.timestamp())}"

    def watch(self, cohort_id: str, lease: Lease) -> None:
        params: Any = self.schedules.one_time(
            self.name_for(cohort_id, lease),
            lease.until + timedelta(minutes=1),
            LEASE_SOURCE,
            LEASE_EXPIRED,
            {"cohort_id": cohort_id},
            f"Is cohort {cohort_id} still matching once its run's lease has run out?",
        )
        try:
            self.schedules.scheduler.create_schedule(**params)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise  # a conflict is this same watch, set by an earlier attempt


class EventBridgeAnnouncer:
    """DeadlineAnnouncer: puts RecruitmentDeadlineReached for a cohort on the bus, as its schedule
    does at the deadline (a coordinator's re-run of matching)."""

    def __init__(self, bus_arn: str, events: EventBridgeClient | None = None) -> None:
        self.bus_arn = bus_arn
        self._client = events

    @property
    def events(self) -> EventBridgeClient:
        if self._client is None:
            self._client = client("events")
        return self._client

    def announce(self, cohort_id: str) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "EventBusName": self.bus_arn,
                    "Source": DEADLINE_SOURCE,
                    "DetailType": DEADLINE_DETAIL_TYPE,
                    "Detail": json.dumps({"cohort_id": cohort_id}),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise QueueSendError(f"the event bus refused the deadline: {response['Entries']}")
