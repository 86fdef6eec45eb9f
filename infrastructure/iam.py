"""What IAM would decide about each AWS call a function makes, worked out offline.

moto enforces no IAM for most services, so a permission missing from ``template.yaml`` would only
show on AWS. AWS authorises a call by the action and resource of each thing it touches, not by
the API operation's name: a DynamoDB transaction by each item's own action on its own table
(``dynamodb:ConditionCheckItem`` for a ConditionCheck, ``dynamodb:UpdateItem`` for an Update), an
SQS batch send by ``sqs:SendMessage``, a new schedule by ``scheduler:CreateSchedule`` on the
schedule and ``iam:PassRole`` on the role it hands to the Scheduler.

``authorizations`` turns one call into those (action, resource) pairs. ``FunctionPolicies`` reads
each function's policies from the template as aws-sam-translator expands it (SAM's policy
templates, the event sources' and destinations' own statements, and AWS managed policies, whose
documents moto ships) and says whether they allow each pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infrastructure.local.template import Resolver


@dataclass(frozen=True, order=True)
class Authorization:
    """One thing IAM checks: an action on a resource (an ARN), with the request's condition keys
    that the call sets (``kms:EncryptionContext:purpose``, ``kms:ViaService``...)."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> str | None:
        return next((v for k, v in self.context if k.lower() == key.lower()), None)


class UnknownOperationError(LookupError):
    """No rule here says what IAM checks for this operation; add one to ``_RULES``."""


# ---------------------------------------------------------------- calls -> authorizations

Rule = Callable[[str, Mapping[str, Any], str, str], list[Authorization]]


def _table(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _dynamodb(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    def on(table: str, action: str, index: str | None = None) -> Authorization:
        resource = _table(table, region, account) + (f"/index/{index}" if index else "")
        return Authorization(f"dynamodb:{action}", resource)

    if operation == "TransactWriteItems":
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
        kinds["ConditionCheck"] = "ConditionCheckItem"
        return [
            on(item[kind]["TableName"], kinds[kind])
            for item in params.get("TransactItems", [])
            for kind in item
        ]
    if operation == "TransactGetItems":
        return [on(item["Get"]["TableName"], "GetItem") for item in params.get("TransactItems", [])]
    if operation in {"BatchWriteItem", "BatchGetItem"}:
        return [on(table, operation) for table in params.get("RequestItems", {})]
    if "TableName" not in params:
        raise UnknownOperationError(f"dynamodb:{operation}")
    return [on(params["TableName"], operation, params.get("IndexName"))]


def _queue_arn(url: str, region: str) -> str:
    account, name = urlsplit(url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


# The SQS action that authorises each operation (a batch is authorised as its single form).
_SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "PurgeQueue": "PurgeQueue",
}


def _sqs(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if operation == "GetQueueUrl":
        owner = params.get("QueueOwnerAWSAccountId", account)
        return [Authorization("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{owner}:{params['QueueName']}")]
    if operation not in _SQS_ACTIONS:
        raise UnknownOperationError(f"sqs:{operation}")
    return [Authorization(f"sqs:{_SQS_ACTIONS[operation]}", _queue_arn(params["QueueUrl"], region))]


def _sesv2(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if operation != "SendEmail":
        raise UnknownOperationError(f"sesv2:{operation}")
    sender = str(params.get("FromEmailAddress", "")).rsplit("<", 1)[-1].rstrip(">").strip()
    if not sender:
        raise UnknownOperationError("sesv2:SendEmail without FromEmailAddress")
    # SES authorises the identity the account verified: the address, or its domain. Both must be
    # allowed, since the template cannot know which one the account will verify.
    identities = [sender, sender.rsplit("@", 1)[-1]]
    found = [
        Authorization("ses:SendEmail", f"arn:aws:ses:{region}:{account}:identity/{identity}")
        for identity in identities
    ]
    if params.get("ConfigurationSetName"):
        found.append(
            Authorization(
                "ses:SendEmail",
                f"arn:aws:ses:{region}:{account}:configuration-set/{params['ConfigurationSetName']}",
            )
        )
    return found


def _scheduler(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if "Name" not in params:
        raise UnknownOperationError(f"scheduler:{operation}")
    group = params.get("GroupName") or "default"
    schedule = f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{params['Name']}"
    found = [Authorization(f"scheduler:{operation}", schedule)]
    role = params.get("Target", {}).get("RoleArn")
    if role:  # the Scheduler assumes this role: handing it over needs PassRole
        found.append(Authorization("iam:PassRole", role))
    return found


def _events(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if operation != "PutEvents":
        raise UnknownOperationError(f"events:{operation}")
    buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries", [])}
    return [
        Authorization(
            "events:PutEvents",
            bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}",
        )
        for bus in sorted(buses)
    ]


def _kms(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    key = params.get("KeyId") or params.get("DestinationKeyId")
    if not key:
        # AWS finds the key in the ciphertext; name it (AWS's advice) so that the grant can be checked.
        raise UnknownOperationError(f"kms:{operation} without KeyId")
    if not key.startswith("arn:"):
        key = f"arn:aws:kms:{region}:{account}:" + (key if key.startswith("alias/") else f"key/{key}")
    context = tuple(
        sorted((f"kms:EncryptionContext:{k}", str(v)) for k, v in params.get("EncryptionContext", {}).items())
    )
    return [Authorization(f"kms:{operation}", key, context)]


def _secretsmanager(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[Authorization]:
    secret = params.get("SecretId")
    if not secret:
        raise UnknownOperationError(f"secretsmanager:{operation}")
    if not secret.startswith("arn:"):
        secret = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}"
    return [Authorization(f"secretsmanager:{operation}", secret)]


def _lambda(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if operation != "Invoke":
        raise UnknownOperationError(f"lambda:{operation}")
    name = params["FunctionName"]
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    return [Authorization("lambda:InvokeFunction", arn)]


def _cognito(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    if "UserPoolId" not in params:
        raise UnknownOperationError(f"cognito-idp:{operation}")
    pool = f"arn:aws:cognito-idp:{region}:{account}:userpool/{params['UserPoolId']}"
    return [Authorization(f"cognito-idp:{operation}", pool)]


def _anything(prefix: str) -> Rule:
    """Services whose actions take no resource (IAM checks them against ``*``)."""
    return lambda operation, _params, _region, _account: [Authorization(f"{prefix}:{operation}", "*")]


_RULES: dict[str, Rule] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sesv2": _sesv2,
    "scheduler": _scheduler,
    "events": _events,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
    "lambda": _lambda,
    "cognito-idp": _cognito,
    "cloudwatch": _anything("cloudwatch"),
    "xray": _anything("xray"),
}
# Calls that IAM never refuses.
_UNCHECKED = {("sts", "GetCallerIdentity")}


def authorizations(
    service: str, operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[Authorization]:
    """What IAM checks for one call of ``operation`` on ``service`` (botocore's names) with ``params``."""
    if (service, operation) in _UNCHECKED:
        return []
    rule = _RULES.get(service)
    if rule is None:
        raise UnknownOperationError(f"{service}:{operation}")
    return rule(operation, params, region, account)


# ---------------------------------------------------------------- policies


def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Condition operators understood here: the request's value must (or must not) equal or be like one
# of the statement's. Any other operator is not understood, and its statement never allows.
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: bool(_pattern(want, False).match(got)),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: bool(_pattern(want, False).match(got)),
}


def _operator(name: str) -> tuple[Callable[[str, str], bool] | None, bool, bool]:
    """The test of a condition operator, whether it is negated, and whether it is ``...IfExists``."""
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    negated = base.startswith(("StringNot", "ArnNot"))
    return _OPERATORS.get(base.replace("Not", "", 1) if negated else base), negated, if_exists


def _understood(conditions: Iterable[tuple[str, str, tuple[str, ...]]]) -> bool:
    return all(_operator(operator)[0] is not None for operator, _, _ in conditions)


def _holds(conditions: Iterable[tuple[str, str, tuple[str, ...]]], wanted: Authorization) -> bool:
    """Whether every condition holds for the request (a key it does not set fails, unless IfExists)."""
    for operator, key, values in conditions:
        test, negated, if_exists = _operator(operator)
        got = wanted.value(key)
        if test is None:
            return False
        if got is None:
            if if_exists or negated:
                continue
            return False
        if any(test(value, got) for value in values) == negated:
            return False
    return True


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        return cls(
            effect=raw["Effect"],
            actions=tuple(str(a) for a in _listed(raw.get("Action", []))),
            not_actions=tuple(str(a) for a in _listed(raw.get("NotAction", []))),
            resources=tuple(str(r) for r in _listed(raw.get("Resource", []))),
            conditions=tuple(
                (operator, key, tuple(str(v) for v in _listed(values)))
                for operator, keys in raw.get("Condition", {}).items()
                for key, values in keys.items()
            ),
        )

    def covers(self, wanted: Authorization) -> bool:
        if self.not_actions:
            acts = not any(_pattern(a, True).match(wanted.action) for a in self.not_actions)
        else:
            acts = any(_pattern(a, True).match(wanted.action) for a in self.actions)
        return acts and any(_pattern(r, False).match(wanted.resource) for r in self.resources)


def allowed(statements: Iterable[Statement], wanted: Authorization) -> bool:
    """IAM's decision within one account's identity policies: an explicit Deny wins, then any Allow.

    A condition holds only on the condition keys the call sets (``Authorization.context``), with
    the string and ARN operators; a condition not understood makes an Allow grant nothing and a
    Deny deny, so that the answer errs towards refusing.
    """
    permitted = False
    for statement in statements:
        if not statement.covers(wanted):
            continue
        if statement.effect == "Deny":
            if (
                not statement.conditions
                or not all(
                    op.removesuffix("IfExists").replace("Not", "", 1) in _OPERATORS
                    for op, _, _ in statement.conditions
                )
                or _holds(statement.conditions, wanted)
            ):
                return False
            continue
        permitted = permitted or _holds(statement.conditions, wanted)
    return permitted


@cache
def _managed_policies() -> dict[str, list[Statement]]:
    """AWS managed policies by name, from the copy of their documents that moto keeps."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return {
        name: [Statement.parse(s) for s in _listed(policy["Document"]["Statement"])]
        for name, policy in json.loads(aws_managed_policies_data).items()
    }


@dataclass(frozen=True)
class Violation:
    function: str
    call: str
    action: str
    resource: str

    def __str__(self) -> str:
        if not self.action:
            return f"{self.function} calls {self.call}: {self.resource}"
        return (
            f"{self.function} calls {self.call}, which needs {self.action} on {self.resource}; "
            "its policies in template.yaml do not allow it"
        )


# DynamoDB actions that read an item (and so decrypt it) and those that write one (and so encrypt it).
_DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem"}
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


class FunctionPolicies:
    """Each function's identity policies, as CloudFormation would create its execution role, and
    what IAM would say to each of the function's calls."""

    def __init__(self, expanded: dict[str, Any], resolver: Resolver) -> None:
        resources: dict[str, Any] = expanded["Resources"]
        self.statements: dict[str, list[Statement]] = {}
        self.inline: dict[str, list[Statement]] = {}
        for name, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            role_ref = resource["Properties"].get("Role", {})
            role = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
            if role is None or role not in resources:
                raise ValueError(f"{name}: its role is not a role of this template")
            self.inline[name], managed = _role_statements(role, resources, resolver)
            self.statements[name] = self.inline[name] + managed
        self.table_keys = _table_keys(resources, resolver)

    @classmethod
    def of(cls, template: Path, resolver: Resolver) -> FunctionPolicies:
        return cls(expanded(template), resolver)

    def required(self, found: Iterable[Authorization]) -> list[Authorization]:
        """What a call needs: its own authorizations, and the KMS ones DynamoDB asks for on the
        caller's behalf when a table is encrypted with a customer managed key (the caller must be
        allowed to use the key: to decrypt when reading, to encrypt a new data key when writing)."""
        needed = list(found)
        for wanted in list(needed):
            service, action = wanted.action.split(":", 1)
            key = self.table_keys.get(wanted.resource.split("/index/")[0]) if service == "dynamodb" else None
            if key is None:
                continue
            region = wanted.resource.split(":")[3]
            via = (("kms:ViaService", f"dynamodb.{region}.amazonaws.com"),)
            if action in _DYNAMODB_READS | _DYNAMODB_WRITES:
                needed.append(Authorization("kms:Decrypt", key, via))
            if action in _DYNAMODB_WRITES:
                needed += [
                    Authorization("kms:Encrypt", key, via),
                    Authorization("kms:GenerateDataKey", key, via),
                ]
        return needed

    def allows(self, function: str, wanted: Authorization) -> bool:
        return allowed(self.statements[function], wanted)

    def violations(self, function: str, call: str, found: Iterable[Authorization]) -> list[Violation]:
        if function not in self.statements:
            return [Violation(function, call, "", "no function of this name in template.yaml")]
        return [
            Violation(function, call, wanted.action, wanted.resource)
            for wanted in self.required(found)
            if not self.allows(function, wanted)
        ]


@cache
def _expanded(path: str, mtime: float) -> str:
    from infrastructure.expand_template import expand

    return json.dumps(expand(Path(path)))


def expanded(template: Path) -> dict[str, Any]:
    """The template as aws-sam-translator expands it (cached while the file is unchanged)."""
    result: dict[str, Any] = json.loads(_expanded(str(template), template.stat().st_mtime))
    return result


def _role_statements(
    role: str, resources: dict[str, Any], resolver: Resolver
) -> tuple[list[Statement], list[Statement]]:
    """The role's own statements (inline, and attached from outside it), and its managed policies'."""
    props = resources[role]["Properties"]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    for resource in resources.values():
        attached = resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
        if attached and {"Ref": role} in resource["Properties"].get("Roles", []):
            documents.append(resource["Properties"]["PolicyDocument"])
    own = [
        Statement.parse(raw)
        for document in documents
        for raw in _listed(resolver.resolve(document)["Statement"])
    ]
    managed: list[Statement] = []
    for arn in resolver.resolve(props.get("ManagedPolicyArns", [])):
        name = str(arn).rsplit("/", 1)[-1]
        if name not in _managed_policies():
            raise ValueError(f"{role}: managed policy {arn} is not one moto knows the document of")
        managed += _managed_policies()[name]
    return own, managed


def _table_keys(resources: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """Table ARN -> the ARN of the customer managed key it is encrypted with."""
    key_arns = {
        resolver.resolve({"Ref": name}): resolver.resolve({"Fn::GetAtt": [name, "Arn"]})
        for name, resource in resources.items()
        if resource["Type"] == "AWS::KMS::Key" and name in resolver.physical
    }
    found = {}
    for name, resource in resources.items():
        sse = resource.get("Properties", {}).get("SSESpecification", {})
        if resource["Type"] != "AWS::DynamoDB::Table" or "KMSMasterKeyId" not in sse:
            continue
        key = str(resolver.resolve(sse["KMSMasterKeyId"]))
        found[resolver.resolve({"Fn::GetAtt": [name, "Arn"]})] = key_arns.get(key, key)
    return found
