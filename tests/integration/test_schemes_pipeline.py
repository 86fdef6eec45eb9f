"""A scheme is a definition file and nothing else: a new one runs through the whole pipeline,
and a cohort's size limit keeps later mentees waiting (or refuses them) as its scheme says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mentoring.adapters.dynamodb import DynamoApplications
from mentoring.scheme import SCHEMES_DIR, SCHEMES_DIR_VARIABLE

from tests.integration.helpers import (
    Stack,
    api_event,
    applicant_submission,
    apply_and_confirm,
    intake_message,
    queued_bodies,
    sqs_event,
)

pytestmark = pytest.mark.integration

# An eighth scheme, written as a coordinator would: peer mentoring for technicians, across
# institutions, matched on their technical areas. It has no source document, so every rule and
# figure says it is the coordinator's own choice.
TECHNICIANS = """
id: technician-peer-mentoring
name: Technician peer mentoring
summary: Technicians mentored by experienced technicians at another partner.
institutions: [UCL, KCL]
sources:
  institutions: {default: The two partners of the pilot.}
  max_mentees: {default: One place in the pilot.}
  when_full: {default: A waiting list.}
  mentor_capacity_max: {default: One mentee each.}
  minimum_meetings: {default: Once a month.}
  first_contact: {default: The technician writes first.}
calendar:
  recruitment_deadline: 2026-09-18T17:00:00
  deadline_source: {default: Mid-September.}
  training:
    - {title: Peer mentoring briefing, roles: [mentee, mentor], date: 2026-10-01, starts: "12:00",
       ends: "13:00", where: online, source: {default: A lunchtime briefing.}}
  programme_starts: 2026-10-05
  programme_ends: 2027-03-26
  programme_source: {default: Two terms.}
roles:
  mentee:
    label: Technician
    description: A technician at grade 4-7.
    source: {default: Technicians.}
    eligibility:
      - kind: answer_in
        question: job_family
        values: [technical]
        passed: You are in the technical job family.
        failed: This scheme is for the technical job family.
        source: {default: The technical job family.}
      - kind: grade_between
        min: 4
        max: 7
        passed: Your grade is 4-7.
        failed: Mentees are at grade 4-7.
        source: {default: Grades 4-7.}
  mentor:
    label: Senior technician
    description: A senior technician at grade 7 and above.
    source: {default: Senior technicians.}
    eligibility:
      - kind: grade_between
        min: 7
        max: 10
        passed: Your grade is 7 or above.
        failed: Mentors are at grade 7 and above.
        source: {default: Grade 7 and above.}
questions:
  - id: job_family
    purpose: eligibility
    roles: [mentee]
    label: Which job family are you in?
    type: choice
    required: true
    choices: [{value: technical, label: Technical}, {value: other, label: Other}]
    source: {default: The job families.}
  - id: areas
    purpose: matching
    label: Technical areas
    type: multi_choice
    required: true
    choices: [{value: microscopy, label: Microscopy}, {value: workshop, label: Workshop}]
    source: {default: The technical areas.}
pairing_rules:
  - kind: different_institution
    description: Mentor and mentee work at different partners.
    source: {default: Across the partners.}
  - kind: shares_answer
    mentee_question: areas
    mentor_question: areas
    description: They share a technical area.
    source: {default: A shared area.}
scoring:
  - {criterion: areas, mentee_question: areas, mentor_question: areas, weight: 1, label: technical areas,
     source: {default: One point a shared area.}}
max_mentees: 1
when_full: waiting_list
emails:
  welcome: Welcome to technician peer mentoring.
  matched: Meet once a month.
  unmatched: We will try again next term.
evaluation:
  - {id: skills, kind: agreement, text: "My technical skills grew through the programme.",
     source: {default: "The scheme's aim, as the coordinator writes it."}}
next_year:
  source: {default: Every participant is asked.}
"""


@pytest.fixture
def eighth_scheme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "schemes"
    shutil.copytree(SCHEMES_DIR, folder)
    (folder / "technician-peer-mentoring.yaml").write_text(TECHNICIANS)
    monkeypatch.setenv(SCHEMES_DIR_VARIABLE, str(folder))
    return "technician-peer-mentoring"


def technician(cohort: str, role: str, institution: str, grade: int, areas: list[str]) -> dict[str, Any]:
    body = applicant_submission(cohort, role=role, institution=institution, grade=grade)
    body["self_identification"] = {"job_family": "technical"} if role == "mentee" else {}
    body["profile"] = {"areas": areas}
    return body


def test_a_new_scheme_file_runs_a_cohort_through_the_pipeline(stack: Stack, eighth_scheme: str) -> None:
    cohort = stack.open_cohort(scheme_id=eighth_scheme)
    form = stack.call("SubmitFunction", api_event("GET", "/", None, query={"cohort": cohort}))
    assert 'name="profile.areas"' in form["body"]
    assert "Technical areas" in form["body"]
    bodies = [
        technician(cohort, "mentee", "UCL", 5, ["microscopy"]),
        technician(cohort, "mentee", "KCL", 6, ["workshop"]),  # second mentee: over the limit of 1
        technician(cohort, "mentor", "KCL", 8, ["microscopy", "workshop"]),
    ]
    for body in bodies:
        apply_and_confirm(stack, body)
    stack.call("IntakeFunction", sqs_event(queued_bodies(stack, "IntakeQueue")))
    stack.purge("NotifyQueue")

    assert stack.deliver_deadline(cohort)["ran"] is True

    apps = {a["applicant"]["institution"] + a["role"]: a for a in stack.applications(cohort)}
    assert all(a["eligibility"]["eligible"] for a in apps.values())
    (match,) = stack.matches(cohort)
    assert match["mentee_id"] == apps["UCLmentee"]["application_id"]
    assert "technical areas: Microscopy (+1)" in match["explanation"]
    (waiting,) = stack.unmatched(cohort)
    assert waiting["application_id"] == apps["KCLmentee"]["application_id"]
    assert "waiting list" in waiting["reason"]
    assert apps["KCLmentee"]["waiting_list"] is True


def test_a_place_is_taken_once_per_mentee_whatever_the_deliveries(stack: Stack) -> None:
    cohort = stack.open_cohort()
    store = DynamoApplications(stack.physical("ApplicationsTable"), dynamodb=stack.client("dynamodb"))

    first = store.take_place(cohort, "mentee-a", limit=1)
    other = store.take_place(cohort, "mentee-b", limit=1)
    again = store.take_place(cohort, "mentee-a", limit=1)  # a redelivery after a crash

    assert (first, other, again) == (True, False, True)
    stored = store.get_cohort(cohort)
    assert stored is not None
    assert stored.admitted_mentees == 1


def test_a_full_cohort_of_a_closing_scheme_refuses_mentees_but_not_mentors(stack: Stack) -> None:
    cohort = stack.open_cohort(scheme_id="reverse-mentoring")  # 12 places, then closes
    leader = applicant_submission(cohort, institution="ICL", grade="Professorial")
    leader["self_identification"] = {"leadership_role": "presidents_board"}
    leader["profile"] = {"topics": ["disability"]}
    messages = [intake_message(json.loads(json.dumps(leader))) for _ in range(12)]
    stack.call("IntakeFunction", sqs_event(messages[:10]))
    stack.call("IntakeFunction", sqs_event(messages[10:]))

    refused = stack.call("SubmitFunction", api_event("POST", "/applications", leader))
    mentor = applicant_submission(cohort, role="mentor", institution="ICL", grade=4)
    mentor["self_identification"] = {}
    mentor["profile"] = {"lived_experience": ["disability"]}
    accepted = stack.call("SubmitFunction", api_event("POST", "/applications", mentor))

    assert refused["statusCode"] == 422
    assert json.loads(refused["body"])["errors"] == [
        {"field": "cohort_id", "message": "this cohort is full: all 12 mentee places are taken"}
    ]
    assert accepted["statusCode"] == 202, accepted["body"]
