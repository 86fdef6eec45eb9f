"""The IAM check against a real run: intake's own calls, recorded as the suite records every call,
pass with the template's policies and are refused, naming each call, when the permissions for a
transaction's ConditionCheck and Update are taken away (as they were before this check existed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infrastructure.iam import FunctionPolicies, expanded
from infrastructure.local import calls
from infrastructure.local import template as tpl
from tests.integration.helpers import Stack, applicant_submission, intake_message, sqs_event

pytestmark = pytest.mark.integration


def without(template: dict[str, Any], role: str, table: str, actions: set[str]) -> dict[str, Any]:
    """The template with ``actions`` taken out of the role's grants on ``table``."""
    trimmed = copy.deepcopy(template)
    for policy in trimmed["Resources"][role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Resource"] != {"Fn::GetAtt": [table, "Arn"]}:
                continue
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in listed if a not in actions]
    return trimmed


def test_intakes_transaction_items_need_their_own_permissions_and_the_check_names_them(stack: Stack) -> None:
    recorder = calls.installed()
    assert recorder is not None
    cohort = stack.open_cohort()
    eligible_mentee = intake_message(applicant_submission(cohort, role="mentee", grade=6))
    with recorder.listening() as made:
        assert stack.call("IntakeFunction", sqs_event([eligible_mentee])) == {"batchItemFailures": []}
    resolver = tpl.read().resolver(stack.physical_ids)
    removed = {"dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"}

    def refusals(template: dict[str, Any]) -> set[tuple[str, str, str, str]]:
        policies = FunctionPolicies(template, resolver)
        return {
            (v.function, v.call, v.action, v.resource)
            for call in made
            for v in policies.violations(call.function, call.call, call.authorizations)
        }

    table = stack.physical("ApplicationsTable", "Arn")
    assert refusals(expanded(tpl.TEMPLATE)) == set()
    assert refusals(without(expanded(tpl.TEMPLATE), "IntakeFunctionRole", "ApplicationsTable", removed)) == {
        ("IntakeFunction", "dynamodb:TransactWriteItems", "dynamodb:ConditionCheckItem", table),
        ("IntakeFunction", "dynamodb:TransactWriteItems", "dynamodb:UpdateItem", table),
    }
