"""Identity and monitoring answers are never readable together after the request: submit seals the
answers with the Monitoring key (encrypt only), and every queue, dead-letter queue included, carries
them sealed. Submission ids are keyed hashes under the template's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from mentoring.identity import canonical_email
from mentoring.models import ApplicationSubmission
from mentoring.submissions import applicant_digest, body_hash, keyed_id

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    confirm,
    confirmation_tokens,
    failing,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration

ANSWERS = {
    "ethnicity": "mixed_white_black_caribbean",
    "religion": "jewish",
    "sexual_orientation": "bisexual",
    "age_band": "55-64",
    "trans_history": "yes",
    "disability": "yes",
    "gender": "non_binary",
}


def readable_answers(text: str) -> list[str]:
    """The answers (question names, and the answers no other field can give) readable in a text."""
    distinctive = [v for k, v in ANSWERS.items() if k not in {"trans_history", "disability"}]
    return [word for word in [*ANSWERS, *distinctive] if word in text]


def submitted(stack: Stack, cohort: str) -> dict[str, Any]:
    """An application through the form, confirmed from its emailed link."""
    body = applicant_submission(cohort)
    body["monitoring"] = dict(ANSWERS)
    apply_and_confirm(stack, body)
    return body


def open_sealed(stack: Stack, ciphertext: str, cohort: str) -> dict[str, Any]:
    plaintext = stack.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(ciphertext),
        EncryptionContext={"purpose": "equal-opportunities-monitoring", "cohort_id": cohort},
    )["Plaintext"]
    opened: dict[str, Any] = json.loads(plaintext)
    return opened


def test_submit_queues_the_answers_sealed_with_the_monitoring_key_for_this_cohort(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = submitted(stack, cohort)

    (message,) = queued_bodies(stack, "IntakeQueue")

    text = json.dumps(message)
    assert body["applicant"]["email"] in text
    assert not readable_answers(text)
    assert "monitoring" not in message["submission"]
    assert open_sealed(stack, message["monitoring"]["ciphertext"], cohort) == ANSWERS
    with pytest.raises(ClientError):  # bound to its cohort: another context does not open it
        open_sealed(stack, message["monitoring"]["ciphertext"], "another-cohort")


def test_an_application_held_for_confirmation_holds_the_answers_only_sealed(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = applicant_submission(cohort)
    body["monitoring"] = dict(ANSWERS)
    stack.call("SubmitFunction", api_event("POST", "/applications", body))
    (token,) = confirmation_tokens(stack)
    key = {"pk": {"S": "HELD#" + hashlib.sha256(token.encode()).hexdigest()}, "sk": {"S": "HELD"}}
    table = stack.physical("ApplicationsTable")

    held = stack.client("dynamodb").get_item(TableName=table, Key=key)["Item"]

    assert body["applicant"]["email"] in json.dumps(held)
    assert not readable_answers(json.dumps(held))
    message = json.loads(held["data"]["S"])["message"]
    assert open_sealed(stack, message["monitoring"]["ciphertext"], cohort) == ANSWERS
    assert token not in json.dumps(held)  # its hash only: nobody who reads the table can confirm

    confirm(stack, token)

    confirmed = stack.client("dynamodb").get_item(TableName=table, Key=key)["Item"]
    assert body["applicant"]["email"] not in json.dumps(confirmed)  # dropped: intake has it now
    assert "ciphertext" not in json.dumps(confirmed)


def test_submission_ids_are_keyed_hashes_under_the_templates_secret(stack: Stack) -> None:
    cohort = stack.open_cohort()
    body = submitted(stack, cohort)
    (message,) = queued_bodies(stack, "IntakeQueue")
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.physical("SubmissionIdSecret"))
    key = secret["SecretString"].encode()

    digest = applicant_digest(body["applicant"]["email"], key)
    # A web-form id names the application too (mentoring.submissions.claims_for).
    application = body_hash(ApplicationSubmission.model_validate(body), None, key)
    assert message["submission_id"] == keyed_id(key, f"APPLICANT#{cohort}#{digest}#{application}")
    public = hashlib.sha256(body["applicant"]["email"].casefold().encode()).hexdigest()
    assert message["submission_id"] != keyed_id(b"", f"APPLICANT#{cohort}#{public}#{application}")
    address = canonical_email(body["applicant"]["email"])
    assert digest == hmac.new(key, address.encode(), hashlib.sha256).hexdigest()
    claims = stack.client("dynamodb").scan(TableName=stack.physical("ApplicationsTable"))["Items"]
    assert not any(public in item["pk"]["S"] for item in claims)


def test_a_poisoned_submission_parks_on_the_dead_letter_queue_with_its_answers_unreadable(
    stack: Stack,
) -> None:
    """Given a real submission that intake cannot record (its table refuses every time), when it
    has been received as often as the redrive policy allows, then the dead-letter queue holds the
    applicant's identity and only ciphertext of the answers."""
    cohort = stack.open_cohort()
    body = submitted(stack, cohort)
    sqs = stack.client("sqs")
    url = stack.physical("IntakeQueue", "Url")

    with failing("dynamodb", "TransactWriteItems", times=100):
        for _ in range(10):
            received = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=0)
            messages = received.get("Messages", [])
            if not messages:
                break  # moved to the dead-letter queue by the redrive policy
            (message,) = messages
            event = sqs_event([message["Body"]], message_id=message["MessageId"])
            with pytest.raises(BatchProcessingError):  # its only record failed: the whole batch did
                stack.call("IntakeFunction", event)
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    dead = [
        json.loads(m["Body"])
        for m in sqs.receive_message(
            QueueUrl=stack.physical("IntakeDeadLetterQueue", "Url"),
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
        ).get("Messages", [])
    ]
    (parked,) = [
        m
        for m in dead
        if m.get("submission", {}).get("applicant", {}).get("email") == body["applicant"]["email"]
    ]
    assert not readable_answers(json.dumps(parked))
    assert open_sealed(stack, parked["monitoring"]["ciphertext"], cohort) == ANSWERS  # nothing is lost
    assert stack.applications(cohort) == []
    assert uuid.UUID(parked["submission_id"]).version == 4
