"""template.yaml as the local runtime sees it: the functions, their routes, queues and rules, and a
resolver for the intrinsic functions, so that nothing of the wiring is written twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-2"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "mentoring-local",
}
# What AWS::NoValue resolves to: the property (or list item) that holds it is left out.
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda _: "AWS::NoValue"})()


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template with short-form tags (!Ref, !Sub...) in their long form, as plain dicts."""
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return loaded


class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select and Fn::If (with the template's
    conditions) against what was provisioned."""

    def __init__(
        self,
        parameters: dict[str, str],
        physical: dict[str, dict[str, str]],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self.physical = physical
        self.conditions = conditions or {}
        self._decided: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """Whether a condition of the template's ``Conditions`` holds."""
        if name not in self._decided:
            self._decided[name] = self._truth(self.conditions[name])
        return self._decided[name]

    def _truth(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        ((key, arg),) = value.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        raise ValueError(f"not a condition: {value}")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]["Ref"]

    def get_att(self, name: str, attribute: str) -> str:
        return self.physical[name][attribute]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.physical:
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    function: str
    api_key_required: bool
    iam_auth: bool

    @property
    def greedy(self) -> bool:
        """A ``{name+}`` route: API Gateway tries every more specific route first."""
        return self.path.endswith("+}")

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves the request, else None."""
        if method.upper() != self.method:
            return None
        want = [p for p in self.path.split("/") if p]
        got = [p for p in path.split("/") if p]
        if self.greedy:
            prefix = want[:-1]
            if len(got) <= len(prefix) or got[: len(prefix)] != prefix:
                return None
            return {want[-1][1:-2]: "/".join(got[len(prefix) :])}
        if len(want) != len(got):
            return None
        params = {}
        for w, g in zip(want, got, strict=True):
            if w.startswith("{") and w.endswith("}"):
                params[w[1:-1]] = g
            elif w != g:
                return None
        return params


@dataclass(frozen=True)
class QueueSource:
    queue: str
    function: str
    batch_size: int
    report_failures: bool
    maximum_concurrency: int | None = None
    """The event source's ScalingConfig: the most invocations it makes at once."""


@dataclass(frozen=True)
class EventRule:
    bus: Any
    pattern: dict[str, Any]
    function: str


@dataclass(frozen=True)
class RateSchedule:
    """A function's ``Schedule`` event: EventBridge puts a "Scheduled Event" every ``interval``."""

    name: str
    expression: str
    function: str

    @property
    def interval(self) -> timedelta:
        match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", self.expression)
        if match is None:
            raise ValueError(f"{self.name}: only rate(...) schedules are played locally: {self.expression}")
        unit = match.group(2).rstrip("s") + "s"
        return timedelta(**{unit: int(match.group(1))})


@dataclass(frozen=True)
class Function:
    name: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, Any]
    max_retries: int
    dead_letter_target: Any
    reserved_concurrency: int | None = None
    tracing: bool = False  # Tracing: Active

    @property
    def module(self) -> str:
        """The handler's import path, e.g. functions.submit.app: each function has its own."""
        package = self.code_uri.strip("/").replace("/", ".")
        return f"{package}.{self.handler.rsplit('.', 1)[0]}"

    @property
    def entry_point(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Stack:
    """What the template declares, read once."""

    template: dict[str, Any]
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    queue_sources: list[QueueSource] = field(default_factory=list)
    rules: list[EventRule] = field(default_factory=list)
    schedules: list[RateSchedule] = field(default_factory=list)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def parameter_defaults(self) -> dict[str, str]:
        return {k: str(v.get("Default", "")) for k, v in self.template.get("Parameters", {}).items()}

    def resolver(self, physical: dict[str, dict[str, str]]) -> Resolver:
        """Resolves the template's values against ``physical``, with its parameters' defaults."""
        return Resolver(self.parameter_defaults(), physical, self.template.get("Conditions", {}))

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, resource in self.resources.items():
            if resource["Type"] == kind:
                yield name, resource.get("Properties", {})


def read(path: Path = TEMPLATE) -> Stack:
    template = load(path)
    stack = Stack(template)
    defaults = template.get("Globals", {}).get("Function", {})
    settings = stack.resolver({})  # parameters (their defaults) and conditions, no resources
    api_auth = {name: props.get("Auth", {}) for name, props in stack.of_type("AWS::Serverless::Api")}
    for name, props in stack.of_type("AWS::Serverless::Function"):
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        stack.functions[name] = Function(
            name=name,
            code_uri=props["CodeUri"],
            handler=props["Handler"],
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            environment=environment,
            max_retries=int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2)),
            dead_letter_target=props.get("DeadLetterQueue", {}).get("TargetArn")
            or props.get("EventInvokeConfig", {})
            .get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
            reserved_concurrency=_optional_int(props.get("ReservedConcurrentExecutions")),
            tracing=props.get("Tracing", defaults.get("Tracing")) == "Active",
        )
        for event_name, event in props.get("Events", {}).items():
            kind, eprops = event["Type"], event.get("Properties", {})
            if kind == "Api":
                auth = eprops.get("Auth", {})
                api = eprops.get("RestApiId", {}).get("Ref", "")
                default_key = bool(api_auth.get(api, {}).get("ApiKeyRequired", False))
                stack.routes.append(
                    Route(
                        path=eprops["Path"],
                        method=eprops["Method"].upper(),
                        function=name,
                        api_key_required=bool(auth.get("ApiKeyRequired", default_key)),
                        iam_auth=auth.get("Authorizer") == "AWS_IAM",
                    )
                )
            elif kind == "SQS":
                stack.queue_sources.append(
                    QueueSource(
                        queue=eprops["Queue"]["Fn::GetAtt"][0],
                        function=name,
                        batch_size=int(eprops.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in eprops.get("FunctionResponseTypes", []),
                        maximum_concurrency=_optional_int(
                            settings.resolve(eprops.get("ScalingConfig", {}).get("MaximumConcurrency"))
                        ),
                    )
                )
            elif kind == "EventBridgeRule":
                stack.rules.append(
                    EventRule(bus=eprops.get("EventBusName"), pattern=eprops["Pattern"], function=name)
                )
            elif kind == "Schedule":
                stack.schedules.append(RateSchedule(f"{name}{event_name}", eprops["Schedule"], name))
    stack.routes.sort(key=lambda r: r.greedy)  # stable: the template's order otherwise
    return stack


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def pattern_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's exact-value matching: each key's list holds the event's value (nested for detail)."""
    for key, expected in pattern.items():
        value = event.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not pattern_matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True
