"""The console's actions, each through the same domain function as the JSON API."""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
from datetime import date, datetime
from html import escape

from pydantic import ValidationError

from mentoring.console.pages import LONDON
from mentoring.models import FieldError, MatchChange, NewCohort, NewStaffMember, StaffMember, StaffRole
from mentoring.ports import Challenge, IdentityProvider, Mailer, OutgoingEmail, SignInError, StaffDirectory
from mentoring.scheme import load_schemes

__all__ = [
    "NOTICES",
    "FormError",
    "SignInError",
    "invite",
    "london_time",
    "match_change",
    "new_cohort_request",
    "new_staff_request",
    "read_sign_in_state",
    "sign_in_state",
    "temporary_password",
]

# What the page after an action says happened (``?done=...``): fixed texts, never echoed input.
NOTICES = {
    "rematched": "The mentee has a new mentor, and both have been emailed.",
    "signed-out": "You have signed out.",
    "authenticator": "Two-step sign-in is on: you will be asked for a code each time you sign in.",
    "opened": "The cohort is open and its recruitment deadline is scheduled.",
    "deadline": "The recruitment deadline has moved, and matching will start at the new time.",
    "closed": "Recruitment is closed. Matching starts within a minute.",
    "admitted": "The applicant has a place and is no longer on the waiting list.",
    "withdrawn": "The application is withdrawn.",
    "changed": "The pair is changed. Nobody is told until you publish.",
    "published": "The matches are published: each mentee and mentor is being emailed.",
    "invited": "The invitation is sent.",
    "rerun": "Matching is running again.",
}


def sign_in_state(email: str, challenge: Challenge, next_path: str) -> str:
    """A sign-in in progress, kept in a short-lived, HttpOnly, Strict cookie between its steps."""
    raw = json.dumps(
        {"email": email, "name": challenge.name, "session": challenge.session, "next": next_path}
    )
    return base64.urlsafe_b64encode(raw.encode()).decode()


def read_sign_in_state(value: str) -> tuple[str, Challenge, str] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
        challenge = Challenge(name=data["name"], session=str(data["session"]))
        return str(data["email"]), challenge, str(data["next"])
    except (ValueError, KeyError, TypeError):
        return None


def temporary_password() -> str:
    """Meets the user pool's policy: 16 characters with each kind it asks for."""
    kinds = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-=?@^_"]
    chars = [secrets.choice(kind) for kind in kinds]
    chars += [secrets.choice("".join(kinds)) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


class InvitationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


ROLE_NAMES = {
    StaffRole.ADMINISTRATOR: "an administrator",
    StaffRole.COORDINATOR: "a scheme coordinator",
    StaffRole.PARTNER_LEAD: "a partner's EDI lead",
}


def invite(
    request: NewStaffMember,
    inviter: StaffMember,
    now: datetime,
    identity: IdentityProvider,
    directory: StaffDirectory,
    mailer: Mailer,
    console_url: str,
) -> StaffMember:
    """Creates the account with a temporary password, records the person's role, and emails them
    the console's address and the password (the identity provider sends nothing itself)."""
    unknown = [s for s in request.schemes if s not in load_schemes()]
    if unknown:
        raise InvitationError("schemes", f"no scheme {unknown[0]!r}")
    if any(m.email.casefold() == request.email.casefold() for m in directory.list_staff()):
        raise InvitationError("email", "this person already has access to the console")
    password = temporary_password()
    user_id = identity.invite(request.email, request.name, password)
    member = StaffMember(
        user_id=user_id,
        email=request.email,
        name=request.name,
        role=request.role,
        schemes=request.schemes if request.role is StaffRole.COORDINATOR else [],
        institution=request.institution if request.role is StaffRole.PARTNER_LEAD else None,
        invited_by=inviter.email,
        invited_at=now,
    )
    directory.put_staff(member)
    sign_in = f"{console_url}/sign-in"
    lines = [
        f"Dear {request.name},",
        f"{inviter.name} has given you access to the EDI mentoring console as {ROLE_NAMES[request.role]}.",
        f"Sign in at {sign_in} with this email address and this temporary password: {password}",
        "It works for 7 days. When you sign in you will choose a password of your own.",
    ]
    html = "".join(f"<p>{escape(line)}</p>" for line in lines[:2])
    html += (
        f'<p>Sign in at <a href="{escape(sign_in)}">{escape(sign_in)}</a> with this email address and this '
        f"temporary password: <code>{escape(password)}</code></p><p>{escape(lines[3])}</p>"
    )
    mailer.send(OutgoingEmail(to=request.email, subject="Your access to the EDI mentoring console",
                              text="\n\n".join(lines), html=html))  # fmt: skip
    return member


# ---------------------------------------------------------------- forms into the domain's requests


class FormError(ValueError):
    """What is wrong with a form, by field, in words for the person who filled it in."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _field_errors(error: ValidationError, fields: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else next(iter(fields))
        found.setdefault(
            name if name in fields else next(iter(fields)), problem["msg"].removeprefix("Value error, ")
        )
    return found


def london_time(value: str, field: str = "recruitment_deadline") -> datetime:
    """A ``datetime-local`` field's value, read as London time (GMT or BST as the date has it)."""
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=LONDON)
    except ValueError:
        raise FormError({field: "Enter the date and time, for example 31/01/2027 17:00"}) from None


def cohort_id_for(name: str, deadline: datetime) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:50].strip("-")
    year = str(deadline.astimezone(LONDON).year)
    return slug if year in slug else f"{slug}-{year}".strip("-")


# The parts of the programme calendar the form may give (each left empty is the scheme's, moved to
# the deadline), with what to say when one is not understood.
PROGRAMME_FIELDS = {
    "programme_starts": "Enter the date the programme starts, for example 01/03/2027",
    "programme_ends": "Enter the date the programme ends, for example 31/08/2027",
    "minimum_meetings": "Enter the number of meetings as a whole number from 1 to 52, for example 6",
}
PROGRAMME_DATES = {"programme_starts", "programme_ends"}


PROGRAMME_SUBJECTS = {"programme_starts": "The programme's start", "programme_ends": "The programme's end"}


def calendar_errors(problems: list[FieldError]) -> dict[str, str]:
    """The domain's problems with a cohort's calendar, beside the form's fields: each on its own
    field where the form has it, else on the programme's end (a session of the scheme's that the
    dates given leave outside the programme)."""
    found: dict[str, str] = {}
    for problem in problems:
        name = problem.field.removeprefix("calendar.")
        if name in PROGRAMME_SUBJECTS:
            found.setdefault(name, f"{PROGRAMME_SUBJECTS[name]} {problem.message}")
        else:
            found.setdefault("programme_ends", problem.message[:1].upper() + problem.message[1:])
    return found


def new_cohort_request(fields: dict[str, str], schemes: set[str]) -> NewCohort:
    """The JSON API's ``NewCohort`` from the console's form (the cohort's id made from its name)."""
    errors = {}
    if fields.get("scheme_id") not in schemes:
        errors["scheme_id"] = "Choose one of your schemes"
    if not fields.get("name", "").strip():
        errors["name"] = "Enter the name of the cohort"
    try:
        deadline = london_time(fields.get("recruitment_deadline", ""))
    except FormError as problem:
        errors.update(problem.errors)
    calendar: dict[str, date | int] = {}
    for name, unclear in PROGRAMME_FIELDS.items():
        given = fields.get(name, "").strip()
        try:
            if given:
                calendar[name] = date.fromisoformat(given) if name in PROGRAMME_DATES else int(given)
        except ValueError:
            errors[name] = unclear
    if errors:
        raise FormError(errors)
    values = {
        "cohort_id": cohort_id_for(fields["name"], deadline),
        "scheme_id": fields["scheme_id"],
        "name": fields["name"],
        "recruitment_deadline": deadline,
        "coordinator_email": fields.get("coordinator_email", "").strip(),
        "places": fields.get("places", "").strip() or None,
        "calendar": calendar or None,
    }
    try:
        return NewCohort.model_validate(values)
    except ValidationError as error:
        found = _field_errors(error, {k: str(v) for k, v in values.items()})
        if "places" in found:
            found["places"] = "Enter the number of mentee places as a whole number, for example 30"
        if "calendar" in found:  # a number of meetings out of range: the only part the form can get wrong
            del found["calendar"]
            found["minimum_meetings"] = PROGRAMME_FIELDS["minimum_meetings"]
        if "cohort_id" in found:
            found["name"] = "Give the cohort a name of at least three letters or digits"
            del found["cohort_id"]
        raise FormError(found) from None


def match_change(fields: dict[str, str]) -> MatchChange:
    mentee, mentor = fields.get("mentee_id", ""), fields.get("mentor_id", "")
    errors = {}
    if not mentee:
        errors["mentee_id"] = "Choose the mentee whose pair changes"
    if not mentor:
        errors["mentor_id"] = "Choose their new mentor, or No match"
    if errors:
        raise FormError(errors)
    try:
        if mentor == "none":
            return MatchChange(action="remove", mentee_id=mentee)
        return MatchChange(action="pair", mentee_id=mentee, mentor_id=mentor)
    except ValidationError:
        raise FormError({"mentee_id": "Choose the mentee from the list"}) from None


def new_staff_request(fields: dict[str, str], schemes: list[str]) -> NewStaffMember:
    values: dict[str, object] = {
        "email": fields.get("email", "").strip(),
        "name": fields.get("name", "").strip(),
        "role": fields.get("role", ""),
        "schemes": schemes,
        "institution": fields.get("institution") or None,
    }
    try:
        return NewStaffMember.model_validate(values)
    except ValidationError as error:
        found: dict[str, str] = {}
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            message = problem["msg"].removeprefix("Value error, ")
            if not name:
                name = "schemes" if "scheme" in message else "institution"
            found.setdefault(name, message[:1].upper() + message[1:])
        raise FormError(found) from None
