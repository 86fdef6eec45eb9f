"""IAM, as strict locally as on AWS: every AWS call that every function made in this session (the
handlers called in-process by the integration suite, and each local runtime's execution
environments in the end-to-end suite) held against that function's policies as aws-sam-translator
expands template.yaml. These run after every other test (``suite_end``)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace

import pytest

from infrastructure.iam import Authorization, FunctionPolicies, Statement, allowed, expanded
from infrastructure.local import template as tpl
from infrastructure.local.calls import PHYSICAL, Call, read_calls
from tests.suite import CALL_LOG, WHOLE_SUITE

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.suite_end]

# The longest a function's AWS client may wait to connect and for an answer (mentoring.adapters):
# botocore's own 60 s would let one hung call outlast the invocation.
MAX_CONNECT_TIMEOUT = 5
MAX_READ_TIMEOUT = 20

# Grants no recorded call exercises, each with the reason it is still needed.
IDEMPOTENCY_READ = (
    "Powertools' idempotency reads a record with GetItem when a conditional write finds it and "
    "DynamoDB does not return it (ReturnValuesOnConditionCheckFailure returns it here); its "
    "documented permissions include GetItem"
)
# (function, action, the resource's logical id) -> why.
NEEDED_WITHOUT_A_LOCAL_CALL: dict[tuple[str, str, str], str] = {
    ("IntakeFunction", "dynamodb:GetItem", "IdempotencyTable"): IDEMPOTENCY_READ,
    ("NotifyFunction", "dynamodb:GetItem", "IdempotencyTable"): IDEMPOTENCY_READ,
}


def excused(function: str, action: str, resource: str) -> bool:
    return any(
        (f, a) == (function, action) and logical_id in resource
        for f, a, logical_id in NEEDED_WITHOUT_A_LOCAL_CALL
    )


@dataclass
class RecordedStack:
    name: str
    policies: FunctionPolicies
    calls: list[Call]


def recorded_stacks() -> list[RecordedStack]:
    stack = tpl.read()
    found = []
    for folder in sorted(p for p in CALL_LOG.iterdir() if (p / PHYSICAL).exists()):
        physical = json.loads((folder / PHYSICAL).read_text())
        recorded = read_calls(folder)
        if recorded:
            policies = FunctionPolicies(expanded(tpl.TEMPLATE), stack.resolver(physical))
            found.append(RecordedStack(folder.name, policies, recorded))
    return found


@pytest.fixture(scope="module")
def stacks() -> list[RecordedStack]:
    found = recorded_stacks()
    if not found:
        pytest.skip("no function ran in this session")
    return found


def test_every_aws_call_a_function_made_is_allowed_by_its_policies(stacks: list[RecordedStack]) -> None:
    problems = set()
    for stack in stacks:
        for call in stack.calls:
            if call.unknown:
                problems.add(
                    f"{call.function} calls {call.call}: infrastructure/iam.py has no rule for what "
                    f"IAM checks ({call.unknown})"
                )
            problems |= {
                str(v) for v in stack.policies.violations(call.function, call.call, call.authorizations)
            }

    assert not problems, "\n".join(sorted(problems))


def test_every_aws_client_of_a_function_has_bounded_timeouts(stacks: list[RecordedStack]) -> None:
    unbounded = {
        f"{call.function} calls {call.call} with connect_timeout={call.connect_timeout}, "
        f"read_timeout={call.read_timeout}"
        for stack in stacks
        for call in stack.calls
        if call.connect_timeout is not None
        and (
            call.connect_timeout > MAX_CONNECT_TIMEOUT
            or call.read_timeout is None
            or call.read_timeout > MAX_READ_TIMEOUT
        )
    }

    assert not unbounded, "\n".join(sorted(unbounded))


def _grants(policies: FunctionPolicies, function: str) -> list[tuple[int, str, str]]:
    """The function's own grants (not AWS managed policies'): (statement, action, resource)."""
    return [
        (number, action, resource)
        for number, statement in enumerate(policies.inline[function])
        if statement.effect == "Allow"
        for action in statement.actions
        for resource in statement.resources
    ]


def _needed(stack: RecordedStack) -> dict[str, list[tuple[str, Authorization]]]:
    needed: dict[str, list[tuple[str, Authorization]]] = defaultdict(list)
    for call in stack.calls:
        needed[call.function] += [(call.call, a) for a in stack.policies.required(call.authorizations)]
    return needed


def test_every_grant_is_needed_by_a_call_the_functions_made(
    stacks: list[RecordedStack], request: pytest.FixtureRequest
) -> None:
    """Least privilege: a permission no call needs is one too many (checked on the whole suite only,
    since a part of it makes only some of the calls)."""
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("only the whole suite makes every call")
    used: dict[str, set[tuple[int, str, str]]] = defaultdict(set)
    every: dict[str, set[tuple[int, str, str]]] = defaultdict(set)
    for stack in stacks:
        for function in stack.policies.inline:
            for number, action, resource in _grants(stack.policies, function):
                key = (number, action, stack.policies.inline[function][number].resources.index(resource))
                every[function].add(key)
                grant = replace(
                    stack.policies.inline[function][number], actions=(action,), resources=(resource,)
                )
                if any(allowed([grant], wanted) for _, wanted in _needed(stack)[function]):
                    used[function].add(key)
    assert set(every) == {f for f, keys in used.items() if keys} | {f for f in every if not every[f]}, (
        "a function made no AWS call in the whole suite"
    )
    policies = stacks[0].policies
    unused = {
        f"{function}: {action} on {policies.inline[function][number].resources[index]}"
        for function, keys in every.items()
        for number, action, index in keys - used[function]
        if not excused(function, action, policies.inline[function][number].resources[index])
    }

    assert not unused, "granted, and needed by no call:\n" + "\n".join(sorted(unused))


def test_taking_away_any_grant_a_call_needs_fails_naming_the_call(stacks: list[RecordedStack]) -> None:
    """The check has teeth: without any one of the actions the calls use, it names the call."""
    for stack in stacks:
        needed = _needed(stack)
        for function, statements in stack.policies.inline.items():
            for number, statement in enumerate(statements):
                for action in statement.actions:
                    uses = [
                        (c, w)
                        for c, w in needed[function]
                        # the calls this grant allows (its conditions included)
                        if allowed([replace(statement, actions=(action,))], w)
                    ]
                    if not uses:
                        continue
                    fewer = [*statements[:number], _without(statement, action), *statements[number + 1 :]]
                    refused = [c for c, w in uses if not allowed(fewer + _managed(stack, function), w)]
                    assert refused, f"{function} without {action}: no call was refused"


def _without(statement: Statement, action: str) -> Statement:
    return replace(statement, actions=tuple(a for a in statement.actions if a != action))


def _managed(stack: RecordedStack, function: str) -> list[Statement]:
    own = stack.policies.inline[function]
    return stack.policies.statements[function][len(own) :]
