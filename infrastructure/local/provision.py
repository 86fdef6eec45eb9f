"""Creates every resource of template.yaml in a moto server with boto3.

moto's own CloudFormation skips SAM and Scheduler resources and fails on the translated REST API,
so each resource type has a small creator here; a test checks that every type in the template is
either created here, played by the local runtime, or named as cloud-only.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3

from infrastructure.local.template import ACCOUNT, REGION, Stack

STACK_NAME = "mentoring-local"

Physical = dict[str, str]
Creator = Callable[["Provisioner", str, dict[str, Any]], Physical]


class Provisioner:
    def __init__(self, stack: Stack, endpoint: str) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.physical: dict[str, Physical] = {}
        self.resolver = stack.resolver(self.physical)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)  # type: ignore[call-overload]

    def name_for(self, logical_id: str) -> str:
        return f"{STACK_NAME}-{logical_id}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def run(self) -> dict[str, Physical]:
        """Creates the resources in dependency order; returns their physical ids and attributes."""
        # A resource whose condition is false is not created, and nothing waits for it.
        left_out = {
            n
            for n, r in self.stack.resources.items()
            if "Condition" in r and not self.resolver.condition(r["Condition"])
        }
        pending = {n: r for n, r in self.stack.resources.items() if n not in left_out}
        parameters = set(self.stack.template.get("Parameters", {}))
        while pending:
            ready = [
                n
                for n, r in pending.items()
                if _references(r.get("Properties", {})) - parameters - left_out <= set(self.physical)
            ]
            if not ready:
                raise RuntimeError(
                    f"cannot order these resources (a cycle or an unknown name): {sorted(pending)}"
                )
            for name in ready:
                resource = pending.pop(name)
                if resource["Type"] in CLOUD_ONLY:
                    self.physical[name] = {"Ref": name}
                    continue
                creator = CREATORS[resource["Type"]]
                properties = self.resolver.resolve(resource.get("Properties", {}))
                self.physical[name] = creator(self, name, properties)
        sender = self.stack.parameter_defaults().get("SenderEmail")
        if sender:
            self.client("sesv2").create_email_identity(EmailIdentity=sender)
        return self.physical


def _references(value: Any) -> set[str]:
    """Logical ids that a property value refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= _references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = {
                    m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text) if not m.startswith("AWS::")
                }
                found |= (names - set(variables)) | _references(variables)
            else:
                found |= _references(arg)
    return found


# ---------------------------------------------------------------- creators


def _kms_key(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    key = p.client("kms").create_key(Description=props.get("Description", name))["KeyMetadata"]
    return {"Ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}


def _secret(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    """A secret with its value generated as GenerateSecretString asks (length and alphabet)."""
    generate = props.get("GenerateSecretString", {})
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += string.punctuation
    value = "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))
    secret = p.client("secretsmanager").create_secret(
        Name=props.get("Name", p.name_for(name)), Description=props.get("Description", ""), SecretString=value
    )
    return {"Ref": secret["ARN"], "Id": secret["ARN"]}


def _queue(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    attributes = {
        k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in props.items()
        if k not in {"QueueName", "Tags"}
    }
    queue_name = props.get("QueueName", p.name_for(name))
    url = p.client("sqs").create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    arn = p.arn("sqs", queue_name)
    return {"Ref": url, "Arn": arn, "QueueName": queue_name, "QueueUrl": url, "Url": url}


def _queue_policy(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    for url in props["Queues"]:
        p.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return {"Ref": name}


def _table(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    table_name = props.get("TableName", p.name_for(name))
    args: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    sse = props.get("SSESpecification")
    if sse:
        args["SSESpecification"] = {
            "Enabled": sse.get("SSEEnabled", False),
            **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    if "StreamSpecification" in props:
        args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb = p.client("dynamodb")
    description = ddb.create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    return {"Ref": table_name, "Arn": description["TableArn"]}


def _event_bus(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    arn = p.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
    return {"Ref": props["Name"], "Arn": arn, "Name": props["Name"]}


def _schedule_group(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    arn = p.client("scheduler").create_schedule_group(Name=props["Name"])["ScheduleGroupArn"]
    return {"Ref": props["Name"], "Arn": arn}


def _role(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    iam = p.client("iam")
    role_name = props.get("RoleName", p.name_for(name))
    role = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
    )
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return {"Ref": role_name, "Arn": role["Role"]["Arn"]}


def _rest_api(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    api = p.client("apigateway").create_rest_api(name=p.name_for(name))
    return {
        "Ref": api["id"],
        "RootResourceId": api["rootResourceId"],
        "Stage": str(props.get("StageName", "")),
    }


def _api_key(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    key = p.client("apigateway").create_api_key(
        name=props["Name"], description=props.get("Description", ""), enabled=props.get("Enabled", True)
    )
    return {"Ref": key["id"], "APIKeyId": key["id"], "Value": key["value"], "Name": props["Name"]}


def _usage_plan(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    plan = p.client("apigateway").create_usage_plan(
        name=props["UsagePlanName"],
        apiStages=[{"apiId": s["ApiId"], "stage": s["Stage"]} for s in props.get("ApiStages", [])],
        throttle={
            "rateLimit": float(props["Throttle"]["RateLimit"]),
            "burstLimit": int(props["Throttle"]["BurstLimit"]),
        },
        quota={"limit": int(props["Quota"]["Limit"]), "period": props["Quota"]["Period"]},
    )
    return {"Ref": plan["id"], "Id": plan["id"]}


def _usage_plan_key(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    p.client("apigateway").create_usage_plan_key(
        usagePlanId=props["UsagePlanId"], keyId=props["KeyId"], keyType=props["KeyType"]
    )
    return {"Ref": f"{props['UsagePlanId']}:{props['KeyId']}"}


def _alarm(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    alarm_name = props.get("AlarmName", p.name_for(name))
    p.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm_name,
        AlarmDescription=props.get("AlarmDescription", ""),
        Namespace=props["Namespace"],
        MetricName=props["MetricName"],
        Dimensions=props.get("Dimensions", []),
        Statistic=props["Statistic"],
        Period=int(props["Period"]),
        EvaluationPeriods=int(props["EvaluationPeriods"]),
        Threshold=float(props["Threshold"]),
        ComparisonOperator=props["ComparisonOperator"],
        TreatMissingData=props.get("TreatMissingData", "missing"),
        AlarmActions=props.get("AlarmActions", []),
        OKActions=props.get("OKActions", []),
    )
    return {"Ref": alarm_name, "Arn": p.arn("cloudwatch", f"alarm:{alarm_name}")}


def _topic(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    topic_name = props.get("TopicName", p.name_for(name))
    arn = p.client("sns").create_topic(Name=topic_name)["TopicArn"]
    return {"Ref": arn, "TopicArn": arn, "TopicName": topic_name}


def _subscription(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    arn = p.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
    )["SubscriptionArn"]
    return {"Ref": arn}


def _managed_policy(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    policy = p.client("iam").create_policy(
        PolicyName=props.get("ManagedPolicyName", p.name_for(name)),
        PolicyDocument=json.dumps(props["PolicyDocument"]),
        Description=props.get("Description", ""),
    )["Policy"]
    return {"Ref": policy["Arn"], "PolicyArn": policy["Arn"]}


def _api_gateway_account(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    p.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": props["CloudWatchRoleArn"]}]
    )
    return {"Ref": name}


def _log_group(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    logs = p.client("logs")
    logs.create_log_group(logGroupName=props["LogGroupName"])
    logs.put_retention_policy(
        logGroupName=props["LogGroupName"], retentionInDays=int(props["RetentionInDays"])
    )
    return {"Ref": props["LogGroupName"], "Arn": p.arn("logs", f"log-group:{props['LogGroupName']}")}


def _user_pool(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    """The console's user pool; its MFA settings through SetUserPoolMfaConfig, as CloudFormation does."""
    idp = p.client("cognito-idp")
    args = {
        key: props[key]
        for key in (
            "Policies",
            "UsernameAttributes",
            "UsernameConfiguration",
            "AdminCreateUserConfig",
            "AutoVerifiedAttributes",
            "AccountRecoverySetting",
            "Schema",
            "DeletionProtection",
        )
        if key in props
    }
    pool = idp.create_user_pool(PoolName=props.get("UserPoolName", p.name_for(name)), **args)["UserPool"]
    mfa = props.get("MfaConfiguration", "OFF")
    if mfa != "OFF":
        idp.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", [])},
            MfaConfiguration=mfa,
        )
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"
    return {
        "Ref": pool["Id"],
        "Arn": pool["Arn"],
        "ProviderName": provider,
        "ProviderURL": f"https://{provider}",
    }


def _user_pool_client(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    keys = (
        "GenerateSecret",
        "ExplicitAuthFlows",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "AccessTokenValidity",
        "IdTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
        "ReadAttributes",
        "WriteAttributes",
    )
    args = {key: props[key] for key in keys if key in props}
    for key in ("AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity"):
        if key in args:
            args[key] = int(args[key])
    created = p.client("cognito-idp").create_user_pool_client(
        UserPoolId=props["UserPoolId"], ClientName=props.get("ClientName", p.name_for(name)), **args
    )["UserPoolClient"]
    return {"Ref": created["ClientId"], "ClientId": created["ClientId"]}


def _played_function(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    function_name = p.name_for(name)
    return {"Ref": function_name, "Arn": p.arn("lambda", f"function:{function_name}")}


def _played_layer(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    return {"Ref": p.arn("lambda", f"layer:{p.name_for(name)}:1")}


def _played_web_acl(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    arn = p.arn("wafv2", f"regional/webacl/{props['Name']}/{name}")
    return {"Ref": f"{props['Name']}|{name}|REGIONAL", "Arn": arn, "Id": name}


def _played_association(p: Provisioner, name: str, props: dict[str, Any]) -> Physical:
    return {"Ref": name}


CREATORS: dict[str, Creator] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::Events::EventBus": _event_bus,
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::IAM::Role": _role,
    "AWS::Serverless::Api": _rest_api,
    "AWS::ApiGateway::ApiKey": _api_key,
    "AWS::ApiGateway::UsagePlan": _usage_plan,
    "AWS::ApiGateway::UsagePlanKey": _usage_plan_key,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::ApiGateway::Account": _api_gateway_account,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::Serverless::Function": _played_function,
    "AWS::Serverless::LayerVersion": _played_layer,
    "AWS::WAFv2::WebACL": _played_web_acl,
    "AWS::WAFv2::WebACLAssociation": _played_association,
}

# What the local runtime does instead of AWS for these types (a test keeps this list honest).
PLAYED_BY_RUNTIME = {
    "AWS::Serverless::Function": "a worker process each; the runtime delivers API, SQS and rule events",
    "AWS::Serverless::LayerVersion": "the mentoring package is installed in .venv instead",
    "AWS::WAFv2::WebACL": "the API front door plays its rate-based rules by client address",
    "AWS::WAFv2::WebACLAssociation": "the front door's rules apply to every route of the API",
}
# Types that exist only in AWS, with why. A new type must be added to CREATORS or here.
CLOUD_ONLY: dict[str, str] = {
    "AWS::CloudFormation::WaitConditionHandle": "only orders the stack's creation; nothing to create",
}


def provision(stack: Stack, endpoint: str) -> dict[str, Physical]:
    return Provisioner(stack, endpoint).run()


def resolved_environment(stack: Stack, physical: dict[str, Physical], function: str) -> dict[str, str]:
    """The environment variables the template gives a function, with every reference resolved."""
    resolver = stack.resolver(physical)
    return {k: str(resolver.resolve(v)) for k, v in stack.functions[function].environment.items()}


def sent_emails(endpoint: str, timeout: float = 120) -> list[tuple[str, bytes]]:
    """Every raw email moto's SES accepted, oldest first, as (message id, MIME bytes).

    moto keeps sent mail and publishes it in its state dump; that is how the local runtime
    writes the outbox and how tests read what was sent. The dump holds every service's state, so on
    a busy machine late in a run it can take many seconds: the timeout only stops a dead server.
    """
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=timeout) as response:  # noqa: S310
        state = json.load(response)
    return [(m["id"], m["raw_data"].encode()) for m in state.get("ses", {}).get("RawMessage", [])]


def partner_api_keys(stack: Stack, physical: dict[str, Physical]) -> dict[str, Physical]:
    """Each partner institution's API key id and value, from the submit function's key map."""
    key_map = json.loads(resolved_environment(stack, physical, "SubmitFunction")["PARTNER_API_KEYS"])
    by_id = {p["Ref"]: p for p in physical.values() if "APIKeyId" in p}
    return {
        institution: {"id": key_id, "value": by_id[key_id]["Value"]}
        for key_id, institution in key_map.items()
    }
