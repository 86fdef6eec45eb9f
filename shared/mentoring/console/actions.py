"""The console's actions, each through the same domain function as the JSON API."""

from __future__ import annotations

import base64
import json

from mentoring.ports import Challenge, SignInError

__all__ = ["NOTICES", "SignInError", "read_sign_in_state", "sign_in_state"]

# What the page after an action says happened (``?done=...``): fixed texts, never echoed input.
NOTICES = {
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
