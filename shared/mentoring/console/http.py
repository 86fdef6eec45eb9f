"""What every console response shares: security headers, session cookies, redirects, and the gate
that turns a request's cookies into the signed-in staff member (or sends them to sign in)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from mentoring.console.session import (
    CSRF_COOKIE,
    REFRESH_COOKIE,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    NotSignedInError,
    SignedIn,
    TokenVerifier,
    cookies,
    new_csrf_token,
)
from mentoring.models import StaffMember
from mentoring.ports import IdentityProvider, SignInError, StaffDirectory, Tokens

HTML = "text/html; charset=utf-8"
# No script, no framing, forms only to the console itself; pages hold personal data, so never cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


class Unauthorised(Exception):  # noqa: N818 - reads as what happened
    """Signed in, but with no role in the console (the account is not in the staff directory)."""


def page(html: str, status: int = HTTPStatus.OK, set_cookies: Sequence[Cookie] = ()) -> Response[str]:
    return Response(int(status), HTML, html, dict(SECURITY_HEADERS), cookies=list(set_cookies))


def redirect(location: str, set_cookies: Sequence[Cookie] = ()) -> Response[str]:
    """303 See Other: after a form post, the browser fetches the next page with GET."""
    headers = {**SECURITY_HEADERS, "Location": location}
    return Response(int(HTTPStatus.SEE_OTHER), HTML, "", headers, cookies=list(set_cookies))


def cookie(name: str, value: str, max_age: int, strict: bool = False) -> Cookie:
    """Never readable by page scripts (HttpOnly), sent over HTTPS only (Secure), never on another
    site's requests that change things (SameSite); ``__Host-`` names bind them to this host.

    The session cookies are Lax, so a link from an email opens the console signed in; the
    tokens of the anti-forgery check and of a sign-in in progress are Strict."""
    return Cookie(
        name,
        value,
        path="/",
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.STRICT_MODE if strict else SameSite.LAX_MODE,
    )


def expired(name: str) -> Cookie:
    return Cookie(name, "", path="/", secure=True, http_only=True, max_age=0, same_site=SameSite.LAX_MODE)


def signed_in_cookies(tokens: Tokens, session_hours: int) -> list[Cookie]:
    found = [cookie(SESSION_COOKIE, tokens.access_token, tokens.expires_in)]
    if tokens.refresh_token:
        found.append(cookie(REFRESH_COOKIE, tokens.refresh_token, session_hours * 3600))
    return found


def signed_out_cookies() -> list[Cookie]:
    return [expired(name) for name in (SESSION_COOKIE, REFRESH_COOKIE, SIGN_IN_COOKIE)]


def csrf_token(event: Mapping[str, Any], session_hours: int) -> tuple[str, list[Cookie]]:
    """The anti-forgery token for this browser's forms, set as a cookie when it has none yet."""
    existing = cookies(event).get(CSRF_COOKIE)
    if existing:
        return existing, []
    token = new_csrf_token()
    return token, [cookie(CSRF_COOKIE, token, session_hours * 3600, strict=True)]


def form(event: Mapping[str, Any]) -> dict[str, str]:
    """An urlencoded form body, first value of each field."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    for name, value in parse_qsl(body, keep_blank_values=True, max_num_fields=200):
        values.setdefault(name, value)
    return values


def form_values(event: Mapping[str, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return [v for k, v in parse_qsl(body, keep_blank_values=False, max_num_fields=200) if k == name]


def safe_next(value: str, default: str = "/console") -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def sign_in_location(base: str, event: Mapping[str, Any]) -> str:
    path = str(event.get("path") or "/console")
    query = event.get("queryStringParameters") or {}
    wanted = path + ("?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()) if query else "")
    return f"{base}/console/sign-in?next={quote(wanted, safe='')}"


@dataclass
class Gate:
    """Who is signed in: the access token verified, refreshed once it expires (within the session's
    hours), and the person's role read from the staff directory on every request, so a change of
    role, or its removal, takes effect at once."""

    verifier: TokenVerifier
    identity: Callable[[], IdentityProvider]
    staff: Callable[[], StaffDirectory]
    session_hours: int
    refreshed: list[Cookie] = field(default_factory=list)

    def session(self, event: Mapping[str, Any]) -> SignedIn:
        self.refreshed = []
        found = cookies(event)
        token = found.get(SESSION_COOKIE, "")
        if token:
            try:
                return self.verifier.verify(token)
            except NotSignedInError:
                pass
        refresh = found.get(REFRESH_COOKIE, "")
        if not refresh:
            raise NotSignedInError("no session")
        try:
            tokens = self.identity().refresh(refresh)
        except SignInError:
            raise NotSignedInError("the session has ended") from None
        signed_in = self.verifier.verify(tokens.access_token)
        self.refreshed = [cookie(SESSION_COOKIE, tokens.access_token, tokens.expires_in)]
        return signed_in

    def member(self, event: Mapping[str, Any]) -> tuple[StaffMember, SignedIn]:
        signed_in = self.session(event)
        member = self.staff().get_staff(signed_in.user_id)
        if member is None:
            raise Unauthorised(signed_in.user_id)
        return member, signed_in
