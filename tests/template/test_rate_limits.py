"""The public door's rate limits: AWS WAF rate-based rules in the template, attached to the API's
stage, and played by the local front door with the same limits and answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrastructure.local.firewall import Firewall, rate_rules
from infrastructure.local.template import read

pytestmark = pytest.mark.template

STACK = read()


def _acl() -> dict[str, Any]:
    ((_, properties),) = STACK.of_type("AWS::WAFv2::WebACL")
    return properties


def test_the_web_acl_is_regional_and_attached_to_the_api_stage() -> None:
    association = STACK.resources["PublicDoorFirewallAssociation"]

    assert _acl()["Scope"] == "REGIONAL"
    assert association["DependsOn"] == "MentoringApiStage"
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert "apigateway" in arn
    assert "/restapis/${MentoringApi}/stages/${Stage}" in arn
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["PublicDoorFirewall", "Arn"]}


def test_every_rule_limits_by_client_address_and_answers_429_with_retry_after() -> None:
    rules = rate_rules(STACK)

    assert len(rules) == len(_acl()["Rules"]) >= 2
    for rule in rules:
        assert rule.status == 429
        assert ("Retry-After", "300") in rule.headers
        assert json.loads(rule.body)["message"]


def test_applications_are_limited_tighter_than_everything_else() -> None:
    rules = {r.name: r for r in rate_rules(STACK)}
    applications = rules["applications-by-client"]

    assert applications.counts("POST", "/applications")
    assert applications.counts("POST", "/dev/applications")
    assert not applications.counts("POST", "/partners/applications")  # keyed: usage plans
    assert not applications.counts("GET", "/applications")
    assert not applications.counts("POST", "/cohorts")
    assert applications.limit < rules["requests-by-client"].limit
    assert rules["requests-by-client"].counts("GET", "/")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_local_front_door_blocks_a_client_over_the_limit_and_no_one_else() -> None:
    clock = Clock()
    firewall = Firewall(rate_rules(STACK), clock=clock)
    limit = next(r.limit for r in firewall.rules if r.name == "applications-by-client")

    allowed = [firewall.check("203.0.113.7", "POST", "/applications") for _ in range(limit)]
    blocked = firewall.check("203.0.113.7", "POST", "/applications")

    assert allowed == [None] * limit
    assert blocked is not None
    assert blocked.name == "applications-by-client"
    assert firewall.check("198.51.100.1", "POST", "/applications") is None  # another client
    assert firewall.check("203.0.113.7", "GET", "/") is None  # pages are counted apart
    clock.now += blocked.window
    assert firewall.check("203.0.113.7", "POST", "/applications") is None  # the window has passed
