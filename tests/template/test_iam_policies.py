"""The offline IAM check itself (infrastructure/iam.py): what AWS authorises for each call, and how
a function's policies, as aws-sam-translator expands the template, decide."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.iam import (
    Authorization,
    FunctionPolicies,
    Statement,
    UnknownOperationError,
    allowed,
    authorizations,
    expanded,
)
from infrastructure.local import template as tpl

pytestmark = pytest.mark.template

REGION, ACCOUNT = tpl.REGION, tpl.ACCOUNT
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Applications"
OTHER = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Monitoring"


def test_a_transaction_is_authorised_item_by_item_each_by_its_own_action_on_its_own_table() -> None:
    items = [
        {"Put": {"TableName": "Applications", "Item": {}}},
        {"Put": {"TableName": "Monitoring", "Item": {}}},
        {"ConditionCheck": {"TableName": "Applications", "Key": {}}},
        {"Update": {"TableName": "Applications", "Key": {}}},
        {"Delete": {"TableName": "Monitoring", "Key": {}}},
    ]

    found = authorizations("dynamodb", "TransactWriteItems", {"TransactItems": items}, REGION, ACCOUNT)

    assert found == [
        Authorization("dynamodb:PutItem", TABLE),
        Authorization("dynamodb:PutItem", OTHER),
        Authorization("dynamodb:ConditionCheckItem", TABLE),
        Authorization("dynamodb:UpdateItem", TABLE),
        Authorization("dynamodb:DeleteItem", OTHER),
    ]


def test_a_batch_write_is_authorised_as_itself_on_each_table_and_an_index_query_on_the_index() -> None:
    batch = {"RequestItems": {"Applications": [], "Monitoring": []}}

    assert authorizations("dynamodb", "BatchWriteItem", batch, REGION, ACCOUNT) == [
        Authorization("dynamodb:BatchWriteItem", TABLE),
        Authorization("dynamodb:BatchWriteItem", OTHER),
    ]
    query = {"TableName": "Applications", "IndexName": "byEmail"}
    assert authorizations("dynamodb", "Query", query, REGION, ACCOUNT) == [
        Authorization("dynamodb:Query", f"{TABLE}/index/byEmail")
    ]


def test_an_sqs_batch_send_needs_send_message_on_the_queue_its_url_names() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/intake"

    found = authorizations("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}, REGION, ACCOUNT)

    assert found == [Authorization("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:intake")]


def test_an_email_needs_both_the_address_identity_and_its_domain_and_a_schedule_its_role() -> None:
    email = authorizations("sesv2", "SendEmail", {"FromEmailAddress": "EDI <edi@uni.ac.uk>"}, REGION, ACCOUNT)
    schedule = authorizations(
        "scheduler",
        "CreateSchedule",
        {"Name": "deadline-x", "GroupName": "g", "Target": {"RoleArn": "arn:aws:iam::1:role/r"}},
        REGION,
        ACCOUNT,
    )

    assert [a.resource.rsplit(":", 1)[1] for a in email] == ["identity/edi@uni.ac.uk", "identity/uni.ac.uk"]
    assert schedule == [
        Authorization(
            "scheduler:CreateSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/g/deadline-x"
        ),
        Authorization("iam:PassRole", "arn:aws:iam::1:role/r"),
    ]


def test_a_call_no_rule_knows_is_named_rather_than_passed() -> None:
    with pytest.raises(UnknownOperationError, match="s3:PutObject"):
        authorizations("s3", "PutObject", {"Bucket": "b", "Key": "k"}, REGION, ACCOUNT)
    with pytest.raises(UnknownOperationError, match="without KeyId"):
        authorizations("kms", "Decrypt", {"CiphertextBlob": b"x"}, REGION, ACCOUNT)


@pytest.mark.parametrize(
    ("statements", "wanted", "expected"),
    [
        (
            [Statement("Allow", ("sqs:SendMessage*",), ("arn:aws:sqs:*:*:intake",))],
            ("sqs:SendMessage", "arn:aws:sqs:r:1:intake"),
            True,
        ),
        (
            [Statement("Allow", ("SQS:sendmessage",), ("arn:aws:sqs:r:1:intake",))],
            ("sqs:SendMessage", "arn:aws:sqs:r:1:intake"),
            True,
        ),
        (
            [Statement("Allow", ("sqs:SendMessage",), ("arn:aws:sqs:r:1:intake",))],
            ("sqs:SendMessage", "arn:aws:sqs:r:1:Intake"),
            False,
        ),
        (
            [Statement("Allow", ("sqs:SendMessage",), ("arn:aws:sqs:r:1:in?ake",))],
            ("sqs:SendMessage", "arn:aws:sqs:r:1:intake"),
            True,
        ),
        (
            [Statement("Allow", ("sqs:SendMessage",), ("arn:aws:sqs:r:1:in.ake",))],
            ("sqs:SendMessage", "arn:aws:sqs:r:1:intake"),
            False,
        ),
        (
            [Statement("Allow", ("dynamodb:GetItem",), ("*",))],
            ("dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/t"),
            False,
        ),
        (
            [Statement("Allow", ("dynamodb:*",), ("*",)), Statement("Deny", ("dynamodb:PutItem",), ("*",))],
            ("dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/t"),
            False,
        ),
        (
            [
                Statement(
                    "Allow",
                    ("kms:Decrypt",),
                    ("*",),
                    conditions=(("StringEquals", "kms:ViaService", ("dynamodb.r.amazonaws.com",)),),
                )
            ],
            ("kms:Decrypt", "k", (("kms:ViaService", "dynamodb.r.amazonaws.com"),)),
            True,
        ),
        (
            [
                Statement(
                    "Allow",
                    ("kms:Decrypt",),
                    ("*",),
                    conditions=(("StringEquals", "kms:ViaService", ("dynamodb.r.amazonaws.com",)),),
                )
            ],
            ("kms:Decrypt", "k"),
            False,
        ),
        (
            [
                Statement(
                    "Allow",
                    ("kms:Decrypt",),
                    ("*",),
                    conditions=(("NumericLessThan", "aws:MultiFactorAuthAge", ("300",)),),
                )
            ],
            ("kms:Decrypt", "k", (("aws:MultiFactorAuthAge", "1"),)),
            False,
        ),
        ([Statement("Allow", (), ("*",), not_actions=("iam:*",))], ("dynamodb:PutItem", "t"), True),
    ],
    ids=[
        "wildcards",
        "actions-ignore-case",
        "resources-do-not",
        "question-mark",
        "dot-is-literal",
        "other-action",
        "deny-wins",
        "condition-holds",
        "condition-key-missing",
        "condition-not-understood",
        "not-action",
    ],
)
def test_policies_decide_as_iam_does(
    statements: list[Statement], wanted: tuple[Any, ...], expected: bool
) -> None:
    assert allowed(statements, Authorization(*wanted)) is expected


@pytest.fixture(scope="module")
def policies() -> FunctionPolicies:
    """The template's policies, resolved against made-up physical resources."""
    stack = tpl.read()
    physical: dict[str, dict[str, str]] = {}
    for name, resource in stack.resources.items():
        arn = f"arn:aws:x:{REGION}:{ACCOUNT}:{name}"
        physical[name] = {"Ref": name, "Arn": arn, "QueueName": name, "Name": name}
        if resource["Type"] == "AWS::KMS::Key":
            physical[name].update(Ref="key-id", Arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id")
    return FunctionPolicies(expanded(tpl.TEMPLATE), stack.resolver(physical))


def test_sam_policy_templates_are_expanded_for_the_queue_they_name(policies: FunctionPolicies) -> None:
    send = "sqs:SendMessage"

    # Intake's SQSSendMessagePolicy names the notify queue, and only it.
    assert policies.allows(
        "IntakeFunction", Authorization(send, f"arn:aws:sqs:{REGION}:{ACCOUNT}:NotifyQueue")
    )
    assert not policies.allows(
        "IntakeFunction", Authorization(send, f"arn:aws:sqs:{REGION}:{ACCOUNT}:IntakeQueue")
    )


def test_a_table_encrypted_with_its_own_key_needs_the_key_too_and_only_writers_may_encrypt(
    policies: FunctionPolicies,
) -> None:
    table = f"arn:aws:x:{REGION}:{ACCOUNT}:MonitoringTable"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id"

    scan = policies.required([Authorization("dynamodb:Scan", table)])
    put = policies.required([Authorization("dynamodb:PutItem", table)])

    via = (("kms:ViaService", f"dynamodb.{REGION}.amazonaws.com"),)
    assert Authorization("kms:Decrypt", key, via) in scan
    assert Authorization("kms:GenerateDataKey", key, via) in put
    assert all(policies.allows("ReportFunction", a) for a in scan)
    assert not all(policies.allows("ReportFunction", a) for a in put)
    assert all(policies.allows("IntakeFunction", a) for a in put)
