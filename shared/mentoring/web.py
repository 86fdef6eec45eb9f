"""The applicant web form: plain, accessible HTML that works without JavaScript.

It posts ``application/x-www-form-urlencoded`` to ``/applications`` with dotted field names
(``applicant.email``); the API turns that into the same model as a JSON submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import get_args

from mentoring.answers import field_name
from mentoring.institutions import load_institutions
from mentoring.models import (
    AgeBand,
    Cohort,
    Ethnicity,
    FieldError,
    Gender,
    MonitoringAnswers,
    Religion,
    SexualOrientation,
    YesNo,
)
from mentoring.scheme import Choice, Question, Scheme

_STYLE = """
body{font-family:Arial,sans-serif;line-height:1.5;max-width:40rem;margin:0 auto;padding:1rem;color:#0b0c0c}
label{display:block;font-weight:bold;margin-top:1rem}
input,select,textarea{display:block;width:100%;box-sizing:border-box;font-size:1rem;padding:.4rem;
  border:2px solid #0b0c0c}
input:focus,select:focus,textarea:focus,button:focus{outline:3px solid #fd0;outline-offset:0}
fieldset{border:0;padding:0;margin:2rem 0 0}
legend{font-size:1.4rem;font-weight:bold}
fieldset.group{margin:1rem 0 0}
legend.question{font-size:1rem}
.hint{color:#505a5f;margin:.2rem 0}
.error{color:#d4351c;font-weight:bold}
.error-summary{border:4px solid #d4351c;padding:1rem}
.radio label,.check label{display:inline;font-weight:normal}
.radio input,.check input{display:inline;width:auto}
button{margin-top:2rem;font-size:1.1rem;padding:.6rem 1.2rem;background:#00703c;color:#fff;border:0}
"""

_LABELS = {
    "prefer_not_to_say": "Prefer not to say",
    "non_binary": "Non-binary",
    "gay_woman_lesbian": "Gay woman / lesbian",
    "white_gypsy_or_irish_traveller": "White - Gypsy or Irish Traveller",
}


def _label(value: str) -> str:
    if value in _LABELS:
        return _LABELS[value]
    head, _, tail = value.partition("_")
    return (head.capitalize() + (" - " + tail.replace("_", " ") if tail else "")) if head else value


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


class _Form:
    def __init__(self, values: dict[str, str], errors: dict[str, str]) -> None:
        self.values = values
        self.errors = errors
        self.labels: dict[str, str] = {
            "role": "Your role",
            "applicant.institution": "Institution",
            "consent": "Consent",
            "cohort_id": "Cohort",
        }

    def _error(self, name: str) -> str:
        message = self.errors.get(name)
        return (
            f'<p class="error" id="{name}-error"><span>Error:</span> {escape(message)}</p>' if message else ""
        )

    def _described(self, name: str, hint: str) -> str:
        ids = [f"{name}-hint"] if hint else []
        if name in self.errors:
            ids.append(f"{name}-error")
        return f' aria-describedby="{" ".join(ids)}"' if ids else ""

    def text(
        self, name: str, label: str, hint: str = "", kind: str = "text", required: bool = True, **attrs: str
    ) -> str:
        self.labels[name] = label
        extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
        invalid = ' aria-invalid="true"' if name in self.errors else ""
        return (
            f'<label for="{name}">{escape(label)}{"" if required else " (optional)"}</label>'
            + (f'<p class="hint" id="{name}-hint">{escape(hint)}</p>' if hint else "")
            + self._error(name)
            + f'<input id="{name}" name="{name}" type="{kind}" value="{escape(self.values.get(name, ""))}"'
            + (" required" if required else "")
            + f"{self._described(name, hint)}{invalid}{extra}>"
        )

    def select(
        self,
        name: str,
        label: str,
        options: Sequence[str],
        hint: str = "",
        default: str = "",
        labels: dict[str, str] | None = None,
    ) -> str:
        self.labels[name] = label
        chosen = self.values.get(name, default)
        shown = labels or {}
        opts = "".join(
            f'<option value="{escape(o)}"{" selected" if o == chosen else ""}>'
            f"{escape(shown.get(o) or _label(o))}</option>"
            for o in options
        )
        return (
            f'<label for="{name}">{escape(label)}</label>'
            + (f'<p class="hint" id="{name}-hint">{escape(hint)}</p>' if hint else "")
            + self._error(name)
            + f'<select id="{name}" name="{name}"{self._described(name, hint)}>{opts}</select>'
        )


def _checkbox_group(form: _Form, name: str, label: str, choices: Sequence[Choice], hint: str) -> str:
    form.labels[name] = label
    chosen = {v.strip() for v in form.values.get(name, "").split(",")}
    boxes = "".join(
        f'<p class="check"><input type="checkbox" id="{name if i == 0 else f"{name}-{i}"}" name="{name}" '
        f'value="{escape(c.value)}"{" checked" if c.value in chosen else ""}> '
        f'<label for="{name if i == 0 else f"{name}-{i}"}">{escape(c.label)}</label></p>'
        for i, c in enumerate(choices)
    )
    hint_html = f'<p class="hint" id="{name}-hint">{escape(hint)}</p>' if hint else ""
    return (
        f'<fieldset class="group"{form._described(name, hint)}>'
        f'<legend class="question">{escape(label)}</legend>'
        f"{hint_html}{form._error(name)}{boxes}</fieldset>"
    )


def _grade_systems(scheme: Scheme) -> str:
    known = load_institutions()
    return "; ".join(f"{code}: {known[code].grade_system}" for code in scheme.institutions if code in known)


def _roles_note(question: Question, scheme: Scheme) -> str:
    if set(question.roles) >= set(scheme.roles):
        return ""
    return " (" + " and ".join(scheme.roles[r].label.lower() + "s" for r in question.roles) + " only)"


def _question(f: _Form, question: Question, scheme: Scheme) -> str:
    name = field_name(question)
    label = question.label + _roles_note(question, scheme)
    hints = [question.help] if question.help else []
    hints += [
        f"{scheme.roles[r].label}s: {text}." for r, text in question.labels.items() if r in scheme.roles
    ]
    hint = " ".join(hints)
    if question.type == "choice":
        return f.select(name, label, ["", *question.values], hint, labels=_choice_labels(question))
    if question.type == "multi_choice":
        return _checkbox_group(f, name, label, question.choices, hint)
    if question.type == "number":
        return f.text(
            name, label, hint, kind="number", required=question.required,
            min=str(question.min), max=str(question.max), inputmode="numeric",
        )  # fmt: skip
    if question.type == "tags" and not question.help:
        hint = (hint + " Separate them with commas.").strip()
    kind = "email" if question.type == "email" else "text"
    return f.text(name, label, hint, kind=kind, required=question.required)


def _choice_labels(question: Question) -> dict[str, str]:
    return {"": "Choose an answer", **{c.value: c.label for c in question.choices}}


def _scheme_questions(f: _Form, scheme: Scheme) -> str:
    """The scheme's own questions: eligibility first (with why they are asked), then matching."""
    out = []
    eligibility = [q for q in scheme.questions if q.purpose == "eligibility"]
    if eligibility:
        notice = (
            f'<p class="hint">{escape(scheme.eligibility_notice)}</p>' if scheme.eligibility_notice else ""
        )
        out.append(
            "<fieldset><legend>Eligibility</legend>" + notice
            + "".join(_question(f, q, scheme) for q in eligibility) + "</fieldset>"
        )  # fmt: skip
    matching = [q for q in scheme.questions if q.purpose == "matching"]
    if matching:
        out.append(
            "<fieldset><legend>Matching</legend>"
            '<p class="hint">We use these answers to find you a good match.</p>'
            + "".join(_question(f, q, scheme) for q in matching) + "</fieldset>"
        )  # fmt: skip
    return "\n".join(out)


MONITORING_QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("ethnicity", "Ethnicity", get_args(Ethnicity)),
    ("gender", "Gender", get_args(Gender)),
    (
        "trans_history",
        "Is your gender identity different from the sex you were assigned at birth?",
        get_args(YesNo),
    ),
    ("sexual_orientation", "Sexual orientation", get_args(SexualOrientation)),
    ("disability", "Do you consider yourself to have a disability?", get_args(YesNo)),
    ("religion", "Religion or belief", get_args(Religion)),
    ("age_band", "Age", get_args(AgeBand)),
]
assert {q for q, _, _ in MONITORING_QUESTIONS} == set(MonitoringAnswers.model_fields)


def application_form(
    scheme: Scheme, cohort: Cohort, values: dict[str, str] | None = None, errors: Sequence[FieldError] = ()
) -> str:
    values = values or {}
    by_field = {e.field: e.message for e in errors}
    f = _Form(values, by_field)
    roles = "".join(
        f'<p class="radio"><input type="radio" id="role-{r.value}" name="role" value="{r.value}"'
        f"{' checked' if values.get('role') == r.value else ''} required>"
        f' <label for="role-{r.value}">{escape(d.label)}: {escape(d.description)}</label></p>'
        for r, d in scheme.roles.items()
    )
    names = {"": "Choose your institution", **scheme.institution_names()}
    institution_options = "".join(
        f'<option value="{escape(code)}"{" selected" if values.get("applicant.institution") == code else ""}>'
        f"{escape(name)}</option>"
        for code, name in names.items()
    )
    form = f"""
<h1>Apply to {escape(cohort.name)}</h1>
<p><strong>{escape(scheme.name)}</strong>: {escape(scheme.summary)}</p>
<p>Applications close at the recruitment deadline, {cohort.recruitment_deadline:%d %B %Y %H:%M} UTC.</p>
<form method="post" action="applications" novalidate>
<input type="hidden" name="cohort_id" value="{escape(cohort.cohort_id)}">
<fieldset id="role" tabindex="-1"><legend>Your role</legend>{f._error("role")}{roles}</fieldset>
<fieldset><legend>About you</legend>
{f.text("applicant.given_name", "First name", autocomplete="given-name")}
{f.text("applicant.family_name", "Last name", autocomplete="family-name")}
{f.text("applicant.email", "Work email address", kind="email", autocomplete="email")}
{f.text("applicant.staff_number", "Staff number", required=False)}
<label for="applicant.institution">Institution</label>{f._error("applicant.institution")}
<select id="applicant.institution" name="applicant.institution" required>{institution_options}</select>
{f.text("applicant.department", "Department or school")}
{f.text("applicant.job_title", "Job title", autocomplete="organization-title")}
{
        f.text(
            "applicant.grade",
            "Grade",
            hint="Your grade as your institution names it: " + _grade_systems(scheme) + ".",
        )
    }
</fieldset>
{_scheme_questions(f, scheme)}
<fieldset><legend>Equal-opportunities monitoring</legend>
<p class="hint">These questions are optional and every one can be answered "Prefer not to say". Your answers
are stored separately from your application, without your name or any identifier, and are used only to
report on who the scheme reaches. They are never used to decide eligibility or matching.</p>
{
        "".join(
            f.select(f"monitoring.{q}", label, options, default="prefer_not_to_say")
            for q, label, options in MONITORING_QUESTIONS
        )
    }
</fieldset>
<fieldset><legend>Consent</legend>{f._error("consent")}
<p class="check"><input type="checkbox" id="consent" name="consent" value="yes" required>
<label for="consent">I agree to my application being processed for this mentoring scheme.</label></p>
</fieldset>
<button type="submit">Submit application</button>
</form>"""
    summary = ""
    if errors:
        items = "".join(
            f'<li><a href="#{escape(e.field)}">{escape(f.labels.get(e.field, e.field))}: '
            f"{escape(e.message)}</a></li>"
            for e in errors
        )
        summary = (
            '<div class="error-summary" role="alert" tabindex="-1" id="error-summary">'
            f"<h2>There is a problem</h2><ul>{items}</ul></div>"
        )
    head, _, rest = form.partition('<form method="post"')
    return _page(f"Apply to {cohort.name}", f'{head}{summary}<form method="post"{rest}')


def accepted_page(cohort: Cohort, submission_id: str) -> str:
    return _page(
        "Application received",
        f'<h1>Application received</h1><div role="status"><p>Thank you. Your application to '
        f"{escape(cohort.name)} has been received.</p><p>Your submission reference is "
        f"<strong>{escape(submission_id)}</strong>. We will email you to confirm.</p></div>",
    )


def message_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


def cohort_question_page(open_cohorts: Sequence[Cohort] = ()) -> str:
    """The landing page: the cohorts open for applications, and a field for a cohort's reference."""
    listing = "".join(
        f'<li><a href="?cohort={escape(c.cohort_id)}">{escape(c.name)}</a>: applications close '
        f"{c.recruitment_deadline:%d %B %Y %H:%M} UTC</li>"
        for c in open_cohorts
    )
    intro = (
        f"<h2>Open for applications</h2><ul>{listing}</ul>"
        if listing
        else "<p>No mentoring scheme is open for applications at the moment.</p>"
    )
    return _page(
        "Apply to a mentoring scheme",
        f'<h1>Apply to a mentoring scheme</h1>{intro}<form method="get" action="">'
        '<label for="cohort">Cohort reference</label><p class="hint" id="cohort-hint">'
        "Your scheme coordinator gives you this reference.</p>"
        '<input id="cohort" name="cohort" aria-describedby="cohort-hint" required>'
        '<button type="submit">Continue</button></form>',
    )
