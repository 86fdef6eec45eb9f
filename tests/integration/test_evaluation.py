"""The evaluation survey against the stack: answers sealed with the Monitoring key and held pending
in the Monitoring table apart from identity (no identifier, no time), stored by the monitoring
function's sweep or the programme-end event as monitoring answers are (batches of at least k,
never read as monitoring answers), published by the report function and the console with the same
protection; and next year's mentors kept with identity under the cohort's retention, listed for the
scheme's coordinator only."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mentoring.adapters.dynamodb import DynamoApplications, DynamoEvaluation
from mentoring.adapters.kms import KmsAnswers, KmsEvaluationAnswers
from mentoring.evaluation import EVALUATION_OPEN_FOR, evaluation_opens, receive_evaluation, record_next_year
from mentoring.models import Cohort, EvaluationAnswers, MonitoringAnswers, Role, StaffRole
from mentoring.ports import AlreadyAnsweredError

from tests.integration.console import new_staff, signed_in
from tests.integration.helpers import Stack, api_event, applicant_submission, intake_message, sqs_event

pytestmark = pytest.mark.integration

K = 5  # B-MEntor Professional's


def cohort_of(stack: Stack, cohort_id: str) -> Cohort:
    cohort = DynamoApplications(stack.physical("ApplicationsTable")).get_cohort(cohort_id)
    assert cohort is not None
    return cohort


def answer(stack: Stack, cohort: Cohort, role: Role, answers: dict[str, str]) -> None:
    """What the participant page does for one person."""
    receive_evaluation(
        cohort,
        role,
        EvaluationAnswers(answers=answers),
        KmsEvaluationAnswers(os.environ["MONITORING_KEY_ID"]),
        DynamoEvaluation(stack.physical("MonitoringTable")),
        evaluation_opens(cohort),  # the programme's last day: the survey is open
    )


def scheduled(stack: Stack, at: datetime, detail_type: str = "Scheduled Event", **detail: Any) -> Any:
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.events" if detail_type == "Scheduled Event" else "mentoring.programme",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-2",
        "resources": [],
        "detail": detail,
    }
    return stack.call("MonitoringFunction", event)


def report(stack: Stack, path: str, kind: str = "json") -> dict[str, Any]:
    resource = "/cohorts/{cohortId}/evaluation-report"
    if path.startswith("/schemes"):
        resource = "/schemes/{schemeId}/evaluation-report"
    response: dict[str, Any] = stack.call(
        "ReportFunction", api_event("GET", path, None, resource=resource, query={"format": kind})
    )
    assert response["statusCode"] == 200, response["body"]
    return response


def counts(body: dict[str, Any], question: str) -> dict[str, dict[str, int]]:
    table = next(q for q in body["questions"] if q["question"] == question)
    return {
        row["value"]: {k: c["count"] for k, c in row["cells"].items()}
        for row in [*table["rows"], table["total"]]
    }


def test_answers_wait_sealed_apart_from_identity_then_are_stored_in_a_k_anonymous_batch(stack: Stack) -> None:
    cohort = cohort_of(stack, stack.open_cohort())
    opens = evaluation_opens(cohort)
    for n in range(K + 3):
        answer(
            stack,
            cohort,
            Role.MENTEE,
            {"confidence": "agree" if n % 2 else "strongly_agree", "career": "agree"},
        )
    for _ in range(2):  # too few mentors to be told apart, or to publish their own question
        answer(stack, cohort, Role.MENTOR, {"confidence": "agree", "fulfilment": "strongly_agree"})

    held = stack.monitoring_records(cohort.cohort_id)
    assert len(held) == K + 5
    assert all(i["record_id"]["S"].startswith("EVALUATION-PENDING#") for i in held)
    assert all(set(i) == {"record_id", "cohort_id", "scheme_id", "role", "sealed"} for i in held)
    assert not any("agree" in i["sealed"]["S"] for i in held)
    # The monitoring report and its settling never read them.
    monitoring = stack.call("MonitoringFunction", stack_deadline(cohort.cohort_id))
    assert (monitoring["stored"], monitoring["discarded"]) == (0, 0)
    before = json.loads(report(stack, f"/cohorts/{cohort.cohort_id}/evaluation-report")["body"])
    early = scheduled(stack, opens - timedelta(hours=1))

    stored = scheduled(stack, opens + timedelta(hours=1))

    assert before["has_figures"] is False
    assert early["evaluation"]["stored"] == 0
    assert stored["evaluation"]["stored"] >= K + 5
    records = stack.monitoring_records(cohort.cohort_id)
    assert len(records) == K + 5
    assert all(r["record_id"]["S"].startswith("EVALUATION#") and "sealed" not in r for r in records)
    assert min(Counter(str(r["role"]) for r in records).values()) >= K
    assert not any("fulfilment" in r["answers"]["M"] for r in records)  # two mentors: not kept
    body = json.loads(report(stack, f"/cohorts/{cohort.cohort_id}/evaluation-report")["body"])
    assert body["has_figures"] is True
    assert all(c % 5 == 0 for q in body["questions"] for r in [*q["rows"], q["total"]]
               for c in (cell["count"] for cell in r["cells"].values()))  # fmt: skip
    assert counts(body, "confidence")["total"]["all_answered"] in {5, 10}  # 10, at most 4 away
    assert counts(body, "fulfilment")["total"]["all_answered"] == 0
    as_csv = list(
        csv.reader(
            io.StringIO(report(stack, f"/cohorts/{cohort.cohort_id}/evaluation-report", "csv")["body"])
        )
    )
    assert as_csv[0][:4] == ["question", "question_label", "value", "value_label"]
    assert (
        "Programme evaluation"
        in report(stack, f"/cohorts/{cohort.cohort_id}/evaluation-report", "html")["body"]
    )
    scheme = json.loads(report(stack, "/schemes/b-mentor-professional/evaluation-report")["body"])
    assert scheme["has_figures"] is True


def stack_deadline(cohort_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "RecruitmentDeadlineReached",
        "source": "mentoring.deadlines",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-2",
        "resources": [],
        "detail": {"cohort_id": cohort_id},
    }


def test_the_programme_end_event_stores_them_and_fewer_than_k_are_deleted_when_it_closes(
    stack: Stack,
) -> None:
    ended = cohort_of(stack, stack.open_cohort())
    small = cohort_of(stack, stack.open_cohort())
    for _ in range(K):
        answer(stack, ended, Role.MENTEE, {"recommend": "agree"})
    for _ in range(K - 1):
        answer(stack, small, Role.MENTEE, {"recommend": "agree"})

    detail = {"cohort_id": ended.cohort_id, "moment_id": "end", "kind": "what else it says"}
    at_end = scheduled(stack, datetime.now(UTC), "ProgrammeDateReached", **detail)
    waiting = scheduled(stack, evaluation_opens(small) + timedelta(days=1))
    closed = scheduled(stack, evaluation_opens(small) + EVALUATION_OPEN_FOR + timedelta(hours=1))

    assert at_end["evaluation"]["stored"] == K
    nobody = scheduled(stack, datetime.now(UTC), "ProgrammeDateReached", cohort_id="gone", moment_id="end")
    assert nobody["evaluation"]["stored"] == 0  # a date of no cohort moves nothing, and raises nothing
    assert waiting["evaluation"]["waiting"] >= K - 1
    assert closed["evaluation"]["discarded"] >= K - 1
    assert stack.monitoring_records(small.cohort_id) == []


def test_that_a_person_answered_is_kept_with_identity_in_the_same_write_and_only_once(stack: Stack) -> None:
    cohort = cohort_of(stack, stack.open_cohort())
    store = DynamoEvaluation(
        stack.physical("MonitoringTable"),
        applications_table=stack.physical("ApplicationsTable"),
        retention_days=365,
    )
    sealer = KmsEvaluationAnswers(os.environ["MONITORING_KEY_ID"])
    given = EvaluationAnswers(answers={"confidence": "agree"})
    opens = evaluation_opens(cohort)
    receive_evaluation(cohort, Role.MENTEE, given, sealer, store, opens, application_id="mentee-7")

    with pytest.raises(AlreadyAnsweredError):
        receive_evaluation(cohort, Role.MENTEE, given, sealer, store, opens, application_id="mentee-7")

    (pending,) = stack.monitoring_records(cohort.cohort_id)
    assert "mentee-7" not in json.dumps(pending)
    assert store.answered(cohort.cohort_id, "mentee-7")
    assert not store.answered(cohort.cohort_id, "mentee-8")
    mark = stack.client("dynamodb").get_item(
        TableName=stack.physical("ApplicationsTable"),
        Key={"pk": {"S": f"COHORT#{cohort.cohort_id}"}, "sk": {"S": "EVALUATED#mentee-7"}},
    )["Item"]
    assert set(mark) == {"pk", "sk", "expires_at"}  # that they answered, never what, nor when


def test_a_sweep_stores_monitoring_and_evaluation_answers_each_as_their_own(stack: Stack) -> None:
    cohort = cohort_of(stack, stack.open_cohort(datetime.now(UTC) + timedelta(minutes=1)))
    messages = [intake_message(applicant_submission(cohort.cohort_id)) for _ in range(K)]
    stack.call("IntakeFunction", sqs_event(messages))
    for _ in range(K):
        answer(stack, cohort, Role.MENTEE, {"confidence": "agree"})

    result = scheduled(stack, evaluation_opens(cohort) + timedelta(hours=1))

    assert result["stored"] >= K
    assert result["evaluation"]["stored"] >= K
    records = stack.monitoring_records(cohort.cohort_id)
    monitoring = [r for r in records if not r["record_id"]["S"].startswith("EVALUATION")]
    assert len(monitoring) == K
    assert all("ethnicity" in r for r in monitoring)
    # A monitoring answer opened as an evaluation answer (or the other way round) is refused by KMS.
    sealed = KmsAnswers(os.environ["MONITORING_KEY_ID"]).seal(MonitoringAnswers(), cohort.cohort_id)
    with pytest.raises(Exception, match="InvalidCiphertext"):
        KmsEvaluationAnswers(os.environ["MONITORING_KEY_ID"]).open(sealed, cohort.cohort_id)


def test_next_year_is_kept_with_identity_and_retention_and_listed_for_the_scheme_s_coordinator(
    stack: Stack,
) -> None:
    cohort = cohort_of(stack, stack.open_cohort())
    messages = [intake_message(applicant_submission(cohort.cohort_id, role="mentee")) for _ in range(2)]
    stack.call("IntakeFunction", sqs_event(messages))
    applications = DynamoApplications(stack.physical("ApplicationsTable"), retention_days=365)
    people = stack.applications(cohort.cohort_id)
    yes, no = people[0], people[1]
    record_next_year(
        cohort.cohort_id, yes["application_id"], True, applications, applications, datetime.now(UTC)
    )
    record_next_year(
        cohort.cohort_id, no["application_id"], False, applications, applications, datetime.now(UTC)
    )

    item = stack.client("dynamodb").get_item(
        TableName=stack.physical("ApplicationsTable"),
        Key={"pk": {"S": f"COHORT#{cohort.cohort_id}"}, "sk": {"S": f"NEXTYEAR#{yes['application_id']}"}},
    )["Item"]
    assert int(item["expires_at"]["N"]) == int(
        (cohort.recruitment_deadline + timedelta(days=365)).timestamp()
    )
    assert not [r for r in stack.monitoring_records(cohort.cohort_id) if "would_mentor" in str(r)]

    coordinator = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, ("b-mentor-professional",)))
    page = coordinator.get(f"/console/cohorts/{cohort.cohort_id}/next-year")
    exported = coordinator.get(f"/console/cohorts/{cohort.cohort_id}/next-year.csv")
    other = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, ("reverse-mentoring",)))
    refused = other.get(f"/console/cohorts/{cohort.cohort_id}/next-year")

    assert page.status == 200
    assert yes["applicant"]["email"] in page.body
    assert no["applicant"]["email"] not in page.body
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.body)))
    assert [r["email"] for r in rows] == [yes["applicant"]["email"]]
    assert refused.status == 403


def test_the_console_shows_the_cohort_s_and_the_scheme_s_evaluation_to_its_coordinators_only(
    stack: Stack,
) -> None:
    cohort = cohort_of(stack, stack.open_cohort())
    coordinator = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, ("b-mentor-professional",)))
    other = signed_in(stack, new_staff(stack, StaffRole.COORDINATOR, ("reverse-mentoring",)))

    page = coordinator.get(f"/console/cohorts/{cohort.cohort_id}/evaluation")
    as_csv = coordinator.get(f"/console/cohorts/{cohort.cohort_id}/evaluation", format="csv")
    scheme = coordinator.get("/console/schemes/b-mentor-professional/evaluation")
    refused = other.get(f"/console/cohorts/{cohort.cohort_id}/evaluation")
    refused_scheme = other.get("/console/schemes/b-mentor-professional/evaluation")

    assert page.status == 200
    assert "Programme evaluation" in page.body
    assert "Taking part has made me more confident" in page.body
    assert as_csv.status == 200
    assert as_csv.body.startswith("question,question_label,value,value_label,mentee_answered_count")
    assert scheme.status == 200
    assert (refused.status, refused_scheme.status) == (403, 403)
    administrator = signed_in(stack, new_staff(stack, StaffRole.ADMINISTRATOR))
    assert administrator.get("/console/schemes/b-mentor-professional/evaluation").status == 200
    assert administrator.get("/console/schemes/no-such-scheme/evaluation").status == 403
