"""Email rendering: each kind of email as plain text and HTML, from the stored application.

The HTML is the text's paragraphs and lists, escaped; one structure renders both, so the two
alternatives of a message always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from zoneinfo import ZoneInfo

from mentoring.institutions import institution_name
from mentoring.models import Application, Cohort, EmailKind, Notification, Role
from mentoring.ports import ApplicationStore, OutgoingEmail
from mentoring.scheme import Scheme, get_scheme


@dataclass
class Body:
    """Paragraphs and bullet lists, in order."""

    blocks: list[str | list[str]] = field(default_factory=list)

    def para(self, text: str) -> None:
        self.blocks.append(text)

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(items)

    def text(self) -> str:
        parts = [b if isinstance(b, str) else "\n".join(f"  - {i}" for i in b) for b in self.blocks]
        return "\n\n".join(parts) + "\n"

    def html(self, title: str) -> str:
        parts = [
            f"<p>{escape(b)}</p>"
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


LONDON = ZoneInfo("Europe/London")


class NothingToSendError(LookupError):
    """The notification names a person or result that is not stored (yet)."""


def _training(body: Body, scheme: Scheme, role: Role) -> None:
    sessions = [
        f"{s.title}: {s.starts_at.astimezone(LONDON):%A %d %B %Y, %H:%M}-{s.ends_at.astimezone(LONDON):%H:%M}"
        " (UK time)"
        for s in scheme.training
        if s.role is role
    ]
    if sessions:
        body.para("Please keep these dates free for your induction training:")
        body.bullets(sessions)


def _person(a: Application) -> str:
    return f"{a.applicant.given_name} {a.applicant.family_name}"


def _contact(a: Application, scheme: Scheme) -> str:
    institution = institution_name(a.applicant.institution)
    return f"{_person(a)}, {a.applicant.job_title}, {institution} ({a.applicant.email})"


@dataclass(frozen=True)
class _Context:
    cohort: Cohort
    scheme: Scheme
    store: ApplicationStore
    app: Application


def _acknowledgement(c: _Context, body: Body) -> str:
    app = c.app
    role = c.scheme.roles[app.role].label.lower() if app.role in c.scheme.roles else app.role.value
    body.para(
        f"Thank you for applying to be a {role} in {c.cohort.name}. "
        f"Your application reference is {app.application_id}."
    )
    if app.eligibility.eligible:
        body.para(c.scheme.emails.welcome)
        body.para("You meet the scheme's criteria:")
        body.bullets([o.reason for o in app.eligibility.outcomes])
        if app.late:
            body.para(
                "Your application was accepted before the deadline but reached us as matching was "
                "starting, so it is not part of this round. The coordinator will contact you about "
                "the next one."
            )
        elif app.waiting_list:
            body.para(c.scheme.emails.waiting_list)
        body.para(
            f"Matching takes place after the recruitment deadline, "
            f"{c.cohort.recruitment_deadline:%d %B %Y at %H:%M} UTC; we will email you then."
        )
    else:
        body.para("Unfortunately your application does not meet the scheme's criteria, for these reasons:")
        body.bullets(app.eligibility.reasons)
        body.para(
            f"If you think this is wrong, please contact the coordinator at {c.cohort.coordinator_email}."
        )
    return f"{c.scheme.name}: we have received your application"


def _matched_mentee(c: _Context, body: Body) -> str:
    match = next(
        (m for m in c.store.list_matches(c.cohort.cohort_id) if m.mentee_id == c.app.application_id), None
    )
    mentor = c.store.get_application(c.cohort.cohort_id, match.mentor_id) if match else None
    if match is None or mentor is None:
        raise NothingToSendError(f"no stored match for mentee {c.app.application_id}")
    body.para(f"We are delighted to tell you that your mentor in {c.cohort.name} is:")
    body.bullets([_contact(mentor, c.scheme)])
    body.para("Why we paired you:")
    body.bullets(match.explanation)
    body.para(c.scheme.emails.matched)
    _training(body, c.scheme, Role.MENTEE)
    return f"{c.scheme.name}: meet your mentor"


def _matched_mentor(c: _Context, body: Body) -> str:
    matches = [m for m in c.store.list_matches(c.cohort.cohort_id) if m.mentor_id == c.app.application_id]
    if not matches:
        raise NothingToSendError(f"no stored match for mentor {c.app.application_id}")
    body.para(f"Thank you for mentoring in {c.cohort.name}. You have been paired with:")
    for match in matches:
        mentee = c.store.get_application(c.cohort.cohort_id, match.mentee_id)
        if mentee is None:
            raise NothingToSendError(f"mentee {match.mentee_id} is not stored")
        body.bullets([_contact(mentee, c.scheme), *match.explanation])
    body.para(c.scheme.emails.matched)
    _training(body, c.scheme, Role.MENTOR)
    return f"{c.scheme.name}: meet your mentee" + ("s" if len(matches) > 1 else "")


def _unmatched(c: _Context, body: Body) -> str:
    if c.app.role is Role.MENTEE:
        unmatched = c.store.list_unmatched(c.cohort.cohort_id)
        reason = next(
            (u.reason for u in unmatched if u.application_id == c.app.application_id),
            "we could not find a suitable mentor",
        )
        body.para(f"We are sorry: we could not match you with a mentor in {c.cohort.name}.")
        body.para(f"The reason: {reason}.")
    else:
        body.para(
            f"Thank you for offering to mentor in {c.cohort.name}. More mentors volunteered than mentees "
            "could be paired with you under the scheme's rules, so you have no mentee this time."
        )
    body.para(c.scheme.emails.unmatched)
    body.para(f"The coordinator is at {c.cohort.coordinator_email}.")
    return f"{c.scheme.name}: the outcome of matching"


_PERSONAL = {
    EmailKind.ACKNOWLEDGEMENT: _acknowledgement,
    EmailKind.MATCHED_MENTEE: _matched_mentee,
    EmailKind.MATCHED_MENTOR: _matched_mentor,
    EmailKind.UNMATCHED: _unmatched,
}


def compose(notification: Notification, cohort: Cohort, store: ApplicationStore) -> OutgoingEmail:
    scheme = get_scheme(cohort.scheme_id)
    if notification.kind is EmailKind.COORDINATOR_SUMMARY:
        return _coordinator_summary(cohort, scheme, store)
    if notification.kind is EmailKind.MATCHES_TO_REVIEW:
        return _matches_to_review(cohort, scheme, store)
    app = store.get_application(cohort.cohort_id, notification.application_id or "")
    if app is None:
        raise NothingToSendError(f"application {notification.application_id} is not stored")
    body = Body()
    body.para(f"Dear {app.applicant.given_name},")
    subject = _PERSONAL[notification.kind](_Context(cohort, scheme, store, app), body)
    body.para(f"With best wishes, the {scheme.name} team")
    return OutgoingEmail(to=app.applicant.email, subject=subject, text=body.text(), html=body.html(subject))


def _coordinator_summary(cohort: Cohort, scheme: Scheme, store: ApplicationStore) -> OutgoingEmail:
    apps = {a.application_id: a for a in store.list_applications(cohort.cohort_id)}
    matches = store.list_matches(cohort.cohort_id)
    unmatched = store.list_unmatched(cohort.cohort_id)
    subject = f"{cohort.name}: matching results"
    body = Body()
    body.para(
        f"Matching for {cohort.name} ({scheme.name}) has run: {len(apps)} applications, "
        f"{_count(len(matches), 'pair')}, {_count(len(unmatched), 'mentee')} unmatched."
    )
    if matches:
        body.para("Pairs:")
    body.bullets(
        [
            f"{_person(apps[m.mentee_id])} with {_person(apps[m.mentor_id])} (score {m.score:g}): "
            + "; ".join(m.explanation)
            for m in matches
        ]
    )
    if unmatched:
        body.para("Mentees not matched:")
        body.bullets([f"{_person(apps[u.application_id])}: {u.reason}" for u in unmatched])
    return OutgoingEmail(
        to=cohort.coordinator_email, subject=subject, text=body.text(), html=body.html(subject)
    )


def _matches_to_review(cohort: Cohort, scheme: Scheme, store: ApplicationStore) -> OutgoingEmail:
    subject = f"{cohort.name}: provisional matches to review"
    body = Body()
    body.para(
        f"Matching for {cohort.name} ({scheme.name}) has run: "
        f"{_count(len(store.list_matches(cohort.cohort_id)), 'provisional pair')} and "
        f"{_count(len(store.list_unmatched(cohort.cohort_id)), 'mentee')} unmatched. "
        "No applicant has been told yet."
    )
    body.para(
        "Review the pairs and their reasons, change any, then publish them; publishing emails everyone:"
    )
    body.bullets(
        [
            f"read: GET /cohorts/{cohort.cohort_id}/matches (add ?format=csv for a spreadsheet)",
            f"change: POST /cohorts/{cohort.cohort_id}/matches/changes",
            f"publish: POST /cohorts/{cohort.cohort_id}/publish",
        ]
    )
    return OutgoingEmail(
        to=cohort.coordinator_email, subject=subject, text=body.text(), html=body.html(subject)
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
