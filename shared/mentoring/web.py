"""The applicant web form: plain, accessible HTML that works without JavaScript.

It posts ``application/x-www-form-urlencoded`` to ``/applications`` with dotted field names
(``applicant.email``); the API turns that into the same model as a JSON submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import get_args

from mentoring.answers import field_name
from mentoring.confirmation import Outcome
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
from mentoring.programme import calendar_of, day, session_line, sessions_for, when
from mentoring.scheme import Choice, Question, Scheme
from mentoring.text import one_line

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

# The monitoring categories as the ONS (2021 Census, ethnic group) and HESA (the staff record's
# sexual orientation, religion or belief and gender fields) word them. Labels only: the stored
# values are unchanged, so reports across cohorts stay comparable.
ETHNIC_GROUPS = {
    "asian": "Asian, Asian British or Asian Welsh",
    "black": "Black, Black British, Black Welsh, Caribbean or African",
    "mixed": "Mixed or Multiple ethnic groups",
    "white": "White",
    "other": "Other ethnic group",
}
MONITORING_LABELS: dict[str, dict[str, str]] = {
    "ethnicity": {
        "asian_bangladeshi": f"{ETHNIC_GROUPS['asian']}: Bangladeshi",
        "asian_chinese": f"{ETHNIC_GROUPS['asian']}: Chinese",
        "asian_indian": f"{ETHNIC_GROUPS['asian']}: Indian",
        "asian_pakistani": f"{ETHNIC_GROUPS['asian']}: Pakistani",
        "asian_other": f"{ETHNIC_GROUPS['asian']}: Any other Asian background",
        "black_african": f"{ETHNIC_GROUPS['black']}: African",
        "black_caribbean": f"{ETHNIC_GROUPS['black']}: Caribbean",
        "black_other": f"{ETHNIC_GROUPS['black']}: Any other Black, Black British or Caribbean background",
        "mixed_white_asian": f"{ETHNIC_GROUPS['mixed']}: White and Asian",
        "mixed_white_black_african": f"{ETHNIC_GROUPS['mixed']}: White and Black African",
        "mixed_white_black_caribbean": f"{ETHNIC_GROUPS['mixed']}: White and Black Caribbean",
        "mixed_other": f"{ETHNIC_GROUPS['mixed']}: Any other Mixed or Multiple ethnic background",
        "arab": f"{ETHNIC_GROUPS['other']}: Arab",
        "white_british": f"{ETHNIC_GROUPS['white']}: English, Welsh, Scottish, Northern Irish or British",
        "white_irish": f"{ETHNIC_GROUPS['white']}: Irish",
        "white_gypsy_or_irish_traveller": f"{ETHNIC_GROUPS['white']}: Gypsy or Irish Traveller",
        "white_other": f"{ETHNIC_GROUPS['white']}: Any other White background",
        "other": f"{ETHNIC_GROUPS['other']}: Any other ethnic group",
    },
    "gender": {"woman": "Woman", "man": "Man", "non_binary": "Non-binary", "other": "Other"},
    "sexual_orientation": {
        "bisexual": "Bisexual",
        "gay_man": "Gay man",
        "gay_woman_lesbian": "Gay woman/lesbian",
        "heterosexual": "Heterosexual",
        "other": "Other",
    },
    "religion": {
        "no_religion": "No religion",
        "buddhist": "Buddhist",
        "christian": "Christian",
        "hindu": "Hindu",
        "jewish": "Jewish",
        "muslim": "Muslim",
        "sikh": "Sikh",
        "spiritual": "Spiritual",
        "other": "Any other religion or belief",
    },
    "age_band": {
        "16-24": "16 to 24",
        "25-34": "25 to 34",
        "35-44": "35 to 44",
        "45-54": "45 to 54",
        "55-64": "55 to 64",
        "65+": "65 and over",
    },
    "trans_history": {"yes": "Yes", "no": "No"},
    "disability": {"yes": "Yes", "no": "No"},
}


def _label(value: str, question: str | None = None) -> str:
    """A monitoring answer as people read it (the ONS's and HESA's words); never the stored value."""
    if value == "prefer_not_to_say":
        return "Prefer not to say"
    if question is not None:
        return MONITORING_LABELS[question].get(value, value)
    found = {labels[value] for labels in MONITORING_LABELS.values() if value in labels}
    return found.pop() if len(found) == 1 else value.replace("_", " ").capitalize()


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


class _Form:
    def __init__(self, values: dict[str, str], errors: dict[str, str]) -> None:
        # What was sent is shown again to be corrected: as one safe line, whatever it held.
        self.values = {name: one_line(value) for name, value in values.items()}
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
        question: str | None = None,
    ) -> str:
        self.labels[name] = label
        chosen = self.values.get(name, default)
        shown = labels or {}
        opts = "".join(
            f'<option value="{escape(o)}"{" selected" if o == chosen else ""}>'
            f"{escape(shown.get(o) or _label(o, question))}</option>"
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


def _dates(scheme: Scheme, cohort: Cohort) -> str:
    """What applicants must be free for, shown before they apply."""
    calendar = calendar_of(cohort)
    roles = []
    for role, definition in scheme.roles.items():
        sessions = sessions_for(calendar, role)
        if sessions:
            items = "".join(
                f"<li>{escape(session_line(s))}{'' if s.compulsory else ' (optional)'}</li>" for s in sessions
            )
            roles.append(f"<h3>{escape(definition.label)}s</h3><ul>{items}</ul>")
    free = "If you are matched, you must be free on these dates:" if roles else ""
    return (
        '<section aria-labelledby="dates"><h2 id="dates">Dates to keep free</h2>'
        f"<p>The programme runs from {escape(day(calendar.programme_starts))} to "
        f"{escape(day(calendar.programme_ends))}, and pairs meet at least {calendar.minimum_meetings} "
        f"times. {free}</p>{''.join(roles)}</section>"
    )


def application_form(
    scheme: Scheme,
    cohort: Cohort,
    values: dict[str, str] | None = None,
    errors: Sequence[FieldError] = (),
    base: str = "",
) -> str:
    """The applicant form. ``base`` is what precedes the API's routes in the address
    (``mentoring.routing.public_prefix``): the form posts to ``{base}/applications``, which a
    relative action would miss when the address has no trailing slash (``/dev`` resolves
    ``applications`` to ``/applications``, outside the stage)."""
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
<p>Applications close at the recruitment deadline, {escape(when(cohort.recruitment_deadline))}.</p>
{_dates(scheme, cohort)}
<form method="post" action="{escape(base)}/applications" novalidate>
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
            f.select(f"monitoring.{q}", label, options, default="prefer_not_to_say", question=q)
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


def closed_page(scheme: Scheme, cohort: Cohort, base: str = "") -> str:
    """A cohort past its deadline: said plainly, and no form to fill in (the link back absolute
    from ``base``, as the form's action)."""
    return _page(
        f"Applications to {cohort.name} are closed",
        f"<h1>Applications to {escape(cohort.name)} are closed</h1>"
        f"<p>{escape(scheme.name)} closed to applications at its recruitment deadline, "
        f"{escape(when(cohort.recruitment_deadline))}, and its mentors and mentees have been or are being "
        "matched.</p><p>The scheme runs again: to hear about its next round, write to the coordinator at "
        f'<a href="mailto:{escape(cohort.coordinator_email)}">{escape(cohort.coordinator_email)}</a>.</p>'
        f'<p><a href="{escape(base)}/">See the schemes open for applications</a></p>',
    )


def held_page(cohort: Cohort, submission_id: str, confirm_by: datetime) -> str:
    """After the form: the application waits for the applicant to confirm it from their email."""
    return _page(
        "Check your email",
        f'<h1>Check your email</h1><div role="status"><p>Thank you. To finish applying to '
        f"{escape(cohort.name)}, open the link we have emailed to the address you gave, and confirm "
        f"your application there.</p><p>Until you confirm it, your application is not counted. The link "
        f"works until {escape(when(confirm_by))}.</p><p>Your submission reference is "
        f"<strong>{escape(submission_id)}</strong>.</p></div>"
        "<p>No email? Check your junk folder, or fill in the form again.</p>",
    )


def confirm_page(cohort: Cohort, token: str) -> str:
    """What the emailed link opens: a button that posts the confirmation (opening it confirms
    nothing, since mail scanners open links too)."""
    return _page(
        "Confirm your application",
        f"<h1>Confirm your application</h1><p>Confirm your application to {escape(cohort.name)}. "
        "It is counted from the moment you confirm it.</p>"
        '<form method="post" action="confirm">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm my application</button></form>',
    )


_OUTCOMES: dict[Outcome, tuple[str, str]] = {
    Outcome.CONFIRMED: (
        "Application confirmed",
        "Thank you: your application to {cohort} is confirmed. We will email you shortly to acknowledge "
        "it and to say whether it meets the scheme's criteria.",
    ),
    Outcome.ALREADY_CONFIRMED: (
        "Application already confirmed",
        "Your application to {cohort} was already confirmed. There is nothing more to do.",
    ),
    Outcome.NOT_FOUND: (
        "Link not recognised",
        "This confirmation link is not valid, or the application it was for was not confirmed in time "
        "and has been deleted. To apply, please fill in the form again.",
    ),
    Outcome.EXPIRED: (
        "Link expired",
        "This link was not used in time, so the application it was for has lapsed. To apply to {cohort}, "
        "please fill in the form again while applications are open.",
    ),
    Outcome.WITHDRAWN: (
        "Application withdrawn",
        "The application this link was for has been withdrawn by the coordinator of {cohort}. You can "
        "apply again while applications are open; the coordinator is at {coordinator}.",
    ),
    Outcome.ALREADY_APPLIED: (
        "You have already applied",
        "This email address already has an application to {cohort}, so this one has not been taken: your "
        "first application stands. To change it, please write to the coordinator at {coordinator}.",
    ),
    Outcome.CLOSED: ("Your application could not be confirmed", "{problem}."),
}


def confirmation_outcome_page(
    outcome: Outcome, cohort: Cohort | None, errors: Sequence[FieldError] = ()
) -> str:
    title, text = _OUTCOMES[outcome]
    message = text.format(
        cohort=cohort.name if cohort else "the scheme",
        coordinator=cohort.coordinator_email if cohort else "your scheme's coordinator",
        problem=(errors[0].message if errors else "applications are closed").capitalize(),
    )
    return _page(title, f'<h1>{escape(title)}</h1><div role="status"><p>{escape(message)}</p></div>')


def message_page(title: str, message: str, errors: Sequence[FieldError] = ()) -> str:
    listed = "".join(f"<li>{escape(e.field)}: {escape(e.message)}</li>" for e in errors)
    return _page(
        title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>" + (f"<ul>{listed}</ul>" if listed else "")
    )


def cohort_question_page(open_cohorts: Sequence[Cohort] = (), base: str = "") -> str:
    """The landing page: the cohorts open for applications, and a field for a cohort's reference
    (links and the form absolute from ``base``, as the application form's)."""
    listing = "".join(
        f'<li><a href="{escape(base)}/?cohort={escape(c.cohort_id)}">{escape(c.name)}</a>: '
        "applications close "
        f"{escape(when(c.recruitment_deadline))}</li>"
        for c in open_cohorts
    )
    intro = (
        f"<h2>Open for applications</h2><ul>{listing}</ul>"
        if listing
        else "<p>No mentoring scheme is open for applications at the moment.</p>"
    )
    return _page(
        "Apply to a mentoring scheme",
        f'<h1>Apply to a mentoring scheme</h1>{intro}<form method="get" action="{escape(base)}/">'
        '<label for="cohort">Cohort reference</label><p class="hint" id="cohort-hint">'
        "Your scheme coordinator gives you this reference.</p>"
        '<input id="cohort" name="cohort" aria-describedby="cohort-hint" required>'
        '<button type="submit">Continue</button></form>',
    )


def page(title: str, body: str) -> str:
    """A page in the form's style (the participant's programme page uses it too)."""
    return _page(title, body)
