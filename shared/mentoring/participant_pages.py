"""The page a participant's personal link opens: their pairs and meetings, and small forms to
record a meeting, confirm training, ask for help, end a partnership early and, once the programme
has ended, answer its evaluation. Plain HTML that works without scripts, like the application form.

Every form posts back to the same address with the token in a hidden field (never in the address
the form posts to), so the token stays out of logs and of the browser's history of posts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from mentoring.evaluation import NEXT_YEAR_FIELD, questions
from mentoring.models import FieldError, Role
from mentoring.participation import LinkProblem, Participant
from mentoring.programme import calendar_of, day, session_id, session_line, sessions_for, starts_at
from mentoring.scheme import Scheme
from mentoring.text import one_line
from mentoring.web import page

ACTIONS = ("meeting", "training", "help", "end", "evaluation")

_PROBLEMS: dict[LinkProblem, tuple[str, str]] = {
    LinkProblem.NOT_RECOGNISED: (
        "Link not recognised",
        "This link is not one we sent, or it has been copied incompletely. Please open the link in your "
        "latest email from the scheme again. Nothing has been recorded.",
    ),
    LinkProblem.EXPIRED: (
        "Link expired",
        "This link has expired: the programme it was for has ended and its evaluation has closed. Nothing "
        "has been recorded. If you need anything, please write to your scheme's coordinator.",
    ),
    LinkProblem.OTHER_COHORT: (
        "Link for another cohort",
        "This link belongs to another cohort of the scheme than the address it was opened at. Please open "
        "the link exactly as it is in your email. Nothing has been recorded.",
    ),
    LinkProblem.NOT_A_PARTICIPANT: (
        "No longer taking part",
        "The application this link was for has been withdrawn, so there is nothing to record with it. "
        "Nothing has been recorded.",
    ),
}


def link_problem_page(problem: LinkProblem) -> str:
    title, text = _PROBLEMS[problem]
    return page(title, f'<h1>{escape(title)}</h1><div role="alert"><p>{escape(text)}</p></div>')


def _partner_word(participant: Participant) -> str:
    return "mentor" if participant.role is Role.MENTEE else "mentee"


def _pairs(participant: Participant) -> str:
    minimum = calendar_of(participant.cohort).minimum_meetings
    if not participant.partners:
        return "<p>You have not been matched with a partner in this cohort.</p>"
    rows = []
    for pair in participant.partners:
        other = pair.mentor_id if participant.role is Role.MENTEE else pair.mentee_id
        name = escape(participant.partner_names.get(other, "your partner"))
        met = f"{pair.meetings} meeting{'' if pair.meetings == 1 else 's'} recorded"
        if pair.ended is not None:
            rows.append(
                f"<li>{name} (your {_partner_word(participant)}): {met}; "
                f"ended on {day(pair.ended.ended_at.date())}.</li>"
            )
        else:
            rows.append(
                f"<li>{name} (your {_partner_word(participant)}): {met}, of the {minimum} the scheme asks "
                "each pair to hold at least.</li>"
            )
    return "<ul>" + "".join(rows) + "</ul>"


def _hidden(token: str, action: str) -> str:
    return (
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="action" value="{action}">'
    )


def _error(errors: Mapping[str, str], name: str) -> str:
    message = errors.get(name)
    return f'<p class="error" id="{name}-error"><span>Error:</span> {escape(message)}</p>' if message else ""


def _described(errors: Mapping[str, str], name: str) -> str:
    return f' aria-describedby="{name}-error" aria-invalid="true"' if name in errors else ""


def _partner_choice(participant: Participant, errors: Mapping[str, str], prefix: str) -> str:
    active = participant.active()
    if len(active) <= 1:
        return ""
    name = f"{prefix}partner_id"
    options = "".join(
        f'<option value="{escape(p.mentee_id)}">'
        f"{escape(participant.partner_names.get(p.mentee_id, p.mentee_id))}</option>"
        for p in active
    )
    return (
        f'<label for="{name}">Which mentee</label>{_error(errors, "partner_id")}'
        f'<select id="{name}" name="partner_id"{_described(errors, "partner_id")}>{options}</select>'
    )


def _meeting_form(
    participant: Participant, token: str, action: str, errors: Mapping[str, str], values: Mapping[str, str]
) -> str:
    if not participant.active():
        return ""
    on = escape(one_line(values.get("on", "")))
    minutes = escape(one_line(values.get("minutes", "")))
    mode = values.get("mode", "")
    radios = "".join(
        f'<p class="radio"><input type="radio" id="mode-{value}" name="mode" value="{value}"'
        f'{" checked" if mode == value else ""}> <label for="mode-{value}">{label}</label></p>'
        for value, label in (("in_person", "In person"), ("online", "Online"))
    )
    return (
        '<section aria-labelledby="meeting-heading"><h2 id="meeting-heading">Record a meeting</h2>'
        f'<p class="hint">If your {_partner_word(participant)} has recorded the same day already, recording '
        "it again only corrects its length or how you met: it is counted once.</p>"
        f'<form method="post" action="{escape(action)}">{_hidden(token, "meeting")}'
        + _partner_choice(participant, errors, "meeting-")
        + f'<label for="on">Date of the meeting</label>{_error(errors, "on")}'
        f'<input id="on" name="on" type="date" value="{on}" required{_described(errors, "on")}>'
        f'<label for="minutes">How long, in minutes</label>{_error(errors, "minutes")}'
        f'<input id="minutes" name="minutes" type="number" min="5" max="600" inputmode="numeric" '
        f'value="{minutes}" required{_described(errors, "minutes")}>'
        f'<fieldset class="group" id="mode"{_described(errors, "mode")}>'
        '<legend class="question">How you met</legend>'
        f"{_error(errors, 'mode')}{radios}</fieldset>"
        '<button type="submit">Record the meeting</button></form></section>'
    )


def _training(
    participant: Participant,
    token: str,
    action: str,
    now: datetime,
    attended: set[str],
    errors: Mapping[str, str],
) -> str:
    calendar = calendar_of(participant.cohort)
    mine = [s for s in sessions_for(calendar, participant.role) if s in calendar.training]
    if not mine:
        return ""
    rows = []
    for session in mine:
        sid = session_id(session)
        line = escape(session_line(session))
        if sid in attended:
            rows.append(f"<li>{line}: <strong>attendance confirmed</strong></li>")
        elif starts_at(session) > now:
            rows.append(f"<li>{line}: still to come</li>")
        else:
            rows.append(
                f'<li>{line}<form method="post" action="{escape(action)}">{_hidden(token, "training")}'
                f'<input type="hidden" name="session" value="{escape(sid)}">'
                f'<button type="submit">I attended: {escape(session.title)}</button></form></li>'
            )
    return (
        '<section id="session" aria-labelledby="training-heading">'
        '<h2 id="training-heading">Your training</h2>'
        f"{_error(errors, 'session')}<ul>{''.join(rows)}</ul></section>"
    )


def _help(token: str, action: str, errors: Mapping[str, str], values: Mapping[str, str]) -> str:
    text = escape(values.get("message", ""))
    return (
        '<section aria-labelledby="help-heading"><h2 id="help-heading">Ask for help</h2>'
        f'<form method="post" action="{escape(action)}">{_hidden(token, "help")}'
        '<label for="message">What would you like help with?</label>'
        '<p class="hint" id="message-hint">Your scheme\'s coordinator reads this and will contact you.</p>'
        f'{_error(errors, "message")}<textarea id="message" name="message" rows="4" maxlength="2000" '
        f'aria-describedby="message-hint{" message-error" if "message" in errors else ""}">{text}</textarea>'
        '<button type="submit">Send to the coordinator</button></form></section>'
    )


def _end(participant: Participant, token: str, action: str, errors: Mapping[str, str]) -> str:
    if not participant.active():
        return ""
    return (
        '<section aria-labelledby="end-heading"><h2 id="end-heading">End your partnership early</h2>'
        "<p>If your partnership is not working, you can end it. The coordinator is told, and may pair "
        f"{'you' if participant.role is Role.MENTEE else 'your mentee'} with another mentor.</p>"
        f'<form method="post" action="{escape(action)}">{_hidden(token, "end")}'
        + _partner_choice(participant, errors, "end-")
        + '<label for="reason">Why (optional)</label>'
        '<textarea id="reason" name="reason" rows="3" maxlength="1000"></textarea>'
        f'{_error(errors, "confirm")}<p class="check"><input type="checkbox" id="confirm" name="confirm" '
        f'value="yes"{_described(errors, "confirm")}> '
        '<label for="confirm">I want to end this partnership</label></p>'
        '<button type="submit">End the partnership</button></form></section>'
    )


def programme_page(
    participant: Participant,
    token: str,
    action: str,
    now: datetime,
    attended: set[str],
    done: str = "",
    problems: Sequence[FieldError] = (),
    values: Mapping[str, str] | None = None,
    evaluation: str = "",
) -> str:
    """The participant's page. ``done`` says what was just recorded; ``problems`` what was not, and
    why; ``evaluation`` is the evaluation's section (its form, or a thank-you) once it is open."""
    errors = {p.field: p.message for p in problems}
    values = values or {}
    cohort = participant.cohort
    status = f'<div role="status" class="done"><p>{escape(done)}</p></div>' if done else ""
    summary = ""
    if problems:
        items = "".join(f'<li><a href="#{escape(p.field)}">{escape(p.message)}</a></li>' for p in problems)
        summary = (
            '<div class="error-summary" role="alert" tabindex="-1">'
            "<h2>Nothing was recorded: please check</h2>"
            f"<ul>{items}</ul></div>"
        )
    return page(
        f"Your mentoring programme: {cohort.name}",
        f"<h1>Your mentoring programme</h1>{summary}{status}"
        f"<p>{escape(cohort.name)}: you take part as a {participant.role.value}. This page is yours: "
        "please do not share its link.</p>"
        '<section aria-labelledby="pairs-heading"><h2 id="pairs-heading">Your partnership</h2>'
        f"{_pairs(participant)}</section>"
        + evaluation
        + _meeting_form(participant, token, action, errors, values)
        + _training(participant, token, action, now, attended, errors)
        + _help(token, action, errors, values)
        + _end(participant, token, action, errors),
    )


def evaluation_section(
    scheme: Scheme,
    role: Role,
    token: str,
    action: str,
    state: str,
    errors: Mapping[str, str],
    values: Mapping[str, str],
) -> str:
    """The evaluation on the page: its form while it is open and unanswered (``state`` "open"), a
    thank-you once answered, a line once closed; nothing before the programme's last day."""
    heading = '<section aria-labelledby="evaluation-heading"><h2 id="evaluation-heading">How did it go?</h2>'
    if state == "answered":
        return heading + "<p>Thank you: your answers to the evaluation are in.</p></section>"
    if state == "closed":
        return heading + "<p>The programme's evaluation has closed.</p></section>"
    if state != "open":
        return ""
    fields = []
    for question in questions(scheme, role):
        name = question.id
        chosen = values.get(name, "")
        radios = "".join(
            f'<p class="radio"><input type="radio" id="{name}-{i}" name="{name}" value="{escape(o.value)}"'
            f"{' checked' if chosen == o.value else ''}> "
            f'<label for="{name}-{i}">{escape(o.label)}</label></p>'
            for i, o in enumerate(question.options)
        )
        optional = "" if question.required else " (optional)"
        fields.append(
            f'<fieldset class="group" id="{name}"{_described(errors, name)}>'
            f'<legend class="question">{escape(question.text_for(role))}{optional}</legend>'
            f"{_error(errors, name)}{radios}</fieldset>"
        )
    chosen = values.get(NEXT_YEAR_FIELD, "")
    next_year = "".join(
        f'<p class="radio"><input type="radio" id="next_year-{value}" name="{NEXT_YEAR_FIELD}" '
        f'value="{value}"'
        f'{" checked" if chosen == value else ""}> <label for="next_year-{value}">{label}</label></p>'
        for value, label in (("yes", "Yes"), ("no", "No"))
    )
    return (
        heading
        + "<p>Your answers are anonymous: they are sealed as soon as you send them, kept apart from your "
        "name, and only ever counted together with at least "
        f"{scheme.monitoring_batch - 1} other people's.</p>"
        f'<form method="post" action="{escape(action)}">{_hidden(token, "evaluation")}'
        + "".join(fields)
        + f'<fieldset class="group" id="{NEXT_YEAR_FIELD}"{_described(errors, NEXT_YEAR_FIELD)}>'
        f'<legend class="question">{escape(scheme.next_year.text)} (optional)</legend>'
        '<p class="hint">This one answer is not anonymous: it is kept with your name, so that the '
        "coordinator can invite you next year.</p>"
        f"{_error(errors, NEXT_YEAR_FIELD)}{next_year}</fieldset>"
        '<button type="submit">Send my answers</button></form></section>'
    )
