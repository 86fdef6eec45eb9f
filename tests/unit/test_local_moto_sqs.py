"""The local runtime's moto sends and deletes SQS messages as moto does, without counting the queue.

Each scenario runs twice on a fresh in-process SQS backend, once with moto's own methods and once
with the adjustments of ``infrastructure.local.moto_server``, and must come out the same: what each
call answered, and what is left on each queue. No server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from moto.sqs.models import Message, Queue, SQSBackend

from infrastructure.local import moto_server

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
MOTO = {
    (Queue, "attributes"): moto_server.MOTO_QUEUE_ATTRIBUTES,
    (SQSBackend, "send_message"): moto_server.MOTO_SEND_MESSAGE,
    (SQSBackend, "send_message_batch"): moto_server.MOTO_SEND_MESSAGE_BATCH,
    (Message, "mark_received"): moto_server.MOTO_MARK_RECEIVED,
    (Queue, "delete_message"): moto_server.MOTO_DELETE_MESSAGE,
}


def _original(owner: type, name: str) -> Any:
    return MOTO[(owner, name)]


def _use(monkeypatch: pytest.MonkeyPatch, adjusted: bool) -> None:
    for owner, name in MOTO:
        monkeypatch.setattr(owner, name, _original(owner, name))
    if adjusted:
        monkeypatch.setattr(
            Queue, "attributes", moto_server._attributes_read_by_a_send(_original(Queue, "attributes"))
        )
        monkeypatch.setattr(
            SQSBackend, "send_message", moto_server._a_send(_original(SQSBackend, "send_message"))
        )
        monkeypatch.setattr(
            SQSBackend, "send_message_batch", moto_server._a_send(_original(SQSBackend, "send_message_batch"))
        )
        monkeypatch.setattr(Message, "mark_received", moto_server._mark_received)
        monkeypatch.setattr(Queue, "delete_message", moto_server._delete_message)


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except Exception as error:  # noqa: BLE001 - the answer moto gives is what is compared
        return type(error).__name__
    return "ok" if result is None or isinstance(result, Message) else result


def _sends(sqs: SQSBackend) -> list[Any]:
    fifo: dict[str, Any] = {"FifoQueue": "true"}
    sqs.create_queue("plain")
    sqs.create_queue("dedup.fifo", **{**fifo, "ContentBasedDeduplication": "true"})
    sqs.create_queue("explicit.fifo", **{**fifo, "ContentBasedDeduplication": "false"})
    outcomes = [
        _outcome(lambda: sqs.send_message("plain", "a")),
        _outcome(lambda: sqs.send_message("dedup.fifo", "same", group_id="g")),
        _outcome(lambda: sqs.send_message("dedup.fifo", "same", group_id="g")),  # a duplicate, dropped
        _outcome(lambda: sqs.send_message("explicit.fifo", "no group")),
        _outcome(lambda: sqs.send_message("explicit.fifo", "no id", group_id="g")),
        _outcome(lambda: sqs.send_message("explicit.fifo", "ok", group_id="g", deduplication_id="1")),
        _outcome(
            lambda: len(
                sqs.send_message_batch(
                    "dedup.fifo",
                    {
                        str(n): {
                            "Id": str(n),
                            "MessageBody": f"b{n % 2}",
                            "MessageAttributes": {},
                            "DelaySeconds": None,
                            "MessageGroupId": "g",
                        }
                        for n in range(4)
                    },
                )[0]
            )
        ),
    ]
    attributes = {name: dict(sqs.get_queue(name).attributes) for name in ("plain", "dedup.fifo")}
    for values in attributes.values():
        values.pop("CreatedTimestamp"), values.pop("LastModifiedTimestamp")
    return [*outcomes, attributes, *(len(sqs.get_queue(n)._messages) for n in ("plain", "dedup.fifo"))]


def _deletes(sqs: SQSBackend) -> list[Any]:
    sqs.create_queue("work")
    sqs.create_queue("other")
    for n in range(6):
        sqs.send_message("work", f"m{n}")
    sqs.send_message("other", "x")
    first = [str(m.receipt_handle) for m in sqs.receive_message("work", 3, 0, 0)]  # visible again at once
    again = [
        str(m.receipt_handle) for m in sqs.receive_message("work", 6, 0, 30)
    ]  # new handles, same messages
    elsewhere = str(sqs.receive_message("other", 1, 0, 30)[0].receipt_handle)
    outcomes = [
        _outcome(lambda: sqs.delete_message("work", again[0])),
        _outcome(lambda: sqs.delete_message("work", again[0])),  # deleted twice
        _outcome(lambda: sqs.delete_message("work", first[1])),  # an old handle of a message
        _outcome(lambda: sqs.delete_message("work", again[1])),  # a newer handle of the same message
        _outcome(lambda: sqs.delete_message("work", "not-a-handle")),
        _outcome(lambda: sqs.delete_message("work", elsewhere)),  # another queue's message
        _outcome(lambda: sqs.delete_message("other", elsewhere)),
    ]
    left = {name: sorted(m.body for m in sqs.get_queue(name)._messages) for name in ("work", "other")}
    return [*outcomes, left, len(sqs.get_queue("work").pending_messages)]


@pytest.mark.parametrize("scenario", [_sends, _deletes])
def test_sends_and_deletes_answer_as_moto_s_own(
    monkeypatch: pytest.MonkeyPatch, scenario: Callable[[SQSBackend], list[Any]]
) -> None:
    _use(monkeypatch, adjusted=False)
    expected = scenario(SQSBackend("eu-west-2", ACCOUNT))
    _use(monkeypatch, adjusted=True)
    found = scenario(SQSBackend("eu-west-2", ACCOUNT))

    assert found == expected
    refusals = {"MissingParameter", "InvalidParameterValue", "ReceiptHandleIsInvalid"}
    assert refusals & {o for o in expected if isinstance(o, str)}  # moto's refusals are reached too


def test_a_send_does_not_count_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, adjusted=True)
    sqs = SQSBackend("eu-west-2", ACCOUNT)
    sqs.create_queue("notify")
    counted: list[str] = []
    every = vars(Queue)["messages"].fget

    def messages(queue: Queue) -> list[Message]:
        counted.append(queue.name)
        return every(queue)  # type: ignore[no-any-return]

    monkeypatch.setattr(Queue, "messages", property(messages))

    for n in range(3):
        sqs.send_message("notify", f"m{n}")
    sent = len(counted)
    sqs.get_queue("notify").attributes  # noqa: B018 - what GetQueueAttributes reads

    assert sent == 0
    assert counted == ["notify"]
