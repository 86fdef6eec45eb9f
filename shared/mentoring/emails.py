"""Email rendering: each kind of email as plain text and HTML, from the stored application.

One voice for people: every email speaks to its reader's role, gives reasons in plain words with
what the person can do next, names times in London time with the zone, and carries the dates the
person must keep free as a diary invitation. The HTML is the text's paragraphs and lists, escaped;
one structure renders both, so the two alternatives of a message always say the same thing.
Every paragraph, list item and subject is made one line (:func:`mentoring.text.one_line`): whatever
was stored, nothing a person typed can start a new line or a header in someone else's email.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from mentoring.institutions import institution_name
from mentoring.models import (
    Application,
    CalendarSession,
    Cohort,
    ConfirmationLink,
    EmailKind,
    IntakeMessage,
    Match,
    Notification,
    ProgrammeMoment,
    Role,
    UnmatchedMentee,
)
from mentoring.ports import ApplicationStore, Attachment, OutgoingEmail
from mentoring.programme import calendar_of, day, invitation, session_line, sessions_for, when
from mentoring.programme_dates import NUDGE_AFTER_MATCHING, moment_of, sessions_on
from mentoring.scheme import Scheme, get_scheme
from mentoring.text import one_line


@dataclass(frozen=True)
class Link:
    """A link on a line of its own: the address in the text, a link to it in the HTML."""

    url: str


@dataclass
class Body:
    """Paragraphs, bullet lists and links, in order."""

    blocks: list[str | list[str] | Link] = field(default_factory=list)

    def para(self, text: str) -> None:
        self.blocks.append(one_line(text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append([one_line(i) for i in items])

    def link(self, url: str) -> None:
        self.blocks.append(Link(one_line(url)))

    def text(self) -> str:
        parts = [
            b.url if isinstance(b, Link) else b if isinstance(b, str) else "\n".join(f"  - {i}" for i in b)
            for b in self.blocks
        ]
        return "\n\n".join(parts) + "\n"

    def html(self, title: str) -> str:
        parts = [
            f'<p><a href="{escape(b.url)}">{escape(b.url)}</a></p>'
            if isinstance(b, Link)
            else f"<p>{escape(b)}</p>"
            if isinstance(b, str)
            else "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in b) + "</ul>"
            for b in self.blocks
        ]
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head>"
            f'<body style="font-family: Arial, sans-serif; line-height: 1.5"><h1>{escape(title)}</h1>'
            + "".join(parts)
            + "</body></html>"
        )


class NothingToSendError(LookupError):
    """The notification names a person or result that is not stored (yet)."""


def _calendar(body: Body, cohort: Cohort, role: Role, lead: str) -> list[CalendarSession]:
    """The dates this person must keep free, and the programme's span; returns the sessions, which
    travel with the email as a diary invitation."""
    calendar = calendar_of(cohort)
    sessions = sessions_for(calendar, role)
    if sessions:
        body.para(lead)
        body.bullets([session_line(s) + ("" if s.compulsory else " (optional)") for s in sessions])
    body.para(
        f"The programme runs from {day(calendar.programme_starts)} to {day(calendar.programme_ends)}, "
        f"and each pair meets at least {_count(calendar.minimum_meetings, 'time')}."
    )
    return sessions


def _invitation(cohort: Cohort, scheme: Scheme, sessions: list[CalendarSession]) -> tuple[Attachment, ...]:
    if not sessions:
        return ()
    data = invitation(cohort, scheme.name, sessions)
    return (Attachment(filename=f"{cohort.cohort_id}-dates.ics", content_type="text/calendar", data=data),)


def _person(a: Application) -> str:
    return f"{a.applicant.given_name} {a.applicant.family_name}"


def _contact(a: Application) -> str:
    institution = institution_name(a.applicant.institution)
    return f"{_person(a)}, {a.applicant.job_title}, {institution} ({a.applicant.email})"


def _for_people(line: str) -> str:
    """A match's explanation as the pair reads it: the coordinator's points left out."""
    return re.sub(r" \(\+[0-9.]+\)$", "", line)


def _role_name(scheme: Scheme, role: Role) -> str:
    definition = scheme.roles.get(role)
    return definition.label.lower() if definition else role.value


PersonalLink = Callable[[Cohort, Application], str]
"""The participant's personal page (``mentoring.participation``; ``mentoring.delivery.PersonalLinks``)."""


@dataclass
class _Context:
    cohort: Cohort
    scheme: Scheme
    store: ApplicationStore
    app: Application
    notification: Notification
    diary: list[CalendarSession] = field(default_factory=list)
    personal_link: PersonalLink | None = None

    def page(self, body: Body, lead: str) -> None:
        """The participant's personal page, after ``lead`` (nothing when links are not set up)."""
        if self.personal_link is not None:
            body.para(lead)
            body.link(self.personal_link(self.cohort, self.app))

    def moment(self) -> ProgrammeMoment:
        found = moment_of(self.cohort, self.notification.moment or "")
        if found is None:
            raise NothingToSendError(f"the cohort's calendar has no date {self.notification.moment!r}")
        return found


_PAGE = (
    "Your personal page, to record your meetings and the training you attend, or to ask the "
    "coordinator for help (no account needed; please keep this link to yourself):"
)


def _acknowledgement(c: _Context, body: Body) -> str:
    app = c.app
    role = _role_name(c.scheme, app.role)
    body.para(
        f"Thank you for applying to be a {role} in {c.cohort.name}. "
        f"Your application reference is {app.application_id}."
    )
    if app.eligibility.eligible:
        body.para(c.scheme.emails.welcome_for(app.role))
        body.para("You meet the scheme's criteria:")
        body.bullets([o.reason for o in app.eligibility.outcomes])
        if app.late:
            body.para(
                "Your application was accepted before the deadline but reached us as matching was "
                "starting, so it is not part of this round. The coordinator will contact you about "
                "the next one."
            )
            return f"{c.scheme.name}: we have received your application"
        if app.waiting_list:
            body.para(c.scheme.emails.waiting_list)
        body.para(
            "We match mentors and mentees after the recruitment deadline, "
            f"{when(c.cohort.recruitment_deadline)}, "
            "and will email you then."
        )
        if not app.waiting_list:
            c.diary = _calendar(
                body,
                c.cohort,
                app.role,
                "If you are matched, you must be free on these dates (the attached invitation puts them "
                "in your diary):",
            )
    else:
        body.para(f"We are sorry: your application does not meet the criteria for a {role} in this scheme.")
        body.bullets(app.eligibility.reasons)
        body.para("What you can do next:")
        body.bullets(
            [
                *c.scheme.emails.not_eligible_for(app.role),
                f"If you think we have this wrong (a grade or an answer that was mistyped, say), email the "
                f"coordinator at {c.cohort.coordinator_email}, who can look at your application again.",
            ]
        )
    return f"{c.scheme.name}: we have received your application"


def _first_contact(scheme: Scheme, reader: Role, other: Application) -> str:
    if scheme.first_contact is reader:
        return (
            f"You make the first contact: please email {other.applicant.given_name} at "
            f"{other.applicant.email} within the next week to arrange your first meeting."
        )
    return (
        f"{other.applicant.given_name} will email you within the next week to arrange your first "
        f"meeting. If you have not heard by then, please write to them at {other.applicant.email}."
    )


def _matched_mentee(c: _Context, body: Body) -> str:
    match = c.store.get_match(c.cohort.cohort_id, c.app.application_id)
    mentor = c.store.get_application(c.cohort.cohort_id, match.mentor_id) if match else None
    if match is None or mentor is None:
        raise NothingToSendError(f"no stored match for mentee {c.app.application_id}")
    mentor_name = _role_name(c.scheme, Role.MENTOR)
    body.para(f"We are delighted to tell you that your {mentor_name} in {c.cohort.name} is:")
    body.bullets([_contact(mentor)])
    body.para("Why we paired you:")
    body.bullets([_for_people(line) for line in match.explanation])
    body.para(_first_contact(c.scheme, Role.MENTEE, mentor))
    body.para(c.scheme.emails.matched_for(Role.MENTEE))
    c.diary = _calendar(
        body, c.cohort, Role.MENTEE, "Your dates (the attached invitation puts them in your diary):"
    )
    c.page(body, _PAGE)
    return f"{c.scheme.name}: meet your {mentor_name}"


def _matched_mentor(c: _Context, body: Body) -> str:
    mentee_ids = c.notification.mentee_ids
    found: list[Match | None]
    if mentee_ids is None:  # queued before notifications named the mentees: every match read
        found = [*c.store.list_matches(c.cohort.cohort_id)]
    else:
        found = [c.store.get_match(c.cohort.cohort_id, mentee_id) for mentee_id in mentee_ids]
    # Only matches still with this mentor (the store, not the message, is the truth).
    matches = [m for m in found if m is not None and m.mentor_id == c.app.application_id]
    if not matches:
        raise NothingToSendError(f"no stored match for mentor {c.app.application_id}")
    mentee_name = _role_name(c.scheme, Role.MENTEE)
    plural = "s" if len(matches) > 1 else ""
    body.para(f"Thank you for taking part in {c.cohort.name}. You have been paired with:")
    mentees = []
    for match in matches:
        mentee = c.store.get_application(c.cohort.cohort_id, match.mentee_id)
        if mentee is None:
            raise NothingToSendError(f"mentee {match.mentee_id} is not stored")
        mentees.append(mentee)
        body.bullets([_contact(mentee), *(_for_people(line) for line in match.explanation)])
    for mentee in mentees:
        body.para(_first_contact(c.scheme, Role.MENTOR, mentee))
    body.para(c.scheme.emails.matched_for(Role.MENTOR))
    c.diary = _calendar(
        body, c.cohort, Role.MENTOR, "Your dates (the attached invitation puts them in your diary):"
    )
    c.page(body, _PAGE)
    return f"{c.scheme.name}: meet your {mentee_name}{plural}"


UNMATCHED_WORDS = {
    "waiting_list": "The cohort was already full when you applied, so you were on its waiting list and not "
    "part of this round's matching.",
    "no_mentor": "No {mentor} applied to this round who could be paired with you, so there was no one to "
    "match you with.",
    "mentors_taken": "There were more {mentees} than {mentor} places in this round, and the {mentors} who "
    "could have been paired with you were each needed for someone else.",
    "removed": "The coordinator reviewed the pairs before they were sent and could not keep yours.",
}


def _unmatched_words(scheme: Scheme, unmatched: UnmatchedMentee | None) -> str:
    names = {
        "mentor": _role_name(scheme, Role.MENTOR),
        "mentors": _role_name(scheme, Role.MENTOR) + "s",
        "mentees": _role_name(scheme, Role.MENTEE) + "s",
    }
    if unmatched is None:
        return "We could not find a suitable {mentor} for you in this round.".format(**names)
    if unmatched.outcome == "no_allowed_mentor":
        rules = " ".join(unmatched.excluded_by)
        return (
            "None of the {mentors} in this round could be paired with you under the scheme's rules. ".format(
                **names
            )
            + (f"The scheme asks: {rules}" if rules else "")
        ).strip()
    return UNMATCHED_WORDS[unmatched.outcome].format(**names)


def _unmatched(c: _Context, body: Body) -> str:
    if c.app.role is Role.MENTEE:
        unmatched = c.store.get_unmatched(c.cohort.cohort_id, c.app.application_id)
        body.para(
            f"We are sorry: we could not match you with a {_role_name(c.scheme, Role.MENTOR)} "
            f"in {c.cohort.name}."
        )
        body.para(_unmatched_words(c.scheme, unmatched))
    else:
        body.para(
            f"Thank you for offering to be a {_role_name(c.scheme, Role.MENTOR)} in {c.cohort.name}. More "
            f"people offered than there were {_role_name(c.scheme, Role.MENTEE)}s to pair with them under "
            "the scheme's rules, so you have no one to meet in this round."
        )
    body.para("What you can do next:")
    body.bullets(
        [
            c.scheme.emails.unmatched,
            f"The coordinator, at {c.cohort.coordinator_email}, can talk to you about the next round and "
            "other opportunities.",
        ]
    )
    return f"{c.scheme.name}: the outcome of matching"


def _withdrawn(c: _Context, body: Body) -> str:
    body.para(
        f"As you asked, your application to {c.cohort.name} (reference {c.app.application_id}) has been "
        "withdrawn. It will not be matched, and any place it held has gone to someone waiting."
    )
    body.para(
        "You can apply again while applications are open. If you did not ask for this, please contact "
        f"the coordinator at {c.cohort.coordinator_email}."
    )
    return f"{c.scheme.name}: your application has been withdrawn"


def _place_offered(c: _Context, body: Body) -> str:
    body.para(
        f"Good news: a place has become free in {c.cohort.name}, and as the first on its waiting list "
        "you now have it. Your application will be matched at the recruitment deadline, "
        f"{when(c.cohort.recruitment_deadline)}; we will email you then."
    )
    return f"{c.scheme.name}: a place for you"


# ---------------------------------------------------------------- the programme's dates


def _partners(c: _Context) -> list[Application]:
    """The people this participant is paired with, as the store has it now: a mentee's mentor, or
    the mentees the notification names that are still with this mentor."""
    cohort_id, me = c.cohort.cohort_id, c.app.application_id
    if c.app.role is Role.MENTEE:
        match = c.store.get_match(cohort_id, me)
        ids = [match.mentor_id] if match is not None else []
    else:
        found = [c.store.get_match(cohort_id, i) for i in c.notification.mentee_ids or []]
        ids = [m.mentee_id for m in found if m is not None and m.mentor_id == me]
    people = [c.store.get_application(cohort_id, i) for i in ids]
    partners = [p for p in people if p is not None]
    if not partners:
        raise NothingToSendError(f"{me} has no pair in this cohort now")
    return partners


def _names(people: list[Application]) -> str:
    names = [_person(p) for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _training_reminder(c: _Context, body: Body) -> str:
    moment = c.moment()
    sessions = sessions_on(c.cohort, moment, c.app.role)
    if moment.on is None or not sessions:
        raise NothingToSendError(f"no session for a {c.app.role.value} on that day")
    soon = "tomorrow" if moment.days_before == 1 else f"in {moment.days_before} days"
    plural = "s" if len(sessions) > 1 else ""
    body.para(
        f"A reminder: your compulsory session{plural} in {c.cohort.name} {'are' if plural else 'is'} {soon}:"
    )
    body.bullets([session_line(s) for s in sessions])
    body.para(
        "The attached invitation puts it in your diary. If you cannot attend, please tell the "
        f"coordinator at {c.cohort.coordinator_email} as soon as you can."
    )
    c.diary = sessions
    c.page(body, "Afterwards, please confirm that you attended from your personal page:")
    titles = " and ".join(s.title for s in sessions)
    soon = "tomorrow" if moment.days_before == 1 else f"on {day(moment.on)}"
    return f"{c.scheme.name}: reminder of your {titles} {soon}"


def _meeting_nudge(c: _Context, body: Body) -> str:
    partners = _partners(c)
    weeks = NUDGE_AFTER_MATCHING.days // 7
    calendar = calendar_of(c.cohort)
    body.para(
        f"It is {weeks} weeks since you were matched in {c.cohort.name}, and no meeting with "
        f"{_names(partners)} has been recorded yet."
    )
    body.para(
        f"Each pair meets at least {_count(calendar.minimum_meetings, 'time')} before the programme ends "
        f"on {day(calendar.programme_ends)}, and a first meeting soon makes that easier."
    )
    body.para(
        "You can write to "
        + " and ".join(f"{p.applicant.given_name} at {p.applicant.email}" for p in partners)
        + " to arrange it."
    )
    c.page(
        body,
        "If you have met, please record it from your personal page; if something is in the way, you "
        "can ask the coordinator for help there:",
    )
    return f"{c.scheme.name}: have you met yet?"


def _check_in(c: _Context, body: Body) -> str:
    partners = _partners(c)
    calendar = calendar_of(c.cohort)
    body.para(
        f"You are halfway through {c.cohort.name}: the programme ends on {day(calendar.programme_ends)}. "
        f"We hope it is going well with {_names(partners)}."
    )
    body.para(
        f"Each pair meets at least {_count(calendar.minimum_meetings, 'time')} in all. If the partnership "
        f"is not working, or you need help, the coordinator at {c.cohort.coordinator_email} is there "
        "for you."
    )
    c.page(
        body,
        "From your personal page you can record the meetings you have had, ask for help, or end the "
        "partnership if it is not working:",
    )
    return f"{c.scheme.name}: halfway through the programme"


def _programme_end(c: _Context, body: Body) -> str:
    calendar = calendar_of(c.cohort)
    body.para(
        f"{c.cohort.name} ends today, {day(calendar.programme_ends)}. Thank you for taking part as a "
        f"{_role_name(c.scheme, c.app.role)}."
    )
    body.para(
        "Please tell us how it went: the evaluation takes a few minutes. Your answers are kept apart "
        "from your name and reported only for groups of people, so nobody can tell what you said. It "
        "also asks whether you would like to be a mentor next year."
    )
    c.page(body, "Answer the evaluation from your personal page:")
    return f"{c.scheme.name}: the programme ends, tell us how it went"


def _event_invitation(c: _Context, body: Body) -> str:
    moment = c.moment()
    sessions = sessions_on(c.cohort, moment, c.app.role)
    if not sessions:
        raise NothingToSendError(f"no event for a {c.app.role.value} on that day")
    body.para(
        f"You are invited to the {c.cohort.name} programme's {' and '.join(s.title for s in sessions)}:"
    )
    body.bullets([session_line(s) for s in sessions])
    body.para(
        "It is optional, and everyone in the programme is welcome. The attached invitation puts it "
        "in your diary; to tell the coordinator whether you are coming, write to "
        f"{c.cohort.coordinator_email}."
    )
    c.diary = sessions
    return f"{c.scheme.name}: you are invited to the {sessions[0].title}"


_PERSONAL = {
    EmailKind.WITHDRAWN: _withdrawn,
    EmailKind.PLACE_OFFERED: _place_offered,
    EmailKind.ACKNOWLEDGEMENT: _acknowledgement,
    EmailKind.MATCHED_MENTEE: _matched_mentee,
    EmailKind.MATCHED_MENTOR: _matched_mentor,
    EmailKind.UNMATCHED: _unmatched,
    EmailKind.TRAINING_REMINDER: _training_reminder,
    EmailKind.MEETING_NUDGE: _meeting_nudge,
    EmailKind.CHECK_IN: _check_in,
    EmailKind.PROGRAMME_END: _programme_end,
    EmailKind.EVENT_INVITATION: _event_invitation,
}


def compose(
    notification: Notification,
    cohort: Cohort,
    store: ApplicationStore,
    console_url: str = "",
    personal_link: PersonalLink | None = None,
) -> OutgoingEmail:
    """``console_url``: the console's address, which coordinators' emails link to;
    ``personal_link``: each participant's page, which their emails after matching link to."""
    scheme = get_scheme(cohort.scheme_id)
    cohort_page = f"{console_url}/cohorts/{cohort.cohort_id}"
    if notification.kind is EmailKind.COORDINATOR_SUMMARY:
        return _coordinator_summary(cohort, scheme, store, cohort_page)
    if notification.kind is EmailKind.MATCHES_TO_REVIEW:
        return _matches_to_review(cohort, scheme, store, cohort_page)
    if notification.kind is EmailKind.POSSIBLE_DUPLICATE:
        return _possible_duplicate(cohort, scheme, store, notification.application_id or "", cohort_page)
    if notification.kind not in _PERSONAL:
        raise ValueError(f"{notification.kind.value} emails are composed by their own module")
    app = store.get_application(cohort.cohort_id, notification.application_id or "")
    if app is None:
        raise NothingToSendError(f"application {notification.application_id} is not stored")
    body = Body()
    body.para(f"Dear {app.applicant.given_name},")
    context = _Context(cohort, scheme, store, app, notification, personal_link=personal_link)
    subject = _PERSONAL[notification.kind](context, body)
    body.para(f"With best wishes, the {scheme.name} team")
    return _email(app.applicant.email, subject, body, _invitation(cohort, scheme, context.diary))


def _coordinator_summary(cohort: Cohort, scheme: Scheme, store: ApplicationStore, link: str) -> OutgoingEmail:
    apps = {a.application_id: a for a in store.list_applications(cohort.cohort_id)}
    matches = store.list_matches(cohort.cohort_id)
    unmatched = store.list_unmatched(cohort.cohort_id)
    # One person under two addresses, as intake flagged them (mentoring.identity.person_key).
    duplicates = [
        sorted((apps[i] for i in ids if i in apps), key=lambda a: (a.received_at, a.application_id))
        for ids in store.possible_duplicates(cohort.cohort_id)
    ]
    flagged = {a.application_id for group in duplicates for a in group}
    mentee, mentor = _role_name(scheme, Role.MENTEE), _role_name(scheme, Role.MENTOR)
    counts: Counter[str] = Counter()
    for app in apps.values():
        role = mentee if app.role is Role.MENTEE else mentor
        if app.withdrawn is not None:
            counts[f"{role}s withdrawn by the coordinator"] += 1
        elif not app.eligibility.eligible:
            counts[f"{role}s not eligible"] += 1
        elif app.late:
            counts[f"{role}s who applied too late for this round"] += 1
        else:
            counts[f"eligible {role}s"] += 1
    matched_mentors = {m.mentor_id for m in matches}
    idle_mentors = [
        a
        for a in apps.values()
        if a.role is Role.MENTOR and a.counts and a.application_id not in matched_mentors
    ]
    waiting = sum(1 for u in unmatched if u.outcome == "waiting_list")
    subject = f"{cohort.name}: matching results"
    body = Body()
    body.para(
        f"Matching for {cohort.name} ({scheme.name}) ran at the recruitment deadline, "
        f"{when(cohort.recruitment_deadline)}."
    )
    body.bullets(
        [
            f"{_count(len(apps), 'application')}",
            *(f"{label}: {n}" for label, n in sorted(counts.items())),
            f"pairs made: {len(matches)}",
            f"{mentee}s not matched: {len(unmatched) - waiting}",
            f"{mentee}s on the waiting list: {waiting}",
            f"eligible {mentor}s without a {mentee}: {len(idle_mentors)}",
            f"possible duplicates (one person applying twice): {len(duplicates)}",
        ]
    )
    listed = [m for m in matches if m.mentee_id not in flagged and m.mentor_id not in flagged]
    if listed:
        body.para("Pairs:")
        body.bullets(
            [
                f"{_person(apps[m.mentee_id])} with {_person(apps[m.mentor_id])}: " + "; ".join(m.explanation)
                for m in listed
            ]
        )
    not_matched = [u for u in unmatched if u.application_id not in flagged]
    if not_matched:
        body.para(f"{mentee.capitalize()}s not matched, and why:")
        body.bullets(
            [
                f"{_person(apps[u.application_id])}: {u.reason}"
                for u in not_matched
                if u.application_id in apps
            ]
        )
    if duplicates:
        body.para(
            "Possible duplicates: the same name at the same institution applied more than once (under "
            "different email addresses). Each is listed once here, with what became of each application; "
            "check which to keep and withdraw the other:"
        )
        body.bullets([_duplicate_line(group, matches, unmatched, scheme) for group in duplicates])
    body.para("Next steps:")
    body.bullets(
        [
            f"everyone eligible has been emailed their result; {mentee}s and {mentor}s make first contact "
            "as the "
            f"scheme says (the {_role_name(scheme, scheme.first_contact)} writes first)",
            f"the pairs and their reasons, and a spreadsheet of them, in the console: {link}/matches",
            f"the cohort's progress: {link}",
            f"the equal-opportunities report: {link}/report",
        ]
    )
    return _email(cohort.coordinator_email, subject, body)


def _duplicate_line(
    group: list[Application], matches: list[Match], unmatched: list[UnmatchedMentee], scheme: Scheme
) -> str:
    paired = {m.mentee_id for m in matches} | {m.mentor_id for m in matches}
    left = {u.application_id for u in unmatched}
    outcomes = []
    for app in group:
        role = _role_name(scheme, app.role)
        if not app.eligibility.eligible:
            what = "not eligible"
        elif app.application_id in paired:
            what = "paired"
        elif app.application_id in left:
            what = "not matched"
        else:
            what = "eligible"
        outcomes.append(f"as {role} ({app.applicant.email}, reference {app.application_id}): {what}")
    return f"{_person(group[0])}, {institution_name(group[0].applicant.institution)}: " + "; ".join(outcomes)


def _matches_to_review(cohort: Cohort, scheme: Scheme, store: ApplicationStore, link: str) -> OutgoingEmail:
    subject = f"{cohort.name}: provisional matches to review"
    body = Body()
    body.para(
        f"Matching for {cohort.name} ({scheme.name}) has run: "
        f"{_count(len(store.list_matches(cohort.cohort_id)), 'provisional pair')} and "
        f"{_count(len(store.list_unmatched(cohort.cohort_id)), _role_name(scheme, Role.MENTEE))} "
        "not matched. "
        "No applicant has been told yet."
    )
    body.para(
        "Review the pairs and their reasons in the console, change any, then publish them; "
        f"publishing emails everyone: {link}/matches"
    )
    return _email(cohort.coordinator_email, subject, body)


def _possible_duplicate(
    cohort: Cohort, scheme: Scheme, store: ApplicationStore, application_id: str, link: str
) -> OutgoingEmail:
    app = store.get_application(cohort.cohort_id, application_id)
    if app is None or app.person_key is None:
        raise NothingToSendError(f"application {application_id} is not stored")
    group = [
        store.get_application(cohort.cohort_id, i)
        for i in store.same_person(cohort.cohort_id, app.person_key)
    ]
    subject = f"{cohort.name}: a possible duplicate application"
    body = Body()
    body.para(
        f"{_person(app)} ({institution_name(app.applicant.institution)}) has applied to {cohort.name} "
        f"({scheme.name}) {len(group)} times, each under a different email address:"
    )
    body.bullets(
        [
            f"{a.applicant.email}, as {_role_name(scheme, a.role)}, "
            + (f"from {institution_name(a.partner)}" if a.partner else "through the web form")
            + f", received {when(a.received_at)}: {link}/applications/{a.application_id}"
            for a in group
            if a is not None
        ]
    )
    body.para(
        "If they are one person, withdraw all but one so that they are matched once: each "
        "application's page in the console has a button to withdraw it. If they are different "
        "people, nothing needs doing."
    )
    return _email(cohort.coordinator_email, subject, body)


# The two emails a web-form application's address gets. Neither repeats anything the sender typed
# (not even a name): whoever filled in the form, the mailbox's owner reads only our words and the
# coordinator's, so the form cannot be used to send them someone else's text.


def confirmation_email(
    cohort: Cohort, message: IntakeMessage, link: ConfirmationLink, confirm_by: datetime
) -> OutgoingEmail:
    scheme = get_scheme(cohort.scheme_id)
    role = _role_name(scheme, message.submission.role)
    body = Body()
    body.para("Hello,")
    body.para(
        f"We have received an application from this email address to be a {role} in {cohort.name} "
        f"({scheme.name}). To confirm it, open this link and press the Confirm button:"
    )
    body.link(link.url)
    body.para(
        f"Until it is confirmed, the application is not counted. The link works until {when(confirm_by)}; "
        f"applications close {when(cohort.recruitment_deadline)}."
    )
    body.para(
        "If you did not apply, you need do nothing: an application that is not confirmed is deleted, "
        "and this address is not written to again about it."
    )
    body.para(f"With best wishes, the {scheme.name} team")
    return _email(message.submission.applicant.email, f"{scheme.name}: please confirm your application", body)


def already_applied_email(cohort: Cohort, message: IntakeMessage) -> OutgoingEmail:
    scheme = get_scheme(cohort.scheme_id)
    body = Body()
    body.para("Hello,")
    body.para(
        f"We have received another application to {cohort.name} ({scheme.name}) from this email address. "
        "This address has already applied to this cohort, so the new application has not been taken; "
        "your first application stands, unchanged."
    )
    body.para(
        "If you sent the new one to change your application, please write to the coordinator at "
        f"{cohort.coordinator_email}. If you did not send it, you need do nothing."
    )
    body.para(f"With best wishes, the {scheme.name} team")
    return _email(message.submission.applicant.email, f"{scheme.name}: you have already applied", body)


def _email(to: str, subject: str, body: Body, attachments: tuple[Attachment, ...] = ()) -> OutgoingEmail:
    subject = one_line(subject)
    return OutgoingEmail(
        to=to, subject=subject, text=body.text(), html=body.html(subject), attachments=attachments
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
