"""A cohort's programme on the local stack, on a moved clock: the local runtime fires each
programme date's schedule when the clock reaches it (``fire_due``), and each person gets each
email once, with their personal link, even when EventBridge delivers a date's event again."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from mentoring.models import Cohort, CohortStatus
from mentoring.programme_dates import moments

from infrastructure.local.client import ApiClient
from infrastructure.local.provision import sent_emails
from infrastructure.local.runtime import LocalRuntime
from tests.conftest import free_port
from tests.integration.helpers import applicant_submission

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https?://\S+/programme/[a-z0-9-]+\?token=([A-Za-z0-9_-]{43})")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, ApiClient]]:
    """A stack of its own: its clock is moved months ahead, which would fire other tests' dates."""
    folder = tmp_path_factory.mktemp("programme")
    with LocalRuntime(
        api_port=free_port(), aws_port=free_port(), outbox=None, logs=folder / "logs"
    ) as runtime:
        yield runtime, ApiClient(runtime.api_url)


def _emails(runtime: LocalRuntime, since: int = 0) -> list[tuple[str, str, str, bytes]]:
    """(to, subject, text, raw) of each email sent after the first ``since``."""
    found = []
    for _, raw in sent_emails(runtime.aws_endpoint)[since:]:
        message = message_from_bytes(raw, policy=policy.default)  # headers unfolded
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        payload = text.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((str(message["To"]), str(message["Subject"]), payload.decode(), raw))
    return found


def _cohort(runtime: LocalRuntime, api: ApiClient, cohort_id: str) -> Cohort:
    reply = api.signed("GET", f"/cohorts/{cohort_id}")
    assert reply.status == 200, reply.body
    return Cohort.model_validate(reply.body["cohort"])


def test_each_programme_date_fires_on_the_moved_clock_and_each_email_arrives_once(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, api = stack
    # Given a B-MEntor Professional cohort (the scheme's calendar, moved to its deadline) with a
    # mentee and a mentor, matched at its deadline.
    cohort_id = f"programme-{uuid.uuid4().hex[:8]}"
    deadline = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    opened = api.signed("POST", "/cohorts", {
        "cohort_id": cohort_id, "scheme_id": "b-mentor-professional", "name": "Programme on a moved clock",
        "recruitment_deadline": deadline.isoformat(), "coordinator_email": "edi@example.ac.uk",
    })  # fmt: skip
    assert opened.status == 201, opened.body
    mentee = applicant_submission(cohort_id, email=f"amara-{cohort_id}@example.ac.uk")
    mentor = applicant_submission(
        cohort_id, role="mentor", institution="KCL", grade=9, email=f"diana-{cohort_id}@example.ac.uk"
    )
    for person in (mentee, mentor):
        assert api.apply(person).status == 202
        assert api.confirm(runtime.confirmation_link(person["applicant"]["email"])).status == 200
    runtime.wait_until_drained()
    assert f"deadline-{cohort_id}" in runtime.fire_due(now=deadline)
    runtime.wait_until_drained()
    cohort = _cohort(runtime, api, cohort_id)
    assert cohort.status is CohortStatus.MATCHED
    before = len(sent_emails(runtime.aws_endpoint))
    dates = [m for m in moments(cohort) if m.at > deadline]

    # When the clock moves through the programme, one date at a time, and each date's event is
    # delivered once more (EventBridge delivers at least once).
    for at in sorted({m.at for m in dates}):
        fired = runtime.fire_due(now=at)
        # (the first move also passes the matching run's lease watch, which finds it finished)
        assert sorted(n for n in fired if not n.startswith("lease-")) == sorted(
            f"programme-{cohort_id}-{m.moment_id}" for m in dates if m.at == at
        )
        runtime.wait_until_drained()
        for moment in (m for m in dates if m.at == at):
            runtime.put_event(
                "mentoring.programme",
                "ProgrammeDateReached",
                {"cohort_id": cohort_id, "moment_id": moment.moment_id},
                wait=True,
                time=moment.at,
            )
        runtime.wait_until_drained()

    # Then each person was sent each of their dates' emails once, each with their own link.
    sent = _emails(runtime, before)
    counts = Counter((to, subject) for to, subject, _, _ in sent)
    assert set(counts.values()) == {1}, counts
    amara, diana = mentee["applicant"]["email"], mentor["applicant"]["email"]
    subjects = {to: sorted(s for t, s in counts if t == to) for to in (amara, diana)}
    assert subjects[amara] == sorted(
        [
            "B-MEntor Professional: reminder of your Mentee training on " + _day(dates, "mentee", 7),
            "B-MEntor Professional: reminder of your Mentee training tomorrow",
            "B-MEntor Professional: have you met yet?",
            "B-MEntor Professional: halfway through the programme",
            "B-MEntor Professional: you are invited to the End of year celebration",
            "B-MEntor Professional: the programme ends, tell us how it went",
        ]
    )
    assert len(subjects[diana]) == 6
    assert "B-MEntor Professional: reminder of your Mentor training tomorrow" in subjects[diana]
    for person in (amara, diana):
        tokens = {m.group(1) for to, _, text, _ in sent if to == person for m in LINK.finditer(text)}
        assert len(tokens) == 1, (person, tokens)  # one personal link, in every email but the invitation
    reminders = [raw for _, subject, _, raw in sent if "training" in subject]
    assert reminders
    assert all(b"Content-Type: text/calendar" in raw for raw in reminders)
    assert runtime.dead_letter_counts().get("DeadlineDeadLetterQueue", 0) == 0


def _day(dates: list[object], role: str, days: int) -> str:
    """The day of the ``role``'s training a ``days``-before reminder is about, as a subject says it."""
    from mentoring.programme import day

    first = [m for m in dates if getattr(m, "days_before", None) == days][0 if role == "mentee" else 1]
    on = first.on  # type: ignore[attr-defined]
    return day(on)


def test_a_date_of_no_cohort_is_retried_then_parked_with_its_error(
    stack: tuple[LocalRuntime, ApiClient],
) -> None:
    runtime, _ = stack
    sqs = runtime.client("sqs")
    url = runtime.physical["DeadlineDeadLetterQueue"]["Ref"]

    runtime.put_event(
        "mentoring.programme",
        "ProgrammeDateReached",
        {"cohort_id": "no-such-cohort", "moment_id": "end"},
        wait=True,
    )

    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["functionArn"].endswith("ProgrammeFunction")
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"] == {"cohort_id": "no-such-cohort", "moment_id": "end"}
    assert "does not exist" in record["responsePayload"]["errorMessage"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
