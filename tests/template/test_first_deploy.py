"""What a fresh AWS account meets on the first deploy, and what an operator hears afterwards:
checked on template.yaml as written and as aws-sam-translator expands it."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.iam import Authorization, Statement, allowed, expanded
from infrastructure.local import template as tpl

pytestmark = pytest.mark.template

# Lambda's concurrency quota in a new account can be as low as 10 in all.
SMALLEST_ACCOUNT = 10
STATEFUL = {
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::Cognito::UserPool",
}


@pytest.fixture(scope="module")
def stack() -> tpl.Stack:
    return tpl.read()


def test_no_function_reserves_concurrency(stack: tpl.Stack) -> None:
    """Reserving any in an account whose quota is 10 fails the deploy (Lambda keeps 10 unreserved)."""
    reserved = {
        n for n, p in stack.of_type("AWS::Serverless::Function") if "ReservedConcurrentExecutions" in p
    }

    assert reserved == set()


def test_queue_consumers_are_bounded_by_their_event_source_and_leave_room_in_the_smallest_account(
    stack: tpl.Stack,
) -> None:
    """The event source holds messages back at its maximum concurrency; throttling would instead
    count each throttled batch towards the queue's redrive."""
    bounds = {s.function: s.maximum_concurrency for s in stack.queue_sources}

    assert None not in bounds.values(), bounds
    assert sum(b or 0 for b in bounds.values()) <= SMALLEST_ACCOUNT - 3  # the API, matching, monitoring


def test_notify_sends_at_the_stated_ses_rate_shared_by_its_concurrency(stack: tpl.Stack) -> None:
    notify = stack.resources["NotifyFunction"]["Properties"]
    scaling = notify["Events"]["Notifications"]["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    variables = notify["Environment"]["Variables"]

    assert scaling == variables["NOTIFY_CONCURRENCY"] == {"Ref": "NotifyConcurrency"}
    assert variables["SES_MAX_SEND_RATE"] == {"Ref": "SesMaxSendRate"}
    assert stack.template["Parameters"]["SesMaxSendRate"]["Default"] == 14  # SES's production default


def test_every_alarm_notifies_the_alarm_topic_which_an_email_may_subscribe_to(stack: tpl.Stack) -> None:
    alarms = dict(stack.of_type("AWS::CloudWatch::Alarm"))
    subscription = stack.resources["AlarmEmailSubscription"]

    assert alarms
    for name, props in alarms.items():
        assert {"Ref": "AlarmTopic"} in props.get("AlarmActions", []), name
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def test_stateful_resources_outlive_a_deleted_stack_and_a_replacement(stack: tpl.Stack) -> None:
    for name, resource in stack.resources.items():
        if resource["Type"] in STATEFUL:
            assert resource.get("DeletionPolicy") == "Retain", name
            assert resource.get("UpdateReplacePolicy") == "Retain", name


def test_the_api_waits_for_the_accounts_cloudwatch_role_which_the_stack_sets_and_keeps(
    stack: tpl.Stack,
) -> None:
    account = stack.resources["ApiGatewayAccount"]
    role = stack.resources["ApiGatewayLoggingRole"]
    handle = stack.resources["ApiGatewayAccountReady"]

    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in str(role["Properties"]["ManagedPolicyArns"])
    assert account["Condition"] == role["Condition"] == "CreateApiGatewayLoggingRole"
    assert handle["Metadata"]["AccountSetting"]["Fn::If"][1] == {"Ref": "ApiGatewayAccount"}
    assert stack.resources["MentoringApi"]["DependsOn"] == "ApiGatewayAccountReady"


def _routes() -> list[tuple[str, str, dict[str, Any]]]:
    body = expanded(tpl.TEMPLATE)["Resources"]["MentoringApi"]["Properties"]["Body"]
    return [
        (method.upper(), path, operation)
        for path, item in body["paths"].items()
        for method, operation in item.items()
    ]


def _iam(operation: dict[str, Any]) -> bool:
    return any("AWS_IAM" in s for s in operation.get("security", []))


def test_iam_routes_call_their_function_with_api_gateways_permission_not_the_callers() -> None:
    """With SAM's default (the caller's credentials) a coordinator would also need
    lambda:InvokeFunction, and every call would fail with 500 without it."""
    iam_routes = [(m, p) for m, p, op in _routes() if _iam(op)]
    with_credentials = [
        (m, p) for m, p, op in _routes() if "credentials" in op.get("x-amazon-apigateway-integration", {})
    ]

    assert iam_routes
    assert with_credentials == []


def test_the_coordinator_policy_allows_the_iam_routes_and_nothing_else(stack: tpl.Stack) -> None:
    physical = {"MentoringApi": {"Ref": "api123"}}
    document = stack.resolver(physical).resolve(
        stack.resources["CoordinatorPolicy"]["Properties"]["PolicyDocument"]
    )
    statements = [Statement.parse(s) for s in document["Statement"]]
    stage = stack.parameter_defaults()["Stage"]

    def arn(method: str, path: str) -> str:
        concrete = "/".join("some-id" if part.startswith("{") else part for part in path.split("/"))
        return f"arn:aws:execute-api:{tpl.REGION}:{tpl.ACCOUNT}:api123/{stage}/{method}{concrete}"

    for method, path, operation in _routes():
        may = allowed(statements, Authorization("execute-api:Invoke", arn(method, path)))
        assert may is _iam(operation), (method, path)
