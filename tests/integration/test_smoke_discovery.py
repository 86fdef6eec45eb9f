"""``make smoke`` finds a deployed stack's resources from its CloudFormation outputs: here a stack
in moto's CloudFormation with those outputs, read through boto3 as the smoke test reads AWS."""

from __future__ import annotations

import json

import boto3
import pytest

from infrastructure.local.template import load
from infrastructure.smoke import OUTPUTS, SmokeFailedError, from_stack

pytestmark = pytest.mark.integration


def test_the_stacks_outputs_name_everything_the_journey_needs(moto_endpoint: str) -> None:
    session = boto3.session.Session(region_name="eu-west-2")
    key = session.client("apigateway", endpoint_url=moto_endpoint).create_api_key(name="kcl", enabled=True)
    values = {name: f"value-of-{name}" for name in OUTPUTS}
    values.update(
        ApiUrl="https://abc.execute-api.eu-west-2.amazonaws.com/dev/",
        PartnerApiKeyId=key["id"],
        MenteePartnerApiKeyId=key["id"],
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {name: {"Value": value} for name, value in values.items()},
    }
    session.client("cloudformation", endpoint_url=moto_endpoint).create_stack(
        StackName="mentoring-smoke", TemplateBody=json.dumps(template)
    )

    target = from_stack("mentoring-smoke", session, endpoint_url=moto_endpoint)

    assert target.api_url == "https://abc.execute-api.eu-west-2.amazonaws.com/dev"
    assert target.partner_key == key["value"]
    assert target.applications_table == "value-of-ApplicationsTableName"
    assert target.dead_letter_queues["DeadlineDeadLetterQueue"] == "value-of-DeadlineDeadLetterQueueUrl"
    assert target.region == "eu-west-2"


def test_a_stack_of_another_template_is_refused_naming_what_is_missing(moto_endpoint: str) -> None:
    session = boto3.session.Session(region_name="eu-west-2")
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"ApiUrl": {"Value": "x"}},
    }
    session.client("cloudformation", endpoint_url=moto_endpoint).create_stack(
        StackName="not-mentoring", TemplateBody=json.dumps(template)
    )

    with pytest.raises(SmokeFailedError, match="no output ApplicationsTableName"):
        from_stack("not-mentoring", session, endpoint_url=moto_endpoint)


def test_template_yaml_declares_every_output_the_smoke_test_reads() -> None:
    assert set(OUTPUTS) <= set(load()["Outputs"])
