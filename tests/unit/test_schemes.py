"""Every scheme of the source documents, as data: its example intake decides as the scheme says.

The examples (``tests/examples/<scheme>.yaml``) are applications as a form or a partner sends them,
each with the decision and the reason the scheme's rules must give.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from mentoring.answers import check_answers
from mentoring.eligibility import decide
from mentoring.institutions import load_institutions
from mentoring.intake import to_application
from mentoring.matching import broken_rules, match_cohort
from mentoring.models import Application, ApplicationSubmission, Role
from mentoring.scheme import (
    SchemeDefinitionError,
    get_scheme,
    json_schema,
    load_scheme_file,
    load_schemes,
    with_sources_table,
)
from mentoring.sources import normalised, sources_directory
from mentoring.web import application_form

from tests.unit.factories import cohort, intake_message

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "tests" / "examples"
SCHEMES = {
    "b-mentor-professional",
    "b-mentor-academics",
    "reverse-mentoring",
    "reciprocal-mentoring",
    "mutual-mentoring",
    "more-than-mentoring",
    "womens-mentoring-pilot",
}


def examples(scheme_id: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((EXAMPLES / f"{scheme_id}.yaml").read_text())[
        "applications"
    ]
    return loaded


def submission(scheme_id: str, example: dict[str, Any]) -> ApplicationSubmission:
    fields = {k: v for k, v in example.items() if k != "expect"}
    return ApplicationSubmission.model_validate({"cohort_id": f"{scheme_id}-2027", "consent": True, **fields})


def intake(scheme_id: str, example: dict[str, Any], n: int) -> Application:
    message = intake_message(submission(scheme_id, example)).model_copy(
        update={"submission_id": f"{scheme_id}-{n:02d}"}
    )
    return to_application(message, scheme_id)


ALL_EXAMPLES = [
    pytest.param(scheme_id, n, example, id=f"{scheme_id}-{n}-{example['role']}")
    for scheme_id in sorted(SCHEMES)
    for n, example in enumerate(examples(scheme_id))
]


def test_the_seven_schemes_of_the_source_documents_are_defined() -> None:
    assert set(load_schemes()) == SCHEMES


@pytest.mark.parametrize("scheme_id", sorted(SCHEMES))
def test_every_role_has_an_eligible_and_an_ineligible_example(scheme_id: str) -> None:
    seen = Counter((e["role"], e["expect"]["eligible"]) for e in examples(scheme_id))

    for role in get_scheme(scheme_id).roles:
        assert seen[(role.value, True)] >= 1, f"{scheme_id}: no eligible {role.value}"
        assert seen[(role.value, False)] >= 1, f"{scheme_id}: no ineligible {role.value}"


@pytest.mark.parametrize(("scheme_id", "n", "example"), ALL_EXAMPLES)
def test_example_is_accepted_and_decided_with_its_reason(
    scheme_id: str, n: int, example: dict[str, Any]
) -> None:
    scheme = get_scheme(scheme_id)
    sub = submission(scheme_id, example)

    assert check_answers(scheme, sub, sub.applicant.institution) == []
    application = intake(scheme_id, example, n)

    assert application.eligibility.eligible is example["expect"]["eligible"]
    assert len(application.eligibility.outcomes) == len(scheme.roles[sub.role].eligibility)
    assert all(o.reason for o in application.eligibility.outcomes)
    if not example["expect"]["eligible"]:
        assert any(example["expect"]["reason"] in reason for reason in application.eligibility.reasons)


@pytest.mark.parametrize("scheme_id", sorted(SCHEMES))
def test_examples_match_under_the_hard_rules(scheme_id: str) -> None:
    scheme = get_scheme(scheme_id)
    apps = [intake(scheme_id, e, n) for n, e in enumerate(examples(scheme_id))]
    eligible = [a for a in apps if a.eligibility.eligible]
    mentees = [a for a in eligible if a.role is Role.MENTEE]
    mentors = {a.application_id: a for a in eligible if a.role is Role.MENTOR}

    result = match_cohort(scheme, "c", mentees, list(mentors.values()))

    assert result.matches, f"{scheme_id}: the example intake should make at least one pair"
    by_id = {a.application_id: a for a in apps}
    for match in result.matches:
        assert broken_rules(scheme.pairing_rules, by_id[match.mentee_id], mentors[match.mentor_id]) == []
        assert match.explanation


def test_a_mentee_is_never_paired_with_their_line_manager_even_when_the_score_is_best() -> None:
    scheme = get_scheme("womens-mentoring-pilot")
    apps = {
        a.applicant.given_name: a for n, e in enumerate(examples(scheme.id)) if (a := intake(scheme.id, e, n))
    }
    ada, grace, hedy = apps["Ada"], apps["Grace"], apps["Hedy"]

    assert broken_rules(scheme.pairing_rules, ada, grace) == ["not_line_manager"]
    result = match_cohort(scheme, "c", [ada], [grace, hedy])

    assert [(m.mentee_id, m.mentor_id) for m in result.matches] == [(ada.application_id, hedy.application_id)]


def test_grades_are_compared_on_the_common_scale_across_institutions() -> None:
    (_, bilal, chen, *_) = examples("b-mentor-professional")

    # QMUL grade 5 is 6 on the common scale (a mentee); QMUL grade 7 is 8 (too senior to be one).
    assert intake("b-mentor-professional", bilal, 1).common_grade == 6
    assert intake("b-mentor-professional", chen, 2).common_grade == 8


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"profile": {"favourite_colour": "red"}}, "profile.favourite_colour", "is not a question of"),
        ({"profile": {"capacity": 2}}, "profile.capacity", "is asked of mentors only"),
        (
            {"self_identification": {"staff_group": "astronaut"}},
            "self_identification.staff_group",
            "must be one of",
        ),
        (
            {"self_identification": {"minority_ethnic_background": ""}},
            "self_identification.minority_ethnic_background",
            "is required",
        ),
        ({"applicant": {"grade": "11"}}, "applicant.grade", "is not a grade at UCL"),
        ({"profile": {"skills": "budgeting"}}, "profile.skills", "must be a list"),
    ],
)
def test_answers_that_do_not_fit_the_scheme_name_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    example = examples("b-mentor-professional")[0]
    body = {**example, **{k: {**example.get(k, {}), **v} for k, v in change.items()}}
    scheme = get_scheme("b-mentor-professional")
    sub = submission(scheme.id, body)

    errors = check_answers(scheme, sub, sub.applicant.institution)

    assert [e.field for e in errors] == [field]
    assert message in errors[0].message
    assert "astronaut" not in errors[0].message  # never repeats what was sent


@pytest.mark.parametrize("scheme_id", sorted(SCHEMES))
def test_the_form_is_generated_from_the_scheme(scheme_id: str) -> None:
    scheme = get_scheme(scheme_id)
    page = application_form(scheme, cohort(scheme_id=scheme_id))

    for question in scheme.questions:
        section = "self_identification" if question.purpose == "eligibility" else "profile"
        assert f'name="{section}.{question.id}"' in page
        assert question.label.replace("'", "&#x27;") in page
    for definition in scheme.roles.values():
        assert definition.label in page
    assert "Prefer not to say" in page


def test_the_published_json_schema_is_the_one_the_models_make() -> None:
    committed = json.loads((ROOT / "shared/mentoring/schemes/scheme.schema.json").read_text())

    assert committed == json_schema(), "run: make schema"


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "broken.yaml"
    source = (ROOT / "shared/mentoring/schemes/womens-mentoring-pilot.yaml").read_text()
    assert old in source
    path.write_text(source.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "mentor_question: discipline",
            "mentor_question: dicsipline",
            "broken.yaml: scoring.0.mentor_question: no question 'dicsipline' in questions",
        ),
        (
            'values: ["yes"]\n        passed: You identify as a woman.',
            'values: ["maybe"]\n        passed: You identify as a woman.',
            "broken.yaml: roles.mentee.eligibility.0.values: 'maybe' is not a choice of "
            "'identifies_as_woman'",
        ),
        ("institutions: [UCL]", "institutions: [UCL, XYZ]", "broken.yaml: institutions.1: 'XYZ' is not in"),
        ("weight: 3", "weight: -3", "broken.yaml: scoring.0.weight: Input should be greater than 0"),
        (
            "when_full: waiting_list",
            "when_full: sometimes",
            "broken.yaml: when_full: Input should be 'close'",
        ),
        ('starts: "12:00"', 'starts: "25:00"', "broken.yaml: calendar.training.0.starts:"),
        ("  - id: learning", "  - id: career", "broken.yaml: evaluation.1.id: 'career' is used twice"),
        (
            "  - id: recommend\n    kind: agreement",
            "  - id: recommend\n    kind: agreement\n    options: [{value: y, label: Y}]",
            "broken.yaml: evaluation.5: evaluation question 'recommend' of kind agreement takes the scale's",
        ),
        (
            "  - id: recommend\n    kind: agreement",
            "  - id: recommend\n    kind: choice",
            "broken.yaml: evaluation.5: evaluation question 'recommend' of kind choice needs at least two",
        ),
        ("next_year:\n  text: Would", "next_year:\n  txt: Would", "broken.yaml: next_year.txt: Extra inputs"),
    ],
)
def test_an_invalid_definition_names_file_field_and_problem(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(SchemeDefinitionError) as error:
        load_scheme_file(_broken(tmp_path, old, new))

    assert str(error.value).startswith(expected)


# ---------------------------------------------------------------- true to the source documents


def test_the_readme_says_where_each_rule_and_figure_comes_from() -> None:
    readme = (ROOT / "README.md").read_text()

    assert with_sources_table(readme) == readme, "run: make schema"


def _quotes() -> list[Any]:
    found = [
        pytest.param(
            scheme.document.file if scheme.document else None, where, basis.quote, id=f"{scheme.id}-{n}"
        )
        for scheme in load_schemes().values()
        for n, (where, _, basis) in enumerate(scheme.bases())
        if basis.quote.strip()
    ]
    found += [
        pytest.param(None, code, institution.source.quote, id=f"institution-{code}")
        for code, institution in load_institutions().items()
        if institution.source.quote.strip()
    ]
    return found


@pytest.mark.parametrize(("document", "where", "quote"), _quotes())
def test_every_quote_is_the_source_documents_own_words(document: str | None, where: str, quote: str) -> None:
    folder = sources_directory(ROOT)
    if folder is None:
        pytest.skip("the source documents are not on this machine (MENTORING_SOURCES_DIR)")
    texts = [(folder / document).read_text()] if document else [p.read_text() for p in folder.glob("*.txt")]

    assert any(normalised(quote) in normalised(text) for text in texts), f"{where}: not in {document}"


def test_every_scheme_is_traced_to_an_existing_source_document() -> None:
    folder = sources_directory(ROOT)
    if folder is None:
        pytest.skip("the source documents are not on this machine (MENTORING_SOURCES_DIR)")
    index = (folder / "README.md").read_text()

    for scheme in load_schemes().values():
        assert scheme.document is not None
        assert scheme.document.file in index, scheme.id


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '        source:\n          quote: "You will be a member of Professional Services staff"\n',
            "",
            "broken.yaml: roles.mentee.eligibility.1.source: say where this rule comes from",
        ),
        (
            '  minimum_meetings:\n    quote: "At least 6 one-to-one mentoring sessions"\n',
            "",
            "broken.yaml: sources.minimum_meetings: say where this figure comes from",
        ),
        (
            '    source:\n      quote: "through the cultivation of cross \u2013 institutional'
            ' relationships"\n',
            "",
            "broken.yaml: pairing_rules.0.source: Field required",
        ),
        (
            '    source:\n      quote: "strengthen their professional skills"\n'
            "      default: Two points a shared skill.\n",
            "    source: {}\n",
            "broken.yaml: scoring.0.source: give the source's words (quote) or say it is this project's",
        ),
    ],
)
def test_a_rule_or_figure_without_its_source_is_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    source = (ROOT / "shared/mentoring/schemes/b-mentor-professional.yaml").read_text()
    assert old in source
    path = tmp_path / "broken.yaml"
    path.write_text(source.replace(old, new, 1))

    with pytest.raises(SchemeDefinitionError) as error:
        load_scheme_file(path)

    assert expected in str(error.value)


WOMAN_RESEARCHER = {"identifies_as_woman": "yes", "staff_group": "research"}


@pytest.mark.parametrize(
    ("area", "answers", "eligible"),
    [
        # "for female academic and research staff from the Faculty of Biomedical Sciences"
        ("biomedical_sciences", WOMAN_RESEARCHER, True),
        # "smaller pilot programmes in the Division of Psychology and Language Sciences (PALS)
        # and the Division of Medicine"
        ("psychology_language_sciences", WOMAN_RESEARCHER, True),
        ("medicine", {**WOMAN_RESEARCHER, "staff_group": "academic"}, True),
        # Engineering is only "plans ... for female post-docs in the Faculty of Engineering Sciences"
        ("elsewhere", WOMAN_RESEARCHER, False),
        ("biomedical_sciences", {**WOMAN_RESEARCHER, "staff_group": "professional_services"}, False),
    ],
)
def test_the_ucl_pilot_takes_the_women_its_source_describes(
    area: str, answers: dict[str, str], eligible: bool
) -> None:
    scheme = get_scheme("womens-mentoring-pilot")
    person = intake(scheme.id, examples(scheme.id)[0], 90).applicant

    decision = decide(scheme, Role.MENTEE, person, {**answers, "pilot_area": area})

    assert decision.eligible is eligible


def test_schemes_sit_at_the_institutions_their_sources_name() -> None:
    schemes = load_schemes()

    assert schemes["more-than-mentoring"].institutions == ("KCL",)
    assert schemes["mutual-mentoring"].institutions == ("KCL",)
    assert schemes["reverse-mentoring"].institutions == ("ICL",)
    assert schemes["reciprocal-mentoring"].institutions == ("CITY",)
    assert schemes["womens-mentoring-pilot"].institutions == ("UCL",)
    assert set(schemes["b-mentor-professional"].institutions) == {"UCL", "KCL", "QMUL", "UAL", "SGUL"}


def test_a_professor_of_chemistry_is_not_a_b_mentor_professional_mentor() -> None:
    scheme = get_scheme("b-mentor-professional")
    professor = next(
        e for e in examples(scheme.id) if e["applicant"]["job_title"] == "Professor of Chemistry"
    )

    decision = intake(scheme.id, professor, 91).eligibility

    assert not decision.eligible
    assert decision.reasons == [
        "Mentors in this scheme are professional-services staff; B-MEntor for academics has academic mentors."
    ]
