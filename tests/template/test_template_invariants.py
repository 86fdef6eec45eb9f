"""What must stay true of template.yaml, checked on the file itself."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from mentoring.models import EVALUATION_PURPOSE, SEALED_ANSWERS_PURPOSE

pytestmark = pytest.mark.template

ROOT = Path(__file__).parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(cfn_yaml.load(str(TEMPLATE))["Resources"])


@pytest.fixture(scope="module")
def globals_() -> dict[str, Any]:
    return dict(cfn_yaml.load(str(TEMPLATE))["Globals"]["Function"])


def of_type(resources: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in resources.items():
        if resource["Type"] == kind:
            yield name, resource.get("Properties", {})


def functions_events(resources: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, props in of_type(resources, "AWS::Serverless::Function"):
        for event in props.get("Events", {}).values():
            if event["Type"] == kind:
                yield name, event["Properties"]


def statements(props: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from policy["Statement"]


def test_every_sqs_event_source_reports_batch_item_failures(resources: dict[str, Any]) -> None:
    sources = list(functions_events(resources, "SQS"))
    assert {name for name, _ in sources} == {"IntakeFunction", "NotifyFunction"}
    for _, props in sources:
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_queue_visibility_is_at_least_six_function_timeouts(
    resources: dict[str, Any], globals_: dict[str, Any]
) -> None:
    for name, event in functions_events(resources, "SQS"):
        timeout = resources[name]["Properties"].get("Timeout", globals_["Timeout"])
        queue = event["Queue"]["Fn::GetAtt"][0]
        assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue


def test_every_consumed_queue_has_a_redrive_policy_to_an_alarmed_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    alarmed = {
        props["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for _, props in of_type(resources, "AWS::CloudWatch::Alarm")
        if isinstance(props["Dimensions"][0]["Value"], dict)  # a queue's, not a service's metric
    }
    for _, event in functions_events(resources, "SQS"):
        queue = resources[event["Queue"]["Fn::GetAtt"][0]]["Properties"]
        dead_letter = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dead_letter in alarmed
        assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10


def test_every_queue_and_table_is_encrypted(resources: dict[str, Any]) -> None:
    for name, props in of_type(resources, "AWS::SQS::Queue"):
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), name
    for name, props in of_type(resources, "AWS::DynamoDB::Table"):
        assert props["SSESpecification"]["SSEEnabled"] is True, name


def test_monitoring_table_has_its_own_key_no_stream_and_no_point_in_time_recovery(
    resources: dict[str, Any],
) -> None:
    props = resources["MonitoringTable"]["Properties"]
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "MonitoringKey"}
    assert "StreamSpecification" not in props
    assert "PointInTimeRecoverySpecification" not in props
    users_of_key = [
        name for name, r in resources.items() if name != "MonitoringTable" and "MonitoringKey" in str(r)
    ]
    assert sorted(users_of_key) == [
        "IntakeFunction",
        "MonitoringFunction",
        "ParticipantFunction",
        "ReportFunction",
        "SubmitFunction",
    ]


def test_only_intake_the_batch_mover_and_the_report_may_touch_the_monitoring_table(
    resources: dict[str, Any],
) -> None:
    """Matching, submit, notify and admin have no grant on the Monitoring table, and are not even
    told its name; the report may only read; only intake (monitoring answers) and the participant
    page (evaluation answers) add answers, and they may do nothing else there."""
    touching = {
        name
        for name, props in of_type(resources, "AWS::Serverless::Function")
        if any("MonitoringTable" in str(s["Resource"]) for s in statements(props))
        or "MonitoringTable" in str(props.get("Environment", {}))
    }
    assert touching == {"IntakeFunction", "MonitoringFunction", "ParticipantFunction", "ReportFunction"}
    for adder in ("IntakeFunction", "ParticipantFunction"):
        grants = [
            s for s in statements(resources[adder]["Properties"]) if "MonitoringTable" in str(s["Resource"])
        ]
        assert {a for s in grants for a in _actions(s)} == {"dynamodb:PutItem"}
    report = [
        s for s in statements(resources["ReportFunction"]["Properties"]) if "Monitoring" in str(s["Resource"])
    ]
    assert {a for s in report for a in _actions(s)} == {"dynamodb:Scan", "kms:Decrypt"}


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_only_submit_seals_answers_and_only_the_batch_mover_opens_them(resources: dict[str, Any]) -> None:
    """Outside DynamoDB's own use of the table's key, submit may only encrypt monitoring answers and
    the monitoring function only decrypt (monitoring and evaluation answers), each only with the
    sealed answers' purpose in the encryption context: intake, which holds identity, can never read
    the answers beside it. Any other function may at most seal evaluation answers (the participant
    page: encrypt only, that purpose only)."""
    direct: dict[tuple[str, str], dict[str, Any]] = {}
    for name, props in of_type(resources, "AWS::Serverless::Function"):
        for s in statements(props):
            if "MonitoringKey" not in str(s["Resource"]):
                continue
            condition = s.get("Condition", {}).get("StringEquals", {})
            if condition.get("kms:ViaService") == {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}:
                continue  # the table's encryption at rest, through DynamoDB only
            for action in _actions(s):
                direct[(name, action)] = condition
    purpose = "kms:EncryptionContext:purpose"
    assert direct.pop(("SubmitFunction", "kms:Encrypt")) == {purpose: SEALED_ANSWERS_PURPOSE}
    assert direct.pop(("MonitoringFunction", "kms:Decrypt")) == {
        purpose: [SEALED_ANSWERS_PURPOSE, EVALUATION_PURPOSE]
    }
    for (_, action), condition in direct.items():
        assert (action, condition) == ("kms:Encrypt", {purpose: EVALUATION_PURPOSE})


def test_only_submit_reads_the_key_of_submission_ids(resources: dict[str, Any]) -> None:
    readers = {
        name
        for name, props in of_type(resources, "AWS::Serverless::Function")
        if "SubmissionIdSecret" in str(props)
    }
    assert readers == {"SubmitFunction"}
    secret = resources["SubmissionIdSecret"]["Properties"]["GenerateSecretString"]
    assert secret["PasswordLength"] >= 32


# Resources named only at run time, where a wildcard is the narrowest grant there is.
RUN_TIME_NAMES = {
    "schedule/${DeadlineScheduleGroup}/deadline-*",
    "schedule/${DeadlineScheduleGroup}/lease-*",
    "schedule/${DeadlineScheduleGroup}/programme-*",
}


def test_only_notify_reads_the_key_of_personal_links(resources: dict[str, Any]) -> None:
    readers = {
        name
        for name, props in of_type(resources, "AWS::Serverless::Function")
        if "ProgrammeLinkSecret" in str(props)
    }
    assert readers == {"NotifyFunction"}
    secret = resources["ProgrammeLinkSecret"]["Properties"]["GenerateSecretString"]
    assert secret["PasswordLength"] >= 32


def test_the_programme_dates_rule_and_function_have_retries_and_dead_letters(
    resources: dict[str, Any],
) -> None:
    programme = resources["ProgrammeFunction"]["Properties"]
    rule = programme["Events"]["ProgrammeDate"]["Properties"]
    assert rule["Pattern"] == {"source": ["mentoring.programme"], "detail-type": ["ProgrammeDateReached"]}
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadlineDeadLetterQueue", "Arn"]}
    failure = programme["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert failure["Destination"] == {"Fn::GetAtt": ["DeadlineDeadLetterQueue", "Arn"]}


def test_no_function_policy_uses_a_wildcard_where_a_specific_name_exists(resources: dict[str, Any]) -> None:
    for name, props in of_type(resources, "AWS::Serverless::Function"):
        for statement in statements(props):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in action for action in actions), name
            resource = str(statement["Resource"])
            assert "*" not in resource or any(
                resource.endswith(f"{allowed}'}}") for allowed in RUN_TIME_NAMES
            ), (
                name,
                resource,
            )


def test_every_function_has_a_log_group_with_retention(resources: dict[str, Any]) -> None:
    groups = {
        str(props["LogGroupName"]["Fn::Sub"]).split("${")[1].rstrip("}"): props
        for _, props in of_type(resources, "AWS::Logs::LogGroup")
    }
    for name, _ in of_type(resources, "AWS::Serverless::Function"):
        assert "RetentionInDays" in groups[name]


def test_partner_route_requires_an_api_key_and_the_web_form_does_not(resources: dict[str, Any]) -> None:
    routes = {props["Path"]: props for _, props in functions_events(resources, "Api")}
    assert routes["/partners/applications"]["Auth"]["ApiKeyRequired"] is True
    assert "Auth" not in routes["/applications"]


def test_every_partner_has_a_key_and_its_own_usage_plan_with_limits(resources: dict[str, Any]) -> None:
    keys = dict(of_type(resources, "AWS::ApiGateway::ApiKey"))
    plans = dict(of_type(resources, "AWS::ApiGateway::UsagePlan"))
    links = [props for _, props in of_type(resources, "AWS::ApiGateway::UsagePlanKey")]
    assert len(keys) == len(plans) == len(links) == 5
    assert {(link["KeyId"]["Ref"], link["UsagePlanId"]["Ref"]) for link in links} == {
        (key, key.replace("ApiKey", "UsagePlan")) for key in keys
    }
    for plan in plans.values():
        assert plan["Throttle"]["RateLimit"] > 0
        assert plan["Quota"]["Period"] == "DAY"


def test_admin_routes_require_iam(resources: dict[str, Any]) -> None:
    admin = resources["AdminFunction"]["Properties"]["Events"].values()
    assert all(e["Properties"]["Auth"]["Authorizer"] == "AWS_IAM" for e in admin)


def test_console_pages_are_served_only_by_functions_that_check_the_session(resources: dict[str, Any]) -> None:
    """API Gateway lets console requests through (a page must redirect to sign-in, which an
    authorizer cannot do), so only the two functions that verify the session may serve them."""
    console = {
        name for name, props in functions_events(resources, "Api") if props["Path"].startswith("/console")
    }
    assert console == {"ConsoleFunction", "ReportFunction"}
    for name in console:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["USER_POOL_ID"] == {"Ref": "ConsoleUserPool"}
        assert env["USER_POOL_CLIENT_ID"] == {"Ref": "ConsoleUserPoolClient"}
        assert resources[name]["Properties"]["Layers"] == [{"Ref": "ConsoleLayer"}]


def test_the_console_user_pool_is_invitation_only_with_short_tokens(resources: dict[str, Any]) -> None:
    pool = resources["ConsoleUserPool"]["Properties"]
    client = resources["ConsoleUserPoolClient"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] in {"OPTIONAL", "ON"}
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert resources["ConsoleUserPool"]["DeletionPolicy"] == "Retain"
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["AccessTokenValidity"] <= 60
    assert client["TokenValidityUnits"]["AccessToken"] == "minutes"


def test_deadline_rule_and_matching_have_retries_and_dead_letters(resources: dict[str, Any]) -> None:
    matching = resources["MatchingFunction"]["Properties"]
    rule = matching["Events"]["RecruitmentDeadline"]["Properties"]
    assert rule["Pattern"]["detail-type"] == ["RecruitmentDeadlineReached"]
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadlineDeadLetterQueue", "Arn"]}
    assert matching["EventInvokeConfig"]["MaximumRetryAttempts"] > 0
    on_failure = matching["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadlineDeadLetterQueue", "Arn"]}}


def test_late_answers_are_swept_hourly_with_retries_and_dead_letters_one_run_at_a_time(
    resources: dict[str, Any],
) -> None:
    monitoring = resources["MonitoringFunction"]["Properties"]
    sweep = monitoring["Events"]["LateAnswersSweep"]
    assert sweep["Type"] == "Schedule"
    assert sweep["Properties"]["Schedule"] == "rate(1 hour)"
    assert sweep["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert sweep["Properties"]["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": ["DeadlineDeadLetterQueue", "Arn"]
    }
    assert (
        monitoring["Events"]["RecruitmentDeadline"]["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
    )
    grace = {"Ref": "LateAnswersGraceDays"}
    assert monitoring["Environment"]["Variables"]["LATE_ANSWERS_GRACE_DAYS"] == grace
    assert (
        resources["IntakeFunction"]["Properties"]["Environment"]["Variables"]["LATE_ANSWERS_GRACE_DAYS"]
        == grace
    )


def test_traces_never_hold_a_response_or_an_error(globals_: dict[str, Any]) -> None:
    assert globals_["Tracing"] == "Active"
    variables = globals_["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


def test_every_function_has_a_bounded_timeout(resources: dict[str, Any], globals_: dict[str, Any]) -> None:
    """Request and queue work is short; only the deadline's matching may take long (its size is
    measured), and a programme date queues an email for every participant of a cohort."""
    longer = {"MatchingFunction": 900, "ProgrammeFunction": 300}
    for name, props in of_type(resources, "AWS::Serverless::Function"):
        limit = longer.get(name, 60)
        assert 0 < props.get("Timeout", globals_["Timeout"]) <= limit, name


@pytest.mark.parametrize("expanded", [False, True], ids=["as-written", "as-expanded-by-sam-translator"])
def test_cfn_lint_finds_nothing(expanded: bool, tmp_path: Path) -> None:
    target = TEMPLATE
    if expanded:
        target = tmp_path / "expanded.json"
        subprocess.run(
            [sys.executable, "-m", "infrastructure.expand_template", str(TEMPLATE), str(target)],
            check=True,
            cwd=ROOT,
        )
    # With the serverless rules (cfn-lint-serverless) as well as cfn-lint's own.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(target), "-a", "cfn_lint_serverless.rules"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
