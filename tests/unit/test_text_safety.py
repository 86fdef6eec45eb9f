"""Text that is not text: refused at the model boundary, and never a new line or a header on the way out."""

from __future__ import annotations

import csv
import io
from email import message_from_bytes

import pytest
from mentoring.adapters.messaging import SesMailer
from mentoring.emails import compose
from mentoring.models import (
    Applicant,
    ApplicationSubmission,
    CohortMatches,
    CohortStatus,
    EmailKind,
    Match,
    MatchingProfile,
    NewCohort,
    Notification,
)
from mentoring.review import matches_csv
from mentoring.submissions import SubmissionError, form_to_dict, load_json, parse_form, parse_json
from mentoring.text import csv_cell, multi_line, one_line, single_line
from mentoring.web import application_form
from pydantic import ValidationError

from tests.unit.factories import NOW, application, cohort, mentor, submission
from tests.unit.fakes import MemoryStore

pytestmark = pytest.mark.unit

INJECTIONS = [
    "Eve\r\nBcc: spy@evil.example",
    "Eve\nBcc: spy@evil.example",
    "Nul\x00Byte",
    "Tab\there",
    "Evil\u202egnp.exe",  # right-to-left override
    "Isolate\u2066x\u2069",
    "Line\u2028separator",
    "Next\x85line",
]


@pytest.mark.parametrize("typed", INJECTIONS)
def test_single_line_fields_refuse_control_characters_breaks_and_overrides(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Applicant(
            given_name=typed,
            family_name="Okafor",
            email="eve@example.ac.uk",
            department="Finance",
            job_title="Officer",
            grade="6",
        )

    (error,) = refused.value.errors()
    assert error["loc"] == ("given_name",)
    assert "one line of text" in error["msg"]
    assert typed not in str(refused.value)  # never echoed


@pytest.mark.parametrize("field", ["job_title", "department", "staff_number", "grade"])
def test_every_single_line_field_of_the_applicant_is_cleaned(field: str) -> None:
    values = {
        "given_name": "Eve",
        "family_name": "Okafor",
        "email": "eve@example.ac.uk",
        "department": "Finance",
        "job_title": "Officer",
        "grade": "6",
    }
    with pytest.raises(ValidationError) as refused:
        Applicant(**(values | {field: "x\r\nBcc: spy@evil.example"}))
    assert refused.value.errors()[0]["loc"] == (field,)


def test_tags_and_text_answers_refuse_breaks_and_name_the_field() -> None:
    sub = submission().model_dump(mode="json")
    sub["profile"] = {"skills": ["data", "budget\x00ing"], "career_goals": "lead\nership"}

    with pytest.raises(SubmissionError) as refused:
        parse_json(ApplicationSubmission, __import__("json").dumps(sub))

    fields = {e.field for e in refused.value.errors}
    assert fields == {"profile.skills.1", "profile.career_goals"}


def test_right_to_left_names_are_welcome_and_only_the_controls_refused() -> None:
    assert (
        single_line("\u0623\u0645\u0627\u0631\u0627 \u200fOkafor")
        == "\u0623\u0645\u0627\u0631\u0627 \u200fOkafor"
    )


def test_multi_line_fields_keep_only_newlines() -> None:
    assert multi_line("one\r\ntwo\rthree\u2028four") == "one\ntwo\nthree\nfour"
    with pytest.raises(ValueError, match="control characters"):
        multi_line("one\x00two")
    with pytest.raises(ValidationError):
        MatchingProfile(about="about me\u202e")
    assert MatchingProfile(about="line one\r\nline two").about == "line one\nline two"


def test_a_cohort_name_is_one_line() -> None:
    with pytest.raises(ValidationError) as refused:
        NewCohort(
            cohort_id="cohort-b",
            scheme_id="b-mentor-professional",
            name="Cohort\r\nBcc: spy@evil.example",
            recruitment_deadline=NOW,
            coordinator_email="c@example.ac.uk",
        )
    assert refused.value.errors()[0]["loc"] == ("name",)


def test_a_form_post_with_a_line_break_in_a_name_is_refused_naming_it() -> None:
    body = (
        "cohort_id=cohort-a&role=mentee&applicant.given_name=Eve%0D%0ABcc%3A+spy%40evil.example&consent=yes"
    )

    with pytest.raises(SubmissionError) as refused:
        parse_form(body)

    assert "applicant.given_name" in {e.field for e in refused.value.errors}


# ---------------------------------------------------------------- what was stored before the rules


def _stored(store: MemoryStore, **fields: str) -> str:
    """An application as data stored before these rules could hold it (not validated again)."""
    app = application()
    person = app.applicant.model_copy(update=fields)
    app = app.model_copy(update={"applicant": person})
    store.applications[(app.cohort_id, app.application_id)] = app
    return app.application_id


def _lines_of(email_text: str) -> list[str]:
    return email_text.split("\n")


def test_a_stored_name_with_a_header_in_it_reaches_the_email_as_one_line() -> None:
    store = MemoryStore()
    store.create_cohort(cohort("cohort-a"))
    app_id = _stored(store, given_name="Eve\r\nBcc: spy@evil.example", family_name="Nul\x00Byte")
    note = Notification(cohort_id="cohort-a", kind=EmailKind.ACKNOWLEDGEMENT, application_id=app_id)

    email = compose(note, store.cohorts["cohort-a"], store)
    raw = SesMailer("mentoring@example.ac.uk", ses=object()).build(email).as_bytes()  # type: ignore[arg-type]

    assert not any(line.startswith("Bcc:") for line in _lines_of(email.text))
    assert "Dear Eve Bcc: spy@evil.example," in email.text
    assert "\x00" not in email.text
    assert "\x00" not in email.html
    assert b"\x00" not in raw
    parsed = message_from_bytes(raw)
    assert parsed["Bcc"] is None
    # The text and HTML alternatives, and nothing a header could have added (a diary invitation
    # comes with the acknowledgement of the scheme's induction dates).
    parts = [p.get_content_type() for p in parsed.walk() if not p.is_multipart()]
    assert parts[:2] == ["text/plain", "text/html"]
    assert set(parts[2:]) <= {"text/calendar"}


def test_a_stored_cohort_name_with_a_line_break_still_gives_a_sendable_coordinator_email() -> None:
    store = MemoryStore()
    store.create_cohort(cohort("cohort-a").model_copy(update={"name": "Cohort\r\nBcc: spy@evil.example"}))
    note = Notification(cohort_id="cohort-a", kind=EmailKind.COORDINATOR_SUMMARY)

    email = compose(note, store.cohorts["cohort-a"], store)
    message = SesMailer("mentoring@example.ac.uk", ses=object()).build(email)  # type: ignore[arg-type]

    assert "\n" not in email.subject
    assert "\r" not in email.subject
    assert message["Bcc"] is None
    assert message["Subject"] == "Cohort Bcc: spy@evil.example: matching results"


def test_an_email_with_a_header_break_is_refused_when_composed_not_when_sent() -> None:
    from mentoring.ports import OutgoingEmail

    with pytest.raises(ValueError, match="one line"):
        OutgoingEmail(to="a@example.ac.uk", subject="Hi\r\nBcc: spy@evil.example", text="", html="")


def test_the_csv_export_has_one_line_a_row_and_no_formulas() -> None:
    store = MemoryStore()
    store.create_cohort(cohort("cohort-a"))
    mentee, guide = application(), mentor()
    mentee = mentee.model_copy(
        update={"applicant": mentee.applicant.model_copy(update={"given_name": '=HYPERLINK("x")\r\nEve'})}
    )
    guide = guide.model_copy(
        update={"applicant": guide.applicant.model_copy(update={"family_name": "Nul\x00\u202eByte"})}
    )
    for app in (mentee, guide):
        store.applications[(app.cohort_id, app.application_id)] = app
    result = CohortMatches(
        cohort_id="cohort-a",
        status=CohortStatus.PROVISIONAL,
        matches=[
            Match(
                cohort_id="cohort-a",
                mentee_id=mentee.application_id,
                mentor_id=guide.application_id,
                score=1,
                explanation=["@SUM(1)"],
            )
        ],
        unmatched=[],
    )

    exported = matches_csv(result, store)

    assert exported.count("\n") == 2  # the header and one row
    for ch in ("\x00", "\u202e", "\r\n\u0045ve"):
        assert ch not in exported
    (row,) = list(csv.DictReader(io.StringIO(exported)))
    assert row["mentee"].startswith("'=")
    assert row["why"].startswith("'@")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(1)", "  =1", "\uff1d1", "\t=1"])
def test_csv_cells_never_start_a_formula(cell: str) -> None:
    assert csv_cell(cell).startswith("'")


def test_one_line_leaves_ordinary_text_alone() -> None:
    assert one_line("Amara Okafor-Smith, O'Neill") == "Amara Okafor-Smith, O'Neill"
    assert one_line("a\r\nb\x00c") == "a b c"


def test_the_form_shown_again_carries_no_control_character() -> None:
    values = {"applicant.given_name": "Eve\u202e\x00\r\nBcc: x"}
    page = application_form(
        __import__("mentoring.scheme", fromlist=["get_scheme"]).get_scheme("b-mentor-professional"),
        cohort("cohort-a"),
        values,
    )

    assert not any(c in page for c in ("\x00", "\u202e", "\r"))
    assert 'value="Eve Bcc: x"' in page


# ---------------------------------------------------------------- depth and size


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 17 + "]" * 17, "1" * 5_000],
)
def test_bodies_nested_too_deep_or_too_large_to_read_are_refused_before_parsing(body: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        load_json(body)

    assert refused.value.status == 422
    assert refused.value.errors[0].field == "body"


def test_depth_is_counted_outside_strings() -> None:
    assert load_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{{{{{{{{{"}') == {
        "a": '[[[[[[[[[[[[[[[[[[[[[[[[[["{{{{{{{{{{{{{{{{{{{{'
    }


@pytest.mark.parametrize(
    "body",
    ["a" + ".a" * 1_500 + "=1", "applicant.given_name.x.y=1", "&".join(f"f{n}=1" for n in range(400))],
)
def test_form_posts_too_deep_or_too_many_fields_are_refused_naming_the_problem(body: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        form_to_dict(body)

    (error,) = refused.value.errors
    assert len(error.field) < 100
    assert error.message in {"is not a field", "has more than 300 fields"}
