"""The local runtime's moto server: its adjustments for load keep what the pipeline relies on.

A cancelled transaction still leaves every item as it was; conditional writes from many clients
at once are still atomic; and SQS still hides a received message for its visibility timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import free_port

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
TABLE = "Items"


def _start(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the adjusted moto server did not start")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = _start(port)
    yield f"http://127.0.0.1:{port}"
    server.kill()
    server.wait()


@pytest.fixture(scope="module")
def dynamodb(endpoint: str) -> Any:
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")
    db.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return db


def _key(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _item(db: Any, pk: str, sk: str = "A") -> dict[str, Any] | None:
    found = db.get_item(TableName=TABLE, Key=_key(pk, sk), ConsistentRead=True)
    item: dict[str, Any] | None = found.get("Item")
    return item


def test_a_cancelled_transaction_leaves_every_item_it_touched_as_it_was(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**_key("rollback"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=TABLE, Item={**_key("rollback", "other"), "n": {"N": "7"}})

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {  # applies, then must be undone
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("rollback"),
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": {**_key("rollback", "new"), "n": {"N": "3"}}}},
                {  # fails: the whole transaction is cancelled
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("rollback", "other"),
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":zero": {"N": "0"}},
                    }
                },
            ]
        )

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _item(dynamodb, "rollback") == {**_key("rollback"), "n": {"N": "1"}}
    assert _item(dynamodb, "rollback", "new") is None
    assert _item(dynamodb, "rollback", "other") == {**_key("rollback", "other"), "n": {"N": "7"}}


def test_a_transaction_refused_as_invalid_writes_nothing(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("invalid"), "n": {"N": "1"}}}},
                {"Put": {"TableName": TABLE, "Item": {**_key("invalid"), "n": {"N": "2"}}}},  # same item
            ]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert _item(dynamodb, "invalid") is None


def test_a_transaction_that_succeeds_writes_every_item(dynamodb: Any) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("together", str(n)), "n": {"N": str(n)}}}}
            for n in range(5)
        ]
    )

    assert [_item(dynamodb, "together", str(n)) is not None for n in range(5)] == [True] * 5


def test_conditional_writes_from_many_clients_at_once_each_win_once(dynamodb: Any, endpoint: str) -> None:
    """Every client bumps one counter, conditionally on the value it read: no two may win on the
    same value, so the counter ends equal to the number of wins."""
    dynamodb.put_item(TableName=TABLE, Item={**_key("counter"), "n": {"N": "0"}})
    wins: list[str] = []
    refusals: list[str] = []

    def bump() -> None:
        db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")
        for _ in range(15):
            seen = db.get_item(TableName=TABLE, Key=_key("counter"), ConsistentRead=True)["Item"]["n"]["N"]
            try:
                db.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": TABLE,
                                "Key": _key("counter"),
                                "UpdateExpression": "SET n = n + :one",
                                "ConditionExpression": "n = :seen",
                                "ExpressionAttributeValues": {":one": {"N": "1"}, ":seen": {"N": seen}},
                            }
                        }
                    ]
                )
                wins.append(seen)
            except ClientError as error:
                refusals.append(error.response["Error"]["Code"])

    clients = [threading.Thread(target=bump) for _ in range(6)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()

    counter = _item(dynamodb, "counter")
    assert counter is not None
    assert set(refusals) <= {"TransactionCanceledException"}
    assert len(wins) == len(set(wins))
    assert int(counter["n"]["N"]) == len(wins) > 0


def test_a_received_message_stays_hidden_for_its_visibility_timeout(endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-west-2")
    url = sqs.create_queue(QueueName="visibility")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")

    received = time.monotonic()
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=2)["Messages"]
    again: list[dict[str, Any]] = []
    while not again:  # however long a busy machine takes to answer: only the order is asserted
        again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    shown_after = time.monotonic() - received

    assert [m["Body"] for m in first] == [m["Body"] for m in again] == ["hello"]
    assert shown_after >= 2  # hidden for its whole visibility timeout, then shown again


def test_a_query_returns_its_partition_in_key_order_page_by_page(dynamodb: Any) -> None:
    for pk in ("query-a", "query-b"):
        for n in (3, 1, 2, 11):
            dynamodb.put_item(TableName=TABLE, Item={**_key(pk, f"ITEM#{n:02d}"), "n": {"N": str(n)}})
    dynamodb.put_item(TableName=TABLE, Item={**_key("query-a", "OTHER"), "n": {"N": "0"}})

    pages, start = [], None
    while True:
        page = dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": "query-a"}, ":prefix": {"S": "ITEM#"}},
            Limit=3,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        pages.append([item["sk"]["S"] for item in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    backwards = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "query-b"}},
        ScanIndexForward=False,
    )
    nothing = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "none"}}
    )

    assert [sk for page in pages for sk in page] == ["ITEM#01", "ITEM#02", "ITEM#03", "ITEM#11"]
    assert pages[0] == ["ITEM#01", "ITEM#02", "ITEM#03"]
    assert [item["sk"]["S"] for item in backwards["Items"]] == ["ITEM#11", "ITEM#03", "ITEM#02", "ITEM#01"]
    assert nothing["Items"] == []
    # The table as a whole is untouched by the narrowed query.
    assert dynamodb.scan(TableName=TABLE, FilterExpression="begins_with(pk, :q)",
                         ExpressionAttributeValues={":q": {"S": "query-"}})["Count"] == 9  # fmt: skip


def test_a_query_on_a_secondary_index_still_reads_the_whole_table(endpoint: str) -> None:
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")
    db.create_table(
        TableName="Indexed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "colour", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-colour",
                "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n, colour in enumerate(["red", "blue", "red", "red"]):
        db.put_item(TableName="Indexed", Item={"pk": {"S": f"item-{n}"}, "colour": {"S": colour}})

    red = db.query(
        TableName="Indexed",
        IndexName="by-colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )

    assert sorted(item["pk"]["S"] for item in red["Items"]) == ["item-0", "item-2", "item-3"]


def test_the_state_dump_keeps_no_dynamodb_items(moto_endpoint: str) -> None:
    """Sent emails are read from moto's state dump; items in it made it slower with every request."""
    db = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="eu-west-2")
    db.create_table(
        TableName="dump-check",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(30):
        db.put_item(TableName="dump-check", Item={"pk": {"S": str(n)}})

    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/data.json", timeout=30) as response:
        dump = json.load(response)

    assert dump.get("dynamodb", {}).get("Item", []) == []
    assert db.get_item(TableName="dump-check", Key={"pk": {"S": "29"}})["Item"]["pk"]["S"] == "29"
