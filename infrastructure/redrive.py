"""``make redrive QUEUE=IntakeDeadLetterQueue``: moves the messages of a dead-letter queue back to
the queue they came from, once its consumer is fixed.

QUEUE is a queue URL, or the dead-letter queue's logical id in template.yaml. The logical id is
found in the deployed stack (``--stack-name``, through CloudFormation) or, without a stack name,
in the local moto server (``--endpoint-url``, the queue whose name ends with the logical id).
The source queue is the one whose redrive policy names this dead-letter queue (SQS's own
ListDeadLetterSourceQueues). Each message is sent to it and only then deleted from the
dead-letter queue, so a failure part-way loses nothing (a message may at worst be moved twice,
which the consumers' idempotency absorbs).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3


def resolve(
    sqs: Any, queue: str, stack: str | None, session: boto3.session.Session, endpoint: str | None
) -> str:
    if queue.startswith(("https://", "http://")):
        return queue
    if stack:
        cloudformation = session.client("cloudformation", endpoint_url=endpoint)
        found = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=queue)
        return str(found["StackResourceDetail"]["PhysicalResourceId"])
    matches = [
        url for url in sqs.list_queues().get("QueueUrls", []) if url.rsplit("/", 1)[-1].endswith(queue)
    ]
    if len(matches) != 1:
        raise SystemExit(f"{queue}: {len(matches)} queues match; give the queue URL")
    return str(matches[0])


def redrive(sqs: Any, dead_letter_url: str, limit: int | None = None) -> tuple[str, int]:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dead_letter_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"{dead_letter_url}: is the dead-letter queue of {len(sources)} queues, not one")
    source = str(sources[0])
    moved = 0
    while limit is None or moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
            }
            for i, m in enumerate(messages)
        ]
        failed = {f["Id"] for f in sqs.send_message_batch(QueueUrl=source, Entries=entries).get("Failed", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if str(i) not in failed
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dead_letter_url, Entries=done)
        moved += len(done)
        if failed:
            raise SystemExit(f"{len(failed)} messages could not be sent back; they stay on {dead_letter_url}")
    return source, moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.redrive", description=__doc__)
    parser.add_argument("queue", help="the dead-letter queue: its URL, or its logical id in template.yaml")
    parser.add_argument(
        "--stack-name", help="the deployed stack (resolves a logical id through CloudFormation)"
    )
    parser.add_argument("--endpoint-url", help="the local moto server, e.g. http://127.0.0.1:5000")
    parser.add_argument("--limit", type=int, help="move at most this many messages")
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    url = resolve(sqs, args.queue, args.stack_name, session, args.endpoint_url)
    source, moved = redrive(sqs, url, args.limit)
    print(f"moved {moved} messages from {url} back to {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
