"""Provisional matches: held for the coordinator, changed only within the rules, published once,
and only publishing emails the results."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helpers import Stack, api_event, intake_message, queued_bodies, sqs_event

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[1] / "examples" / "womens-mentoring-pilot.yaml"


def admin(stack: Stack, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
    resource = path
    for part in path.split("/")[2:3]:
        resource = resource.replace(f"/cohorts/{part}", "/cohorts/{cohortId}", 1)
    return stack.call("AdminFunction", api_event(method, path, body, resource=resource, query=query))


@pytest.fixture
def provisional(stack: Stack) -> tuple[str, dict[str, str]]:
    """A women's pilot cohort (its scheme holds matches for review) past its deadline."""
    cohort = stack.open_cohort(scheme_id="womens-mentoring-pilot")
    examples = yaml.safe_load(EXAMPLES.read_text())["applications"]
    submissions = [
        {"cohort_id": cohort, "consent": True, **{k: v for k, v in e.items() if k != "expect"}}
        for e in examples
    ]
    stack.call("IntakeFunction", sqs_event([intake_message(s) for s in submissions]))
    stack.purge("NotifyQueue")
    assert stack.deliver_deadline(cohort)["ran"] is True
    ids = {a["applicant"]["given_name"]: a["application_id"] for a in stack.applications(cohort)}
    return cohort, ids


def test_matches_are_held_and_only_the_coordinator_is_told(
    stack: Stack, provisional: tuple[str, dict[str, str]]
) -> None:
    cohort, ids = provisional

    notes = queued_bodies(stack, "NotifyQueue")
    reply = admin(stack, "GET", f"/cohorts/{cohort}/matches")

    assert [n["kind"] for n in notes] == ["matches_to_review"]
    body = json.loads(reply["body"])
    assert body["status"] == "provisional"
    assert [(m["mentee_id"], m["mentor_id"]) for m in body["matches"]] == [(ids["Ada"], ids["Hedy"])]


def test_the_coordinator_exports_the_matches_as_csv(
    stack: Stack, provisional: tuple[str, dict[str, str]]
) -> None:
    cohort, _ = provisional

    reply = admin(stack, "GET", f"/cohorts/{cohort}/matches", query={"format": "csv"})

    assert reply["statusCode"] == 200
    assert reply["multiValueHeaders"]["Content-Type"][0].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply["body"])))
    assert [(r["status"], r["mentee"], r["mentor"]) for r in rows] == [
        ("matched", "Ada Brown", "Hedy Lamarr")
    ]
    assert "career stage" in rows[0]["why"]


def test_a_change_that_breaks_a_hard_rule_is_refused_and_changes_nothing(
    stack: Stack, provisional: tuple[str, dict[str, str]]
) -> None:
    cohort, ids = provisional
    changes = {"changes": [{"action": "pair", "mentee_id": ids["Ada"], "mentor_id": ids["Grace"]}]}

    reply = admin(stack, "POST", f"/cohorts/{cohort}/matches/changes", changes)

    assert reply["statusCode"] == 422
    assert json.loads(reply["body"])["errors"] == [
        {
            "field": "changes.0",
            "message": "this pair breaks the scheme's rules: "
            "The mentor is outside the mentee's line-management relationship.",
        }
    ]
    assert [m["mentor_id"] for m in stack.matches(cohort)] == [ids["Hedy"]]


def test_changes_then_publish_once_queue_the_results(
    stack: Stack, provisional: tuple[str, dict[str, str]]
) -> None:
    cohort, ids = provisional
    stack.purge("NotifyQueue")

    removed = admin(
        stack,
        "POST",
        f"/cohorts/{cohort}/matches/changes",
        {"changes": [{"action": "remove", "mentee_id": ids["Ada"]}]},
    )
    published = admin(stack, "POST", f"/cohorts/{cohort}/publish")
    again = admin(stack, "POST", f"/cohorts/{cohort}/publish")
    late_change = admin(
        stack,
        "POST",
        f"/cohorts/{cohort}/matches/changes",
        {"changes": [{"action": "remove", "mentee_id": ids["Ada"]}]},
    )

    assert removed["statusCode"] == 200
    assert json.loads(removed["body"])["matches"] == []
    assert published["statusCode"] == 200
    assert json.loads(published["body"])["status"] == "matched"
    assert again["statusCode"] == 409
    assert late_change["statusCode"] == 409
    kinds = sorted((n["kind"], n.get("application_id")) for n in queued_bodies(stack, "NotifyQueue"))
    assert kinds == sorted(
        [
            ("unmatched", ids["Ada"]),  # removed by the coordinator
            ("unmatched", ids["Grace"]),
            ("unmatched", ids["Hedy"]),
            ("coordinator_summary", None),
        ]
    )
    (unmatched,) = stack.unmatched(cohort)
    assert unmatched["reason"] == "removed from the provisional matches by the coordinator"
