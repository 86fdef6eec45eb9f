"""Scheme definitions load and validate; eligibility gives a reason for every rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from mentoring.eligibility import decide
from mentoring.models import MonitoringAnswers, Role
from mentoring.scheme import SchemeDefinitionError, get_scheme, load_scheme_file, load_schemes
from mentoring.submissions import check_submission

from tests.unit.factories import NOW, SCHEME_ID, applicant, cohort, submission

pytestmark = pytest.mark.unit

SCHEME = get_scheme(SCHEME_ID)
YES = {"minority_ethnic_background": "yes", "staff_group": "professional_services"}


def test_b_mentor_professional_is_defined_with_its_partners_size_and_training() -> None:
    assert set(SCHEME.institutions) == {"UCL", "KCL", "QMUL", "UAL", "SGUL"}
    assert SCHEME.max_mentees == 40
    assert [s.roles for s in SCHEME.calendar.training] == [(Role.MENTEE,), (Role.MENTOR,)]
    assert [r.kind for r in SCHEME.pairing_rules] == ["different_institution"]


def test_invalid_definition_is_refused_naming_file_field_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        (Path(__file__).parents[2] / "shared/mentoring/schemes/b-mentor-professional.yaml")
        .read_text()
        .replace("max_mentees: 40", "max_mentees: none")
    )

    with pytest.raises(SchemeDefinitionError) as error:
        load_scheme_file(path)

    assert str(error.value).startswith("broken.yaml: max_mentees:")
    assert "integer" in str(error.value)


def test_definition_that_is_not_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbled.yaml"
    path.write_text("id: [unclosed")

    with pytest.raises(SchemeDefinitionError, match=r"^garbled\.yaml: not valid YAML"):
        load_scheme_file(path)


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "shared/mentoring/schemes/b-mentor-professional.yaml").read_text()
    (tmp_path / "a.yaml").write_text(source)
    (tmp_path / "b.yaml").write_text(source)

    with pytest.raises(
        SchemeDefinitionError, match=r"^b\.yaml: id: 'b-mentor-professional' is already defined"
    ):
        load_schemes(tmp_path)


def test_eligible_mentee_passes_every_rule_with_its_reason() -> None:
    result = decide(SCHEME, Role.MENTEE, applicant(grade=6), YES)

    assert result.eligible
    assert [o.rule for o in result.outcomes] == ["answer_in", "answer_in", "grade_between"]
    assert all(o.passed for o in result.outcomes)


@pytest.mark.parametrize(
    ("grade", "answer", "institution", "reason"),
    [
        (
            9,
            "yes",
            "UCL",
            "Mentees are at grade 5-7 at UCL, or the equivalent at their institution. "
            "(Grade 9 at University College London is 9 on the scheme's common 1-10 scale.)",
        ),
        (
            6,
            "no",
            "UCL",
            "This scheme's mentees self-identify as being from a Black, Asian, Mixed or other "
            "minority ethnic background.",
        ),
        (
            6,
            "prefer_not_to_say",
            "UCL",
            "This scheme's mentees self-identify as being from a Black, Asian, "
            "Mixed or other minority ethnic background.",
        ),
    ],
)
def test_ineligible_mentee_is_told_why(grade: int, answer: str, institution: str, reason: str) -> None:
    answers = {**YES, "minority_ethnic_background": answer}

    result = decide(SCHEME, Role.MENTEE, applicant(grade=grade, institution=institution), answers)

    assert not result.eligible
    assert result.reasons == [reason]


@pytest.mark.parametrize(
    ("institution", "partner", "message"),
    [
        ("LSE", None, "B-MEntor Professional is for staff of University College London and"),
        (None, None, "is required: B-MEntor Professional is for staff of"),
        (None, "CITY", "your API key is for City, University of London, and B-MEntor Professional is"),
    ],
)
def test_an_institution_outside_the_scheme_is_refused_at_every_door(
    institution: str | None, partner: str | None, message: str
) -> None:
    sub = submission(institution=institution)

    errors = check_submission(sub, cohort(), partner, NOW)

    assert [e.field for e in errors] == ["applicant.institution"]
    assert errors[0].message.startswith(message)


def test_a_partner_cannot_submit_to_a_scheme_of_another_institution() -> None:
    """Issue 16: a QMUL key could put applicants into UCL-only schemes."""
    sub = submission(cohort_id="pilot", institution=None)

    errors = check_submission(sub, cohort("pilot", scheme_id="womens-mentoring-pilot"), "QMUL", NOW)

    assert [(e.field, e.message) for e in errors] == [
        (
            "applicant.institution",
            "your API key is for Queen Mary University of London, and Women's mentoring pilot "
            "(Biomedical Sciences, PALS and Medicine) is for staff of University College London only",
        )
    ]


@pytest.mark.parametrize(("grade", "eligible"), [(8, True), (10, True), (7, False)])
def test_mentors_are_grade_8_to_10_of_any_ethnicity(grade: int, eligible: bool) -> None:
    answers = {"minority_ethnic_background": "no", "staff_group": "professional_services"}

    assert decide(SCHEME, Role.MENTOR, applicant(grade=grade), answers).eligible is eligible


def test_monitoring_answers_are_not_an_input_to_eligibility() -> None:
    person = applicant(grade=6)
    monitoring = [MonitoringAnswers(), MonitoringAnswers(ethnicity="white_british", disability="yes")]

    decisions = {decide(SCHEME, Role.MENTEE, person, YES).model_dump_json() for _ in monitoring}

    assert len(decisions) == 1
    assert "monitoring" not in decide.__code__.co_varnames
