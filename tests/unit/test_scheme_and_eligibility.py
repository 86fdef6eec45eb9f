"""Scheme definitions load and validate; eligibility gives a reason for every rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from mentoring.eligibility import decide
from mentoring.models import MonitoringAnswers, Role
from mentoring.scheme import SchemeDefinitionError, get_scheme, load_scheme_file, load_schemes

from tests.unit.factories import SCHEME_ID, applicant

pytestmark = pytest.mark.unit

SCHEME = get_scheme(SCHEME_ID)
YES = {"minority_ethnic_background": "yes", "staff_group": "professional_services"}


def test_b_mentor_professional_is_defined_with_its_partners_size_and_training() -> None:
    assert set(SCHEME.institutions) == {"UCL", "KCL", "QMUL", "UAL", "SGUL"}
    assert SCHEME.training[0].starts_at.tzname() == "GMT"  # 10 February: UK winter time
    assert SCHEME.max_mentees == 40
    assert {s.role for s in SCHEME.training} == {Role.MENTEE, Role.MENTOR}
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
    assert [o.rule for o in result.outcomes] == ["answer_in", "answer_in", "grade_between", "institution_in"]
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


def test_an_institution_outside_the_scheme_is_told_why_and_its_grade_cannot_be_placed() -> None:
    result = decide(SCHEME, Role.MENTEE, applicant(grade=6, institution="LSE"), YES)

    assert result.reasons == [
        "Mentees are at grade 5-7 at UCL, or the equivalent at their institution. "
        "(We could not place grade 6 at LSE on the scheme's common scale.)",
        "Applicants must work at one of the scheme's partner universities.",
    ]


@pytest.mark.parametrize(("grade", "eligible"), [(8, True), (10, True), (7, False)])
def test_mentors_are_grade_8_to_10_of_any_ethnicity(grade: int, eligible: bool) -> None:
    answers = {"minority_ethnic_background": "no"}

    assert decide(SCHEME, Role.MENTOR, applicant(grade=grade), answers).eligible is eligible


def test_monitoring_answers_are_not_an_input_to_eligibility() -> None:
    person = applicant(grade=6)
    monitoring = [MonitoringAnswers(), MonitoringAnswers(ethnicity="white_british", disability="yes")]

    decisions = {decide(SCHEME, Role.MENTEE, person, YES).model_dump_json() for _ in monitoring}

    assert len(decisions) == 1
    assert "monitoring" not in decide.__code__.co_varnames
