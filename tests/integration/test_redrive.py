"""make redrive: a dead-letter queue's messages go back to their queue, none lost."""

from __future__ import annotations

import json

import pytest

from infrastructure.redrive import main
from tests.integration.helpers import Stack, queued_bodies

pytestmark = pytest.mark.integration


def test_redrive_moves_every_parked_message_back_to_its_queue(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = stack.client("sqs")
    dead = stack.physical("IntakeDeadLetterQueue", "Url")
    parked = [{"submission_id": f"parked-{n}"} for n in range(13)]
    for body in parked:
        sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(body))

    assert main(["IntakeDeadLetterQueue", "--endpoint-url", stack.endpoint]) == 0

    assert "moved 13 messages" in capsys.readouterr().out
    assert sorted(b["submission_id"] for b in queued_bodies(stack, "IntakeQueue")) == sorted(
        b["submission_id"] for b in parked
    )
    assert sqs.receive_message(QueueUrl=dead, WaitTimeSeconds=0).get("Messages", []) == []
